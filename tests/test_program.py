"""Derivations with matrix steps as a program of statements, and the NumPy code printed from it.

The derivations here are written by hand in the delta view (steps, named deltas, gradients), from
the Matrix Cookbook and the textbook formulas, so that the program and its printer are tested on
their own; the generated code is then held to finite differences of its own loss (gradcheck), in
float64 and float32.
"""

import dataclasses
import re
import types

import numpy as np
import pytest
import sympy as sp
from sympy import HadamardPower, HadamardProduct, MatrixSymbol, OneMatrix, Trace, det

import symbackprop as sb
from symbackprop import naming
from symbackprop import program as pr
from symbackprop.codegen import MatrixPrinter, numpy_module
from symbackprop.primitives import sigmoid, softplus

n, m, k = sp.symbols("n m k", integer=True, positive=True)
f = sp.Symbol("f")
lam = sp.Symbol("lam", positive=True)


def hand(steps, wrt, deltas, gradients):
    """A derivation written by hand: the interface of :class:`symbackprop.derive.Derivation` that
    the program reads."""
    steps = [types.SimpleNamespace(symbol=s, expr=e) for s, e in steps]
    known = {s.symbol for s in steps}
    variables = set().union(*(s.expr.free_symbols for s in steps)) - known - {n, m, k}
    sizes = set().union(*(v.shape[0].free_symbols | v.shape[1].free_symbols for v in variables if isinstance(v, sp.MatrixExpr)))
    graph = types.SimpleNamespace(steps=tuple(steps), variables=tuple(sorted(variables, key=lambda v: v.name)),
                                  output=steps[-1].symbol, outputs=(steps[-1].symbol,), sizes=tuple(sorted(sizes, key=lambda s: s.name)),
                                  has_matrices=True, description="", inputs=(), targets=(), is_network=False)
    return types.SimpleNamespace(graph=graph, wrt=tuple(wrt), deltas=tuple(deltas), gradient=gradients.__getitem__)


def closed_loss(d):
    """The loss of a hand-written derivation as one expression: its steps substituted."""
    values = {}
    for step in d.graph.steps:
        values[step.symbol] = step.expr.xreplace(values)
    return values[d.graph.output]


def derived(name, source="hand"):
    """A textbook case as written by hand, or (source "engine") derived by backprop from its loss."""
    d = CASES[name]()
    return d if source == "hand" else sb.backprop(closed_loss(d), wrt=list(d.wrt))


def delta(symbol):
    return MatrixSymbol("delta_" + symbol.name, *symbol.shape)


# ----------------------------------------------------------------------- textbook cases
X, W, Y = MatrixSymbol("X", n, m), MatrixSymbol("W", m, k), MatrixSymbol("Y", n, k)
A, S = MatrixSymbol("A", n, n), MatrixSymbol("S", n, n)
a, b, x, mu = (MatrixSymbol(name, n, 1) for name in ("a", "b", "x", "mu"))


def least_squares():
    v1 = MatrixSymbol("v1", n, k)
    return hand([(v1, X * W - Y), (f, Trace(v1.T * v1))], [W], [(delta(v1), 2 * v1)], {W: X.T * delta(v1)})


def ridge():
    R = X * W - Y
    return hand([(f, Trace(R.T * R) + lam * Trace(W.T * W))], [W], [], {W: 2 * X.T * R + 2 * lam * W})


def log_det():
    v1 = sp.Symbol("v1")
    return hand([(v1, det(A)), (f, sp.log(v1))], [A], [], {A: A.I.T})  # Cookbook (57)


def inverse_form():
    return hand([(f, Trace(a.T * A.I * b))], [A], [], {A: -A.I.T * a * b.T * A.I.T})  # Cookbook (61)


def gaussian_nll():
    r = x - mu
    J = sp.log(det(S)) / 2 + Trace(r.T * S.I * r) / 2
    return hand([(f, J)], [S, mu], [], {S: S.I.T / 2 - S.I.T * r * r.T * S.I.T / 2, mu: -S.I * r / 2 - S.I.T * r / 2})


