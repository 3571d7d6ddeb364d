"""Activations and losses: SymPy functions that differentiate in terms of themselves.

Each primitive keeps its rules side by side: numeric evaluation (``eval`` and ``_eval_evalf``),
the derivative (``fdiff``, written with the function itself, e.g. σ' = σ(1 − σ), so derivatives
stay small and never overflow), LaTeX (``_latex``) and a numerically stable NumPy form
(``_numpycode``: finite at |z| = 800 with no floating-point warnings).

>>> import sympy as sp
>>> z = sp.Symbol("z")
>>> sp.diff(sigmoid(z), z)
(1 - sigmoid(z))*sigmoid(z)
>>> sigmoid(sp.Float(0.0))
0.500000000000000
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from mpmath.libmp import prec_to_dps
from sympy.core.function import ArgumentIndexError
from sympy.matrices.expressions.matexpr import MatrixExpr

from .errors import InputError

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "ColumnSoftmax",
    "binary_cross_entropy",
    "cross_entropy",
    "leaky_relu",
    "logsumexp",
    "relu",
    "sigmoid",
    "sinc",
    "sinc_derivative",
    "softmax",
    "softplus",
    "tanh",
]

tanh = sp.tanh  # SymPy's own: d tanh = 1 − tanh², printed as numpy.tanh (stable)


def _power(body: str, exp) -> str:
    return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)


class _Primitive(sp.Function):
    """Shared rules: numeric values through the elementary rewrite, LaTeX as ``latex_name(z)``."""

    latex_name = ""

    @classmethod
    def _float_value(cls, *args):
        """The value as a Float when every argument is a number and one is a Float, else None."""
        floats = [arg for arg in args if isinstance(arg, sp.Float)]
        if floats and all(arg.is_Number for arg in args):
            return cls._eval_rewrite_as_exp(*args).evalf(prec_to_dps(min(f._prec for f in floats)))
        return None

    def _eval_evalf(self, prec):
        return self._eval_rewrite_as_exp(*self.args)._eval_evalf(prec)

    def _latex(self, printer, exp=None):
        return _power(r"%s\left(%s\right)" % (self.latex_name, printer._print(self.args[0])), exp)


class sigmoid(_Primitive):
    r"""Logistic sigmoid σ(z) = 1 / (1 + e^{−z}); σ'(z) = σ(z)(1 − σ(z)).

    >>> sigmoid(0)
    1/2
    """

    nargs = 1
    latex_name = r"\sigma"

    @classmethod
    def eval(cls, z):
        if z.is_zero and not z.is_Float:
            return sp.S.Half
        return cls._float_value(z)

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return self * (1 - self)

    @staticmethod
    def _eval_rewrite_as_exp(z, **kwargs):
        return 1 / (1 + sp.exp(-z))

    def _numpycode(self, printer):
        # σ(z) = exp(−log(1 + e^{−z})): no overflow for any z, exact 0 and 1 in the tails.
        np = printer._module_format
        return "%s(-%s(0, -(%s)))" % (np("numpy.exp"), np("numpy.logaddexp"), printer._print(self.args[0]))


class softplus(_Primitive):
    r"""softplus(z) = ln(1 + e^{z}); softplus'(z) = σ(z).

    >>> import sympy as sp
    >>> sp.diff(softplus(sp.Symbol("z")), "z")
    sigmoid(z)
    """

    nargs = 1
    latex_name = r"\operatorname{softplus}"

    @classmethod
    def eval(cls, z):
        return cls._float_value(z)

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sigmoid(self.args[0])

    @staticmethod
    def _eval_rewrite_as_exp(z, **kwargs):
        return sp.log(1 + sp.exp(z))

    def _numpycode(self, printer):
        return "%s(0, %s)" % (printer._module_format("numpy.logaddexp"), printer._print(self.args[0]))


class relu(_Primitive):
    r"""Rectified linear unit max(0, z). Its derivative is the step H(z) with H(0) = 0:
    at the kink z = 0 we use the subgradient 0, as PyTorch and JAX do.

    >>> import sympy as sp
    >>> relu(-2), relu(3)
    (0, 3)
    >>> sp.diff(relu(sp.Symbol("z")), "z").subs("z", 0)
    0
    """

    nargs = 1
    latex_name = r"\operatorname{ReLU}"

    @classmethod
    def eval(cls, z):
        if z.is_extended_nonnegative:
            return z
        if z.is_extended_negative:
            return sp.S.Zero
        return None

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sp.Heaviside(self.args[0], 0)

    @staticmethod
    def _eval_rewrite_as_exp(z, **kwargs):
        return sp.Max(z, 0)

    def _numpycode(self, printer):
        return "%s(%s, 0.0)" % (printer._module_format("numpy.maximum"), printer._print(self.args[0]))


class leaky_relu(_Primitive):
    r"""Leaky ReLU: z for z > 0, slope·z otherwise (slope 1/100 unless given).
    Derivative: 1 for z > 0, the slope for z ≤ 0 (the kink takes the slope, as ReLU takes 0).

    >>> import sympy as sp
    >>> leaky_relu(-2)
    -1/50
    >>> sp.diff(leaky_relu(sp.Symbol("z")), "z").subs("z", -1)
    1/100
    """

    nargs = (1, 2)
    latex_name = r"\operatorname{LeakyReLU}"

    default_slope = sp.Rational(1, 100)

    def __new__(cls, z, slope=None, **kwargs):
        slope = cls.default_slope if slope is None else slope
        return super().__new__(cls, z, slope, **kwargs)

    @classmethod
    def eval(cls, z, slope):
        if z.is_extended_nonnegative:
            return z
        if z.is_extended_negative:
            return slope * z
        return None

    def fdiff(self, argindex=1):
        z, slope = self.args
        if argindex == 1:
            return slope + (1 - slope) * sp.Heaviside(z, 0)
        if argindex == 2:
            return z * (1 - sp.Heaviside(z, 0))
        raise ArgumentIndexError(self, argindex)

    @staticmethod
    def _eval_rewrite_as_exp(z, slope, **kwargs):
        return sp.Max(z, slope * z) if slope.is_nonnegative and slope <= 1 else sp.Piecewise((z, z > 0), (slope * z, True))

    def _numpycode(self, printer):
        z = printer._print(self.args[0])
        slope = printer._print(self.args[1])
        return "%s(%s > 0, %s, (%s)*%s)" % (printer._module_format("numpy.where"), z, z, slope, z)


class softmax(_Primitive):
    r"""Component k (1-based) of the softmax of z_1 … z_n: e^{z_k} / Σ_j e^{z_j}.

    ``softmax(k, z1, …, zn)``; ∂softmax_k/∂z_j = softmax_k (δ_kj − softmax_j).

    >>> import sympy as sp
    >>> z1, z2 = sp.symbols("z1 z2")
    >>> sp.diff(softmax(1, z1, z2), z2)
    -softmax(1, z1, z2)*softmax(2, z1, z2)
    """

    def __new__(cls, k, *zs, **kwargs):
        if isinstance(k, MatrixExpr) and not zs:
            return ColumnSoftmax(k)
        if not zs or isinstance(k, (list, tuple)):
            raise InputError("softmax takes the index k and the logits: softmax(k, z1, …, zn) is component k of the "
                             "softmax of z1 … zn (k from 1 to n)")
        return super().__new__(cls, k, *zs, **kwargs)

    @classmethod
    def eval(cls, k, *zs):
        if not (k.is_Integer and 1 <= int(k) <= len(zs)):
            raise InputError(f"softmax index must be an integer from 1 to {len(zs)}, got {k}")
        if len(zs) == 1:
            return sp.S.One
        return cls._float_value(k, *zs)

    @property
    def index(self) -> int:
        return int(self.args[0])

    @property
    def logits(self) -> tuple:
        return self.args[1:]

    def fdiff(self, argindex=2):
        if argindex < 2 or argindex > len(self.args):
            raise ArgumentIndexError(self, argindex)
        j = argindex - 1
        same = 1 if j == self.index else 0
        return self * (same - softmax(j, *self.logits))

    @staticmethod
    def _eval_rewrite_as_exp(k, *zs, **kwargs):
        return sp.exp(zs[int(k) - 1]) / sp.Add(*[sp.exp(z) for z in zs])

    def _latex(self, printer, exp=None):
        zs = ", ".join(printer._print(z) for z in self.logits)
        return _power(r"\operatorname{softmax}_{%d}\left(%s\right)" % (self.index, zs), exp)

    def _numpycode(self, printer):
        np = printer._module_format
        zs = [printer._print(z) for z in self.logits]
        lse = "%s.reduce(%s(%s))" % (np("numpy.logaddexp"), np("numpy.broadcast_arrays"), ", ".join(zs))
        return "%s(%s - %s)" % (np("numpy.exp"), zs[self.index - 1], lse)


class ColumnSoftmax(MatrixExpr):
    r"""The softmax of each column of a matrix Z (one column per sample): ``exp∘Z`` with each
    column divided by its sum. Its vector-Jacobian rule: G ↦ A ⊙ (G − 𝟏 𝟏ᵀ(A ⊙ G)), A the
    softmax; its stable form, in generated code, subtracts each column's largest entry first,
    and ``log∘softmax(Z)`` is computed as Z less each column's log-sum-exp.

    >>> Z = sp.MatrixSymbol("Z", 2, 1)
    >>> softmax(Z), softmax(Z).shape
    (softmax(Z), (2, 1))
    >>> softmax(Z).as_explicit()[0]
    exp(Z[0, 0])/(exp(Z[0, 0]) + exp(Z[1, 0]))
    """

    def __new__(cls, logits):
        logits = sp.sympify(logits)
        if not isinstance(logits, MatrixExpr):
            raise InputError(f"softmax(Z) takes a matrix of logits, one column per sample, got {logits}")
        return super().__new__(cls, logits)

    @property
    def logits(self):
        return self.args[0]

    @property
    def shape(self):
        return self.logits.shape

    def _entry(self, i, j, **kwargs):
        Z = self.logits
        if not Z.rows.is_Integer:
            k = sp.Dummy("k", integer=True)
            return sp.exp(Z[i, j]) / sp.Sum(sp.exp(Z[k, j]), (k, 0, Z.rows - 1))
        return sp.exp(Z[i, j]) / sp.Add(*[sp.exp(Z[k, j]) for k in range(Z.rows)])

    def vjp(self, G, value):
        """The share of ∂J/∂Z given G = ∂J/∂A, ``value`` the softmax A (its step's symbol)."""
        rows = self.logits.rows
        column_sums = sp.MatMul(sp.OneMatrix(rows, 1), sp.OneMatrix(1, rows), sp.HadamardProduct(value, G))
        return (sp.HadamardProduct(value, G - column_sums),)

    @staticmethod
    def of(logits):
        """The softmax of each column of the array ``logits``, in its stable form (:func:`_softmax`).

        >>> ColumnSoftmax.of(np.array([[800.0], [0.0]])).ravel().tolist()
        [1.0, 0.0]
        """
        return _softmax(np.asarray(logits, dtype=float))

    def _sympystr(self, printer):
        return f"softmax({printer._print(self.logits)})"

    def _latex(self, printer, exp=None):
        return _power(r"\operatorname{softmax}\left(%s\right)" % printer._print(self.logits), exp)


class logsumexp(_Primitive):
    r"""ln Σ_i e^{z_i}, the normaliser of a softmax (ln softmax_k = z_k − logsumexp): the stable
    forms of the losses after a softmax use it. ∂/∂z_j = softmax_j.

    >>> import sympy as sp
    >>> z1, z2 = sp.symbols("z1 z2")
    >>> sp.diff(logsumexp(z1, z2), z1)
    softmax(1, z1, z2)
    """

    @classmethod
    def eval(cls, *zs):
        return cls._float_value(*zs)

    def fdiff(self, argindex=1):
        if not 1 <= argindex <= len(self.args):
            raise ArgumentIndexError(self, argindex)
        return softmax(argindex, *self.args)

    @staticmethod
    def _eval_rewrite_as_exp(*zs, **kwargs):
        return sp.log(sp.Add(*[sp.exp(z) for z in zs]))

    def _latex(self, printer, exp=None):
        return _power(r"\operatorname{logsumexp}\left(%s\right)" % ", ".join(printer._print(z) for z in self.args), exp)

    def _numpycode(self, printer):
        np = printer._module_format
        return "%s.reduce(%s(%s))" % (np("numpy.logaddexp"), np("numpy.broadcast_arrays"),
                                      ", ".join(printer._print(z) for z in self.args))


class binary_cross_entropy(_Primitive):
    r"""One output's binary cross-entropy −[y ln ŷ + (1 − y) ln(1 − ŷ)].

    ∂/∂ŷ = (ŷ − y) / (ŷ(1 − ŷ)), which cancels against σ' = ŷ(1 − ŷ) to the familiar ŷ − y.
    After a sigmoid its NumPy form (and the generated code's) is :meth:`on_logits`, finite for every z.

    >>> import sympy as sp
    >>> y, z = sp.symbols("y z")
    >>> sp.diff(binary_cross_entropy(y, sigmoid(z)), z)
    -y + sigmoid(z)
    """

    nargs = 2

    @classmethod
    def eval(cls, y, yhat):
        return cls._float_value(y, yhat)

    def fdiff(self, argindex=1):
        y, yhat = self.args
        if argindex == 1:
            return sp.log(1 - yhat) - sp.log(yhat)
        if argindex == 2:
            return (yhat - y) / (yhat * (1 - yhat))
        raise ArgumentIndexError(self, argindex)

    @staticmethod
    def _eval_rewrite_as_exp(y, yhat, **kwargs):
        return -(y * sp.log(yhat) + (1 - y) * sp.log(1 - yhat))

    def _latex(self, printer, exp=None):
        y, yhat = (printer._print(a) for a in self.args)
        body = r"-\left[%s \ln %s + \left(1 - %s\right) \ln\left(1 - %s\right)\right]" % (
            y, printer.parenthesize(self.args[1], 1000), y, yhat)
        return _power(body, exp)

    @staticmethod
    def on_logits(y, yhat) -> sp.Expr | None:
        """The loss written on the logit of ``yhat``'s activation, finite for every logit; None
        where ``yhat`` is not an activation with such a form.

        >>> import sympy as sp
        >>> y, z = sp.symbols("y z")
        >>> binary_cross_entropy.on_logits(y, sigmoid(z))
        -y*z + softplus(z)
        """
        if isinstance(yhat, sigmoid):  # −[y ln σ(z) + (1 − y) ln σ(−z)] = softplus(z) − y z
            z = yhat.args[0]
            return softplus(z) - y * z
        return None

    def _numpycode(self, printer):
        np = printer._module_format
        y, yhat = self.args
        stable = self.on_logits(y, yhat)
        if stable is not None:
            return "(%s)" % printer._print(stable)
        y, yhat = printer._print(y), printer._print(yhat)
        return "(-((%s)*%s(%s) + (1 - (%s))*%s(-(%s))))" % (y, np("numpy.log"), yhat, y, np("numpy.log1p"), yhat)


class cross_entropy(_Primitive):
    r"""One output's cross-entropy term −y ln p.

    Summed over the outputs of a softmax, with targets that form a probability vector
    (Σ_k y_k = 1, e.g. one-hot), the delta at the logits collapses to p − y
    (see :data:`FUSED_DELTAS`). After a sigmoid or a softmax its NumPy form (and the generated code's)
    is :meth:`on_logits`, finite for every logit.

    >>> import sympy as sp
    >>> y, p = sp.symbols("y p")
    >>> sp.diff(cross_entropy(y, p), p)
    -y/p
    """

    nargs = 2

    @classmethod
    def eval(cls, y, p):
        return cls._float_value(y, p)

    def fdiff(self, argindex=1):
        y, p = self.args
        if argindex == 1:
            return -sp.log(p)
        if argindex == 2:
            return -y / p
        raise ArgumentIndexError(self, argindex)

    @staticmethod
    def _eval_rewrite_as_exp(y, p, **kwargs):
        return -y * sp.log(p)

    def _latex(self, printer, exp=None):
        return _power(r"-%s \ln %s" % (printer.parenthesize(self.args[0], 50), printer.parenthesize(self.args[1], 1000)), exp)

    @staticmethod
    def on_logits(y, p) -> sp.Expr | None:
        """The term written on the logits of ``p``'s activation, finite for every logit; None where
        ``p`` is not an activation with such a form. A softmax of any kind that has ``logits`` and
        an ``index`` (one neuron's, or a layer block's) takes the log-sum-exp of its logits.

        >>> import sympy as sp
        >>> y, z, u = sp.symbols("y z u")
        >>> cross_entropy.on_logits(y, sigmoid(z))
        y*softplus(-z)
        >>> cross_entropy.on_logits(y, softmax(1, z, u))
        y*(-z + logsumexp(z, u))
        """
        if isinstance(p, sigmoid):  # −y ln σ(z) = y softplus(−z)
            return y * softplus(-p.args[0])
        logits = getattr(p, "logits", None)
        if logits is not None:  # −y ln softmax_k(z) = y (logsumexp(z) − z_k)
            return y * (logsumexp(*logits) - logits[p.index - 1])
        return None

    def _numpycode(self, printer):
        np = printer._module_format
        y, p = self.args
        stable = self.on_logits(y, p)
        if stable is not None:
            return "(%s)" % printer._print(stable)
        return "(-(%s)*%s(%s))" % (printer._print(y), np("numpy.log"), printer._print(p))


class sinc(sp.sinc):
    r"""SymPy's sinc(u) = sin(u)/u (1 at u = 0), with a derivative that is finite at 0 too:
    sinc'(u) = (cos u − sinc u)/u, 0 at u = 0 (SymPy's own cos(u)/u − sin(u)/u² is nan there).

    :func:`symbackprop.simplify.local_partial` differentiates ``sympy.sinc`` through this class.

    >>> import sympy as sp
    >>> sp.diff(sinc(sp.Symbol("u")), "u")
    sinc'(u)
    """

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sinc_derivative(self.args[0])


class sinc_derivative(_Primitive):
    r"""sinc'(u) = (cos u − sin(u)/u)/u, continued by its limit 0 at u = 0 (a removable
    singularity); for |u| < 0.1 its Taylor series (:meth:`series`) avoids the cancellation of the two terms.

    >>> import sympy as sp
    >>> sinc_derivative(0), sinc_derivative(sp.Float(1e-9))
    (0, -3.33333333333333e-10)
    """

    nargs = 1
    latex_name = r"\operatorname{sinc}'"
    small = 0.1  # below this |u| the series is used: its first omitted term is below 1e-14 of the sum

    @staticmethod
    def series(u):
        """−u/3 + u³/30 − u⁵/840 + u⁷/45360, in Horner form: sinc'(u) for small u."""
        return u * (-sp.Rational(1, 3) + u**2 * (sp.Rational(1, 30) + u**2 * (-sp.Rational(1, 840) + u**2 / 45360)))

    @classmethod
    def eval(cls, u):
        if u.is_zero:
            return sp.S.Zero
        if isinstance(u, sp.Float) and abs(u) < cls.small:
            return cls.series(u)
        return cls._float_value(u)

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        u = self.args[0]
        return -sp.sinc(u) - 2 * self / u

    @staticmethod
    def _eval_rewrite_as_exp(u, **kwargs):
        return (sp.cos(u) - sp.sin(u) / u) / u

    def _eval_evalf(self, prec):
        return sp.S.Zero if self.args[0].is_zero else super()._eval_evalf(prec)

    def _sympystr(self, printer):
        return f"sinc'({printer._print(self.args[0])})"

    def _numpycode(self, printer):
        np = printer._module_format
        u = printer._print(self.args[0])
        where, small = np("numpy.where"), f"{np('numpy.abs')}({u}) < {self.small!r}"
        safe = f"{where}({small}, 1.0, {u})"  # both branches are computed: no 0/0 in either
        return f"{where}({small}, {printer._print(self.series(self.args[0]))}, ({np('numpy.cos')}({safe}) - {np('numpy.sinc')}({safe}/{np('numpy.pi')}))/{safe})"


# ------------------------------------------------------------------ stable forms on arrays ----
# The one copy of each array form that must stay finite: every generated module that calls one
# carries its source (:data:`ARRAY_FORMS`), and the library's own evaluation uses them too.

def _sigmoid(z):
    """σ(z) = 1/(1 + exp(−z)) on one new array. Where z < −709, exp(−z) overflows to inf and
    1/(1 + inf) = 0 is σ(z) correctly rounded, so that overflow alone is silenced."""
    s = np.negative(z)
    with np.errstate(over="ignore"):
        np.exp(s, out=s)
    s += 1.0
    return np.divide(1.0, s, out=s)


def _logsumexp(z, axis):
    """ln Σ exp(z) along ``axis`` (kept as an axis of length 1), shifted by the largest entry:
    every exp is at most 1 and every sum at least 1."""
    top = z.max(axis=axis, keepdims=True)
    return np.log(np.exp(z - top).sum(axis=axis, keepdims=True)) + top


def _softmax(z):
    """The softmax of each column of z, shifted by the column's largest entry: every exp is at
    most 1 and every sum at least 1."""
    a = np.exp(z - z.max(axis=0, keepdims=True))
    a /= a.sum(axis=0, keepdims=True)
    return a


# The name a generated module calls each by → the function (its source is written into the module).
ARRAY_FORMS = {form.__name__: form for form in (_sigmoid, _logsumexp, _softmax)}


def _identity(z):
    return z


# Activation name → function of one pre-activation. ``softmax`` is special: it acts on a layer.
ACTIVATIONS = {
    "sigmoid": sigmoid,
    "tanh": tanh,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "softplus": softplus,
    "identity": _identity,
    "softmax": softmax,
}


def _half_sse(ys, yhats):
    return sp.Add(*[(y - yhat) ** 2 for y, yhat in zip(ys, yhats)]) / 2


def _mse(ys, yhats):
    return sp.Add(*[(y - yhat) ** 2 for y, yhat in zip(ys, yhats)]) / len(ys)


def _bce(ys, yhats):
    return sp.Add(*[binary_cross_entropy(y, yhat) for y, yhat in zip(ys, yhats)])


def _cross_entropy(ys, yhats):
    return sp.Add(*[cross_entropy(y, yhat) for y, yhat in zip(ys, yhats)])


# Loss name → function of (targets, outputs) giving the loss expression.
LOSSES = {
    "half_sse": _half_sse,
    "mse": _mse,
    "bce": _bce,
    "cross_entropy": _cross_entropy,
}

# (output activation, loss) → δ_z of output k as a function of (ŷ_k, y_k), where the math
# collapses further than the general chain rule can show on its own. Softmax + cross-entropy
# needs Σ_k y_k = 1 (targets form a probability vector): then ∂J/∂z_k = p_k − y_k.
# (Binary cross-entropy after a sigmoid needs no entry: its fdiff cancels σ' to ŷ − y.)
FUSED_DELTAS = {
    ("softmax", "cross_entropy"): lambda yhat, y: yhat - y,
}
