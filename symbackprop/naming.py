"""Every name the library gives and prints: symbols of networks, steps and deltas, and their
spelling in text, ASCII, LaTeX and generated code.

One place for the conventions, so the engine, the printers and generated code agree. One
notation per quantity:

=============================  ==========  ========  ==========  =================  ==========
quantity                       symbol      text      ASCII       LaTeX              code
=============================  ==========  ========  ==========  =================  ==========
a network's output (one)       ``a3``      ŷ         yhat        \\hat{y}            yhat
output k of several            ``a4``      ŷ2        yhat2       \\hat{y}_{2}        yhat2
δ of neuron i's pre-activation ``delta_i`` δ_i       delta_i     \\delta_{i}         delta_i
δ of any other step s          ``delta_s`` δ_<s>     delta_<s>   \\delta_{<s>}       delta_<s>
a batch of outputs (matrix)    ``A_2``     Ŷ         Yhat        \\hat{Y}            Yhat
=============================  ==========  ========  ==========  =================  ==========

where ``<s>`` is the step as that output spells it (δ_ŷ / delta_yhat for the output, δ_v3 /
delta_v3 for a step of an expression). Any other symbol is shown by its name (``w_{1}`` in
LaTeX, ``z_1`` for a step in code). Every such name is read back by :func:`accepted_names`.
A network in matrix form keeps the textbook's names for its other matrices (``W_1``, ``Z_1``,
``A_1``; LaTeX ``W_{1}``), its deltas ``δ_Z_1``.

Order, as a course writes it: the terms of a sum by their weight's index (w9 before w10), then
the bias (:func:`term_key`); the factors of a product after its number: the upstream part
(deltas, upstream first, and factors holding a delta), the loss's derivative (a factor holding a
target), weights and biases, then the local derivative kept whole (:func:`factor_key`).

>>> weight(3), pre_activation(2), activation(2), delta(pre_activation(2))
(w3, z2, a2, delta_2)
"""

from __future__ import annotations

import builtins
import itertools
import keyword
import re
import unicodedata

import sympy as sp

INPUT = "x"
TARGET = "y"
WEIGHT = "w"
BIAS = "b"
PRE_ACTIVATION = "z"  # z_i = Σ w a + b of neuron i (neurons numbered across the network)
ACTIVATION = "a"  # a_i = g(z_i)
LOSS = "J"
EXPRESSION_STEP = "v"  # intermediate steps of an arbitrary expression: v1, v2, …
EXPRESSION_OUTPUT = "f"
DELTA = "delta_"  # delta_z3 stands for δ_{z3} = ∂J/∂z3


def _numbered(prefix: str, i: int) -> sp.Symbol:
    return sp.Symbol(f"{prefix}{i}")


def input_(i: int) -> sp.Symbol:
    return _numbered(INPUT, i)


def target(i: int) -> sp.Symbol:
    return _numbered(TARGET, i)


def weight(i: int) -> sp.Symbol:
    return _numbered(WEIGHT, i)


def bias(i: int) -> sp.Symbol:
    return _numbered(BIAS, i)


def pre_activation(i: int) -> sp.Symbol:
    return _numbered(PRE_ACTIVATION, i)


def activation(i: int) -> sp.Symbol:
    return _numbered(ACTIVATION, i)


def loss() -> sp.Symbol:
    return sp.Symbol(LOSS)


def delta(step: sp.Symbol) -> sp.Symbol:
    """The symbol standing for δ = ∂J/∂step in the delta view: ``delta_3`` for neuron 3's
    pre-activation ``z3``, ``delta_<name>`` for any other step (``delta_v3``, ``delta_a5``); a
    matrix step's delta is a matrix of its shape.

    >>> delta(pre_activation(3)), delta(sp.Symbol("v3"))
    (delta_3, delta_v3)
    """
    stem, index = _split_index(step.name)
    name = DELTA + (index if stem == PRE_ACTIVATION and index else step.name)
    return sp.MatrixSymbol(name, *step.shape) if isinstance(step, sp.MatrixSymbol) else sp.Symbol(name)


def is_delta(symbol) -> bool:
    """Whether ``symbol`` is a delta of :func:`delta`."""
    return isinstance(symbol, (sp.Symbol, sp.MatrixSymbol)) and symbol.name.startswith(DELTA) and len(symbol.name) > len(DELTA)