Xs, w, c, y = MatrixSymbol("X", n, m), MatrixSymbol("w", n, 1), MatrixSymbol("c", 1, 1), MatrixSymbol("y", 1, m)
ones_m = OneMatrix(m, 1)


def logistic(on_probabilities=False):
    """Mean binary cross-entropy of σ(wᵀX + c 1ᵀ): on the logits (softplus) or on the probabilities (ln σ)."""
    z = MatrixSymbol("v1", 1, m)
    if on_probabilities:
        p = z.applyfunc(sigmoid)
        per_sample = -(HadamardProduct(y, p.applyfunc(sp.log)) + HadamardProduct(OneMatrix(1, m) - y, (OneMatrix(1, m) - p).applyfunc(sp.log)))
    else:
        per_sample = z.applyfunc(softplus) - HadamardProduct(y, z)
    dz = delta(z)
    return hand([(z, w.T * Xs + c * OneMatrix(1, m)), (f, Trace(per_sample * ones_m) / m)], [w, c],
                [(dz, (z.applyfunc(sigmoid) - y) / m)], {w: Xs * dz.T, c: dz * ones_m})


def softmax_regression():
    Wk, Yk = MatrixSymbol("W", k, n), MatrixSymbol("Y", k, m)
    Z = MatrixSymbol("v1", k, m)
    E = Z.applyfunc(sp.exp)
    J = (-Trace(Yk.T * Z) + Trace((OneMatrix(1, k) * E).applyfunc(sp.log) * ones_m)) / m
    softmax = HadamardProduct(E, OneMatrix(k, 1) * HadamardPower(OneMatrix(1, k) * E, -1))
    return hand([(Z, Wk * Xs), (f, J)], [Wk], [(delta(Z), (softmax - Yk) / m)], {Wk: delta(Z) * Xs.T})


def attention():
    Xa, Wq, Wk, C = MatrixSymbol("X", m, n), MatrixSymbol("W_q", n, k), MatrixSymbol("W_k", n, k), MatrixSymbol("C", m, m)
    v1 = MatrixSymbol("v1", m, m)
    e = v1.applyfunc(sp.exp)
    return hand([(v1, Xa * Wq * Wk.T * Xa.T), (f, Trace(C.T * e))], [Wq, Wk], [(delta(v1), HadamardProduct(C, e))],
                {Wq: Xa.T * delta(v1) * Xa * Wk, Wk: Xa.T * delta(v1).T * Xa * Wq})


def mlp():
    W1, b1, W2, b2 = MatrixSymbol("W_1", k, n), MatrixSymbol("b_1", k, 1), MatrixSymbol("W_2", 1, k), MatrixSymbol("b_2", 1, 1)
    v1, v2, v3 = MatrixSymbol("v1", k, m), MatrixSymbol("v2", k, m), MatrixSymbol("v3", 1, m)
    d = sp.Dummy("d")
    slope = sp.Lambda(d, sigmoid(d) * (1 - sigmoid(d)))
    steps = [(v1, W1 * Xs + b1 * OneMatrix(1, m)), (v2, v1.applyfunc(sigmoid)), (v3, W2 * v2 + b2 * OneMatrix(1, m) - y),
             (f, Trace(v3 * v3.T) / (2 * m))]
    deltas = [(delta(v3), v3 / m), (delta(v1), HadamardProduct(W2.T * delta(v3), v1.applyfunc(slope)))]
    return hand(steps, [W1, b1, W2, b2], deltas, {W1: delta(v1) * Xs.T, b1: delta(v1) * ones_m,
                                                  W2: delta(v3) * v2.T, b2: delta(v3) * ones_m})


CASES = {"least squares": least_squares, "ridge": ridge, "log det": log_det, "aᵀX⁻¹b": inverse_form,
         "Gaussian NLL": gaussian_nll, "logistic regression": logistic,
         "logistic regression on probabilities": lambda: logistic(on_probabilities=True),
         "softmax regression": softmax_regression, "attention scores": attention, "2-layer MLP": mlp}


@pytest.fixture(scope="module", params=[(name, source) for name in CASES for source in ("hand", "engine")], ids=str)
def case(request):
    name, source = request.param
    d = derived(name, source)
    return (name, source), d, sb.compile(d)


