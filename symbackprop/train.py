"""Gradient descent over the generated gradients: the last step of every textbook derivation.

>>> from symbackprop import backprop, compile, mlp
>>> module = compile(backprop(mlp([1, 1], activation="identity")))
>>> params, losses = train(module, [0.0, 0.0], [[1.0], [2.0]], [[2.0], [4.0]], learning_rate=0.2, epochs=500)
>>> params.round(3).tolist(), losses[-1] < 1e-6 < losses[0], len(losses)
([2.0, 0.001], True, 501)
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .compile import compile as compile_module
from .derive import Derivation


def train(model, params, inputs, targets, learning_rate: float, epochs: int):
    """Full-batch gradient descent: ``epochs`` updates ``params ← params − learning_rate · ∇J``.

    ``model`` is a compiled or generated module (anything with ``loss_and_gradients``) or a
    derivation, compiled here. ``inputs`` and ``targets`` are one sample or a batch. Returns the
    final parameters and the loss history: the loss before each update, then the final loss
    (``epochs + 1`` values). The parameters are one array, or for the matrix form a list of
    arrays (copies of the given ones, in their memory order, updated in place).

    >>> from symbackprop import backprop, compile, mlp
    >>> module = compile(backprop(mlp([2, 1], activation="sigmoid", loss="bce", form="matrix")))
    >>> X, Y = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [[0.0], [0.0], [0.0], [1.0]]
    >>> params, losses = train(module, [[[0.0, 0.0]], [[0.0]]], X, Y, learning_rate=2.0, epochs=2000)
    >>> (module.forward(params, X) > 0.5).ravel().tolist(), losses[-1] < 0.05
    ([False, False, False, True], True)
    """
    if isinstance(model, Derivation):
        model = compile_module(model)
    if not hasattr(model, "loss_and_gradients"):
        raise TypeError(f"model must be a derivation or a generated module, got {type(model).__name__}")
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative whole number, got {epochs!r}")
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real) or not (
            math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    matrices = hasattr(model, "SHAPES")
    if matrices:
        params = [np.array(p, dtype=_float_type(np.asarray(p)), order="K") for p in params]
    else:
        params = np.array(params, dtype=float)
    losses = []
    for _ in range(epochs):
        loss, gradients = model.loss_and_gradients(params, inputs, targets)
        losses.append(float(loss))
        if matrices:
            for p, g in zip(params, gradients):
                p -= learning_rate * g
        else:
            params -= learning_rate * np.asarray(gradients)
    losses.append(float(model.loss(params, inputs, targets)))
    return params, losses


def _float_type(array: np.ndarray):
    """float32 stays float32; everything else trains in float64."""
    return array.dtype if array.dtype in (np.float32, np.float64) else np.float64