def delta_step(symbol: sp.Symbol) -> sp.Symbol:
    """The step whose delta ``symbol`` is (the inverse of :func:`delta`).

    >>> delta_step(sp.Symbol("delta_3")), delta_step(sp.Symbol("delta_v3"))
    (z3, v3)
    """
    rest = symbol.name[len(DELTA):]
    return sp.Symbol(PRE_ACTIVATION + rest if rest.isdigit() else rest)


def fresh(prefix: str, taken: set[str]):
    """Endless numbered symbols ``prefix1, prefix2, …`` whose names are not in ``taken``.

    >>> names = fresh("v", {"v2"})
    >>> next(names), next(names)
    (v1, v3)
    """
    for i in itertools.count(1):
        name = f"{prefix}{i}"
        if name not in taken:
            yield sp.Symbol(name)


def fresh_one(name: str, taken: set[str]) -> sp.Symbol:
    """``name`` itself if free, else ``name_1``, ``name_2``, …

    >>> fresh_one("f", {"f"})
    f_1
    """
    if name not in taken:
        return sp.Symbol(name)
    return next(s for s in fresh(name + "_", taken))


OUTPUT_TEXT, OUTPUT_ASCII, OUTPUT_LATEX = "ŷ", "yhat", r"\hat{y}"
OUTPUT_MATRIX = {OUTPUT_TEXT: "Ŷ", OUTPUT_ASCII: "Yhat", OUTPUT_LATEX: r"\hat{Y}"}  # a batch of outputs, one per column


def _output(name: str, symbol) -> str:
    """A network's output spelled ``name`` (ŷ, yhat, \\hat{y}), a capital for a matrix of outputs (Ŷ)."""
    return OUTPUT_MATRIX[name] if isinstance(symbol, sp.MatrixSymbol) else name
DELTA_TEXT = "δ_"


def display(symbol: sp.Symbol) -> str:
    """The name of ``symbol`` for plain text, without a graph to tell its role: ``δ_3`` for a
    delta, the name otherwise (:func:`text_names` adds a network's ŷ).

    >>> display(delta(pre_activation(3))), display(delta(sp.Symbol("v2"))), display(weight(1))
    ('δ_3', 'δ_v2', 'w1')
    """
    if is_delta(symbol):
        return DELTA_TEXT + symbol.name[len(DELTA):]
    return symbol.name


def _split_index(name: str) -> tuple[str, str]:
    """``"w12"`` → ``("w", "12")``; a name without a trailing number → ``(name, "")``."""
    stem = name.rstrip("0123456789")
    return stem, name[len(stem):]


def natural_key(name: str) -> tuple[str, int]:
    """Sort key of a name by its stem, then its trailing number as a number: w9 before w10.

    >>> sorted(["w10", "w9", "b1"], key=natural_key)
    ['b1', 'w9', 'w10']
    """
    stem, index = _split_index(name)
    return stem, int(index) if index else -1


def _outputs(graph) -> dict[sp.Symbol, str]:
    """A network's predicted outputs → their number as a string ("" when there is one)."""
    outputs = [s for s in graph.outputs if s != graph.output]
    return {s: "" if len(outputs) == 1 else str(k) for k, s in enumerate(outputs, start=1)}


def _names(graph, output, delta_of, plain) -> dict[sp.Symbol, str]:
    """Every variable, step and delta of ``graph`` in one spelling: ``output(k)`` for a network's
    output k, ``plain(name)`` for the rest, ``delta_of(shown)`` for a delta, where ``shown`` is
    the neuron's number for a pre-activation and the step's own spelling for any other step."""
    names = {s: plain(s.name) for s in graph.variables}
    names.update({step.symbol: plain(step.symbol.name) for step in graph.steps})
    names.update({s: output(k, s) for s, k in _outputs(graph).items()})
    for step in graph.steps:
        symbol = delta(step.symbol)
        rest = symbol.name[len(DELTA):]
        names[symbol] = delta_of(rest if rest.isdigit() else names[step.symbol])
    return names


def text_names(graph) -> dict[sp.Symbol, str]:
    """Plain-text names: ``ŷ`` for a network's output (``ŷ1``, ``ŷ2`` … for several), ``δ_3``
    for the delta of neuron 3's z, ``δ_ŷ`` or ``δ_v3`` for the delta of any other step.

    >>> from symbackprop import mlp
    >>> names = text_names(mlp([2, 2, 1]))
    >>> names[sp.Symbol("a3")], names[delta(sp.Symbol("z1"))], names[delta(sp.Symbol("a3"))]
    ('ŷ', 'δ_1', 'δ_ŷ')
    """
    return _names(graph, lambda k, s: _output(OUTPUT_TEXT, s) + k, lambda shown: DELTA_TEXT + shown, str)


