"""LaTeX: exact strings for a few formulas, and documents that pdflatex compiles."""

import re
import subprocess

import pytest
import sympy as sp
from corpus import EXPRESSIONS, network
from oracles import needs_pdflatex

import symbackprop as sb
from symbackprop import naming
from symbackprop.errors import InputError
from symbackprop.latex import BackpropLatexPrinter, document_latex, gradient_latex, pdflatex, summary_latex, text


def test_one_gradient_through_bce_reads_like_the_textbook():
    d = sb.backprop(sb.mlp([1, 1, 1], loss="bce"))
    assert gradient_latex(d, sp.Symbol("w2")) == (
        r"\frac{\partial J}{\partial w_{2}} = \frac{\partial J}{\partial \hat{y}} \cdot \frac{\partial \hat{y}}{\partial z_{2}}"
        r" \cdot \frac{\partial z_{2}}{\partial w_{2}}"
        r" = \frac{\hat{y} - y_{1}}{\hat{y} \left(1 - \hat{y}\right)} \cdot \hat{y} \left(1 - \hat{y}\right) \cdot a_{1}"
        r" = \delta_{2} a_{1}"
        r" = \left(\sigma\left(w_{2} \sigma\left(w_{1} x_{1} + b_{1}\right) + b_{2}\right) - y_{1}\right)"
        r" \sigma\left(w_{1} x_{1} + b_{1}\right)")


def test_a_weight_reached_through_two_paths_sums_them():
    d = sb.backprop(sb.mlp([1, 1, 2], bias=None))
    formula = gradient_latex(d, sp.Symbol("w1"), closed=False)
    first = r"\frac{\partial J}{\partial \hat{y}_{1}} \cdot \frac{\partial \hat{y}_{1}}{\partial z_{2}}"
    second = r"\frac{\partial J}{\partial \hat{y}_{2}} \cdot \frac{\partial \hat{y}_{2}}{\partial z_{3}}"
    assert first in formula and second in formula
    assert formula.endswith(r"= \delta_{1} x_{1}")


def test_names_deltas_and_activations():
    d = sb.backprop(sb.mlp([2, 2, 1], activation=["relu", "sigmoid"]))
    summary = summary_latex(d)
    assert summary.startswith(r"$$\begin{aligned} \delta_{3} &= \left(\hat{y} - y_{1}\right) \hat{y} \left(1 - \hat{y}\right)")  # loss derivative, then σ'
    assert r"\delta_{1} &= \delta_{3} w_{5} \mathbb{1}\left[z_{1} > 0\right]" in summary
    assert d._repr_latex_() == summary
    printer = BackpropLatexPrinter()
    assert printer.doprint(sb.sigmoid(sp.Symbol("z")) ** 2) == r"\left(\sigma\left(z\right)\right)^{2}"
    assert text("a_b & 5% {x}") == r"a\_b \& 5\% \{x\}"


@needs_pdflatex
@pytest.mark.parametrize("make", [
    lambda: sb.backprop(network("2-2-2-1 sigmoid half_sse")),
    lambda: sb.backprop(network("2-2-3 softplus/softmax cross_entropy")),
    lambda: sb.backprop(network("2-3-3-2 relu/tanh/sigmoid bce")),
    lambda: sb.backprop(EXPRESSIONS["cs231n (x + σ(y)) / (σ(x) + (x + y)²)"]),
], ids=["2-2-2-1", "softmax", "relu-tanh-bce", "cs231n"])
def test_the_derivation_document_compiles(make, tmp_path):
    tex = document_latex(make())
    for section in ("Forward pass", "Backward pass", "Gradients", "Gradient-descent update"):
        assert section in tex
    pdf = pdflatex(tex, tmp_path / "derivation.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")


@needs_pdflatex
def test_pdflatex_errors_are_reported(tmp_path):
    with pytest.raises(RuntimeError, match="pdflatex failed: ! Undefined control sequence"):
        pdflatex(r"\documentclass{article}\begin{document}\nosuchmacro\end{document}", tmp_path / "x.pdf")


HOSTILE_NAMES = [r"x}\input{/etc/passwd}\x", r"\write18{touch PWNED}", "a%b", "a}b", "a\nb", "$x$", "a\n\nb", "c~d^e_f#g&h", "<a|b>"]
FORBIDDEN_COMMANDS = {r"\input", r"\include", r"\write", r"\openin", r"\openout", r"\immediate", r"\read", r"\catcode", r"\def"}


def assert_inert(tex: str):
    """``tex`` runs no file or shell command and its braces balance: every backslash starts an
    escaped character or a command outside FORBIDDEN_COMMANDS; no name left a raw line break."""
    depth = 0
    for token in re.findall(r"\\[A-Za-z]+|\\.|[{}]|\$", tex, flags=re.DOTALL):
        assert token not in FORBIDDEN_COMMANDS, token
        depth += {"{": 1, "}": -1}.get(token, 0)
        assert depth >= 0, "a closing brace without its opening one"
    assert depth == 0, "an opening brace left open"
    assert "\n\n\n" not in tex.replace("\\\\\n", "")


