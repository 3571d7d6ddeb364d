"""Standalone NumPy gradient code, generated from the delta view through ``templates/``.

The module imports NumPy only. It computes every step once, under its own name (``z_2``,
``a_2``, ``delta_2``, ``dJ_dw5``), with the equation as a comment above it, so its size is
linear in the network. One sample (a list, tuple or 1-D array) runs on plain Python floats;
a batch (an array of shape ``(batch, n_inputs)``) runs vectorised: a network that
:func:`~symbackprop.mlp` built, derived for all its parameters, layer by layer as the program of
its matrix form (``Z_1 = W_1 X + b_1 𝟏ᵀ``, ``δ_Z_1``, one column per sample), anything else neuron
by neuron; its loss is the mean over the batch and its gradients those of that mean.

One sample uses ``math``, a batch ``numpy``; a function NumPy lacks but ``math`` has (erf, erfc,
gamma, loggamma) runs elementwise through ``math`` on a batch. A function neither has (erfinv,
digamma/polygamma: they need scipy.special) is refused with an :class:`~symbackprop.errors.InputError`
before any code is written.

>>> from symbackprop import backprop, mlp
>>> source = numpy_module(backprop(mlp([2, 1])))
>>> "def loss_and_gradients(params, inputs, targets):" in source and "import sympy" not in source
True
"""

from __future__ import annotations

import re
from functools import lru_cache

import sympy as sp
from sympy import Determinant, HadamardPower, HadamardProduct, Inverse, MatAdd, MatMul, OneMatrix, Transpose
from sympy.core.function import Application
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.codeprinter import PrintMethodNotImplementedError
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pycode import PythonCodePrinter

from . import __version__, naming
from . import program as program_
from . import targets as target_rules
from .derive import Derivation, derive
from .errors import InputError
from .matrices import ARGUMENT, function_body
from .network import BATCH, NetworkSpec, matrix_mlp
from .primitives import binary_cross_entropy, cross_entropy, logsumexp, sigmoid, sinc_derivative, softmax, softplus
from .progress import Progress
from .templates_ import render
from .text import plain, positive_first, printer_for


class _CodePrinter:
    """Rules shared by both printers: the names of the generated code, losses on their logits,
    and softmax through its layer's shared log-sum-exp. Subclasses say how each math function
    is spelled for floats or arrays."""

    def __init__(self, names, definitions, logsumexp):
        super().__init__({"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": False})
        self.printmethod = None  # this printer's _print_* rules win over the primitives' lambdify forms
        self.shared: dict = {}  # sub-expression → the name of a line that already computed it
        self.names = names
        self.definitions = definitions  # step symbol → its value, to see σ(z) behind a
        self.logsumexp = logsumexp  # logits tuple → name of their log-sum-exp

    def _print_Symbol(self, expr):
        return self.names[expr]

    def _print_Pow(self, expr, rational=False):
        """A power that is not an integer one (nor a square root) through ``pow`` (math.pow,
        np.power): a negative base raises ValueError on a float and gives NaN with NumPy's invalid
        flag on an array, the same error on every path, where ``**`` would return a complex."""
        if expr.exp.is_integer or expr.exp in (sp.S.Half, -sp.S.Half):
            return super()._print_Pow(expr, rational)
        return f"{self.pow}({self._print(expr.base)}, {self._print(expr.exp)})"

    def _behind(self, expr):
        return self.definitions.get(expr, expr)

    def code(self, expr) -> str:
        """``expr`` as code, with sub-expressions that earlier lines computed taken by name."""
        return self._print(expr.xreplace(self.shared) if self.shared else expr)

    def _print_Add(self, expr, order=None):
        terms = positive_first(expr)  # y - a: one operation, where -a + y takes two
        printed = self._print(terms[0])
        for term in terms[1:]:
            if term.could_extract_minus_sign():
                printed += " - " + self.parenthesize(-term, PRECEDENCE["Add"], strict=True)
            else:
                printed += " + " + self.parenthesize(term, PRECEDENCE["Add"], strict=True)
        return printed

    def _print_softmax(self, expr):
        return "%s(%s - %s)" % (self.exp, self._print(expr.logits[expr.index - 1]), self.logsumexp[expr.logits])

    def _print_logsumexp(self, expr):
        return self.logsumexp[expr.args]  # computed once for its logits, on a line of its own

    def _print_binary_cross_entropy(self, expr):
        y, yhat = expr.args
        stable = self._on_logits(expr)
        if stable is not None:
            return stable
        y, yhat = self._print(y), self._print(yhat)
        return "(-(%s*%s(%s) + (1 - %s)*%s(-%s)))" % (y, self.log, yhat, y, self.log1p, yhat)

    def _print_cross_entropy(self, expr):
        y, p = expr.args
        stable = self._on_logits(expr)
        if stable is not None:
            return stable
        return "(-%s*%s(%s))" % (self.parenthesize(y, 50), self.log, self._print(p))

    def on_logits(self, expr) -> sp.Expr:
        """``expr`` as this printer computes it: each loss term on the logits behind its output
        where its primitive has such a form (what the code of ``expr`` reads, for dead code)."""
        def stable(loss):
            y, value = loss.args
            form = type(loss).on_logits(y, self._behind(value))
            return loss if form is None else form
        return expr.replace(lambda node: isinstance(node, (binary_cross_entropy, cross_entropy)), stable)

    def _on_logits(self, loss) -> str | None:
        """A loss term written on the logits of the activation behind its output (σ(z), softmax),
        as its primitive's stable form has it; None where there is none."""
        y, value = loss.args
        stable = type(loss).on_logits(y, self._behind(value))
        return None if stable is None else "(%s)" % self._print(stable)

    def _print_softplus(self, expr):
        z = expr.args[0]  # softplus(z) = max(z, 0) + ln(1 + e^{−|z|}): no overflow for any z
        return self._softplus(self._print(z), self._print(sp.Abs(z)))

    def _scalar_sigmoid(self, z: str) -> str:
        """σ of one number, without overflow for any z."""
        return f"(1.0/(1.0 + {self.exp}(-{z})) if {z} >= 0.0 else {self.exp}({z})/(1.0 + {self.exp}({z})))"

    def _print_leaky_relu(self, expr):
        z, slope = (self._print(a) for a in expr.args)
        return self._where(f"{z} > 0", z, f"{slope}*{z}")

    def _print_sinc_derivative(self, expr):
        """sinc'(u) = (cos u − sin(u)/u)/u, finite at 0 (its limit, 0) and accurate near it (its series)."""
        u = self._print(expr.args[0])
        small = repr(sinc_derivative.small)
        return self._where(f"{self.abs}({u}) < {small}", f"({self._print(sinc_derivative.series(expr.args[0]))})",
                           f"({self.cos}({u}) - {self._sinc(self._safe(u, small))})/{self._safe(u, small)}")


def _at_zero(heaviside) -> sp.Expr:
    """The value of a Heaviside step at its jump: 0 for ReLU's, ½ where SymPy chose it (max, min)."""
    return heaviside.args[1] if len(heaviside.args) > 1 else sp.S.Half


