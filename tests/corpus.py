"""The shared corpus: networks and expressions every engine check runs over.

Networks cover every activation, every loss and all three bias modes on several shapes;
expressions cover hand-written activations, shared sub-expressions and non-network functions.
Values are drawn in (0.3, 1.5), where every expression is defined and no ReLU sits on its kink.
"""

import numpy as np
import sympy as sp

import symbackprop as sb

NETWORKS = {
    "2-1 sigmoid half_sse": dict(layers=[2, 1]),
    "1-1-1 sigmoid bce": dict(layers=[1, 1, 1], loss="bce"),
    "2-2-1 tanh mse per_layer": dict(layers=[2, 2, 1], activation="tanh", loss="mse", bias="per_layer"),
    "2-2-2 relu/sigmoid no bias": dict(layers=[2, 2, 2], activation=["relu", "sigmoid"], bias=None),
    "2-2-1 leaky_relu/identity": dict(layers=[2, 2, 1], activation=["leaky_relu", "identity"]),
    "2-3 softmax cross_entropy": dict(layers=[2, 3], activation="softmax", loss="cross_entropy"),
    "2-2-3 softplus/softmax cross_entropy": dict(layers=[2, 2, 3], activation=["softplus", "softmax"], loss="cross_entropy"),
    "3-2-2 tanh/softmax cross_entropy per_layer": dict(
        layers=[3, 2, 2], activation=["tanh", "softmax"], loss="cross_entropy", bias="per_layer"),
    "2-2-2 tanh/softmax half_sse": dict(layers=[2, 2, 2], activation=["tanh", "softmax"]),
    "2-3-2 sigmoid bce": dict(layers=[2, 3, 2], loss="bce"),
    "1-2-1 identity mse": dict(layers=[1, 2, 1], activation="identity", loss="mse"),
    "2-2-2 sigmoid per_layer (Mazur)": dict(layers=[2, 2, 2], bias="per_layer"),
    "2-2-2-1 sigmoid half_sse": dict(layers=[2, 2, 2, 1]),
    "2-3-3-2 relu/tanh/sigmoid bce": dict(layers=[2, 3, 3, 2], activation=["relu", "tanh", "sigmoid"], loss="bce"),
}

# Networks small enough for an exact symbolic comparison with sympy.diff.
SMALL = [name for name, spec in NETWORKS.items() if len(spec["layers"]) <= 3 and sum(spec["layers"]) <= 6]

x, y, w, b = sp.symbols("x y w b")
_u = x * y
EXPRESSIONS = {
    "cs231n (x + σ(y)) / (σ(x) + (x + y)²)": (x + sb.sigmoid(y)) / (sb.sigmoid(x) + (x + y) ** 2),
    "x y + sin x": x * y + sp.sin(x),
    "hand-written sigmoid": 1 / (1 + sp.exp(-(w * x + b))),
    "hand-written softplus": sp.log(1 + sp.exp(x * y)),
    "exp(x) cos(y) / (1 + x²)": sp.exp(x) * sp.cos(y) / (1 + x**2),
    "relu and leaky relu": sb.relu(x * y - 1) * x + sb.leaky_relu(x - y),
    "tanh² + x^y": sp.tanh(x) ** 2 + x**y,
    "shared sub-expression": sp.sin(_u) + sp.cos(_u) * _u + sp.log(_u),
    "softplus of softmax": sb.softplus(sb.softmax(1, x, y, w)) * b,
    "single symbol": x,
}


def network(name: str) -> sb.Graph:
    return sb.mlp(**NETWORKS[name])


def is_fused(graph: sb.Graph) -> bool:
    return bool(graph.fused)


def on_simplex(graph: sb.Graph) -> dict:
    """Substitution making the targets a probability vector (last = 1 − the others), the
    assumption of softmax + cross-entropy; empty for other networks."""
    if not graph.fused:
        return {}
    *rest, last = graph.targets
    return {last: 1 - sp.Add(*rest)}


def random_point(symbols, seed: int, targets=()) -> dict:
    """Rational values in (0.3, 1.5) for ``symbols``; targets, if given, on the simplex."""
    rng = np.random.default_rng(seed)
    point = {s: sp.Rational(int(rng.integers(300, 1500)), 1000) for s in symbols}
    if targets:
        raw = rng.integers(1, 100, size=len(targets))
        for t, r in zip(targets, raw):
            point[t] = sp.Rational(int(r), int(raw.sum()))
    return point