def test_generated_gradients_match_finite_differences(case):
    name, _, module = case
    report = sb.gradcheck(module, seed=3)
    assert report.passed and {row.status for row in report.rows} == {"pass"}, (name, str(report))
    assert sb.gradcheck(module, seed=4, sizes={size: 5 for size in module.SIZES[:1]}).passed


def point(module, dtype, seed=0):
    """Arrays at a random point of the shapes of ``module`` (sizes 2, 3, 4), square ones well-conditioned."""
    flat = sb.check.FlatProgramModule(module)
    params, inputs, _ = sb.check.random_values(flat, seed)
    arrays = flat._arrays(params, module.PARAMETERS), flat._arrays(inputs, module.INPUTS)
    return [[np.asarray(v, dtype=dtype) for v in group] for group in arrays]


def test_float32_stays_float32_and_agrees_with_float64(case):
    name, _, module = case
    J64, g64 = module.loss_and_gradients(*point(module, np.float64))
    J32, g32 = module.loss_and_gradients(*point(module, np.float32))
    assert np.asarray(J32).dtype == np.float32 and all(np.asarray(g).dtype == np.float32 for g in g32), name
    assert np.isclose(J32, J64, rtol=1e-4, atol=1e-5)
    for one, other, parameter in zip(g32, g64, module.PARAMETERS):
        assert np.shape(one) == np.shape(other) == module.loss_and_gradients(*point(module, np.float64))[1][
            module.PARAMETERS.index(parameter)].shape
        assert np.allclose(one, other, rtol=1e-3, atol=1e-4), (name, parameter)


def test_gradients_alone_equal_those_with_the_loss(case):
    _, _, module = case
    params, inputs = point(module, np.float64)
    for alone, together in zip(module.gradients(params, inputs), module.loss_and_gradients(params, inputs)[1]):
        assert np.array_equal(alone, together)
    assert module.loss(params, inputs) == module.loss_and_gradients(params, inputs)[0]


def test_the_same_derivation_gives_byte_identical_source(case):
    (name, source), _, _ = case
    assert numpy_module(derived(name, source)) == numpy_module(derived(name, source))


@pytest.mark.parametrize("source", ["hand", "engine"])
@pytest.mark.parametrize("name", ["aᵀX⁻¹b", "Gaussian NLL", "log det"])
def test_inverses_are_solves_and_log_det_is_slogdet(name, source):
    source = numpy_module(derived(name, source))
    body = source.split("def _computed")[0]
    if name != "log det":
        assert "np.linalg.solve(" in body
    if name == "aᵀX⁻¹b":
        assert "np.linalg.inv(" not in body  # −X⁻ᵀabᵀX⁻ᵀ = −(X⁻ᵀa)(X⁻¹b)ᵀ: two solves
    if name != "aᵀX⁻¹b":
        assert "_log_det(" in body and "np.linalg.det(" not in body


def test_a_trace_of_a_product_never_forms_the_product():
    body = numpy_module(least_squares()).split("def _computed")[0]
    assert "J = _dtype.type(np.vdot(v1, v1))" in body and "v1.T @ v1" not in body


@pytest.mark.parametrize("source", ["hand", "engine"])
def test_sums_and_broadcasts_never_build_a_ones_matrix(source):
    for name in ("logistic regression", "2-layer MLP", "softmax regression", "ridge"):
        body = numpy_module(derived(name, source)).split("def _computed")[0]
        assert "np.ones(" not in body and "np.broadcast_to(" not in body and "np.eye(" not in body  # λI W is λW
        assert name == "ridge" or ".sum(axis=1, keepdims=True)" in body or ".sum(axis=0, keepdims=True)" in body


@pytest.mark.parametrize("source", ["hand", "engine"])
def test_the_derivative_of_an_elementwise_step_reuses_its_value(source):
    body = numpy_module(derived("2-layer MLP", source)).split("def _loss_and_gradients")[1].split("def _gradients")[0]
    step = next(line.split(" = ")[0].strip() for line in body.splitlines() if " = _sigmoid(" in line)
    assert body.count("_sigmoid(") == 1 and f"(1 - {step})" in body  # σ'(Z) = σ(Z) ⊙ (1 − σ(Z)) from A = σ(Z)