class FloatPrinter(_CodePrinter, PythonCodePrinter):
    """One sample, on Python floats with ``math``: no array overhead, no overflow."""

    exp, log, log1p, cos, abs, pow = "math.exp", "math.log", "math.log1p", "math.cos", "abs", "math.pow"

    def _where(self, condition, yes, no):
        return f"({yes} if {condition} else {no})"

    def _safe(self, u, small):
        return u  # the conditional expression computes only the branch it takes

    def _sinc(self, u):
        return f"math.sin({u})/({u})"

    def _print_sinc(self, expr):
        u = self._print(expr.args[0])
        return self._where(f"{u} != 0", self._sinc(u), "1.0")

    def _softplus(self, z, abs_z):
        return f"(max({z}, 0.0) + math.log1p(math.exp(-{abs_z})))"

    def _print_sigmoid(self, expr):
        return self._scalar_sigmoid(self._print(expr.args[0]))

    def _print_relu(self, expr):
        return f"max({self._print(expr.args[0])}, 0.0)"

    def _print_Heaviside(self, expr):
        u, at_zero = self._print(expr.args[0]), _at_zero(expr)
        return self._where(f"{u} > 0", "1.0", "0.0" if at_zero == 0 else self._where(f"{u} == 0", self._print(at_zero), "0.0"))


class ArrayPrinter(_CodePrinter, NumPyPrinter):
    """A batch, on NumPy arrays; σ goes through the module's in-place ``_sigmoid``."""

    exp, log, log1p, cos, abs, pow = "np.exp", "np.log", "np.log1p", "np.cos", "np.abs", "np.power"
    per_sample: set | None = None  # where known: the symbols holding one value per sample (arrays)

    def _module_format(self, fqn, register=True):
        return "np." + fqn[len("numpy."):] if fqn.startswith("numpy.") else super()._module_format(fqn, register)

    def _where(self, condition, yes, no):
        return f"np.where({condition}, {yes}, {no})"

    def _safe(self, u, small):
        return f"np.where(np.abs({u}) < {small}, 1.0, {u})"  # np.where computes both branches: no 0/0 in either

    def _sinc(self, u):
        return f"np.sinc({u}/np.pi)"

    def _print_math_function(self, expr):
        """A function NumPy lacks but math has, applied elementwise."""
        known = self.known_functions[type(expr).__name__]
        return f"np.vectorize({known}, otypes=[float])({', '.join(self._print(a) for a in expr.args)})"

    _print_erf = _print_erfc = _print_gamma = _print_loggamma = _print_math_function

    def _print_Max(self, expr):
        return self._reduce("np.maximum", expr.args)

    def _print_Min(self, expr):
        return self._reduce("np.minimum", expr.args)

    def _reduce(self, function, args):
        printed = self._print(args[-1])
        for arg in reversed(args[:-1]):
            printed = f"{function}({self._print(arg)}, {printed})"
        return printed

    def _softplus(self, z, abs_z):
        return f"(np.maximum({z}, 0.0) + np.log1p(np.exp(-{abs_z})))"

    def _print_sigmoid(self, expr):
        z = expr.args[0]
        if self.per_sample is not None and not z.free_symbols & self.per_sample:
            return self._scalar_sigmoid(self._print(z))  # one number for the whole batch
        return f"_sigmoid({self._print(z)})"

    def _print_relu(self, expr):
        return f"np.maximum({self._print(expr.args[0])}, 0.0)"

    def _print_Heaviside(self, expr):
        at_zero = _at_zero(expr)
        if at_zero == 0:
            return f"({self._print(expr.args[0])} > 0)"  # a boolean array: multiplies as 0 and 1
        return f"np.heaviside({self._print(expr.args[0])}, {self._print(at_zero)})"


# Functions that neither NumPy nor math computes → what their code would need.
_NEEDS = {"erfinv": "scipy.special", "erfcinv": "scipy.special", "erf2inv": "scipy.special", "polygamma": "scipy.special",
          "digamma": "scipy.special", "trigamma": "scipy.special", "besselj": "scipy.special", "zeta": "scipy.special"}
_GENERIC = (sp.Function, Application, sp.Expr, sp.Basic)


def _prints(printer, expr) -> bool:
    """Whether ``printer`` has its own rule for ``expr``'s function (not the generic fallback), or
    writes it through a rewrite into functions it has rules for (sinc as sin(u)/u, sec as 1/cos)."""
    for kind in type(expr).__mro__:
        if kind in _GENERIC or kind.__name__ == "DefinedFunction":
            break
        if hasattr(printer, "_print_" + kind.__name__) or kind.__name__ in printer.known_functions:
            return True
    rule = printer._rewriteable_functions.get(type(expr).__name__)
    if rule is None:
        return False
    rewritten = expr.rewrite(rule[0])
    return rewritten != expr and all(_prints(printer, node) for node in rewritten.atoms(Application))


def check_generable(exprs, printers) -> None:
    """Refuse, in one line, a function of ``exprs`` that one of ``printers`` cannot write as code.

    >>> x = sp.Symbol("x")
    >>> check_generable([sp.erfinv(x) * x], [FloatPrinter({}, {}, {})])
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: erfinv has no NumPy function: code generation of erfinv needs scipy.special, not supported
    """
    seen: set = set()
    for expr in exprs:
        for node in expr.atoms(Application):
            kind = type(node)
            if kind in seen:
                continue
            seen.add(kind)
            if not all(_prints(printer, node) for printer in printers):
                name = getattr(node.func, "__name__", str(node.func))
                name = "digamma" if name == "polygamma" and node.args[0] == 0 else name
                if name in _NEEDS:
                    raise InputError(f"{name} has no NumPy function: code generation of {name} needs {_NEEDS[name]}, not supported")
                raise InputError(f"{name} has no NumPy or math function: code generation of {name} is not supported")


def _comment(symbol, expr, text=plain) -> str:
    """``symbol = expr`` as a comment, in the library's text notation (``text``: the graph's names)."""
    return f"{text(symbol)} = {text(expr)}"