def ascii_names(graph) -> dict[sp.Symbol, str]:
    """:func:`text_names` in ASCII: ``yhat``, ``yhat1``, ``delta_3``, ``delta_yhat``.

    >>> from symbackprop import mlp
    >>> names = ascii_names(mlp([2, 2]))
    >>> names[sp.Symbol("a2")], names[delta(sp.Symbol("z2"))], names[delta(sp.Symbol("a1"))]
    ('yhat2', 'delta_2', 'delta_yhat1')
    """
    return _names(graph, lambda k, s: _output(OUTPUT_ASCII, s) + k, lambda shown: DELTA + shown, str)


_LATEX_TEXT_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                       "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                       "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}"}
# Names SymPy's LaTeX printer splits into a stem and sub- or superscripts soundly: ASCII, a letter
# first, no underscore at the end and none three in a row (``_x`` or ``x_`` would leave a bare ``_``).
_PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:__?[A-Za-z0-9]+)*")
# Greek letters in LaTeX's math commands; a capital LaTeX has no command for is its Latin twin.
GREEK_LATEX = dict(zip(
    "αβγδεζηθικλμνξοπρςστυφχψωϑϕϱϖϵµ"
    "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ",
    re.findall(r"\S+", r"\alpha \beta \gamma \delta \epsilon \zeta \eta \theta \iota \kappa \lambda \mu \nu \xi o \pi \rho "
    r"\varsigma \sigma \tau \upsilon \phi \chi \psi \omega \vartheta \varphi \varrho \varpi \epsilon \mu "
    r"A B \Gamma \Delta E Z H \Theta I K \Lambda M N \Xi O \Pi P \Sigma T \Upsilon \Phi X \Psi \Omega"),
    strict=True,
))


# A Greek letter's name → the letter (``lambda`` → ``λ``): a symbol so named is typeset as the letter.
GREEK_LETTERS = {latex[1:]: letter for letter, latex in reversed(GREEK_LATEX.items()) if latex.startswith("\\")}


def typesets(c: str) -> bool:
    """Whether pdflatex typesets the character ``c`` as the library's documents load it: ASCII and
    the accented Latin letters of Latin-1 and Latin Extended-A (é, ß, ŷ); Greek letters only as
    math commands (:data:`GREEK_LATEX`), which :func:`latex_name` and :func:`latex_text` write.

    >>> typesets("é"), typesets("中"), typesets("θ")
    (True, False, False)
    """
    return c.isascii() or ("\u00c0" <= c <= "\u017f" and c not in "\u00d7\u00f7")


def latex_text(s: str) -> str:
    """Any text made inert for LaTeX's text mode: its special characters escaped, every control
    character (a newline included) a space, a Greek letter as its math command.

    >>> print(latex_text("a%b}\\\\input{x}\\nc θ"))
    a\\%b\\}\\textbackslash{}input\\{x\\} c $\\theta$
    """
    return "".join(" " if unicodedata.category(c) == "Cc" else
                   f"${GREEK_LATEX[c]}$" if c in GREEK_LATEX else _LATEX_TEXT_ESCAPES.get(c, c) for c in s)


def is_plain_name(name: str) -> bool:
    """Whether SymPy's own LaTeX for ``name`` (``w_{1}``, ``\\alpha``, ``x_{a}``) is safe and sound:
    ASCII letters and digits, a letter first, parts joined by one or two underscores.

    >>> is_plain_name("x_1"), is_plain_name("_x"), is_plain_name("x_"), is_plain_name("θ")
    (True, False, False, False)
    """
    return bool(_PLAIN_NAME.fullmatch(name))


