"""One notation everywhere: the output reads ŷ and a neuron's delta δ_i in every output, sums and
products come in textbook order, every printed name is read back, and ASCII covers every symbol."""

import re

import numpy as np
import pytest
import sympy as sp
from corpus import EXPRESSIONS, NETWORKS, network

import symbackprop as sb
from symbackprop import naming
from symbackprop.errors import InputError
from symbackprop.latex import document_latex, gradient_latex
from symbackprop.text import derivation_text, plain, printer_for

TWO_OUTPUTS = sb.mlp([2, 2, 2])  # outputs a3, a4
ONE_OUTPUT = sb.mlp([4, 2, 1])  # output a3; z3 = w9 a1 + w10 a2 + b3


def in_sympy(printed: str) -> str:
    """Printed text as SymPy's parser reads it: δ_3 as delta_3, the indicator 1[u > 0] as Heaviside(u, 0)."""
    return re.sub(r"1\[([^\[\]]+?) > 0\]", r"Heaviside(\1, 0)", printed).replace("δ_", "delta_")


def delta_of(step: str) -> sp.Symbol:
    return naming.delta(sp.Symbol(step))


# ----------------------------------------------------------------------------- the rules

def test_a_neurons_delta_is_numbered_like_its_neuron_and_maps_back_to_its_step():
    for i in (1, 3, 12):
        z = naming.pre_activation(i)
        d = naming.delta(z)
        assert d.name == f"delta_{i}" and naming.delta_step(d) == z
        assert naming.display(d) == f"δ_{i}"
    v3 = sp.Symbol("v3")
    assert naming.delta_step(naming.delta(v3)) == v3
    assert naming.is_delta(naming.delta(v3)) and not naming.is_delta(v3)


def test_each_quantity_has_one_spelling_per_medium():
    text, ascii_, latex, code = (f(TWO_OUTPUTS) for f in (naming.text_names, naming.ascii_names, naming.latex_names,
                                                           naming.code_names))
    a3, a4 = sp.symbols("a3 a4")
    assert (text[a3], text[a4]) == ("ŷ1", "ŷ2")
    assert (ascii_[a3], latex[a3], code[a3]) == ("yhat1", r"\hat{y}_{1}", "yhat1")
    d3 = delta_of("z3")
    assert (text[d3], ascii_[d3], latex[d3], code[d3]) == ("δ_3", "delta_3", r"\delta_{3}", "delta_3")
    da4 = delta_of("a4")  # a delta of another step is named after the step as shown
    assert (text[da4], ascii_[da4], latex[da4], code[da4]) == ("δ_ŷ2", "delta_yhat2", r"\delta_{\hat{y}_{2}}", "delta_yhat2")
    single = naming.text_names(sb.mlp([1, 1]))
    assert single[sp.Symbol("a1")] == "ŷ" and naming.code_names(sb.mlp([1, 1]))[sp.Symbol("a1")] == "yhat"
    expression = sb.Graph.from_expr(sp.sin(sp.Symbol("x")) * sp.Symbol("y"))
    names = naming.text_names(expression)
    assert all(names[s.symbol] == s.symbol.name for s in expression.steps)  # no ŷ outside networks
    assert names[naming.delta(expression.steps[0].symbol)] == "δ_" + expression.steps[0].symbol.name


def test_every_output_of_a_network_shows_yhat_and_never_its_activation_name():
    d = sb.backprop(TWO_OUTPUTS)
    outputs = [s.name for s in TWO_OUTPUTS.outputs]  # a3, a4
    text = derivation_text(d)
    latex = document_latex(d)
    dot = sb.picture(d, {s.name: 0.5 for s in TWO_OUTPUTS.variables}).dot
    code = sb.numpy_module(d)
    comments = "\n".join(line for line in code.splitlines() if line.strip().startswith("#"))
    for shown in (text, dot, comments):
        assert "ŷ1" in shown and "ŷ2" in shown
        for name in outputs:
            assert not re.search(rf"\b{name}\b", shown), (name, shown[:300])
    assert r"\hat{y}_{1}" in latex and not re.search(r"\ba_\{3\}", latex)
    assert re.search(r"\byhat1 = ", code) and not re.search(r"\ba_3\b", code)
    assert "delta_z" not in code and "δ_z" not in text + comments