def _batch_sum(printer: ArrayPrinter, expr: sp.Expr, per_sample: set, lines: list, dot: str = "np.dot", text=plain) -> str:
    """Σ over the batch of ``expr`` (per-sample arrays times scalars), as cheap as NumPy allows:
    a dot product for two array factors or a square, a sum otherwise. The base of a square is
    computed once, on a line added to ``lines``, and shared with later lines that use it."""
    terms = []
    for term in sp.Add.make_args(sp.expand_mul(expr) if len(sp.Add.make_args(expr)) > 1 else expr):
        arrays = [f for f in sp.Mul.make_args(term) if f.free_symbols & per_sample]
        scalars = sp.Mul(*[f for f in sp.Mul.make_args(term) if f not in arrays])
        if len(arrays) == 1 and arrays[0].is_Pow and arrays[0].exp == 2:
            base = arrays[0].base
            if not base.is_Symbol:
                base = -base if base.could_extract_minus_sign() else base  # (y − a)² = (a − y)², as δ has it
                name = naming.fresh_one(f"r_{len(printer.shared) + 1}", set(printer.names.values()))
                printer.names[name] = name.name
                lines.append((f"{name} = {text(base)}", f"{name} = {printer.code(base)}"))
                printer.shared[base] = name
                base = name
            arrays = [base, base]
        if len(arrays) == 2:
            summed = "%s(%s, %s)" % (dot, printer.code(arrays[0]), printer.code(arrays[1]))
        elif arrays:
            summed = "%s.sum()" % printer.parenthesize(sp.Mul(*arrays), 1000, strict=True)
        else:
            summed = "n"
        terms.append(summed if scalars == 1 else "%s*%s" % (printer.parenthesize(scalars, 50), summed))
    return " + ".join(terms)


def _forward_lines(graph, printer: _CodePrinter, helper: str, results=None) -> list[tuple[str, str]]:
    """One line per step but the loss, or (with ``results``, expressions) per step they need; a
    step with a softmax first gets the log-sum-exp of its logits, once for each set of logits (the
    loss's too, without ``results``)."""
    needed = _needed_steps(graph, results) if results is not None else {s.symbol for s in graph.steps[:-1]}
    used = [s.expr for s in graph.steps if s.symbol in needed] + list(results if results is not None else [graph.steps[-1].expr])
    wanted = {logits for expr in used for logits in _softmax_logits(expr)} | {lse.args for expr in used for lse in expr.atoms(logsumexp)}
    lines = []
    seen: set = set()
    text = printer_for(graph).doprint
    with Progress("code for the forward pass", total=len(graph.steps)) as bar:
        for step in graph.steps:
            for logits in _softmax_logits(step.expr):
                if logits in wanted and logits not in seen:
                    seen.add(logits)
                    args = ", ".join(printer.code(z) for z in logits)
                    lines.append(("log-sum-exp of the softmax logits", f"{printer.logsumexp[logits]} = {helper}({args})"))
            if step.symbol in needed:
                lines.append((_comment(step.symbol, step.expr, text), f"{printer.names[step.symbol]} = {printer.code(step.expr)}"))
            bar.advance()
    return lines


def _needed_steps(graph, results) -> set:
    """The steps that the expressions ``results`` need, directly or through other steps: dead
    code removed on symbols."""
    live = set().union(*(sp.sympify(r).free_symbols for r in results))
    needed = set()
    for step in reversed(graph.steps):
        if step.symbol in live:
            needed.add(step.symbol)
            live |= step.expr.free_symbols
    return needed


def _softmax_logits(expr) -> list[tuple]:
    """The logits of each softmax in ``expr``, in a stable order."""
    found = expr.atoms(softmax) if not isinstance(expr, softmax) else {expr}
    return sorted({f.logits for f in found}, key=sp.default_sort_key)


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _sample(d: Derivation, printer: FloatPrinter) -> dict:
    """One sample on Python floats: every step, delta and gradient of the delta view, in order."""
    graph, names = d.graph, printer.names
    last = graph.steps[-1]
    gradients = [names[naming.gradient_symbol(p)] for p in d.wrt]
    text = printer_for(d).doprint
    forward = _forward_lines(graph, printer, "_logsumexp_floats")
    loss = printer.code(last.expr)
    outputs = [s for s in graph.outputs if s != graph.output]
    outputs_forward = _forward_lines(graph, printer, "_logsumexp_floats", outputs or [last.expr])
    return dict(
        forward=forward,
        outputs_forward=outputs_forward + ([] if outputs else [("", f"J = {loss}")]),  # an expression's output is its loss
        loss_forward=_forward_lines(graph, printer, "_logsumexp_floats", [printer.on_logits(last.expr)]),
        loss=(_comment(last.symbol, last.expr, text), loss),
        backward=[(_comment(s, e, text), f"{names[s]} = {printer.code(e)}") for s, e in d.deltas],
        gradients=[(f"∂{text(graph.output)}/∂{text(p)} = {text(d.gradient(p))}", f"{g} = {printer.code(d.gradient(p))}")
                   for p, g in zip(d.wrt, gradients)],
        gradient_names=", ".join(gradients),
    )


# Up to this many values, one sample's finiteness test adds them by name (cheapest); beyond, it
# sums the lists (a chain of thousands of additions would exhaust the compiler's recursion).
_INLINE_SUM = 32


def _finite_tests(outputs: str, groups: dict[str, list[str]]) -> dict[str, str]:
    """The sums whose finiteness tells, in one test, that every value and result of one sample is
    finite: for the forward pass, the loss, and the gradients. ``groups``: the code names of the
    params, inputs and targets."""
    def with_values(first, kinds):
        names = [name for kind in kinds for name in groups[kind]]
        terms = names if len(names) <= _INLINE_SUM else [f"sum({kind})" for kind in kinds]
        return " + ".join([first, *terms])
    return dict(forward=with_values(f"sum({outputs})", ["params", "inputs"]),
                loss=with_values("J", ["params", "inputs", "targets"]),
                gradients=with_values("J + sum(gradients)", ["params", "inputs", "targets"]))


def _column_batch(d: Derivation, printer: ArrayPrinter, inputs) -> dict:
    """A batch computed neuron by neuron, one array per neuron (any graph)."""
    graph, names = d.graph, printer.names
    per_sample = set(inputs) | set(graph.targets)  # what holds one value per sample: arrays
    for symbol, expr in [(s.symbol, s.expr) for s in graph.steps] + list(d.deltas):
        if expr.free_symbols & per_sample:
            per_sample.add(symbol)
    printer.per_sample = per_sample
    text = printer_for(d).doprint
    forward = _forward_lines(graph, printer, "_logsumexp_arrays")
    loss: list = [("", "inv_n = 1.0 / n")]
    mean = _batch_sum(printer, graph.steps[-1].expr, per_sample, loss, text=text)
    loss.append((_comment(graph.output, graph.steps[-1].expr, text), f"J = ({mean})*inv_n"))
    backward = []
    output = graph.output
    if any(output in e.free_symbols for _, e in d.deltas) or any(output in d.gradient(p).free_symbols for p in d.wrt):
        # A derivative written with the output itself (exp' = exp) needs its value per sample, not the mean J.
        names[output] = naming.code_identifier(f"{output.name}_sample", set(names.values()))
        backward.append((_comment(output, graph.steps[-1].expr, text) + ", per sample",
                         f"{names[output]} = {printer.code(graph.steps[-1].expr)}"))
    backward += [(_comment(s, e, text), f"{names[s]} = {printer.code(e)}") for s, e in d.deltas]
    gradients = [(f"Σ over the batch of ∂{text(output)}/∂{text(p)} = {text(d.gradient(p))}",
                  f"{names[naming.gradient_symbol(p)]} = {_batch_sum(printer, d.gradient(p), per_sample, [], text=text)}") for p in d.wrt]
    start = [("", f"{_names(d.wrt, names)['unpack']} = params")] if d.wrt else []
    start += [("", f"{_names(inputs, names)['unpack'] or '_'} = inputs"), ("", "n = inputs.shape[1]")]
    return dict(
        kind="one array per neuron", constants=[], start=start, targets=[("", f"{_names(graph.targets, names)['unpack'] or '_'} = targets")],
        forward=forward, loss=loss, backward=backward, gradients=gradients,
        outputs="np.stack(%s, axis=1)" % _tuple(printer.code(graph.steps[-1].expr) if s == graph.output else names[s] for s in graph.outputs),
        gradient_vector="np.array([%s]) * inv_n" % ", ".join(names[naming.gradient_symbol(p)] for p in d.wrt), uses=dict(logsumexp=False, column_softmax=False))