def latex_name(name: str) -> str:
    """The LaTeX for a symbol's or function's name, the one rule for every name a document prints:
    a plain name as SymPy writes it with its trailing number as an index (``w_{1}``, ``\\alpha``);
    an identifier SymPy would not split soundly (``_x``, Greek or other Unicode letters) letter by
    letter in math, Greek letters as their commands, underscores escaped, its trailing number (after
    an underscore or not) as an index (``θ2`` and ``θ_2``: ``\\theta_{2}``); any other name as upright
    text with LaTeX's special characters escaped, so that a name can never run a command.

    >>> print(latex_name("w12"), latex_name("alpha"), latex_name("_x"), latex_name("θ2"), latex_name("x}\\\\input{f}"))
    w_{12} \\alpha \\_x \\theta_{2} \\text{x\\}\\textbackslash{}input\\{f\\}}
    """
    if is_plain_name(name):
        stem, index = _split_index(name)
        if stem and index and "_" not in stem:
            return f"{sp.latex(sp.Symbol(stem))}_{{{index}}}"
        return sp.latex(sp.Symbol(name))
    if not name.isidentifier():
        return r"\text{%s}" % latex_text(name)
    stem, index = _split_index(name)
    if index and stem.endswith("_") and stem != "_":
        stem = stem[:-1]
    body = ""
    for c in stem:
        piece = GREEK_LATEX.get(c) or (r"\_" if c == "_" else c if c.isascii() else r"\text{%s}" % c)
        if re.search(r"\\[A-Za-z]+$", body) and piece[0].isalpha():
            body += " "  # \theta a, not \thetaa
        body += piece
    return body + (f"_{{{index}}}" if index and stem else index)


def latex_names(graph) -> dict[sp.Symbol, str]:
    """LaTeX for every symbol of ``graph`` and of its deltas: ``w_{1}``, ``z_{3}``, ``\\hat{y}``
    for a network's output (``\\hat{y}_{k}`` for several), ``\\delta_{3}`` for δ of neuron 3's z.

    >>> from symbackprop import mlp
    >>> names = latex_names(mlp([2, 1]))
    >>> names[sp.Symbol("a1")], names[sp.Symbol("w2")], names[delta(sp.Symbol("z1"))]
    ('\\\\hat{y}', 'w_{2}', '\\\\delta_{1}')
    """
    return _names(graph, lambda k, s: _output(OUTPUT_LATEX, s) + (f"_{{{k}}}" if k else ""), lambda shown: rf"\delta_{{{shown}}}",
                  latex_name)


def accepted_names(graph, deltas=()) -> dict[str, sp.Symbol]:
    """Every name the library prints for a symbol of ``graph``, read back: the graph's own names
    (``x1``, ``w2``, ``z3``, ``a5``, ``J``) and their number set off as LaTeX and code spell them
    (``x_1``, ``w_2``, ``z_3``), a network's output as ``ŷ``/``yhat``/``y_hat`` (with its
    number when there are several: ``ŷ1``, ``yhat1``, ``y_hat1``, ``yhat_1``), ``y`` for a single
    target, and for each delta symbol in ``deltas`` its spellings ``δ_3``, ``δ3``, ``delta_3``,
    ``delta3`` and the older ``delta_z3``, ``δ_z3`` (``δ_ŷ``, ``delta_yhat``, ``delta_a5`` for other steps).

    >>> from symbackprop import mlp
    >>> net = mlp([1, 1])
    >>> names = accepted_names(net, [delta(sp.Symbol("z1"))])
    >>> names["ŷ"], names["yhat1"], names["δ1"], names["delta_z1"], names["delta1"], names["y"], names["w_1"]
    (a1, a1, delta_1, delta_1, delta_1, y1, w1)
    """
    names = {s.name: s for s in graph.variables} | {s.symbol.name: s.symbol for s in graph.steps}
    aliases: dict[sp.Symbol, list[str]] = {s: [s.name] for s in names.values()}
    for symbol in list(names.values()):  # as LaTeX and generated code spell them: w_5, z_3, v_2; W1 for W_1; λ for lambda
        names.setdefault(_stepped(symbol.name), symbol)
        if _unstepped(symbol.name) != symbol.name:
            names.setdefault(_unstepped(symbol.name), symbol)
            aliases[symbol].append(_unstepped(symbol.name))
        stem, index = _split_index(symbol.name)
        if stem in GREEK_LETTERS:
            names.setdefault(GREEK_LETTERS[stem] + index, symbol)
    outputs = _outputs(graph)
    for s, k in outputs.items():
        text, ascii_, underscored = _output(OUTPUT_TEXT, s), _output(OUTPUT_ASCII, s), _output(OUTPUT_ASCII, s).replace("hat", "_hat")
        spelled = [text + k, ascii_ + k, underscored + k]
        if k:
            spelled += [text + "_" + k, ascii_ + "_" + k, underscored + "_" + k]
        else:
            spelled += [text + "1", ascii_ + "1", underscored + "1"]
        aliases[s] += spelled
        for name in spelled:
            names.setdefault(name, s)
    if len(graph.targets) == 1:
        names.setdefault(TARGET, graph.targets[0])
    spellings = {s.name: spelled for s, spelled in aliases.items()}  # a matrix step's delta names it by name
    for symbol in deltas:
        step = delta_step(symbol)
        shown = [symbol.name[len(DELTA):]] if step.name != symbol.name[len(DELTA):] else []
        for name in shown + spellings.get(step.name, [step.name]):
            for prefix in (DELTA, DELTA_TEXT, DELTA_TEXT[0], DELTA.rstrip("_")):
                names.setdefault(prefix + name, symbol)
    return names