def hostile_expression():
    x, y, z, *rest = (sp.Symbol(name) for name in HOSTILE_NAMES)
    return x * y + sb.sigmoid(z) + sum(sp.sin(s) for s in rest)


def test_a_hostile_name_prints_as_escaped_text_and_plain_names_keep_their_latex():
    printer = BackpropLatexPrinter()
    for name in HOSTILE_NAMES:
        printed = printer.doprint(sp.Symbol(name))
        assert printed.startswith(r"\text{") and name not in printed
        assert_inert(printed)
    assert printer.doprint(sp.Function("f}\\input{x}")(sp.Symbol("y"))).startswith(r"\text{f\}\textbackslash{}input")
    assert [printer.doprint(sp.Symbol(n)) for n in ("alpha", "x_1", "w12")] == [r"\alpha", "x_{1}", "w_{12}"]
    assert text("a\nb\x00c") == "a b c"


def test_every_latex_output_of_an_expression_with_hostile_names_is_inert():
    d = sb.backprop(hostile_expression())
    assert_inert(document_latex(d, title="T}\\input{/etc/passwd}"))
    assert_inert(summary_latex(d))
    for p in d.wrt:
        assert_inert(gradient_latex(d, p))
    values = {s: 0.5 for s in d.graph.variables}
    w = sb.walkthrough(d, values, learning_rate=0.1)
    assert_inert(sb.walkthrough_latex(w))
    assert_inert(sb.walkthrough_markdown(w))
    assert_inert(document_latex(sb.backprop(sb.mlp([2, 2, 1], form="matrix")), title="\\write18{touch PWNED}"))


@needs_pdflatex
def test_a_document_with_hostile_names_compiles_without_reading_or_writing_files(tmp_path):
    sentinel = tmp_path / "sentinel.tex"
    sentinel.write_text(r"\sentinelwasread")  # undefined: the compile fails if it is ever read
    created = tmp_path / "PWNED"
    x, y = sp.Symbol(r"x}\input{%s}\x" % sentinel.with_suffix("")), sp.Symbol(r"\immediate\write18{touch %s}" % created)
    d = sb.backprop(x * y + sb.sigmoid(sp.Symbol("a%b\n\nc")))
    pdf = pdflatex(document_latex(d), tmp_path / "hostile.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert not created.exists()
    every = sb.backprop(hostile_expression())
    pdflatex(document_latex(every), tmp_path / "every.pdf")
    pdflatex(sb.walkthrough_latex(sb.walkthrough(every, dict.fromkeys(every.graph.variables, 0.5))), tmp_path / "walk.pdf")


@needs_pdflatex
def test_pdflatex_gives_the_same_bytes_for_the_same_document(tmp_path):
    tex = document_latex(sb.backprop(network("2-2-2-1 sigmoid half_sse")))
    first = pdflatex(tex, tmp_path / "first.pdf").read_bytes()
    assert pdflatex(tex, tmp_path / "second.pdf").read_bytes() == first
    assert b"/CreationDate (D:19700101000000" in first  # dated at the epoch, not at the clock


@needs_pdflatex
def test_pdflatex_reads_no_file_outside_its_folder_and_runs_no_shell(tmp_path):
    secret = tmp_path / "secret.tex"
    secret.write_text("SECRETTEXT")
    with pytest.raises(RuntimeError, match="pdflatex failed"):
        pdflatex(r"\documentclass{article}\begin{document}\input{%s}\end{document}" % secret, tmp_path / "read.pdf")
    created = tmp_path / "PWNED"
    pdf = pdflatex(r"\documentclass{article}\begin{document}\immediate\write18{touch %s}x\end{document}" % created,
                   tmp_path / "shell.pdf")
    assert pdf.exists() and not created.exists()


# Every kind of identifier the formula parser accepts: underscores at either end, inside, doubled or
# tripled, Greek letters alone, with an index, set off or inside a longer name, and a user's own δ_3.
ODD_NAMES = ["_x", "x_", "a__", "a___b", "_1", "θ", "θ2", "Ω", "π2", "δ_3", "θa", "xθ", "α_β", "éa"]


def _documents(name):
    """Every LaTeX a user's name reaches: the derivation document, one gradient, and a worked example."""
    from symbackprop.parse import parse_expr
    x = sp.Symbol(name)
    d = sb.backprop(parse_expr(f"{name}*sigmoid(y) + {name}**2"))
    w = sb.walkthrough(d, {name: 0.5, "y": 0.25})
    return [document_latex(d), gradient_latex(d, x), sb.walkthrough_latex(w)]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_every_identifier_prints_as_latex_pdflatex_can_read(name):
    for tex in _documents(name):
        assert all(naming.typesets(c) for c in tex)  # no raw Greek: their commands
        # an underscore is escaped or opens a subscript's group, and never two subscripts in a row
        assert not re.search(r"(?<!\\)_(?!\{)", tex.replace(r"\_", "")), name
        assert not re.search(r"_\{[^{}]*\}_", tex), name


def test_greek_letters_print_as_their_commands_with_the_index_the_library_gives_every_name():
    assert [naming.latex_name(n) for n in ("θ", "Ω", "θ2", "π2", "δ_3", "α_1")] == [
        r"\theta", r"\Omega", r"\theta_{2}", r"\pi_{2}", r"\delta_{3}", r"\alpha_{1}"]
    assert naming.latex_name("θ2") == naming.latex_name("theta2")  # as SymPy writes Greek letters spelled out


def test_a_greek_name_as_it_renders_is_read_back():
    from symbackprop.parse import parse_expr
    d = sb.backprop(parse_expr("θ2*sigmoid(y)"))
    assert d.symbol("θ₂") == sp.Symbol("θ2")  # \theta_{2} renders as θ₂


@needs_pdflatex
@pytest.mark.parametrize("name", ["_x", "a___b", "θ2", "δ_3", "Ω", "xθ", "éa"])
def test_every_identifier_compiles(name, tmp_path):
    for i, tex in enumerate(_documents(name)[::2]):
        assert pdflatex(tex, tmp_path / f"{i}.pdf").stat().st_size > 0


@pytest.mark.parametrize("title", [None, "Réseau θ"])
def test_a_character_pdflatex_cannot_typeset_is_refused_in_one_line_before_pdflatex_runs(monkeypatch, tmp_path, title):
    from symbackprop.parse import parse_expr
    d = sb.backprop(parse_expr("中*sigmoid(y_中)"))
    tex = document_latex(d, title=title)
    assert "中" in tex  # the .tex keeps it, for xelatex
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("pdflatex ran"))
    with pytest.raises(InputError) as caught:
        pdflatex(tex, tmp_path / "d.pdf")
    message = str(caught.value)
    assert "\n" not in message and "中" in message and "U+4E2D" in message and "xelatex" in message
    assert not (tmp_path / "d.pdf").exists()