def _statement_lines(statements, names: dict, printer: MatrixPrinter) -> list[tuple[str, str]]:
    """Statements of a program as ``(equation, code)`` lines; an elementwise step computed by one
    of them is reused by those after it (``printer.elementwise``, kept from call to call)."""
    out = []
    for statement in statements:
        out.append((statement.equation, f"{names[statement.lhs]} = {printer.code(statement.rhs)}"))
        if isinstance(statement.rhs, ElementwiseApplyFunction):
            printer.elementwise[statement.rhs.expr, function_body(statement.rhs)] = statement.lhs
    return out


def _flat_parameters(sizes: tuple, params: tuple, names: dict, order: tuple) -> tuple[list, list, str]:
    """How a batch of the per-weight network reads its matrix parameters from the flat vector
    (weights layer by layer, each ``W_l`` row-major, then the biases: a column ``b_l`` each, or a
    number), and writes their gradients back into one: the module's constants, the lines that
    unpack, and the gradient vector. ``order``: where each parameter in that canonical order sits
    among PARAMETERS."""
    count = len(order)
    canonical = order != tuple(range(count))
    unpack = [("the parameters as matrices, from the flat vector",
               "_theta = np.asarray(params)" + ("[_CANONICAL]" if canonical else ""))]
    by_name = {v.name: v for v in params}
    offset, weights, biases = 0, [], []
    for layer in range(1, len(sizes)):
        W, size = by_name[f"W_{layer}"], sizes[layer] * sizes[layer - 1]
        unpack.append(("", f"{names[W]} = _theta[{offset}:{offset + size}].reshape({sizes[layer]}, {sizes[layer - 1]})"))
        weights.append(f"{names[naming.gradient_symbol(W)]}.ravel()")
        offset += size
    for layer in range(1, len(sizes)):
        b = by_name.get(f"b_{layer}")
        if b is None:
            continue
        gradient = names[naming.gradient_symbol(b)]
        if isinstance(b, sp.MatrixExpr):  # per neuron: a column
            unpack.append(("", f"{names[b]} = _theta[{offset}:{offset + sizes[layer]}].reshape({sizes[layer]}, 1)"))
            biases.append(f"{gradient}.ravel()")
            offset += sizes[layer]
        else:  # per layer: a number
            unpack.append(("", f"{names[b]} = _theta[{offset}]"))
            biases.append(f"({gradient},)")
            offset += 1
    vector = "np.concatenate([%s])" % ", ".join(weights + biases)
    if not canonical:
        return [], unpack, vector
    position = [0] * count
    for k, i in enumerate(order):
        position[i] = k
    constants = [("# The parameters in their places in the network: weights layer by layer, then biases.",
                  f"_CANONICAL = np.array({_tuple(map(str, order))})"),
                 ("# Where each of PARAMETERS sits among them.", f"_POSITION = np.array({_tuple(map(str, position))})")]
    return constants, unpack, vector + "[_POSITION]"


@lru_cache(maxsize=64)
def _matrix_batch(spec: NetworkSpec, order: tuple) -> dict:
    """A batch of the per-weight network ``spec`` computed layer by layer in its matrix form
    (:func:`~symbackprop.network.matrix_mlp`, one column per sample):
    the statements of the program of its derivation, printed by :class:`MatrixPrinter`, between
    the flat parameter vector (``order``: where each canonical parameter sits in it) and the
    gradient vector in the same order."""
    graph = matrix_mlp(spec.sizes, spec.activations, spec.loss, spec.bias)
    d = derive(graph, graph.params)
    p = program_.program(d, text=printer_for(d).doprint)
    names = _code_names(p, d.graph)
    printer = MatrixPrinter(names, sizes=p.sizes)
    check_generable([s.rhs for s in p.statements], [printer])
    emitted: set = set()

    def segment(statements) -> list[tuple[str, str]]:
        fresh = [s for s in statements if s.lhs not in emitted]
        emitted.update(s.lhs for s in fresh)
        return _statement_lines(fresh, names, printer)

    forward, loss_lines = segment(p.for_outputs()), segment(p.for_loss())
    rest = [s for s in p.for_gradients() if s.lhs not in emitted]
    used_by_deltas = {symbol for s in rest if s.lhs not in p.gradients for symbol in s.rhs.free_symbols}
    if used_by_deltas & set(p.gradients):  # a delta written with a gradient: all in the program's order
        backward, gradients = segment(rest), []
    else:
        backward = segment([s for s in rest if s.lhs not in p.gradients])
        gradients = segment([s for s in rest if s.lhs in p.gradients])

    constants, unpack, vector = _flat_parameters(spec.sizes, p.params, names, order)
    X, Y = d.graph.inputs[0], d.graph.targets[0]
    start = [*unpack, ("", f"{names[X]} = inputs")]
    code = " ".join(line for _, line in forward + loss_lines + backward + gradients)
    identifiers = set(_IDENTIFIER.findall(code))
    start += [("", f"{names[s]} = {int(n)}") for s, n in d.graph.given_sizes.items() if names[s] in identifiers]
    if names[BATCH] in identifiers:
        start.append(("", f"{names[BATCH]} = {names[X]}.shape[1]"))
    if "_dtype" in identifiers:
        start.append(("", f"_dtype = {names[X]}.dtype"))
    return dict(
        kind="layer by layer in matrix form, one column per sample", constants=constants, start=start,
        forward=forward, outputs=f"{names[p.outputs[0]]}.T", loss=loss_lines,
        # Y in the order of the arrays the steps compute (a row per output), which entrywise operations read fastest
        targets=[("", f"{names[Y]} = np.ascontiguousarray(targets)")],
        backward=backward, gradients=gradients, gradient_vector=vector,
        uses=dict(column_softmax="_softmax(" in code, logsumexp="_logsumexp(" in code),
    )


def _tuple(items) -> str:
    items = list(items)
    return "(%s,)" % items[0] if len(items) == 1 else "(%s)" % ", ".join(items)