_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")


def typed(text: str) -> str:
    """A name or formula as typed, read the way it was meant: subscript digits as digits (``ŷ₁``
    as LaTeX renders ``\\hat{y}_{1}`` is ``ŷ1``), surrounding blanks dropped.

    >>> typed(" ŷ₁ - y₁ ")
    'ŷ1 - y1'
    """
    return text.translate(_SUBSCRIPTS).strip()


def clipped(value, limit: int = 80) -> str:
    """``value`` as text of at most ``limit`` characters, for one-line messages and labels.

    >>> clipped("w1*x1 + w2*x2 + b1", 10)
    'w1*x1 + w…'
    """
    text = str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def listing(names, limit: int = 12) -> str:
    """Names for an error message, at most ``limit`` of them.

    >>> listing([f"w{i}" for i in range(1, 20)], limit=3)
    'w1, w2, w3, … (19 in all)'
    """
    names = [str(n) for n in names]
    return ", ".join(names) if len(names) <= limit else ", ".join(names[:limit]) + f", … ({len(names)} in all)"


def _order_class(symbol) -> int | None:
    stem, index = _split_index(symbol.name) if isinstance(symbol, sp.Symbol) else ("", "")
    return {WEIGHT: 0, BIAS: 1}.get(stem) if index else None


def term_key(term) -> tuple:
    """Sort key of a term of a sum in textbook order: terms with a weight as a factor by the
    weight's index (w9 before w10), then the biases, then terms with a delta by its number
    (δ_9 before δ_10), then every other term (key ``(3,)``: kept in their order). Weights inside
    a factor (``w9*sigmoid(w1*x1)``) do not count: w9 does.

    >>> w1, w9, w10, b3, x1, x2 = sp.symbols("w1 w9 w10 b3 x1 x2")
    >>> sorted((w10*x2 + b3 + w9*sp.sin(w1*x1)).as_ordered_terms(), key=term_key)
    [w9*sin(w1*x1), w10*x2, b3]
    """
    factors = sp.Mul.make_args(term)
    keys = [(_order_class(f), natural_key(f.name)[1]) for f in factors if _order_class(f) is not None]
    keys += [(2, *natural_key(f.name)) for f in factors if is_delta(f)]
    return min(keys) if keys else (3,)


def is_target(symbol) -> bool:
    """Whether ``symbol`` is a network's target (:func:`target`: ``y1``, ``y2``, …)."""
    if not isinstance(symbol, sp.Symbol):
        return False
    stem, index = _split_index(symbol.name)
    return stem == TARGET and bool(index)


REST = (5,)  # factor_key of a factor kept where it stands: the local derivative


def factor_key(factor) -> tuple:
    """Sort key of a factor of a product in textbook order: the upstream part first (deltas,
    higher-numbered first, then factors holding a delta, such as a sum of weighted deltas), then
    factors holding a target (the loss's derivative ``ŷ - y1``), then weights and biases in index
    order, then the rest (key :data:`REST`: kept in order, so a local derivative ``a4*(1 - a4)``
    stays whole).

    >>> a2, a4, w10, y1 = sp.symbols("a2 a4 w10 y1")
    >>> sorted([a4, delta(sp.Symbol("z4")), w10, 1 - a4, delta(sp.Symbol("z5"))], key=factor_key)
    [delta_5, delta_4, w10, a4, 1 - a4]
    >>> sorted([a2, 1 - a2, a2 - y1], key=factor_key)
    [a2 - y1, a2, 1 - a2]
    """
    if is_delta(factor):
        stem, index = natural_key(factor.name)
        return (0, stem, -index)
    symbols = factor.free_symbols
    if any(is_delta(s) for s in symbols):
        return (1,)
    if any(is_target(s) for s in symbols):
        return (2,)
    kind = _order_class(factor)
    return REST if kind is None else (3 + kind, natural_key(factor.name)[1])