@needs_pdflatex
@pytest.mark.parametrize("form", ["scalar", "matrix"])
def test_a_title_with_greek_letters_and_latex_specials_compiles(form, tmp_path):
    tex = document_latex(sb.backprop(sb.mlp([1, 2, 1], form=form)), title="Réseau θ_1 & Ω 50%")
    assert r"$\theta$" in tex and r"$\Omega$" in tex
    assert pdflatex(tex, tmp_path / "d.pdf").stat().st_size > 0


# ------------------------------------------------------------------------------------------
# Derivations with matrix steps.

n, m, k = sp.symbols("n m k", integer=True, positive=True)
X, W, Y = sp.MatrixSymbol("X", n, m), sp.MatrixSymbol("W", m, k), sp.MatrixSymbol("Y", n, k)
S, Xs = sp.MatrixSymbol("S", n, n), sp.MatrixSymbol("X", n, n)
x, mu, w = sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("mu", n, 1), sp.MatrixSymbol("w", m, 1)
MATRIX_CASES = {
    "least squares": (sp.trace((X * W - Y).T * (X * W - Y)), [W]),
    "Gaussian NLL": (sp.log(sp.det(S)) / 2 + sp.Trace((x - mu).T * S.I * (x - mu)) / 2, [S, mu]),
    "sum of σ(Xw)": (sp.Trace(sp.OneMatrix(1, n) * (X * w).applyfunc(sb.sigmoid)), [w]),
}


def test_a_matrix_gradient_in_latex_gives_the_delta_form_then_the_textbook_form():
    d = sb.backprop(*MATRIX_CASES["least squares"])
    formula = gradient_latex(d, "W")
    assert formula.startswith(r"\frac{\partial f}{\partial W} = ")
    assert formula.endswith(r" = 2 X^{T} \left(X W - Y\right)")
    assert r"\cdot" not in formula  # no chain of partials
    assert gradient_latex(sb.backprop(sp.log(sp.det(Xs)), wrt=[Xs]), Xs).endswith(" = X^{-T}")  # Cookbook (57)


@pytest.mark.parametrize("name", list(MATRIX_CASES))
def test_a_matrix_derivation_shows_in_a_notebook(name):
    d = sb.backprop(*MATRIX_CASES[name])
    shown = d._repr_latex_()
    assert shown == summary_latex(d) and shown.startswith(r"$$\begin{aligned}")
    assert shown.count(r"\frac{\partial f}") == len(d.wrt)
    assert shown.count("&=") == len(d.deltas) + len(d.wrt)


@needs_pdflatex
@pytest.mark.parametrize("name", list(MATRIX_CASES))
def test_the_document_of_a_matrix_derivation_compiles(name, tmp_path):
    d = sb.backprop(*MATRIX_CASES[name])
    tex = document_latex(d)
    for section in ("Forward pass", "Backward pass", "Gradients", "Gradient-descent update"):
        assert section in tex
    for p in d.wrt:  # each gradient with the shape of its variable
        assert r"%s \times %s" % tuple(sp.latex(size) for size in p.shape) in tex
    pdf = pdflatex(tex, tmp_path / "derivation.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