def _names(symbols, names, shown=None) -> dict:
    """How the template spells a group of variables: the tuple of their names as strings (as
    ``shown`` spells them, else their own), the tuple of their code names, and a left-hand side
    that unpacks a sequence into them."""
    code = [names[s] for s in symbols]
    shown = shown or {}
    return dict(strings=_tuple(repr(shown.get(s, s.name)) for s in symbols), code=_tuple(code),
                unpack=", ".join(code) + ("," if len(code) == 1 else ""))


def _probability_rules(code=()) -> dict:
    """What a module whose loss needs probability targets checks them with, as Python literals:
    the rules' words and the tolerance of the sum per target; and (``code``: the targets' names
    in the code of one sample) the cheap test of one sample's floats."""
    rules = dict(sum=repr(target_rules.SUM_RULE), sign=repr(target_rules.SIGN_RULE), tolerance=repr(target_rules.TOLERANCE),
                 shown=repr(target_rules.NAMES_SHOWN))
    if code:
        rules["sample"] = f"not abs({' + '.join(code)} - 1.0) <= {target_rules.tolerance(len(code))!r} or min(targets) < 0.0"
    return rules


def numpy_module(d: Derivation) -> str:
    """The source of a standalone NumPy module computing the loss and gradients of ``d``."""
    if d.graph.has_matrices:
        return _numpy_program_module(d)
    graph = d.graph
    names = naming.code_names(graph)
    inputs = graph.inputs + tuple(v for v in graph.variables if v not in d.wrt and v not in graph.inputs + graph.targets)
    definitions = {step.symbol: step.expr for step in graph.steps}
    lse_names = {}  # the logits of each softmax → the name of their log-sum-exp
    for step in graph.steps:
        for logits in _softmax_logits(step.expr):
            if logits not in lse_names:
                taken = set(names.values()) | set(lse_names.values())
                lse_names[logits] = naming.fresh_one("lse_" + names.get(logits[0], "z"), taken).name

    floats = FloatPrinter(dict(names), definitions, dict(lse_names))
    arrays = ArrayPrinter(dict(names), dict(definitions), dict(lse_names))
    check_generable([step.expr for step in graph.steps] + [e for _, e in d.deltas] + [d.gradient(p) for p in d.wrt],
                    [floats, arrays])
    try:
        sample = _sample(d, floats)
        layered = graph.spec is not None and set(d.wrt) == set(graph.params)  # a network of mlp(), all its parameters derived
        order = tuple(d.wrt.index(p) for p in graph.params) if layered else ()
        batch = _matrix_batch(graph.spec, order) if layered else _column_batch(d, arrays, inputs)
    except PrintMethodNotImplementedError as error:  # what check_generable cannot foresee: not a function
        what = str(error).split("\n", 1)[0].rsplit(": ", 1)[-1].strip("<>").removeprefix("class ").strip("'").rsplit(".", 1)[-1]
        raise InputError(f"{what} cannot be written as NumPy code: code generation of {what} is not supported") from None
    return render(
        "numpy_module.py.j2",
        version=__version__,
        description=graph.description,
        loss_equation=_comment(graph.output, graph.steps[-1].expr, printer_for(graph).doprint),
        parameters=_names(d.wrt, names),
        inputs=_names(inputs, names),
        targets=_names(graph.targets, names),
        outputs=_names(graph.outputs, names, naming.ascii_names(graph)),
        softmax=bool(lse_names),
        probability_targets=_probability_rules([names[t] for t in graph.targets])
        if graph.fused else None,
        # A sample of floats takes the fast path; rows of a batch, ints or arrays go through _general.
        fast_check=" or type(inputs[0]) is not float" if inputs else "",
        sample=sample,
        finite=_finite_tests(_names(graph.outputs, names)["code"],
                             dict(params=[names[p] for p in d.wrt], inputs=[names[v] for v in inputs],
                                  targets=[names[t] for t in graph.targets])),
        batch=batch,
    )


# ------------------------------------------------------------------------------------------
# Derivations with matrix steps: a program of statements (symbackprop.program) printed on NumPy
# arrays, each SymPy matrix class as NumPy computes it best.



def _stable_logs(body: sp.Expr) -> sp.Expr:
    """``body`` with ln σ(u) written −softplus(−u) and ln(1 − σ(u)) −softplus(u): finite for every u."""
    def rewrite(node):
        inner = node.args[0]
        if isinstance(inner, sigmoid):
            return -softplus(-inner.args[0])
        if inner.is_Add and len(inner.args) == 2 and sp.S.One in inner.args:
            rest = inner - 1
            if rest.could_extract_minus_sign() and isinstance(-rest, sigmoid):
                return -softplus((-rest).args[0])
        return node
    return body.replace(lambda e: isinstance(e, sp.log), rewrite)


def _is_step(factor) -> bool:
    """Whether ``factor`` is H∘(Z), the step function with H(0) = 0, entry by entry."""
    return isinstance(factor, ElementwiseApplyFunction) and function_body(factor) == sp.Heaviside(ARGUMENT, 0)


def _ones_times(term):
    """c when ``term`` is c times a ones matrix (1 for the ones matrix itself), else None."""
    if isinstance(term, OneMatrix):
        return sp.S.One
    if isinstance(term, MatMul):
        coefficient, factors = term.as_coeff_matrices()
        if len(factors) == 1 and isinstance(factors[0], OneMatrix):
            return coefficient
    return None


def _is_broadcast(term) -> bool:
    """Whether ``term`` is a matrix spread over rows or columns by a ones factor (``b 1ᵀ``, ``1 cᵀ``),
    or a multiple of a ones matrix: NumPy broadcasting computes it inside a sum or an entrywise product."""
    if _ones_times(term) is not None:
        return True
    if not isinstance(term, MatMul):
        return False
    _, factors = term.as_coeff_matrices()
    return (isinstance(factors[-1], OneMatrix) and factors[-1].rows == 1) or (isinstance(factors[0], OneMatrix) and factors[0].cols == 1)


def _unbroadcast(term):
    """``term`` without the ones factor that spreads it (:func:`_is_broadcast`): c for c times a ones matrix."""
    constant = _ones_times(term)
    if constant is not None:
        return constant
    coefficient, factors = term.as_coeff_matrices()
    factors = factors[:-1] if isinstance(factors[-1], OneMatrix) and factors[-1].rows == 1 else factors[1:]
    product = MatMul(*factors) if len(factors) > 1 else factors[0]
    return product if coefficient == 1 else MatMul(coefficient, product)


def _split(term):
    """A matrix term as (its scalar factor, the rest): of a product, or of the multiples of ones
    matrices in a Hadamard product (1/m of 1/m·𝟏 ⊙ Y)."""
    if isinstance(term, MatMul):
        return term.as_coeff_mmul()
    if isinstance(term, HadamardProduct):
        constants = [_ones_times(f) for f in term.args]
        others = [f for f, constant in zip(term.args, constants) if constant is None]
        if others and len(others) < len(term.args):
            rest = others[0] if len(others) == 1 else HadamardProduct(*others)
            return sp.Mul(*[c for c in constants if c is not None]), rest
    return sp.S.One, term


