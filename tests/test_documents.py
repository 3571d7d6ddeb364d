"""Documents of every size stay bounded: no math line wider than the page, a size that grows with
the network and not with its closed forms, chain rules and closed forms only where short, and every
gradient listed. The corpus holds the textbook networks and the large ones that used to break."""

import re
import subprocess
import zlib

import pytest
import sympy as sp
from corpus import EXPRESSIONS, NETWORKS, network
from oracles import needs_pdflatex

import symbackprop as sb
from symbackprop.graph import picture
from symbackprop.latex import (
    DOCUMENT_LINE,
    BackpropLatexPrinter,
    broken_rows,
    document_latex,
    gradient_latex,
    pdflatex,
    side_by_side,
    summary_latex,
    width_of,
)
from symbackprop.simplify import tree_size
from symbackprop.text import CHAIN_PATHS, CHAINS_PER_LAYER, CLOSED_FORM_NODES, chain_parameters, derivation_text

LARGE = {
    "4-8-8-3 sigmoid/softmax cross_entropy": dict(layers=[4, 8, 8, 3], activation=["sigmoid", "sigmoid", "softmax"],
                                                 loss="cross_entropy"),
    "1-5x7-1 sigmoid": dict(layers=[1, 5, 5, 5, 5, 5, 5, 5, 1]),
    "6-12-2 tanh/softmax cross_entropy": dict(layers=[6, 12, 2], activation=["tanh", "softmax"], loss="cross_entropy"),
}
CORPUS = {**NETWORKS, **LARGE}
MATH_LINE = DOCUMENT_LINE + 25  # printed characters: a row of at most DOCUMENT_LINE, its left-hand side and alignment
SOURCE_LINE = 1000  # characters of LaTeX source on one line, whatever they print as
INLINE_MATH = 60  # one symbol or short formula in running text
ROWS_PER_PAGE = 40


def build(name):
    return sb.mlp(**CORPUS[name])


def math_lines(tex: str) -> list[str]:
    """Every line of display math (align rows and \\[ … \\]) and every inline formula."""
    lines, display = [], False
    for line in tex.splitlines():
        if line.startswith(r"\begin{align"):
            display = True
        elif line.startswith(r"\end{align"):
            display = False
        elif display or line.startswith(r"\["):
            lines.append(line)
        else:
            lines += re.findall(r"\$([^$]*)\$", line)
    return lines


def rows(tex: str) -> int:
    """Display rows, with the space around each display counted as a row."""
    return tex.count("\\\\") + 2 * tex.count(r"\begin{align")


def assert_bounded(tex: str, pages: int):
    for line in math_lines(tex):
        display = "&" in line or line.startswith(r"\[")
        assert width_of(line) <= MATH_LINE if display else len(line) <= INLINE_MATH, line[:200]
    assert max(map(len, tex.splitlines())) <= SOURCE_LINE
    assert rows(tex) <= pages * ROWS_PER_PAGE
    assert len(tex) <= pages * 6000


@pytest.mark.parametrize("name", list(CORPUS))
def test_the_document_of_every_network_is_bounded_and_lists_every_gradient(name):
    d = sb.backprop(build(name))
    tex = document_latex(d)
    pages = 3 + len(d.wrt) // 15  # a few pages, and about a page more for every 15 parameters
    assert_bounded(tex, pages)
    lhs = set(re.findall(r"\\frac\{\\partial J\}\{\\partial ([a-z]_\{\d+\})\} (?:& ?=|&\\leftarrow)", tex))
    printer = BackpropLatexPrinter()
    assert {printer.doprint(p) for p in d.wrt} <= lhs | set(re.findall(r"([a-z]_\{\d+\}) &\\leftarrow", tex))
    assert tex.count(r"\leftarrow") == len(d.wrt)