def test_sums_list_weights_in_index_order_then_the_bias():
    text = derivation_text(sb.backprop(ONE_OUTPUT))
    assert "  z1 = w1*x1 + w2*x2 + w3*x3 + w4*x4 + b1\n" in text
    assert "  z3 = w9*a1 + w10*a2 + b3\n" in text
    latex = gradient_latex(sb.backprop(ONE_OUTPUT), "w9")
    assert r"w_{9} \sigma\left(w_{1} x_{1} + w_{2} x_{2} + w_{3} x_{3} + w_{4} x_{4} + b_{1}\right) + w_{10}" in latex
    wide = sb.mlp([12, 1], activation="identity", bias="per_neuron")
    line = plain(wide.steps[0].expr)
    assert line == " + ".join(f"w{i}*x{i}" for i in range(1, 13)) + " + b1"
    shared = sb.backprop(sb.mlp([2, 5, 5, 1], bias="per_layer"))  # b2 feeds neurons 6 … 10
    show = printer_for(shared).doprint
    assert show(shared.gradient("b2")) == " + ".join(show(delta_of(f"z{i}")) for i in range(6, 11))
    w1, w9, w10, x1 = sp.symbols("w1 w9 w10 x1")
    assert plain(w10 * x1 + w9 * sb.sigmoid(w1 * x1)) == "w9*sigmoid(w1*x1) + w10*x1"  # w9's term, not w1's


def test_products_put_deltas_then_weights_then_the_local_derivative_whole():
    d = sb.backprop(ONE_OUTPUT)
    show = printer_for(d).doprint
    d3 = show(delta_of("z3"))
    assert show(d.delta("z2")) == f"{d3}*w10*a2*(1 - a2)"
    assert show(d.gradient("w10")) == f"{d3}*a2"
    latex = sb.latex.printer_for(d).doprint(d.delta("z2"))
    assert latex == r"\delta_{3} w_{10} a_{2} \left(1 - a_{2}\right)"
    a4, w10 = sp.symbols("a4 w10")
    upstream_first = plain(a4 * delta_of("z4") * delta_of("z5") * w10 * (1 - a4) * 3)
    assert upstream_first == "3*δ_5*δ_4*w10*a4*(1 - a4)"
    assert plain(-a4 * delta_of("z5") * w10) == "-δ_5*w10*a4"


def test_products_put_the_upstream_part_then_the_loss_derivative_then_the_local_derivative_whole():
    d = sb.backprop(sb.mlp([2, 2, 2, 1]))
    show = printer_for(d).doprint
    yhat, y1, a2, w6, w8 = sp.symbols("a5 y1 a2 w6 w8")
    assert show(d.delta("z5")) == f"({show(yhat - y1)})*{show(yhat * (1 - yhat))}"
    upstream = delta_of("z3") * w6 + delta_of("z4") * w8
    assert show(d.delta("z2")) == f"({show(upstream)})*{show(a2 * (1 - a2))}"
    latex = sb.latex.printer_for(d).doprint(d.delta("z5"))
    assert latex == r"\left(\hat{y} - y_{1}\right) \hat{y} \left(1 - \hat{y}\right)"
    comments = sb.numpy_module(d)
    assert f"# {show(delta_of('z2'))} = ({show(upstream)})*{show(a2 * (1 - a2))}" in comments


def test_generated_comments_name_the_output_of_the_graph():
    x, y = sp.symbols("x y")
    for target in (x * sp.sin(y) + x**y, sb.mlp([2, 2, 1])):
        d = sb.backprop(target)
        show = printer_for(d).doprint
        code = sb.numpy_module(d)
        comments = [line.strip() for line in code.splitlines() if line.strip().startswith("# ") and "∂" in line]
        output = show(d.graph.output)
        assert comments and all(f"∂{output}/∂" in line for line in comments)