# How text printed by the library is spelled in ASCII, for consoles that cannot show the rest.
ASCII = {
    "δ": "delta", "∂": "d", "ŷ": "yhat", "Ŷ": "Yhat", "σ": "sigmoid", "·": "*", "⊙": "(.)", "ᵀ": "^T", "…": "...",
    "Σ": "sum", "−": "-", "×": "x", "→": "->", "←": "<-", "≈": "~", "≤": "<=", "≥": ">=", "≠": "!=", "²": "^2",
    "³": "^3", "√": "sqrt", "ε": "eps", "η": "eta", "λ": "lambda", "π": "pi", "∞": "oo", "±": "+/-", "–": "-",
    "—": "--", "‘": "'", "’": "'", "“": '"', "”": '"', "₀": "0", "₁": "1", "₂": "2", "₃": "3", "₄": "4",
    "₅": "5", "₆": "6", "₇": "7", "₈": "8", "₉": "9", "ₖ": "k", "ⱼ": "j", "ᵢ": "i", "½": "1/2", "°": " deg",
    "✓": "ok", "✗": "x", "•": "*", "÷": "/", "∈": " in ", "∇": "grad ", "ℓ": "l", "α": "alpha", "β": "beta",
    "γ": "gamma", "θ": "theta", "μ": "mu", "τ": "tau", "φ": "phi", "ω": "omega", "∑": "sum", "∏": "prod",
    "⁻": "^-", "¹": "^1", "‖": "||", "⟨": "<", "⟩": ">", "∘": "o", "ᐧ": "*", "𝟏": "1",
}


# Notations of several characters, spelled before the characters one by one.
ASCII_SEQUENCES = {"⁻ᵀ": "^-T", "^∘": ".^"}
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")


def ascii_text(text: str) -> str:
    """``text`` with every non-ASCII symbol the library prints spelled in ASCII, in the same
    notation: ``δ_3`` → ``delta_3``, ``∂J/∂w1`` → ``dJ/dw1``, ``ŷ`` → ``yhat``, ``σ`` → ``sigmoid``,
    ``·`` → ``*``, ``⊙`` → ``(.)``, ``Wᵀ`` → ``W^T``, ``…`` → ``...``; any other character
    becomes its closest ASCII letters, or ``?``.

    >>> print(ascii_text("∂J/∂w1 = δ_3·x1 = σ(z3)⊙Wᵀ, ŷ1 − y1 …"))
    dJ/dw1 = delta_3*x1 = sigmoid(z3)(.)W^T, yhat1 - y1 ...
    >>> print(ascii_text("S⁻ᵀ a, X⁻¹, X⁻¹², Z^∘2"))
    S^-T a, X^-1, X^-12, Z.^2
    """
    if text.isascii():
        return text
    for sequence, spelled in ASCII_SEQUENCES.items():
        text = text.replace(sequence, spelled)
    text = re.sub("⁻([⁰¹²³⁴⁵⁶⁷⁸⁹]+)", lambda power: "^-" + power[1].translate(_SUPERSCRIPTS), text)  # X⁻² → X^-2
    out = []
    for c in text:
        if c.isascii():
            out.append(c)
        elif c in ASCII:
            out.append(ASCII[c])
        else:
            out.append(unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode() or "?")
    return "".join(out)


# The names a generated module gives itself: its imports, functions and constants, and the
# arguments and locals of its functions; its helpers all start with "_". A variable named like a
# builtin the module calls (list, type, float, len, max, ValueError …) would shadow it inside
# the function that holds the variable: every builtin is reserved, so none can be shadowed.
BUILTINS = frozenset(name for name in dir(builtins) if not name.startswith("_"))
RESERVED = frozenset({"np", "math", "forward", "loss", "loss_and_gradients", "gradients", "PARAMETERS", "INPUTS",
                      "TARGETS", "OUTPUTS", "SHAPES", "SIZES", "LAYER_SIZES", "PROBABILITY_TARGETS", "params", "inputs",
                      "targets", "function", "want", "rows", "n", "inv_n", "order", "J"}) | BUILTINS

# Characters that end a line for some reader of the source (Python's tokenizer ends one at \n
# and \r only; str.splitlines and editors also at these), or that source must not hold raw.
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})  # controls, format (bidi), surrogates, separators