@pytest.mark.parametrize("name", list(LARGE))
def test_the_walkthrough_of_a_large_network_is_a_few_pages_with_every_gradient_and_update(name):
    net = build(name)
    d = sb.backprop(net)
    values = {v.name: 0.1 + 0.01 * (i % 7) for i, v in enumerate(net.variables)}
    if net.fused:  # softmax + cross-entropy takes a probability vector of targets
        values |= {y.name: 1 / len(net.targets) for y in net.targets}
    w = sb.walkthrough(d, values)
    assert len(w.gradients) == len(w.updates) == len(d.wrt)
    tex = sb.walkthrough_latex(w)
    assert_bounded(tex, pages=3 + len(d.wrt) // 15)
    assert tex.count(r"&\leftarrow") == len(d.wrt)
    markdown = sb.walkthrough_markdown(w)
    assert markdown.count("$$" + r"\leftarrow") == 0 and markdown.count(r"\leftarrow") == len(d.wrt) + 1


def test_closed_forms_are_left_out_where_long_and_kept_where_short():
    d = sb.backprop(build("4-8-8-3 sigmoid/softmax cross_entropy"))
    tex = document_latex(d)
    long_ones = [p for p in d.wrt if tree_size(d[p]) > CLOSED_FORM_NODES]
    assert long_ones and f"The closed forms of {len(long_ones)} gradients are left out" in tex
    small = sb.backprop(network("2-1 sigmoid half_sse"))
    assert r"\sigma\left(w_{1} x_{1} + w_{2} x_{2} + b_{1}\right)" in document_latex(small)


def test_a_deep_network_gives_every_gradient_without_its_15625_chain_rule_paths():
    d = sb.backprop(build("1-5x7-1 sigmoid"))
    w1 = sp.Symbol("w1")
    formula = gradient_latex(d, w1)
    assert formula.startswith(r"\frac{\partial J}{\partial w_{1}} = \delta_{1} x_{1}")
    assert "chain" not in formula and len(formula) < 400


def test_long_sums_are_broken_into_rows_that_add_up_to_the_sum():
    terms = sp.symbols("a1:41")
    expr = sum((-1) ** i * (i + 1) * t for i, t in enumerate(terms))
    rows_ = broken_rows(BackpropLatexPrinter(), expr, width=50)
    assert len(rows_) > 1 and all(width_of(term) <= 50 for _, term in rows_)
    text = " ".join(f"{'' if op == '=' else op} {term}" for op, term in rows_)
    rebuilt = sp.sympify(re.sub(r"_\{(\d+)\}", r"\1", text).replace(r"\cdot", "*").replace(" ", "").replace("a", "*a").lstrip("*")
                         .replace("+*", "+").replace("-*", "-"))
    assert sp.expand(rebuilt - expr) == 0


def test_a_term_wider_than_a_row_is_not_broken():
    x = sp.Symbol("x")
    assert broken_rows(BackpropLatexPrinter(), sp.sin(x) * sum(sp.symbols("b1:30")), width=40) is None


def test_the_printed_width_counts_what_is_printed():
    assert width_of("a + b") == 5
    assert width_of(r"\frac{\partial J}{\partial w_{12}}") == width_of(r"\partial w_{12}") == len("∂ w12")
    assert width_of(r"\left(\hat{y}_{1} - y_{1}\right)") == len("(y1 - y1)")
    assert width_of(r"\sigma\left(b_{1} + w_{1} x_{1}\right)") == len("σ(b1 + w1 x1)")


def test_short_rows_stand_side_by_side_and_long_ones_alone():
    short, long_ = ("a", "1"), ("b" * 150, "2")
    assert [len(line) for line in side_by_side([short] * 5)] == [2, 2, 1]
    assert [len(line) for line in side_by_side([short, long_, short])] == [1, 1, 1]


@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_documents_of_expressions_are_bounded(name):
    assert_bounded(document_latex(sb.backprop(EXPRESSIONS[name])), pages=3)


def test_a_matrix_derivation_shows_its_deltas_and_gradients_in_a_notebook():
    d = sb.backprop(sb.mlp([2, 3, 2], form="matrix", activation=["sigmoid", "softmax"], loss="cross_entropy"))
    shown = d._repr_latex_()
    assert shown == summary_latex(d) and shown.startswith("$$") and r"\odot" in shown
    assert shown.count(r"\frac{\partial J}") == len(d.wrt)
    assert len(repr(d)) < 200 and "W_1" in repr(d)


@needs_pdflatex
@pytest.mark.parametrize("name", ["4-8-8-3 sigmoid/softmax cross_entropy", "1-5x7-1 sigmoid"])
def test_large_documents_compile_to_a_few_pages(name, tmp_path):
    net = build(name)
    d = sb.backprop(net)
    pdf = pdflatex(document_latex(d), tmp_path / "d.pdf").read_bytes()
    assert 1 <= page_count(pdf) <= 3 + len(d.wrt) // 15
    values = {v.name: 0.2 for v in net.variables}
    if net.fused:  # softmax + cross-entropy takes a probability vector of targets
        values |= {y.name: 1 / len(net.targets) for y in net.targets}
    w = sb.walkthrough(d, values)
    pdf = sb.walkthrough_pdf(w, tmp_path / "w.pdf").read_bytes()
    assert 1 <= page_count(pdf) <= 3 + len(d.wrt) // 15


def page_count(pdf: bytes) -> int:
    """The pages of a PDF, read from its page objects, also where they sit in compressed streams."""
    objects = [pdf]
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.DOTALL):
        try:
            objects.append(zlib.decompress(stream))
        except zlib.error:
            pass  # not a compressed stream of objects (an image, a font)
    return sum(len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", part)) for part in objects)


@needs_pdflatex
@pytest.mark.parametrize("exact", [False, True])
def test_worked_examples_of_large_networks_fit_the_page(exact, tmp_path):
    net = build("4-8-8-3 sigmoid/softmax cross_entropy")
    values = {v.name: 0.2 for v in net.variables} | {"y1": 0.5, "y2": 0.25, "y3": 0.25}
    (tmp_path / "w.tex").write_text(sb.walkthrough_latex(sb.walkthrough(sb.backprop(net), values, exact=exact)), encoding="utf-8")
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "w.tex"], cwd=tmp_path, capture_output=True, check=True)
    overfull = [float(width) for width in re.findall(r"Overfull \\hbox \(([\d.]+)pt", (tmp_path / "w.log").read_text(errors="replace"))]
    assert max(overfull, default=0.0) < 1.0