# ln σ(z) and ln(1 − σ(z)) are written on the logits, as one elementwise function of z or as a
# log of a sigmoid step (1 − P with P = σ(Z) a step of its own).
@pytest.mark.parametrize(("name", "source"), [("logistic regression", "hand"), ("logistic regression", "engine"),
                                              ("logistic regression on probabilities", "hand"),
                                              ("logistic regression on probabilities", "engine"),
                                              ("softmax regression", "hand"), ("softmax regression", "engine"),
                                              ("2-layer MLP", "hand"), ("2-layer MLP", "engine")])
def test_logits_of_800_stay_finite_where_the_primitive_is_stable(name, source):
    module = sb.compile(derived(name, source))
    params, inputs = point(module, np.float64)
    for sign in (1.0, -1.0):
        big = [p * 2000.0 * sign for p in params]  # logits in the hundreds and thousands, of both signs
        with np.errstate(all="raise"):
            J, gradients = module.loss_and_gradients(big, inputs)
        assert np.isfinite(J) and all(np.isfinite(g).all() for g in gradients)


def test_an_exponential_summed_over_columns_is_shifted_by_their_largest_entry_only_where_that_cancels():
    """Softmax regression written with exp and log: the exponential is computed from the logits
    less each column's largest, the log of its column sums given that back; an exponential also
    used alone (here its trace) is left as written, since a shift would change its value."""
    d = derived("softmax regression", "engine")
    body = numpy_module(d).split("def _loss_and_gradients")[1].split("def _gradients")[0]
    assert ".max(axis=0, keepdims=True)" in body
    module = sb.compile(d)
    params, inputs = point(module, np.float64)
    W_, (X_, Y_) = params[0], inputs
    Z = W_ @ X_
    expected = (np.log(np.exp(Z).sum(axis=0)) - (Y_ * Z).sum(axis=0)).sum() / Z.shape[1]
    assert np.isclose(module.loss(params, inputs), expected, rtol=1e-12)
    k, n, m = sp.symbols("k n m", integer=True, positive=True)
    W, X = MatrixSymbol("W", k, n), MatrixSymbol("X", n, m)
    E = (W * X).applyfunc(sp.exp)
    alone = sb.backprop(Trace((OneMatrix(1, k) * E).applyfunc(sp.log) * OneMatrix(m, 1)) + Trace(E * X.T * W.T), wrt=[W])
    assert ".max(" not in numpy_module(alone)
    assert sb.gradcheck(alone, sizes={"k": 2, "n": 3, "m": 2}).passed


def test_logistic_loss_on_logits_equals_the_one_on_probabilities():
    on_logits, on_probabilities = sb.compile(logistic()), sb.compile(logistic(on_probabilities=True))
    params, inputs = point(on_logits, np.float64)
    assert np.isclose(on_logits.loss(params, inputs), on_probabilities.loss(params, inputs))


def test_sizes_are_read_from_the_arrays_and_must_agree():
    module = sb.compile(least_squares())
    W_, X_, Y_ = np.ones((3, 2)), np.ones((4, 3)), np.ones((4, 2))
    assert np.isclose(module.loss([W_], [X_, Y_]), 4 * 2 * 2.0**2)  # XW − Y = 2 everywhere
    with pytest.raises(ValueError, match=r"^n must be the same everywhere: X has n = 4 \(rows\) but Y has n = 5 \(rows\)$"):
        module.loss([W_], [X_, np.ones((5, 2))])
    with pytest.raises(ValueError, match=r"^W must have shape \(m, k\); got \(3,\)$"):
        module.loss([np.ones(3)], [X_, Y_])
    with pytest.raises(ValueError, match=r"^inputs must hold 2 values \(X, Y\); got 1$"):
        module.loss([W_], [X_])
    with pytest.raises(ValueError, match=r"^X is not finite at \(1, 2\): nan$"):
        X_[1, 2] = np.nan
        module.loss([W_], [X_, Y_])