def source_comment(text) -> str:
    r"""``text`` (names, formulas: anything a user may have named) made safe to write in a comment
    or a docstring of generated source: a backslash and a double quote are escaped, and every
    line break, control, format (bidirectional) or surrogate character is written as its escape
    sequence (``\n``, ``\x0c``, ``\u2028``), so the text can end neither the comment nor the
    docstring; a docstring reads back the text itself.

    >>> print(source_comment("a" + '"' * 3 + chr(92) + chr(10) + "b = 1"))
    a\"\"\"\\\nb = 1
    >>> print(source_comment("J = (w1 - y)**2"))
    J = (w1 - y)**2
    """
    out = []
    for c in str(text):
        if c in '\\"':
            out.append("\\" + c)
        elif c in _LINE_BREAKS or unicodedata.category(c) in _UNSAFE_CATEGORIES:
            out.append(c.encode("unicode_escape").decode("ascii"))
        else:
            out.append(c)
    return "".join(out)


def code_identifier(name: str, taken: set[str]) -> str:
    """``name`` made a fresh Python identifier for generated code, added to ``taken``: characters
    other than ASCII letters, digits and ``_`` become ``_``, a leading digit or ``_`` gets a ``v``
    before it, keywords, :data:`RESERVED` names (builtins included) and names already taken a
    trailing ``_``.

    >>> code_identifier('a"; os("b', set()), code_identifier("list", set()), code_identifier("_x", set())
    ('a___os__b', 'list_', 'v_x')
    """
    clean = "".join(c if (c.isalnum() or c == "_") and c.isascii() else "_" for c in name) or "_"
    if clean[0].isdigit() or clean[0] == "_":
        clean = "v" + clean
    while keyword.iskeyword(clean) or clean in taken or clean in RESERVED:
        clean += "_"
    taken.add(clean)
    return clean


def _stepped(name: str) -> str:
    """``z12`` → ``z_12``: a step's number set off, as in the math."""
    stem, index = _split_index(name)
    return f"{stem}_{index}" if stem and index and not stem.endswith("_") else name


def _unstepped(name: str) -> str:
    """``W_12`` → ``W12``: a matrix's number run on, as one types it (the inverse of :func:`_stepped`)."""
    stem, index = _split_index(name)
    return stem[:-1] + index if index and stem.endswith("_") and len(stem) > 1 else name


def code_names(graph) -> dict[sp.Symbol, str]:
    """Python names for generated code: variables keep their own names (``w5``, ``x1``), steps set
    their number off (``z_2``, ``a_2``, ``v_3``), a network's output is ``yhat`` (``yhat1``, …
    for several), deltas are spelled as in :func:`ascii_names` (``delta_2``, ``delta_yhat``,
    ``delta_v3``), gradients ``dJ_dw5``; the loss is ``J``.

    >>> from symbackprop import mlp
    >>> names = code_names(mlp([2, 1]))
    >>> [names[sp.Symbol(s)] for s in ("x1", "z1", "a1", "delta_1", "J")], names[gradient_symbol(sp.Symbol("w1"))]
    (['x1', 'z_1', 'yhat', 'delta_1', 'J'], 'dJ_dw1')
    """
    taken: set[str] = set()
    names = {s: code_identifier(s.name, taken) for s in graph.variables}
    outputs = _outputs(graph)
    for step in graph.steps:
        s = step.symbol
        names[s] = "J" if s == graph.output else code_identifier(_output(OUTPUT_ASCII, s) + outputs[s] if s in outputs else _stepped(s.name),
                                                                 taken)
    spelled = ascii_names(graph)
    for step in graph.steps:
        names[delta(step.symbol)] = code_identifier(spelled[delta(step.symbol)], taken)
    for p in graph.variables:
        names[gradient_symbol(p)] = code_identifier(f"dJ_d{names[p]}", taken)
    return names


def gradient_symbol(variable: sp.Symbol) -> sp.Symbol:
    """The symbol standing for ∂J/∂variable in generated code; a matrix's is a matrix of its shape.

    >>> gradient_symbol(sp.Symbol("w1")), gradient_symbol(sp.MatrixSymbol("W", 2, 3)).shape
    (dJ_dw1, (2, 3))
    """
    name = "dJ_d" + variable.name
    return sp.MatrixSymbol(name, *variable.shape) if isinstance(variable, sp.MatrixSymbol) else sp.Symbol(name)