@pytest.mark.parametrize("name", ["1-5x7-1 sigmoid", "4-8-8-3 sigmoid/softmax cross_entropy"])
def test_a_bounded_tree_size_is_exact_up_to_its_limit_and_one_past_it_beyond(name):
    d = sb.backprop(build(name))
    for p in d.wrt[::5]:
        full = tree_size(d[p])  # the count over the whole DAG
        near = (full - 1, full, full + 1) if full < 5000 else ()  # walking past a huge tree takes its size
        for limit in (1, 10, CLOSED_FORM_NODES, *near):
            if limit >= 1:
                assert tree_size(d[p], limit=limit) == min(full, limit + 1)


def test_a_document_writes_the_same_closed_forms_and_chains_as_counting_everything_chooses():
    d = sb.backprop(build("1-5x7-1 sigmoid"))
    tex = document_latex(d)
    long = [p for p in d.wrt if tree_size(d[p]) > CLOSED_FORM_NODES]
    assert long and f"The closed forms of {len(long)} gradients are left out" in tex
    for p in chain_parameters(d, CHAIN_PATHS, CHAINS_PER_LAYER):
        assert len(d.chain(p).paths) <= CHAIN_PATHS


# ------------------------------------------------------------------------------------------
# Every output accepts a derivation with matrix steps.

n = sp.Symbol("n", integer=True, positive=True)
A, Xn = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("X", n, n)
a, b, x = (sp.MatrixSymbol(name, n, 1) for name in ("a", "b", "x"))
MATRIX_EXPRESSIONS = {
    "aᵀ X⁻¹ b": (a.T * Xn.I * b, Xn),
    "tr(X)·tr(A X)": (sp.Trace(Xn) * sp.Trace(A * Xn), Xn),
    "det(X)²": (sp.det(Xn) ** 2, Xn),
    "log(xᵀ A x)": (sp.log(sp.Trace(x.T * A * x)), x),
    "𝟏ᵀ σ(A x)": (sp.OneMatrix(1, n) * (A * x).applyfunc(sb.sigmoid), x),
    "tr(A X^∘3)": (sp.Trace(A * sp.HadamardPower(Xn, 3)), Xn),
}


@pytest.mark.parametrize("name", list(MATRIX_EXPRESSIONS))
def test_every_output_takes_a_matrix_derivation(name):
    J, p = MATRIX_EXPRESSIONS[name]
    d = sb.backprop(J, wrt=[p])
    text = derivation_text(d)
    assert f"∂f/∂{p.name} = " in text and "n×n" in text
    tex = document_latex(d)
    assert_bounded(tex, pages=3)
    assert r"\frac{\partial f}{\partial %s}" % p.name in tex and r"n \times" in tex
    assert summary_latex(d).count("&=") == len(d.deltas) + 1
    assert gradient_latex(d, p).startswith(r"\frac{\partial f}{\partial %s} = " % p.name)
    assert f'"{p.name}" [label="{p.name}\\n{p.shape[0]}×{p.shape[1]}\\n∂f/∂{p.name} = ' in picture(d).dot