def test_a_singular_matrix_and_a_negative_determinant_are_named():
    module = sb.compile(gaussian_nll())
    x_, mu_ = np.ones((2, 1)), np.zeros((2, 1))
    with pytest.raises(ValueError, match=r"^log det\(S\) needs det\(S\) > 0; here det\(S\) is negative$"):
        module.loss([np.diag([1.0, -1.0]), mu_], [x_])
    with pytest.raises(ValueError, match=r"^the loss J and its gradients cannot be computed at these values: a matrix is singular$"):
        sb.compile(inverse_form()).loss_and_gradients([np.ones((2, 2))], [x_, x_])


# ----------------------------------------------------------------------- the program
def test_dead_code_is_removed_on_symbols_not_on_text():
    v1, v10 = MatrixSymbol("v1", n, k), MatrixSymbol("v10", n, k)
    statements = [pr.Assignment(v1, X * W, "v1"), pr.Assignment(v10, X * W - Y, "v10"), pr.Assignment(f, Trace(v10.T * v10), "f")]
    assert [s.lhs for s in pr.needed(statements, {f})] == [v10, f]  # v1's name is inside v10's: still dropped


def test_a_log_of_a_determinant_step_becomes_a_log_determinant():
    p = pr.program(log_det())
    assert [s.lhs for s in p.for_loss()] == [f] and p.for_loss()[0].rhs == sp.log(det(A))
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.statements[0].rhs = A


def test_the_program_lists_steps_deltas_and_gradients_in_order():
    p = pr.program(mlp())
    assert [str(s.lhs) for s in p.statements] == ["v1", "v2", "v3", "f", "delta_v3", "delta_v1",
                                                  "dJ_dW_1", "dJ_db_1", "dJ_dW_2", "dJ_db_2"]
    assert p.gradients[0].shape == (k, n) and [str(v) for v in p.inputs] == ["X", "y"]
    assert "f" not in {str(s.lhs) for s in p.for_gradients(with_loss=False)}


def test_printer_writes_matrix_classes_as_numpy():
    printer = MatrixPrinter({A: "A", S: "S", a: "a", b: "b", X: "X", W: "W", n: "n", m: "m"})
    assert printer.code(A.I * a * b.T) == "np.linalg.solve(A, a) @ b.T"
    assert printer.code(a.T * A.I) == "np.linalg.solve(A.T, a).T"
    assert printer.code(OneMatrix(1, n) * X) == "X.sum(axis=0, keepdims=True)"
    assert printer.code(Trace(OneMatrix(1, n) * X * OneMatrix(m, 1))) == "X.sum()"
    assert printer.code(Trace(X * OneMatrix(m, 1) * OneMatrix(1, n))) == "X.sum()"  # tr(X 1 1ᵀ) = 1ᵀ X 1
    assert printer.code(HadamardPower(X, 2)) == "X**2"
    assert printer.code(A * S * a) == "np.linalg.multi_dot([A, S, a])"  # the cheapest order, from the shapes
    assert printer.code(-2 * A.T * S) == "-2*(A.T @ S)"


def test_a_size_no_variable_has_is_refused_before_any_code():
    d = hand([(f, Trace(OneMatrix(1, n) * a) + Trace(OneMatrix(1, m) * OneMatrix(m, 1)))], [a], [], {a: OneMatrix(n, 1)})
    d.graph.sizes = (m, n)
    with pytest.raises(sb.errors.InputError, match="^the size m is the number of rows or columns of no variable"):
        numpy_module(d)


def test_scalar_and_concrete_shapes():
    X3, w2 = MatrixSymbol("X", 3, 2), MatrixSymbol("w", 2, 1)
    d = sb.backprop(Trace((X3 * w2).T * (X3 * w2)) + lam * Trace(w2.T * w2), wrt=[w2, lam])
    module = sb.compile(d)
    assert module.SHAPES == {"w": (2, 1), "lam": (), "X": (3, 2)} and module.SIZES == ()
    _, (dw, dlam) = module.loss_and_gradients([np.ones((2, 1), np.float32), 0.5], [np.ones((3, 2), np.float32)])
    assert dw.dtype == np.float32 and type(dlam) is np.float32 and np.isclose(dlam, 2.0)  # ∂/∂λ = wᵀw; 0.5 a Python float
    assert sb.gradcheck(module).passed