def _common_factor(terms):
    """The scalar that every term of a sum has as its factor, up to sign (1/m in −Y/m + σ(Z)/m), else 1."""
    common = _split(terms[0])[0]
    common = -common if common.could_extract_minus_sign() else common
    if common == 1 or not all((_split(t)[0] / common) in (1, -1) for t in terms):
        return sp.S.One
    return common


def _negative(term) -> bool:
    """Whether a term of a sum of matrices has a negative number as its coefficient (``-2*X``)."""
    return isinstance(term, MatMul) and term.args[0].is_Number and bool(term.args[0] < 0)


def _parenthesized(code: str) -> str:
    """``code`` in parentheses unless it is one term already (a name, a call, an attribute of one)."""
    depth = 0
    for char in code:
        depth += char in "([{"
        depth -= char in ")]}"
        if depth == 0 and char in " +-*/@%<>=,":
            return f"({code})"
    return code


def _elementwise_of(expr):
    """``(Z, body)`` when the matrix ``expr`` is an entrywise function of the one matrix Z (elementwise
    functions, sums, scalar multiples, Hadamard products and powers of them, ones matrices): its
    entries are ``body`` (in :data:`ARGUMENT`) of Z's; Z is None for a constant. None otherwise."""
    if isinstance(expr, ElementwiseApplyFunction):
        inner = _elementwise_of(expr.expr)
        if inner is None or inner[0] is None:
            return expr.expr, function_body(expr)
        return inner[0], function_body(expr).xreplace({ARGUMENT: inner[1]})
    if isinstance(expr, OneMatrix):
        return None, sp.S.One
    if isinstance(expr, HadamardPower) and not isinstance(expr.exp, sp.MatrixExpr):
        inner = _elementwise_of(expr.base)
        return None if inner is None else (inner[0], inner[1] ** expr.exp)
    if isinstance(expr, MatMul):
        coefficient, factors = expr.as_coeff_matrices()
        inner = _elementwise_of(factors[0]) if len(factors) == 1 else None
        return None if inner is None else (inner[0], coefficient * inner[1])
    if isinstance(expr, (MatAdd, HadamardProduct)):
        parts = [_elementwise_of(arg) for arg in expr.args]
        matrices = {part[0] for part in parts if part is not None and part[0] is not None}
        if None in parts or len(matrices) != 1:
            return None
        combine = sp.Add if isinstance(expr, MatAdd) else sp.Mul
        return matrices.pop(), combine(*[part[1] for part in parts])
    return None


