"""symbackprop: backpropagation derived symbolically, step by step.

>>> import symbackprop as sb
>>> net = sb.mlp([2, 2, 2, 1], activation="sigmoid", loss="half_sse")
>>> d = sb.backprop(net)
>>> d.gradient(net.params[0])
delta_z1*x1
"""

__version__ = "0.1.0"

from .api import backprop
from .codegen import numpy_module
from .compile import compile
from .derive import Chain, Derivation, Factor, Path
from .network import Graph, Step, mlp
from .primitives import (
    ACTIVATIONS,
    LOSSES,
    binary_cross_entropy,
    cross_entropy,
    leaky_relu,
    relu,
    sigmoid,
    softmax,
    softplus,
    tanh,
)

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "Chain",
    "Derivation",
    "Factor",
    "Graph",
    "Path",
    "Step",
    "backprop",
    "binary_cross_entropy",
    "compile",
    "cross_entropy",
    "leaky_relu",
    "mlp",
    "numpy_module",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
    "tanh",
]
