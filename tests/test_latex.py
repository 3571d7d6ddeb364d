"""LaTeX: exact strings for a few formulas, and documents that pdflatex compiles."""


import pytest
import sympy as sp
from corpus import EXPRESSIONS, network
from oracles import needs_pdflatex

import symbackprop as sb
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