class MatrixPrinter(ArrayPrinter):
    """SymPy matrix expressions as NumPy array code: ``A @ B``, ``A.T``, ``*`` for the Hadamard
    product, ``np.linalg.solve`` for an inverse times a matrix (an explicit inverse only where it
    stands alone), a log-determinant through ``slogdet``, sums and broadcasting for products with
    ones matrices, ``np.vdot`` for the trace of a product (the product never formed), and each
    elementwise function in its stable form (the same rules as a batch of the per-weight code).

    ``elementwise`` maps ``(matrix, body)`` (the body written in :data:`ARGUMENT`) to the step
    that computes that function of that matrix, so that σ'(Z) = σ(Z) ⊙ (1 − σ(Z)) reuses A = σ(Z).

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> A, b = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("b", n, 1)
    >>> printer = MatrixPrinter({A: "A", b: "b", n: "n"})
    >>> printer.code(2 * A.I * b), printer.code(sp.Trace(A.T * A)), printer.code(sp.log(sp.det(A)))
    ('2*np.linalg.solve(A, b)', 'np.vdot(A, A)', "_log_det(A, 'A')")

    With ``product_order`` ("F" for a batch given one sample per row, whose arrays of samples as
    columns are then Fortran-ordered), a product of two matrices computes its result in that order.
    """

    def __init__(self, names, definitions=None, elementwise=None, sizes=(), product_order=None):
        super().__init__(names, definitions or {}, {})
        self.product_order = product_order  # the memory order of each product's result, where one is chosen
        self.elementwise = elementwise or {}
        self.sizes = frozenset(sizes)
        self.numbers = FloatPrinter(names, {}, {})  # a function of sizes alone: a Python float, which keeps float32 float32

    def _print(self, expr, **kwargs):
        if isinstance(expr, sp.Expr) and not isinstance(expr, (sp.Atom, sp.MatrixExpr)) and expr.free_symbols and \
                expr.free_symbols <= self.sizes:
            return self.numbers._print(expr)
        return super()._print(expr, **kwargs)

    def _print_Heaviside(self, expr):  # an array of the argument's type, not a boolean one that numbers make int64
        return f"np.heaviside({self._print(expr.args[0])}, {self._print(sp.Float(_at_zero(expr)))})"

    def _print_Symbol(self, expr):
        return self.names[expr]

    _print_MatrixSymbol = _print_Symbol

    def _operand(self, expr) -> str:
        """``expr`` printed as an operand of ``@``, ``*``, ``**`` or ``.T``: in parentheses unless one term."""
        return _parenthesized(self._print(expr))

    def _size(self, size) -> str:
        return self._print(size)

    def _scaled(self, coefficient, body: str) -> str:
        """``body`` (one term) times a scalar: ``-body``, ``2*body``, ``body/m``."""
        if coefficient.could_extract_minus_sign():
            return "-" + self._scaled(-coefficient, body)
        numerator, denominator = sp.fraction(coefficient)
        scaled = body if numerator == 1 else f"{self.parenthesize(numerator, PRECEDENCE['Mul'], strict=True)}*{body}"
        return scaled if denominator == 1 else f"{scaled}/{self.parenthesize(denominator, PRECEDENCE['Pow'], strict=True)}"

    def _print_MatMul(self, expr):
        coefficient, factors = expr.as_coeff_matrices()
        body = self._product(list(factors))
        return body if coefficient == 1 else self._scaled(coefficient, _parenthesized(body))

    def _product(self, factors: list) -> str:
        """The product of ``factors`` (matrices): ones factors as sums or broadcasts, inverses as solves."""
        first, last = factors[0], factors[-1]
        if len(factors) > 1 and isinstance(first, OneMatrix):  # 1 M: the column sums of M, on each row
            rest = factors[1:]
            if isinstance(last, OneMatrix) and len(rest) > 1 and first.rows == 1 and last.cols == 1:
                return f"{self._operand(MatMul(*rest[:-1]))}.sum(keepdims=True)"  # 1ᵀ M 1: every entry
            inner = self._operand(MatMul(*rest)) if len(rest) > 1 else self._operand(rest[0])
            summed = inner if first.cols == 1 else f"{inner}.sum(axis=0, keepdims=True)"
            return summed if first.rows == 1 else f"np.broadcast_to({summed}, ({self._size(first.rows)}, {self._size(last.cols)}))"
        if len(factors) > 1 and isinstance(last, OneMatrix):  # M 1: the row sums of M, in each column
            rest = factors[:-1]
            inner = self._operand(MatMul(*rest)) if len(rest) > 1 else self._operand(rest[0])
            summed = inner if last.rows == 1 else f"{inner}.sum(axis=1, keepdims=True)"
            return summed if last.cols == 1 else f"np.broadcast_to({summed}, ({self._size(first.rows)}, {self._size(last.cols)}))"
        if len(factors) == 1:
            return self._print(first)
        for i in range(1, len(factors)):  # an outer product: each side on its own (u vᵀ, X⁻ᵀa bᵀX⁻ᵀ)
            if factors[i].rows == 1 and len(factors) > 2:
                return f"{self._group(factors[:i])} @ {self._group(factors[i:])}"
        for i, factor in enumerate(factors):  # A⁻¹ B as a solve, B A⁻¹ as a solve on the transpose
            if isinstance(factor, Inverse):
                matrix, left, right = factor.arg, factors[:i], factors[i + 1:]
                if right:
                    solved = f"np.linalg.solve({self._print(matrix)}, {self._group(right, inner=True)})"
                    return f"{self._group(left)} @ {solved}" if left else solved
                transposed = MatMul(*left).T if len(left) > 1 else left[0].T
                return f"np.linalg.solve({self._print(matrix.T)}, {self._print(transposed)}).T"
        if len(factors) > 2:  # the cheapest order of the products, chosen at run time from the shapes
            return "np.linalg.multi_dot([%s])" % ", ".join(self._print(f) for f in factors)
        if self.product_order:
            return f"np.matmul({self._print(first)}, {self._print(last)}, order={self.product_order!r})"
        return " @ ".join(self._operand(f) for f in factors)

    def _group(self, factors: list, inner: bool = False) -> str:
        """The product of ``factors`` as one operand (``inner``: an argument of a call, no parentheses)."""
        product = self._print(factors[0]) if len(factors) == 1 else self._product(factors)
        return product if inner else _parenthesized(product)

    def _print_MatAdd(self, expr):
        terms = list(expr.args)
        full = [t for t in terms if not _is_broadcast(t)]
        if full:  # NumPy spreads the others over the shape of these
            terms = full + [_unbroadcast(t) for t in terms if _is_broadcast(t)]
        common = _common_factor(terms)
        if common != 1:  # (σ(Z) − Y)/m, not σ(Z)/m − Y/m
            parts = [_split(t) for t in terms]
            inner = MatAdd(*[rest if coefficient == common else MatMul(-1, rest) for coefficient, rest in parts])
            return self._scaled(common, _parenthesized(self._print(inner)))
        printed = ""
        for term in sorted(terms, key=_negative):  # stable: positive terms first
            if _negative(term):
                coefficient, rest = term.as_coeff_mmul()
                printed += (" - " if printed else "-") + _parenthesized(self._scaled(-coefficient, _parenthesized(self._print(rest))))
            else:
                printed += (" + " + self._operand(term)) if printed else self._print(term)
        return printed

    def _print_Largest(self, expr):
        matrix, axis = expr.args
        return f"{self._operand(matrix)}.max(axis={int(axis)}, keepdims=True)"

    def _print_Transpose(self, expr):
        return f"{self._operand(expr.arg)}.T"

    def _print_Inverse(self, expr):
        return f"np.linalg.inv({self._print(expr.arg)})"  # alone: no product to solve against

    def _print_MatPow(self, expr):
        base, exponent = expr.args
        if exponent.is_Integer and exponent < 0:
            return f"np.linalg.inv(np.linalg.matrix_power({self._print(base)}, {-exponent}))"
        return f"np.linalg.matrix_power({self._print(base)}, {self._print(exponent)})"

    def _print_softplus(self, expr):
        return expr._numpycode(self)  # the primitive's stable form: one ufunc, no overflow

    def _print_Identity(self, expr):
        return f"np.eye({self._size(expr.rows)}, dtype=_dtype)"

    def _print_ZeroMatrix(self, expr):
        return f"np.zeros(({self._size(expr.rows)}, {self._size(expr.cols)}), dtype=_dtype)"

    def _print_OneMatrix(self, expr):
        return f"np.ones(({self._size(expr.rows)}, {self._size(expr.cols)}), dtype=_dtype)"

    def _print_HadamardProduct(self, expr):
        factors = list(expr.args)
        full = [f for f in factors if not _is_broadcast(f)]
        if full:
            factors = full + [_unbroadcast(f) for f in factors if _is_broadcast(f)]
        coefficient = sp.Mul(*[f for f in factors if not isinstance(f, sp.MatrixExpr)])
        matrices = [f for f in factors if isinstance(f, sp.MatrixExpr)]
        product = " * ".join(self._mask(f) if len(matrices) > 1 and _is_step(f) else self._operand(f) for f in matrices)
        return product if coefficient == 1 else self._scaled(coefficient, _parenthesized(product))

    def _mask(self, step) -> str:
        """The step function H∘(Z) (ReLU's derivative) beside other factors: the boolean mask Z > 0,
        which multiplies as 0 and 1 in the other factors' type, cheaper than np.heaviside."""
        return f"({self._print(step.expr)} > 0)"

    def _print_HadamardPower(self, expr):
        base, exponent = expr.args
        return f"{self._operand(base)}**{self._operand(exponent)}"

    def _print_Trace(self, expr):
        matrix = expr.arg
        if not isinstance(matrix, MatMul):
            return f"np.trace({self._print(matrix)})"
        coefficient, factors = matrix.as_coeff_matrices()
        factors = list(factors)
        ones = [i for i, f in enumerate(factors) if isinstance(f, OneMatrix)]
        if len(factors) == 1:
            summed = f"np.trace({self._print(factors[0])})"
        elif ones:  # tr(1 R) = tr(R 1) = Σ R: a sum, the ones never formed
            rest = factors[ones[0] + 1:] + factors[:ones[0]]
            while len(rest) > 1 and isinstance(rest[-1], OneMatrix) and rest[-1].cols == 1:
                rest = rest[:-1]  # Σ (R 1) = Σ R
            while len(rest) > 1 and isinstance(rest[0], OneMatrix) and rest[0].rows == 1:
                rest = rest[1:]  # Σ (1ᵀ R) = Σ R
            summed = f"{self._group(rest)}.sum()"
        elif isinstance(factors[0], Transpose):  # tr(Aᵀ R) = Σ A ⊙ R
            summed = f"np.vdot({self._print(factors[0].arg)}, {self._group(factors[1:], inner=True)})"
        elif isinstance(factors[-1], Transpose):  # tr(R Bᵀ) = Σ R ⊙ B
            summed = f"np.vdot({self._group(factors[:-1], inner=True)}, {self._print(factors[-1].arg)})"
        else:  # tr(A R) = Σ A ⊙ Rᵀ
            summed = f"np.vdot({self._print(factors[0])}, {self._group(factors[1:])}.T)"
        return _parenthesized(self._scaled(coefficient, summed)) if coefficient != 1 else summed

    def _print_Determinant(self, expr):
        return f"np.linalg.det({self._print(expr.arg)})"

    def _print_log(self, expr):
        if isinstance(expr.args[0], Determinant):  # ln det M from slogdet: no overflow, and a named error if det M <= 0
            matrix = expr.args[0].arg
            return f"_log_det({self._print(matrix)}, {str(matrix)!r})"
        return super()._print_log(expr)

    def _print_ColumnSoftmax(self, expr):
        return f"_softmax({self._print(expr.logits)})"

    def _print_LogSoftmax(self, expr):  # ln softmax(Z) = Z − ln Σ exp(Z), column by column
        logits = self._print(expr.args[0])
        return f"({logits} - _logsumexp({logits}, axis=0))"

    def _print_ElementwiseApplyFunction(self, node):
        body, matrix = function_body(node), node.expr
        if body == sp.log(ARGUMENT) and isinstance(matrix, MatMul):  # ln(1ᵀ exp(Z)), ln(exp(Z) 1): log-sum-exp
            _, factors = matrix.as_coeff_matrices()
            if matrix.args[0] == factors[0] and len(factors) == 2:
                ones, exps = (factors[0], factors[1]) if isinstance(factors[0], OneMatrix) else (factors[1], factors[0])
                if isinstance(ones, OneMatrix) and isinstance(exps, ElementwiseApplyFunction) and \
                        function_body(exps) == sp.exp(ARGUMENT) and 1 in (ones.rows, ones.cols):
                    axis = 0 if ones is factors[0] else 1
                    return f"_logsumexp({self._print(exps.expr)}, axis={axis})"
        whole = _elementwise_of(node)  # ln(1 − σ(Z)) as one function of Z, so that its stable form applies
        if whole is not None and whole[0] is not None:
            matrix, body = whole
        body = _stable_logs(body)
        shared = {}
        for (other_matrix, other_body), step in sorted(self.elementwise.items(), key=lambda item: sp.default_sort_key(item[1])):
            if other_matrix == matrix and body.has(other_body):
                placeholder = sp.Symbol(f"_step_{self.names[step]}")
                self.names[placeholder] = self.names[step]
                shared[other_body] = placeholder
        body = body.xreplace(shared)
        if not body.free_symbols:
            return f"np.full_like({self._print(matrix)}, {self._print(body)})"
        alone = isinstance(body, sp.Function) and body.args == (ARGUMENT,)  # f(Z): Z is the call's argument
        self.names[ARGUMENT] = self._print(matrix) if alone else self._operand(matrix)
        return self._print(body)