def _top_level_factors(text: str) -> list[str]:
    """The factors of a printed product: split at each ``*`` outside parentheses (not ``**``)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        depth += c == "("
        depth -= c == ")"
        if text.startswith("**", i):
            i += 2
            continue
        if c == "*" and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    return parts + [text[start:]]


@pytest.mark.parametrize("name", NETWORKS)
def test_every_product_of_a_network_comes_in_textbook_order_with_its_value_unchanged(name):
    graph = network(name)
    d = sb.backprop(graph)
    targets, params = set(graph.targets), set(graph.params)

    def rank(factor) -> int:  # the rule, written independently of the library's sort key
        symbols = factor.free_symbols
        if any(naming.is_delta(s) for s in symbols):
            return 0
        if symbols & targets:
            return 1
        return 2 if factor in params else 3

    formulas = list(d.deltas) + [(p, d.gradient(p)) for p in d.wrt]
    for symbol, formula in formulas:
        printed = plain(formula)
        names = {naming.display(s): s for s in formula.free_symbols}
        functions = {f: getattr(sb, f) for f in ("sigmoid", "relu", "leaky_relu", "softplus", "softmax")}
        reread = sp.parse_expr(in_sympy(printed), local_dict={n.replace("δ_", "delta_"): s for n, s in names.items()} | functions)
        assert sp.simplify(reread - formula) == 0, (symbol, printed)  # the value is unchanged
        if not formula.is_Mul or not formula.as_coeff_Mul()[0].is_Integer or any(
                f.is_Pow and f.exp.could_extract_minus_sign() for f in formula.args):
            continue  # fractions and decimals are left to SymPy's printer
        factors = [sp.parse_expr(in_sympy(f), local_dict={n.replace("δ_", "delta_"): s for n, s in names.items()} | functions)
                   for f in _top_level_factors(printed.lstrip("-"))]
        ranks = [rank(f) for f in factors if not f.is_Number]
        assert ranks == sorted(ranks), (symbol, printed)


def test_a_sum_is_still_led_by_a_positive_term():
    y1, a3 = sp.symbols("y1 a3")
    assert plain(a3 - y1) == "a3 - y1" and plain(y1 - a3) == "y1 - a3"
    assert plain(-a3 + y1) == "y1 - a3"


@pytest.mark.parametrize("expr", EXPRESSIONS.values(), ids=EXPRESSIONS.keys())
def test_the_printers_keep_non_network_expressions_equal_to_themselves(expr):
    d = sb.backprop(expr, wrt=sorted(expr.free_symbols, key=sp.default_sort_key))
    names = {s.name: s for s in expr.free_symbols}
    for p in d.wrt:
        for formula in (d.gradient(p), d[p]):
            printed = plain(d.closed(formula))
            assert sp.simplify(sp.sympify(in_sympy(printed), locals={**names, "sigmoid": sb.sigmoid, "relu": sb.relu,
                                                          "leaky_relu": sb.leaky_relu, "softplus": sb.softplus,
                                                          "softmax": sb.softmax}) - d.closed(formula)) == 0


def test_textbook_order_changes_no_value_in_any_network():
    for name in NETWORKS:
        graph = network(name)
        for step in graph.steps:
            text = plain(step.expr)
            reread = sp.sympify(in_sympy(text), locals={s.name: s for s in step.expr.free_symbols} | {
                f: getattr(sb, f) for f in ("sigmoid", "relu", "leaky_relu", "softplus", "softmax", "tanh")} | {
                "binary_cross_entropy": sb.binary_cross_entropy, "cross_entropy": sb.cross_entropy})
            assert sp.simplify(reread - step.expr) == 0, (name, text)


# ----------------------------------------------------------------------------- names read back

def test_every_printed_name_of_a_network_is_accepted_back():
    deltas = [naming.delta(s.symbol) for s in TWO_OUTPUTS.steps[:-1]]
    names = naming.accepted_names(TWO_OUTPUTS, deltas)
    for printed in (naming.text_names(TWO_OUTPUTS), naming.ascii_names(TWO_OUTPUTS), naming.code_names(TWO_OUTPUTS)):
        for symbol in [*TWO_OUTPUTS.variables, *(s.symbol for s in TWO_OUTPUTS.steps[:-1]), *deltas]:
            assert names[printed[symbol]] == symbol, printed[symbol]
    a3 = sp.Symbol("a3")
    assert all(names[n] == a3 for n in ("ŷ1", "yhat1", "y_hat1", "ŷ_1", "yhat_1", "a3"))
    d3 = delta_of("z3")
    assert all(names[n] == d3 for n in ("δ3", "δ_3", "delta_3", "delta_z3", "δ_z3"))
    assert names["δ_ŷ1"] == names["delta_yhat1"] == names["delta_a3"] == delta_of("a3")
    assert "y" not in names and "ŷ" not in names  # two targets, two outputs: ambiguous, refused


def test_derivation_lookups_take_names_and_refuse_unknown_ones_in_one_line():
    d = sb.backprop(sb.mlp([2, 2, 1]))
    w1 = sp.Symbol("w1")
    assert d["w1"] == d[w1] and d.gradient("w1") == d.gradient(w1)
    assert d.chain("w1") == d.chain(w1)
    assert d.delta("z1") == d.delta(sp.Symbol("z1")) == d.delta("δ_1") == d.delta("delta_z1")
    assert d.delta("ŷ") == d.delta(sp.Symbol("a3")) == d.delta("yhat")
    assert gradient_latex(d, "w1") == gradient_latex(d, w1)
    for call, name in [(d.gradient, "w99"), (d.__getitem__, "q"), (d.delta, "zz"), (d.chain, "w0")]:
        with pytest.raises(InputError, match=f"unknown name '{name}'; known names: x1, x2") as error:
            call(name)
        assert "\n" not in str(error.value)
    with pytest.raises(InputError, match="z1 is not among the variables"):
        d.gradient("z1")
    big = sb.backprop(sb.mlp([30, 20, 1]), wrt=[sp.Symbol("w1")])
    with pytest.raises(InputError) as error:
        big.gradient("nope")
    assert len(str(error.value)) < 200 and "in all" in str(error.value)


# ----------------------------------------------------------------------------- ASCII

def _outputs_of(graph_or_expr) -> list[str]:
    if isinstance(graph_or_expr, sb.Graph):
        d = sb.backprop(graph_or_expr)
    else:
        d = sb.backprop(graph_or_expr, wrt=sorted(graph_or_expr.free_symbols, key=sp.default_sort_key))
    values = {s.name: 0.7 for s in d.graph.variables}
    if d.graph.fused:  # softmax + cross-entropy takes a probability vector of targets
        values |= {y.name: 1 / len(d.graph.targets) for y in d.graph.targets}
    texts = [derivation_text(d, show_chain=list(d.wrt[:2])), sb.numpy_module(d)]
    if not d.graph.fused:  # a fused softmax + cross-entropy is not drawn yet
        texts.append(sb.picture(d, values).dot)
    if isinstance(graph_or_expr, sb.Graph):
        verdict = sb.verify("0", d, wrt=d.wrt[0])
        texts += [str(verdict), sb.walkthrough_markdown(sb.walkthrough(d, values, learning_rate=0.1))]
        if len(d.chain(d.wrt[0]).paths) == 1:
            texts.append(str(sb.verify(["1"] * len(d.chain(d.wrt[0]).paths[0].factors), d, wrt=d.wrt[0])))
    return texts


CORPUS = [network(name) for name in NETWORKS] + list(EXPRESSIONS.values())


@pytest.mark.parametrize("target", CORPUS, ids=list(NETWORKS) + list(EXPRESSIONS))
def test_ascii_text_spells_every_printed_symbol_in_ascii(target):
    for text in _outputs_of(target):
        unusual = {c for c in text if not c.isascii()}
        assert unusual <= naming.ASCII.keys(), sorted(unusual - naming.ASCII.keys())  # each has its own spelling
        assert naming.ascii_text(text).isascii()


def test_ascii_text_of_the_matrix_form_and_the_gradient_check():
    d = sb.backprop(sb.mlp([2, 3, 2], activation=["relu", "softmax"], loss="cross_entropy", form="matrix"))
    module = sb.numpy_module(d)
    report = str(sb.gradcheck(sb.compile(sb.backprop(sb.mlp([2, 2, 1]))), seed=0))
    for text in (module, report, document_latex(d)):
        assert {c for c in text if not c.isascii()} <= naming.ASCII.keys()
        assert naming.ascii_text(text).isascii()


def test_ascii_text_keeps_the_notation():
    d = sb.backprop(sb.mlp([1, 1, 1], loss="bce"))
    ascii_lines = naming.ascii_text(derivation_text(d)).splitlines()
    shown = naming.ascii_names(d.graph)
    assert f"  {shown[delta_of('z2')]} = {shown[sp.Symbol('a2')]} - y1" in ascii_lines
    assert "  dJ/dw1 = delta_1*x1" in ascii_lines
    assert naming.ascii_text("plain") == "plain"
    assert naming.ascii_text("ζ") == "?"  # no closest letters: still ASCII


# ----------------------------------------------------------------------------- rich display

def test_chain_shows_itself_in_latex_with_the_library_names():
    d = sb.backprop(sb.mlp([1, 1, 1], loss="bce"))
    shown = d.chain("w2")._repr_latex_()
    assert shown.startswith("$$") and shown.endswith("$$")
    assert r"\frac{\partial J}{\partial \hat{y}}" in shown and r"\frac{\partial z_{2}}{\partial w_{2}}" in shown


def test_verdicts_show_themselves_in_markdown():
    net = sb.mlp([1, 1, 1], loss="bce")
    right = sb.verify("(ŷ - y)*a1", net, wrt="w2")
    assert right._repr_markdown_().startswith("**right**") and r"\hat{y}" in right._repr_markdown_()
    wrong = sb.verify("(y - ŷ)*a1", net, wrt="w2")
    markdown = wrong._repr_markdown_()
    assert markdown.startswith("**wrong**") and "should be" in markdown and "claimed" in markdown
    chain = sb.verify(["y/ŷ + (1 - y)/(1 - ŷ)", "z2*(1 - z2)", "a1"], net, wrt="w2")._repr_markdown_()
    assert "2 factor(s) wrong" in chain and chain.count("**wrong**") == 2 and chain.count("**right**") == 1
    assert str(wrong).startswith("wrong: claimed")  # the text form stays


def test_numbers_printed_in_a_verdict_are_the_values_at_the_point():
    verdict = sb.verify("(y - ŷ)*a1", sb.mlp([1, 1, 1], loss="bce"), wrt="w2")
    assert np.isfinite(verdict.claimed_value) and verdict.claimed_value == pytest.approx(-verdict.correct_value)


def test_every_variable_and_delta_is_read_back_in_every_spelling():
    net = sb.mlp([2, 2, 2])
    names = naming.accepted_names(net, [naming.delta(s.symbol) for s in net.steps[:-1]])
    for symbol in [*net.variables, *(s.symbol for s in net.steps[:-1])]:
        stem, index = naming._split_index(symbol.name)
        assert names[f"{stem}_{index}"] == symbol  # as LaTeX subscripts it: w_5, x_1, b_1, y_1
        latex = naming.latex_names(net)[symbol]
        if symbol not in net.outputs:
            assert names[latex.replace("{", "").replace("}", "")] == symbol
    z3 = naming.pre_activation(3)
    for spelled in ("δ3", "δ_3", "delta_3", "delta3", "delta_z3"):
        assert names[spelled] == naming.delta(z3)


def test_a_symbol_named_after_a_greek_letter_is_also_the_letter():
    """LaTeX typesets ``lambda`` as λ and ``sigma2`` as σ₂: both spellings are read back."""
    n = sp.Symbol("n")
    W, lam, s2 = sp.MatrixSymbol("W", n, n), sp.Symbol("lambda"), sp.Symbol("sigma2")
    d = sb.backprop(lam * sp.Trace(W.T * W) + s2 * lam)
    assert (d.symbol("λ"), d.symbol("lambda"), d.symbol("σ2"), d.symbol("σ₂")) == (lam, lam, s2, s2)
    assert "\\lambda" in sb.gradient_latex(d, "λ")