def test_an_elementwise_function_numpy_lacks_is_refused_before_any_code():
    d = sb.backprop(Trace(OneMatrix(1, n) * X.applyfunc(sp.erfinv) * OneMatrix(m, 1)), wrt=[X])
    with pytest.raises(sb.errors.InputError, match="^erfinv has no NumPy function: code generation of erfinv needs scipy.special"):
        numpy_module(d)


@pytest.mark.parametrize("function", [sp.sin, sp.tanh, sp.erf, sb.relu, sb.leaky_relu, sb.sigmoid, sb.softplus, lambda t: t**3 + 1])
def test_elementwise_functions_generate_code_that_matches_finite_differences(function):
    J = Trace(OneMatrix(1, n) * (A * S).applyfunc(function) * OneMatrix(n, 1))
    assert sb.gradcheck(sb.backprop(J, wrt=[S]), seed=1).passed


def attention_head():
    """A transformer-style attention head: J = Σ C ⊙ softmax_rows(X W_q W_kᵀ Xᵀ/√k) X W_v."""
    Xa, C = MatrixSymbol("X", m, n), MatrixSymbol("C", m, k)
    Wq, Wk, Wv = (MatrixSymbol(name, n, k) for name in ("W_q", "W_k", "W_v"))
    E = (Xa * Wq * Wk.T * Xa.T / sp.sqrt(k)).applyfunc(sp.exp)
    scores = HadamardProduct(E, HadamardPower(E * OneMatrix(m, 1), -1) * OneMatrix(1, m))
    return Trace(C.T * scores * Xa * Wv), [Wq, Wk, Wv]


def test_an_attention_head_computes_each_costly_product_once():
    J, wrt = attention_head()
    d = sb.backprop(J, wrt=wrt)
    assert sb.gradcheck(d, seed=2).passed
    module = sb.compile(d)
    J32, gradients = module.loss_and_gradients(*point(module, np.float32))  # 1/√k a Python float: no float64
    assert np.asarray(J32).dtype == np.float32 and all(g.dtype == np.float32 for g in gradients)
    body = numpy_module(d).split("def _loss_and_gradients")[1].split("def _gradients")[0]
    code = "\n".join(line for line in body.splitlines() if not line.strip().startswith("#"))
    products = re.findall(r"np\.linalg\.multi_dot\(\[([^]]*)\]\)", code)
    assert len(products) == len(set(products)) >= 4  # no product of three or more matrices computed twice


def test_every_statement_comes_after_the_values_it_uses(case):
    _, d, _ = case
    p = pr.program(d)
    known = set(p.params + p.inputs + p.sizes)
    for statement in p.statements:
        assert statement.rhs.free_symbols <= known, statement
        known.add(statement.lhs)
    assert set(p.gradients) <= known and p.loss in known


def test_variables_named_like_the_module_own_names():
    np_, J_, u1, dtype, vT = (MatrixSymbol(name, n, n) for name in ("np", "J", "u1", "_dtype", "v1_T"))
    product = np_ * J_ * u1 * dtype
    J = Trace(product.T * vT * product) + Trace((np_.T * J_.T - u1.T).applyfunc(sp.exp) * OneMatrix(n, 1) * OneMatrix(1, n))
    module = sb.compile(sb.backprop(J, wrt=[np_, J_, u1]))
    assert module.PARAMETERS == ("np", "J", "u1") and sb.gradcheck(module, seed=1).passed


def test_a_per_weight_derivation_keeps_its_shared_deltas_as_statements():
    d = sb.backprop(sb.mlp([2, 2, 1]))
    p = pr.program(d)
    names = [str(s.lhs) for s in p.statements]
    assert names[-len(d.wrt):] == [str(naming.gradient_symbol(w)) for w in d.wrt]
    assert {"delta_1", "delta_2", "delta_3"} <= set(names)  # each used by several gradients: computed once