def _code_names(p: program_.Program, graph) -> dict:
    """Python names for the program's symbols, made fresh identifiers by :func:`naming.code_identifier`:
    variables, sizes and steps as :func:`naming.ascii_names` spells them (a network's output
    ``Yhat``), the output ``J``."""
    taken: set[str] = set()
    spelled = naming.ascii_names(graph)
    names = {s: naming.code_identifier(s.name, taken) for s in p.params + p.inputs + p.sizes}
    for statement in p.statements:
        lhs = statement.lhs
        names[lhs] = "J" if lhs == p.loss else naming.code_identifier(spelled.get(lhs, lhs.name), taken)
    return names


def _shape_literal(symbol) -> str:
    """A variable's shape as the generated module states it: sizes by name, numbers as numbers."""
    if not isinstance(symbol, sp.MatrixExpr):
        return "()"
    return "(%s)" % ", ".join(repr(str(size)) if size.free_symbols else str(int(size)) for size in symbol.shape)


def _numpy_program_module(d) -> str:
    """The source of a standalone NumPy module for a derivation with matrix steps: one statement
    per step, delta and gradient of its :class:`~symbackprop.program.Program`, the sizes read from
    the arrays at call time."""
    p = program_.program(d, text=printer_for(d).doprint)  # comments in the notation of the text printer
    readable = {size for v in p.params + p.inputs if isinstance(v, sp.MatrixExpr) for size in v.shape}
    unread = [size for size in p.sizes if size not in readable]
    if unread:
        raise InputError(f"the size {unread[0]} is the number of rows or columns of no variable, so the code cannot read it "
                         "from the arrays: give it a number")
    graph = d.graph
    network = graph.is_network  # a batch given one sample per row
    if network and set(p.params) != set(graph.params):
        raise InputError(f"the code of {graph.description} is generated for all its parameters (its interface takes them all): "
                         f"derive it without wrt")
    names = _code_names(p, graph)
    printer = MatrixPrinter(names, sizes=p.sizes, product_order="F" if network else None)
    check_generable([s.rhs for s in p.statements], [printer])  # a function NumPy lacks, inside an elementwise step too

    def lines(statements) -> list[tuple[str, str]]:
        """The statements as code; an elementwise step computed by one of them is reused by those after it."""
        printer.elementwise = {}
        out = []
        for statement in statements:
            code = printer.code(statement.rhs)
            if (statement.lhs in p.gradients or statement.lhs == p.loss) and not isinstance(statement.lhs, sp.MatrixExpr):
                code = f"_dtype.type({code})"  # a scalar (the loss, a scalar's gradient) in the arrays' type
            out.append((statement.equation, f"{names[statement.lhs]} = {code}"))
            if isinstance(statement.rhs, ElementwiseApplyFunction):
                printer.elementwise[statement.rhs.expr, function_body(statement.rhs)] = statement.lhs
        return out

    functions = dict(loss=lines(p.for_loss()), loss_and_gradients=lines(p.for_gradients()),
                     gradients_alone=lines(p.for_gradients(with_loss=False)), forward=lines(p.for_outputs()) if network else ())
    source_of = " ".join(code for group in functions.values() for _, code in group)
    variables = p.params + p.inputs
    shown = printer_for(d).doprint
    return render(
        "numpy_program_module.py.j2",
        version=__version__,
        description=graph.description or plain(p.loss),
        loss_equation=next(s.equation for s in p.statements if s.lhs == p.loss),
        parameters=_tuple(repr(v.name) for v in p.params),
        inputs=_tuple(repr(v.name) for v in p.inputs),
        shapes="{%s}" % ", ".join(f"{v.name!r}: {_shape_literal(v)}" for v in variables),
        sizes=_tuple(repr(s.name) for s in p.sizes),
        arguments=", ".join([names[v] for v in variables] + [names[s] for s in p.sizes] + ["_dtype"]),
        **functions,
        network=dict(inputs=str(graph.inputs[0].rows), outputs=str(graph.targets[0].rows), output=shown(p.outputs[0]),
                     output_code=names[p.outputs[0]],
                     layer_sizes="{%s}" % ", ".join(f"{s.name!r}: {n}" for s, n in graph.given_sizes.items())) if network else None,
        probability_targets=_probability_rules() if network and graph.fused else None,
        gradient_names=", ".join(names[g] for g in p.gradients),
        uses_math="math." in source_of, sigmoid="_sigmoid(" in source_of, log_det="_log_det(" in source_of, logsumexp="_logsumexp(" in source_of,
        column_softmax="_softmax(" in source_of,
    )
