"""symbackprop: backpropagation derived symbolically, step by step.

>>> import symbackprop as sb
>>> net = sb.mlp([2, 2, 2, 1], activation="sigmoid", loss="half_sse")
>>> d = sb.backprop(net)
>>> d.gradient(net.params[0])
delta_1*x1
"""

__version__ = "0.1.0"

from .api import backprop, mlp
from .check import GradcheckReport, gradcheck
from .codegen import numpy_module
from .compile import compile
from .derive import Chain, Derivation, Factor, Path
from .graph import Picture, picture
from .latex import document_latex, gradient_latex, pdflatex
from .network import Graph, Step
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
from .train import train
from .verify import ChainVerdict, MatrixVerdict, Verdict, verify
from .walkthrough import Walkthrough, walkthrough, walkthrough_latex, walkthrough_markdown, walkthrough_pdf

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "Chain",
    "ChainVerdict",
    "Derivation",
    "Factor",
    "GradcheckReport",
    "Graph",
    "MatrixVerdict",
    "Path",
    "Picture",
    "Step",
    "Verdict",
    "Walkthrough",
    "backprop",
    "binary_cross_entropy",
    "compile",
    "cross_entropy",
    "document_latex",
    "gradcheck",
    "gradient_latex",
    "leaky_relu",
    "mlp",
    "numpy_module",
    "pdflatex",
    "picture",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
    "tanh",
    "train",
    "verify",
    "walkthrough",
    "walkthrough_latex",
    "walkthrough_markdown",
    "walkthrough_pdf",
]
