"""The shared corpus: networks and expressions every engine check runs over.

Networks cover every activation, every loss and all three bias modes on several shapes;
expressions cover hand-written activations, shared sub-expressions and non-network functions.
Values are drawn in (0.3, 1.5), where every expression is defined and no ReLU sits on its kink.
"""

from typing import NamedTuple

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


class MatrixCase(NamedTuple):
    """A scalar function J of SymPy matrices, the variables to differentiate, the small sizes the
    oracles use for the dimension symbols (empty when every size is concrete) and, where a book
    gives one, the textbook gradient of each variable. ``promised``: the library promises that
    textbook form itself (``d[W] == textbook`` after ``.doit()``), not only its value."""

    name: str
    J: sp.Expr
    wrt: tuple
    sizes: dict
    textbook: dict
    promised: bool = False


def _matrix_expressions() -> list[MatrixCase]:
    """The Matrix Cookbook is Petersen & Pedersen's, version of 15 November 2012: an equation number
    where the case is that equation, else the section that has it."""
    n, m, k = sp.symbols("n m k", integer=True, positive=True)
    sizes = {n: 2, m: 3, k: 2}  # distinct where they can be, so that a swapped dimension shows
    square = {n: 3}  # for cases with square matrices only: 3×3 has no 2×2 coincidences
    lam, s = sp.Symbol("lambda", positive=True), sp.Symbol("s")
    M = sp.MatrixSymbol
    one, eye, tr, det, log, exp = sp.OneMatrix, sp.Identity, sp.Trace, sp.Determinant, sp.log, sp.exp
    hadamard, hpow = sp.HadamardProduct, sp.HadamardPower
    X, A, B, D, S = M("X", n, n), M("A", n, n), M("B", n, n), M("D", n, n), M("Sigma", n, n)
    x, a, b, c, mu = M("x", n, 1), M("a", n, 1), M("b", n, 1), M("c", n, 1), M("mu", n, 1)
    cases = []

    def case(name, J, wrt, textbook=None, promised=False, case_sizes=sizes):
        wrt = tuple(wrt) if isinstance(wrt, (list, tuple)) else (wrt,)
        cases.append(MatrixCase(name, J, wrt, case_sizes, dict(textbook or {}), promised))

    # The five identities the library promises in textbook form, and least squares.
    Ak, Xr, Bk = M("A", k, n), M("X", n, m), M("B", m, k)
    case("tr(AXB) [Cookbook 100]", tr(Ak * Xr * Bk), Xr, {Xr: Ak.T * Bk.T}, promised=True)
    case("x'Ax [Cookbook 81]", x.T * A * x, x, {x: (A + A.T) * x}, promised=True, case_sizes=square)
    case("log det X [Cookbook 57]", log(det(X)), X, {X: X.I.T}, promised=True, case_sizes=square)
    case("a'X^-1 b [Cookbook 61]", a.T * X.I * b, X, {X: -X.I.T * a * b.T * X.I.T}, promised=True, case_sizes=square)
    am, Xnm, bm = M("a", n, 1), M("X", n, m), M("b", m, 1)
    case("a'Xb [Cookbook 70]", am.T * Xnm * bm, Xnm, {Xnm: am * bm.T}, promised=True)
    Xd, W, Y = M("X", m, n), M("W", n, k), M("Y", m, k)  # m samples (rows) of n features, k outputs
    R = Xd * W - Y
    case("least squares ||XW - Y||_F^2", sp.trace(R.T * R), W, {W: 2 * Xd.T * (Xd * W - Y)}, promised=True)
    X3, W3, Y3 = M("X", 3, 2), M("W", 2, 2), M("Y", 3, 2)
    case("least squares, concrete sizes 3x2", tr((X3 * W3 - Y3).T * (X3 * W3 - Y3)), W3,
         {W3: 2 * X3.T * (X3 * W3 - Y3)}, promised=True, case_sizes={})

    # More of the Cookbook: determinants, inverses, first- and second-order forms, traces, norms.
    case("det X [Cookbook, determinants]", det(X), X, {X: det(X) * X.I.T}, case_sizes=square)
    case("det(AXB) [Cookbook, determinants]", det(A * X * B), X, {X: det(A * X * B) * X.I.T}, case_sizes=square)
    Xt = M("X", m, n)
    case("log det(X'X), X rectangular [Cookbook, determinants]", log(det(Xt.T * Xt)), Xt, {Xt: 2 * Xt * (Xt.T * Xt).I})
    case("tr(AX^-1 B) [Cookbook 63]", tr(A * X.I * B), X, {X: -(X.I * B * A * X.I).T}, case_sizes=square)
    case("tr((X + A)^-1) [Cookbook 64]", tr(sp.Inverse(X + A)), X, {X: -((X + A).I * (X + A).I).T}, case_sizes=square)
    Xmn = M("X", m, n)
    case("a'X'b [Cookbook 71]", am.T * Xmn.T * M("b", m, 1), Xmn, {Xmn: M("b", m, 1) * am.T})
    bm2, cm2 = M("b", n, 1), M("c", n, 1)
    case("b'X'Xc [Cookbook, second-order forms]", bm2.T * Xmn.T * Xmn * cm2, Xmn, {Xmn: Xmn * (bm2 * cm2.T + cm2 * bm2.T)})
    Xb = Xnm * bm + c
    case("(Xb + c)'D(Xb + c) [Cookbook, second-order forms]", Xb.T * D * Xb, Xnm, {Xnm: (D + D.T) * (Xnm * bm + c) * bm.T})
    case("tr(X'AX)", tr(X.T * A * X), X, {X: (A + A.T) * X}, case_sizes=square)
    case("tr(X^2) [d tr(X^k) = k (X^(k-1))']", tr(X**2), X, {X: 2 * X.T}, case_sizes=square)
    case("tr(X^3)", tr(sp.MatPow(X, 3)), X, {X: 3 * (X.T) ** 2}, case_sizes=square)
    case("tr(X^-2)", tr(X**-2), X, {X: -2 * (X**-3).T}, case_sizes=square)
    case("||x - a||_2 [Cookbook, vector norms]", sp.sqrt(tr((x - a).T * (x - a))), x, {x: (x - a) / sp.sqrt(tr((x - a).T * (x - a)))}, case_sizes=square)

    # Hadamard products, elementwise functions and sums through OneMatrix.
    sum_n = (one(1, n), one(n, 1))
    case("sum(X o A o X)", sum_n[0] * hadamard(X, A, X) * sum_n[1], X, {X: 2 * hadamard(A, X)}, case_sizes=square)
    case("sum(X^o3)", sum_n[0] * hpow(X, 3) * sum_n[1], X, {X: 3 * hpow(X, 2)}, case_sizes=square)
    case("sum(sin o (AX))", sum_n[0] * (A * X).applyfunc(sp.sin) * sum_n[1], X, {X: A.T * (A * X).applyfunc(sp.cos)}, case_sizes=square)
    case("sum(relu o (AX))", sum_n[0] * (A * X).applyfunc(sb.relu) * sum_n[1], X,
         {X: A.T * (A * X).applyfunc(sp.Lambda(s, sp.Heaviside(s, 0)))}, case_sizes=square)
    Wk, Xc, bk = M("W", k, n), M("X", n, m), M("b", k, 1)  # columns of X are the m samples
    H = Wk * Xc + bk * one(1, m)
    case("bias broadcast sum((WX + b1')^o2)", one(1, k) * hpow(H, 2) * one(m, 1), (Wk, bk),
         {Wk: 2 * (Wk * Xc + bk * one(1, m)) * Xc.T, bk: 2 * (Wk * Xc + bk * one(1, m)) * one(m, 1)})

    # Scalar symbols beside the matrices, differentiated too.
    case("ridge ||XW - Y||_F^2 + lambda ||W||_F^2", tr(R.T * R) + lam * tr(W.T * W), (W, lam),
         {W: 2 * Xd.T * (Xd * W - Y) + 2 * lam * W, lam: tr(W.T * W)})
    case("tr(A' exp o (sX)), a scale s", tr(A.T * (s * X).applyfunc(exp)), (X, s),
         {X: s * hadamard(A, (s * X).applyfunc(exp)), s: tr(A.T * hadamard(X, (s * X).applyfunc(exp)))}, case_sizes=square)
    case("tr(X) tr(AX), a scalar coefficient", tr(X) * tr(A * X), X, {X: tr(A * X) * eye(n) + tr(X) * A.T}, case_sizes=square)

    # 1x1 matrices used as scalars (read as their trace).
    case("log(x'Ax)", log(x.T * A * x), x, {x: (A + A.T) * x / tr(x.T * A * x)}, case_sizes=square)
    case("exp(a'x) tr(X)", exp(a.T * x) * tr(X), (x, X), {x: exp(tr(a.T * x)) * tr(X) * a, X: exp(tr(a.T * x)) * eye(n)}, case_sizes=square)
    case("(a'x)^2, a 1x1 matrix power", (a.T * x) ** 2, x, {x: 2 * a * a.T * x}, case_sizes=square)

    # Transposes and inverses of products.
    case("tr((AX)'B)", tr(sp.Transpose(A * X) * B), X, {X: A.T * B}, case_sizes=square)
    case("tr((XA)^-1)", tr(sp.Inverse(X * A)), X, {X: -(A * sp.Inverse(X * A) ** 2).T}, case_sizes=square)

    # The Gaussian negative log-likelihood (up to constants); the Cookbook assumes Σ symmetric,
    # these forms do not [Cookbook 57, 61 and 86].
    nll = log(det(S)) / 2 + tr((x - mu).T * S.I * (x - mu)) / 2
    case("Gaussian NLL", nll, (S, mu),
         {S: S.I.T / 2 - S.I.T * (x - mu) * (x - mu).T * S.I.T / 2, mu: -(S.I + S.I.T) * (x - mu) / 2}, case_sizes=square)
    S2, x2, mu2 = M("Sigma", 2, 2), M("x", 2, 1), M("mu", 2, 1)
    case("Gaussian NLL, concrete size 2", log(det(S2)) / 2 + tr((x2 - mu2).T * S2.I * (x2 - mu2)) / 2, (S2, mu2),
         {S2: S2.I.T / 2 - S2.I.T * (x2 - mu2) * (x2 - mu2).T * S2.I.T / 2, mu2: -(S2.I + S2.I.T) * (x2 - mu2) / 2},
         case_sizes={})

    # Models. Logistic regression over the m columns of X: z = wᵀX + c1ᵀ with a 1×1 bias c.
    w, cb, y = M("w", n, 1), M("c", 1, 1), M("y", 1, m)
    z = w.T * Xc + cb * one(1, m)

    def logistic_textbook(p):
        return {w: Xc * (p - y).T / m, cb: (p - y) * one(m, 1) / m}

    def bce(p):
        return -(y * p.applyfunc(log).T + (one(1, m) - y) * (one(1, m) - p).applyfunc(log).T) / m

    p = z.applyfunc(sb.sigmoid)
    case("logistic regression, sb.sigmoid and the loss by hand", bce(p), (w, cb), logistic_textbook(p))
    p_by_hand = z.applyfunc(sp.Lambda(s, 1 / (1 + exp(-s))))
    case("logistic regression, all by hand", bce(p_by_hand), (w, cb), logistic_textbook(p))
    case("logistic regression, softplus form", (z.applyfunc(sb.softplus) - hadamard(y, z)) * one(m, 1) / m, (w, cb),
         logistic_textbook(p))
    w2, c2, X2, y2 = M("w", 2, 1), M("c", 1, 1), M("X", 2, 3), M("y", 1, 3)
    z2 = w2.T * X2 + c2 * one(1, 3)
    p2 = z2.applyfunc(sb.sigmoid)
    case("logistic regression, concrete sizes 2x3",
         -(y2 * p2.applyfunc(log).T + (one(1, 3) - y2) * (one(1, 3) - p2).applyfunc(log).T) / 3, (w2, c2),
         {w2: X2 * (p2 - y2).T / 3, c2: (p2 - y2) * one(3, 1) / 3}, case_sizes={})

    # Softmax regression: J = −tr(YᵀZ) + Σ_j log Σ_i exp Z_ij with Z = WX; ∂J/∂W = (softmax(Z) − Y)Xᵀ.
    Yk = M("Y", k, m)
    Z = Wk * Xc
    E = Z.applyfunc(exp)
    softmax = hadamard(E, one(k, 1) * (one(1, k) * E).applyfunc(sp.Lambda(s, 1 / s)))
    case("softmax regression", -tr(Yk.T * Z) + tr((one(1, k) * E).applyfunc(log) * one(m, 1)), Wk,
         {Wk: (softmax - Yk) * Xc.T})

    # Attention: scores tr(Cᵀ exp∘(X W_q W_kᵀ Xᵀ)), and a head softmax(X W_q W_kᵀ Xᵀ/√k) X W_v.
    Xa, Wq, Wkk, Wv, C = M("X", m, n), M("W_q", n, k), M("W_k", n, k), M("W_v", n, k), M("C", m, m)
    Ea = (Xa * Wq * Wkk.T * Xa.T).applyfunc(exp)
    case("attention scores tr(C' exp o (X W_q W_k' X'))", tr(C.T * Ea), (Wq, Wkk),
         {Wq: Xa.T * hadamard(C, Ea) * Xa * Wkk, Wkk: Xa.T * hadamard(C, Ea).T * Xa * Wq})
    Eh = (Xa * Wq * Wkk.T * Xa.T / sp.sqrt(k)).applyfunc(exp)
    P = hadamard(Eh, hpow(Eh * one(m, 1) * one(1, m), -1))  # rows sum to 1
    Ch = M("C", m, k)
    case("attention head tr(C' softmax(X W_q W_k' X'/sqrt k) X W_v)", tr(Ch.T * P * Xa * Wv), (Wq, Wkk, Wv),
         {Wv: Xa.T * P.T * Ch})

    # A 2-layer network with the library's primitives and the biases broadcast by OneMatrix;
    # b_2 is a 1×1 matrix. J = ½‖softplus∘(W_2 σ∘(W_1X + b_11ᵀ) + b_21ᵀ) − y‖² / m.
    W1, b1, W2, b2 = M("W_1", k, n), M("b_1", k, 1), M("W_2", 1, k), M("b_2", 1, 1)
    A1 = (W1 * Xc + b1 * one(1, m)).applyfunc(sb.sigmoid)
    Yhat = (W2 * A1 + b2 * one(1, m)).applyfunc(sb.softplus)
    case("2-layer MLP sigmoid/softplus, bias broadcast", hpow(Yhat - y, 2) * one(m, 1) / (2 * m), (W1, b1, W2, b2))

    # A recurrent net unrolled over two steps: the weights W and U are used at both.
    Wr, Ur, Vr, h0, x1, x2, yr = M("W", k, k), M("U", k, n), M("V", 1, k), M("h", k, 1), M("x_1", n, 1), M("x_2", n, 1), M("y", 1, 1)
    h1 = (Wr * h0 + Ur * x1).applyfunc(sp.tanh)
    h2 = (Wr * h1 + Ur * x2).applyfunc(sp.tanh)
    case("recurrent net, tanh, unrolled twice", tr((Vr * h2 - yr).T * (Vr * h2 - yr)), (Wr, Ur, Vr), case_sizes={n: 3, k: 2})

    # Batch normalisation over the m columns, with ε = 1/10; the backward pass of Ioffe & Szegedy
    # (2015) in matrix form: ∂J/∂X = (1/m) σ⁻¹ ⊙ (mG − G11ᵀ − Ẑ ⊙ (G ⊙ Ẑ)11ᵀ) for J = tr(GᵀẐ).
    Xn, G = M("X", n, m), M("G", n, m)
    centred = Xn - Xn * one(m, 1) * one(1, m) / m
    inverse_std = hpow(hpow(centred, 2) * one(m, 1) / m + one(n, 1) / 10, -sp.S.Half) * one(1, m)
    Zhat = hadamard(centred, inverse_std)
    case("batch normalisation tr(G' BN(X))", tr(G.T * Zhat), Xn,
         {Xn: hadamard(inverse_std, m * G - G * one(m, 1) * one(1, m) - hadamard(Zhat, hadamard(G, Zhat) * one(m, 1) * one(1, m))) / m})

    # The Gaussian-process marginal likelihood with K = XXᵀ + s²I [Rasmussen & Williams 2006, eq. 5.9].
    Xg, yg = M("X", n, k), M("y", n, 1)
    K = Xg * Xg.T + s**2 * eye(n)
    Q = K.I - K.I * yg * yg.T * K.I  # K is symmetric
    case("Gaussian process NLL, K = XX' + s^2 I", tr(yg.T * K.I * yg) / 2 + log(det(K)) / 2, (Xg, s),
         {Xg: Q * Xg, s: s * tr(Q)}, case_sizes={n: 3, k: 2})

    # Smaller forms: principal components, powers of products, nested and mixed elementwise
    # functions, scalar functions of traces, a parameter inside an elementwise function.
    case("tr(W'X'XW)", tr(W.T * Xd.T * Xd * W), W, {W: 2 * Xd.T * Xd * W})
    case("tr((AX)^2)", tr((A * X) ** 2), X, {X: 2 * A.T * (A * X).T}, case_sizes=square)
    case("tr((X + I)^-1)", tr(sp.Inverse(X + eye(n))), X, {X: -((X + eye(n)).I * (X + eye(n)).I).T}, case_sizes=square)
    case("sum(cos o (sin o X))", sum_n[0] * X.applyfunc(sp.sin).applyfunc(sp.cos) * sum_n[1], X,
         {X: -hadamard(X.applyfunc(sp.sin).applyfunc(sp.sin), X.applyfunc(sp.cos))}, case_sizes=square)
    case("sum(tanh o X ⊙ leaky_relu o X)", sum_n[0] * hadamard(X.applyfunc(sp.tanh), X.applyfunc(sb.leaky_relu)) * sum_n[1], X,
         {X: hadamard(X.applyfunc(sp.Lambda(s, 1 - sp.tanh(s) ** 2)), X.applyfunc(sb.leaky_relu))
          + hadamard(X.applyfunc(sp.tanh), X.applyfunc(sp.Lambda(s, sp.diff(sb.leaky_relu(s), s))))}, case_sizes=square)
    case("exp(tr X) + tr(AX)^2 - 3 sqrt(det X)", exp(tr(X)) + tr(A * X) ** 2 - 3 * sp.sqrt(det(X)), X,
         {X: exp(tr(X)) * eye(n) + 2 * tr(A * X) * A.T - 3 * sp.sqrt(det(X)) * X.I.T / 2}, case_sizes=square)
    t = sp.Symbol("t")
    case("sum(exp o (s X)) with s inside the function", sum_n[0] * X.applyfunc(sp.Lambda(t, exp(s * t))) * sum_n[1], (X, s),
         {X: s * X.applyfunc(sp.Lambda(t, exp(s * t))),
          s: tr(one(n, n) * hadamard(X, X.applyfunc(sp.Lambda(t, exp(s * t)))))}, case_sizes=square)

    # Corners: a 1×1 J that is a sum, a zero gradient, constants with dimension symbols, a
    # function of 1×1 matrices, a Python lambda, shared products, scalar-base Hadamard powers.
    c1 = M("c", 1, 1)
    EX = X.applyfunc(exp)
    case("x'Ax + a'x, a 1x1 sum", x.T * A * x + a.T * x, x, {x: (A + A.T) * x + a}, case_sizes=square)
    case("tr X", tr(X), X, {X: eye(n)}, case_sizes=square)
    case("||X||_F^2 = tr(X'X)", tr(X.T * X), X, {X: 2 * X}, case_sizes=square)
    case("n tr X", n * tr(X), X, {X: n * eye(n)}, case_sizes=square)
    case("tr(X^-1 A X) = tr A, a zero gradient", tr(X.I * A * X), X, {X: sp.ZeroMatrix(n, n)}, case_sizes=square)
    case("det(X)^2", det(X) ** 2, X, {X: 2 * det(X) ** 2 * X.I.T}, case_sizes=square)
    case("det(I + X)", det(eye(n) + X), X, {X: det(eye(n) + X) * (eye(n) + X).I.T}, case_sizes=square)
    case("tr(AX) / tr(X)", tr(A * X) / tr(X), X, {X: A.T / tr(X) - tr(A * X) / tr(X) ** 2 * eye(n)}, case_sizes=square)
    case("tr((AX)^3)", tr((A * X) ** 3), X, {X: 3 * A.T * ((A * X).T) ** 2}, case_sizes=square)
    case("tr((X + sI)^-1)", tr(sp.Inverse(X + s * eye(n))), (X, s),
         {X: -(((X + s * eye(n)).I) ** 2).T, s: -tr(((X + s * eye(n)).I) ** 2)}, case_sizes=square)
    case("tr((XA)'(XA)) + tr(XA), a shared product", tr((X * A).T * (X * A)) + tr(X * A), X,
         {X: 2 * X * A * A.T + A.T}, case_sizes=square)
    case("exp(c) tr X, c 1x1", exp(c1) * tr(X), (c1, X), {c1: exp(tr(c1)) * tr(X) * eye(1), X: exp(tr(c1)) * eye(n)},
         case_sizes=square)
    case("c^3, a 1x1 matrix power", c1 * c1 * c1, c1, {c1: 3 * c1 * c1}, case_sizes={})
    case("log(1 + exp(a'x))", log(1 + exp(a.T * x)), x, {x: sb.sigmoid(tr(a.T * x)) * a}, case_sizes=square)
    case("sum(f o X), f a Python lambda", sum_n[0] * X.applyfunc(lambda v: v**3 + sp.sin(v)) * sum_n[1], X,
         {X: 3 * hpow(X, 2) + X.applyfunc(sp.cos)}, case_sizes=square)
    case("sum((exp o X)^o s)", sum_n[0] * hpow(EX, s) * sum_n[1], (X, s),
         {X: s * hpow(EX, s), s: tr(one(n, n) * hadamard(X, hpow(EX, s)))}, case_sizes=square)
    case("sum(2^o X), a scalar base", sum_n[0] * hpow(2, X) * sum_n[1], X, {X: log(2) * hpow(2, X)}, case_sizes=square)
    case("Gaussian NLL with its constant n/2 log 2 pi", nll + n * log(2 * sp.pi) / 2, (S, mu),
         {S: S.I.T / 2 - S.I.T * (x - mu) * (x - mu).T * S.I.T / 2, mu: -(S.I + S.I.T) * (x - mu) / 2}, case_sizes=square)

    # More models: factorisations, projections, a gain and a bias after normalising, a gated
    # recurrent step, robust losses with kinks (Huber, L1).
    case("tr(AXBX')", tr(A * X * B * X.T), X, {X: A * X * B + A.T * X * B.T}, case_sizes=square)
    Rm, Mask, Uf, Vf = M("R", n, m), M("M", n, m), M("U", n, k), M("V", m, k)
    residual = hadamard(Mask, Rm - Uf * Vf.T)
    case("masked matrix factorisation ||M o (R - UV')||_F^2", tr(residual.T * residual), (Uf, Vf),
         {Uf: -2 * hadamard(hpow(Mask, 2), Rm - Uf * Vf.T) * Vf, Vf: -2 * hadamard(hpow(Mask, 2), Rm - Uf * Vf.T).T * Uf})
    reconstruction = Xd - Xd * W * W.T
    case("PCA reconstruction ||X - XWW'||_F^2", tr(reconstruction.T * reconstruction), W,
         {W: -2 * (reconstruction.T * Xd + Xd.T * reconstruction) * W})
    case("Mahalanobis (x - mu)'S^-1(x - mu) [Cookbook 61]", (x - mu).T * S.I * (x - mu), (S, mu),
         {S: -S.I.T * (x - mu) * (x - mu).T * S.I.T, mu: -(S.I + S.I.T) * (x - mu)}, case_sizes=square)
    gain, shift = M("gamma", n, 1), M("beta", n, 1)
    G_gain = hadamard(gain * one(1, m), G)
    case("batch normalisation with a gain and a bias", tr(G.T * (hadamard(gain * one(1, m), Zhat) + shift * one(1, m))),
         (Xn, gain, shift),
         {gain: hadamard(Zhat, G) * one(m, 1), shift: G * one(m, 1),
          Xn: hadamard(inverse_std, m * G_gain - G_gain * one(m, 1) * one(1, m)
                       - hadamard(Zhat, hadamard(G_gain, Zhat) * one(m, 1) * one(1, m))) / m})
    Wz, Uz, Wh, Uh, hg, xg = M("W_z", n, k), M("U_z", n, n), M("W_h", n, k), M("U_h", n, n), M("h", n, 1), M("x", k, 1)
    gate = (Wz * xg + Uz * hg).applyfunc(sb.sigmoid)
    h_next = hadamard(one(n, 1) - gate, hg) + hadamard(gate, (Wh * xg + Uh * hg).applyfunc(sp.tanh))
    case("gated recurrent step, sum(h'^o2)", one(1, n) * hpow(h_next, 2), (Wz, Uz, Wh, Uh, hg), case_sizes={n: 3, k: 2})
    huber = sp.Lambda(t, sp.Piecewise((t**2 / 2, sp.Abs(t) <= 1), (sp.Abs(t) - sp.S.Half, True)))
    case("Huber loss sum(huber o (2X))", sum_n[0] * (2 * X).applyfunc(huber) * sum_n[1], X,
         {X: 2 * (2 * X).applyfunc(sp.Lambda(t, sp.Piecewise((t, sp.Abs(t) <= 1), (sp.sign(t), True))))}, case_sizes=square)
    case("L1 norm sum(|X|)", sum_n[0] * X.applyfunc(sp.Abs) * sum_n[1], X, {X: X.applyfunc(sp.sign)}, case_sizes=square)

    # Classification, regression and kernel models as they are often written.
    Pk = hadamard(E, hpow(one(k, k) * E, -1))  # softmax over each column of Z = WX
    case("softmax cross-entropy -tr(Y' log o softmax(WX))", -tr(Yk.T * Pk.applyfunc(log)), Wk,
         {Wk: (hadamard(Pk, one(k, k) * Yk) - Yk) * Xc.T})
    Zt = (Z / s).applyfunc(exp)
    case("softmax cross-entropy with a temperature s", -tr(Yk.T * hadamard(Zt, hpow(one(k, k) * Zt, -1)).applyfunc(log)), (Wk, s))
    W2r, b2r = M("W_2", k, k), M("b_2", k, 1)
    Z2 = W2r * (W1 * Xc + b1 * one(1, m)).applyfunc(sb.relu) + b2r * one(1, m)
    case("2-layer MLP relu, softmax cross-entropy", -tr(Yk.T * Z2) + tr(one(1, m) * (one(1, k) * Z2.applyfunc(exp)).applyfunc(log).T),
         (W1, b1, W2r, b2r))
    wl, bl, yl = M("w", n, 1), M("b", 1, 1), M("y", m, 1)
    fit = Xd * wl + one(m, 1) * bl - yl
    case("linear regression with a 1x1 bias ||Xw + 1b - y||^2", tr(fit.T * fit), (wl, bl),
         {wl: 2 * Xd.T * (Xd * wl + one(m, 1) * bl - yl), bl: 2 * one(1, m) * (Xd * wl + one(m, 1) * bl - yl)})
    case("Poisson regression 1'(exp o (Xw) - y o Xw)", one(1, m) * ((Xd * wl).applyfunc(exp) - hadamard(yl, Xd * wl)), wl,
         {wl: Xd.T * ((Xd * wl).applyfunc(exp) - yl)})
    margin = one(m, 1) - hadamard(yl, Xd * wl)
    case("squared hinge 1'(relu o (1 - y o Xw))^o2", one(1, m) * hpow(margin.applyfunc(sb.relu), 2), wl,
         {wl: -2 * Xd.T * hadamard(yl, margin.applyfunc(sb.relu))})
    Kk, alpha = M("K", m, m), M("alpha", m, 1)
    case("kernel ridge ||y - K alpha||^2 + lambda alpha'K alpha", tr((yl - Kk * alpha).T * (yl - Kk * alpha)) + lam * tr(alpha.T * Kk * alpha),
         (alpha, lam), {alpha: -2 * Kk.T * (yl - Kk * alpha) + lam * (Kk + Kk.T) * alpha, lam: tr(alpha.T * Kk * alpha)})
    Yr = M("Y", m, k)
    case("ridge fit tr(Y'X(X'X + lambda I)^-1 X'Y)", tr(Yr.T * Xd * (Xd.T * Xd + lam * eye(n)).I * Xd.T * Yr), (Xd, lam),
         {lam: -tr((Xd.T * Xd + lam * eye(n)).I * Xd.T * Yr * Yr.T * Xd * (Xd.T * Xd + lam * eye(n)).I)})
    Lc = M("L", n, n)
    case("log det(LL')", log(det(Lc * Lc.T)), Lc, {Lc: 2 * Lc.I.T}, case_sizes=square)
    case("E[x'Ax] = tr(A Sigma) + mu'A mu [Cookbook, mean of a quadratic form]", tr(A * S) + tr(mu.T * A * mu), (A, mu, S),
         {A: S.T + mu * mu.T, mu: (A + A.T) * mu, S: A.T}, case_sizes=square)
    norms = sp.sqrt(tr(x.T * x) * tr(a.T * a))
    case("cosine similarity a'x / (||a|| ||x||)", tr(a.T * x) / norms, (x, a),
         {x: a / norms - tr(a.T * x) * tr(a.T * a) / norms**3 * x, a: x / norms - tr(a.T * x) * tr(x.T * x) / norms**3 * a},
         case_sizes=square)
    Mm = M("M", m, m)
    case("masked attention scores tr(C'(M o exp o (X W_q W_k' X')))", tr(C.T * hadamard(Mm, Ea)), Wq,
         {Wq: Xa.T * hadamard(C, Mm, Ea) * Xa * Wkk})

    # The larger models again with the oracles' sizes written into every shape.
    for original in [c for c in cases if c.name.startswith(("batch normalisation", "attention head", "2-layer MLP"))]:
        concrete = {d: sp.Integer(v) for d, v in original.sizes.items()}
        case(f"{original.name}, concrete sizes", original.J.xreplace(concrete), [W.xreplace(concrete) for W in original.wrt],
             {W.xreplace(concrete): T.xreplace(concrete) for W, T in original.textbook.items()}, case_sizes={})
    return cases


MATRIX_EXPRESSIONS = _matrix_expressions()
