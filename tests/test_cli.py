"""The command line: every subcommand, exit codes, one-line errors, files never clobbered."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import sympy as sp
from oracles import needs_graphviz

import symbackprop as sb
from symbackprop import cli, naming
from symbackprop.errors import InputError
from symbackprop.parse import parse_expr
from symbackprop.text import TextPrinter, derivation_text

MAZUR = {"x1": 0.05, "x2": 0.10, "y1": 0.01, "y2": 0.99, "w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30,
         "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55, "b1": 0.35, "b2": 0.60}
NET = ["--layers", "2,2,2", "--bias", "per_layer"]


@pytest.fixture
def run(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def invoke(*argv):
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err
    return invoke


def test_derive_text_latex_and_expressions(run):
    code, out, _ = run("derive", *NET, "--param", "w5")
    yhat1 = naming.text_names(sb.mlp([2, 2, 2], bias="per_layer"))[sp.Symbol("a3")]
    assert code == 0 and out.splitlines()[0] == f"∂J/∂w5 = ∂J/∂{yhat1} · ∂{yhat1}/∂z3 · ∂z3/∂w5"
    code, out, _ = run("derive", *NET, "--param", "w5", "--format", "latex")
    assert out.startswith(r"\frac{\partial J}{\partial w_{5}} = ")
    code, out, _ = run("derive", *NET, "--format", "latex")
    assert out.startswith(r"\documentclass") and out.rstrip().endswith(r"\end{document}")
    code, out, _ = run("derive", "--expr", "x*sigmoid(y)", "--wrt", "y")
    assert code == 0 and "∂f/∂y = ∂f/∂v1 · ∂v1/∂y" in out and "Chain rule for x" not in out
    code, out, _ = run("derive", "--layers", "2,2,1", "--activation", "relu,sigmoid", "--loss", "bce", "--bias", "none", "--full")
    assert code == 0 and "Chain rule for w6" in out and "b1" not in out


def test_derive_prints_one_chain_rule_unless_asked_for_all(run):
    params = [p.name for p in sb.mlp([2, 3, 1]).params]
    code, out, _ = run("derive", "--layers", "2,3,1")
    assert code == 0 and [p for p in params if f"Chain rule for {p}\n" in out] == params[:1]
    code, full, _ = run("derive", "--layers", "2,3,1", "--full")
    assert code == 0 and [p for p in params if f"Chain rule for {p}\n" in full] == params
    code, _, err = run("derive", "--layers", "2,3,1", "--full", "--param", "w2")
    assert code == 2 and "--full" in err


MNIST = ["--layers", "784,128,10", "--activation", "relu,softmax", "--loss", "cross_entropy"]


def test_the_matrix_form_on_the_command_line(run, tmp_path):
    d = sb.backprop(sb.mlp([784, 128, 10], activation=["relu", "softmax"], loss="cross_entropy", form="matrix"))
    printer = TextPrinter(naming.text_names(d.graph))
    code, out, _ = run("derive", *MNIST, "--form", "matrix")
    assert code == 0 and out == derivation_text(d)
    for symbol, formula in d.deltas:
        assert f"  {printer.doprint(symbol)} = {printer.doprint(formula)}   ({symbol.rows}×{symbol.cols})\n" in out
    for p in d.wrt:
        assert f"  ∂J/∂{p} = {printer.doprint(d.gradient(p))}   ({p.rows}×{p.cols})\n" in out
    code, out, _ = run("derive", *MNIST, "--form", "matrix", "--param", "W_1")
    assert code == 0 and out.startswith(f"∂J/∂W_1 = {printer.doprint(d.gradient('W_1'))}\n")
    code, out, _ = run("derive", *MNIST, "--form", "matrix", "--format", "latex")
    assert code == 0 and out == sb.document_latex(d).rstrip("\n") + "\n"
    code, out, _ = run("derive", *MNIST, "--form", "matrix", "--param", "W_1", "--format", "latex")
    assert code == 0 and out == sb.gradient_latex(d, sp.Symbol("W_1")) + "\n"
    assert run("derive", *MNIST, "--form", "matrix", "--param", "w1")[0] == 2

    code, out, _ = run("codegen", *MNIST, "--form", "matrix", "-o", "g.py")
    assert code == 0 and out == "wrote g.py\n"
    spec = importlib.util.spec_from_file_location("g", tmp_path / "g.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.LAYER_SIZES == {"n_0": 784, "n_1": 128, "n_2": 10}
    assert module.SHAPES == {"W_1": ("n_1", "n_0"), "b_1": ("n_1", 1), "W_2": ("n_2", "n_1"), "b_2": ("n_2", 1),
                             "X": ("n_0", "m"), "Y": ("n_2", "m")}
    assert sb.gradcheck(module, directions=3, seed=4).passed  # the generated gradients are right

    code, out, _ = run("check", "--layers", "3,4,2", "--activation", "tanh,softmax", "--loss", "cross_entropy", "--form", "matrix")
    assert code == 0 and "W_1[0, 0]" in out and f"{3 * 4 + 4 + 4 * 2 + 2} pass, 0 fail" in out


def test_scalar_form_is_the_default_and_can_be_named(run, tmp_path):
    assert run("codegen", *NET, "-o", "a.py")[0] == 0
    assert run("codegen", *NET, "--form", "scalar", "-o", "b.py")[0] == 0
    assert (tmp_path / "a.py").read_bytes() == (tmp_path / "b.py").read_bytes()


@pytest.mark.parametrize("command", ["derive", "codegen", "check", "walkthrough", "verify", "graph"])
def test_a_large_network_weight_by_weight_is_refused_at_once_with_the_count(run, command):
    count = len(sb.mlp([50, 40, 2]).params)
    assert count > cli.LARGE_NETWORK
    extra = {"codegen": ["-o", "g.py"], "walkthrough": ["--values", "v.json"], "graph": ["--values", "v.json"],
             "verify": ["--param", "w1", "--claim", "0"]}.get(command, [])
    code, out, err = run(command, "--layers", "50,40,2", *extra)
    assert code == 2 and out == "" and f"has {count} parameters" in err and "--form scalar" in err
    assert "--form matrix" in err


def test_codegen_writes_refuses_to_overwrite_and_forces(run, tmp_path):
    code, out, _ = run("codegen", *NET, "-o", "grads.py")
    assert code == 0 and out == "wrote grads.py\n"
    first = (tmp_path / "grads.py").read_text()
    assert first.startswith('"""Loss and gradients of the 2-2-2 network')
    (tmp_path / "grads.py").write_text("mine")
    code, out, err = run("codegen", *NET, "-o", "grads.py")
    assert code == 2 and err == "symbackprop: error: grads.py already exists; pass force (--force) to overwrite it\n"
    assert (tmp_path / "grads.py").read_text() == "mine"
    assert run("codegen", *NET, "-o", "grads.py", "--force")[0] == 0 and (tmp_path / "grads.py").read_text() == first


def test_an_interrupted_write_leaves_no_file_and_exits_130(run, tmp_path, monkeypatch):
    def interrupted(src, dst):
        raise KeyboardInterrupt
    monkeypatch.setattr(os, "replace", interrupted)  # publishing with --force
    monkeypatch.setattr(os, "link", interrupted)  # publishing a new file
    code, _, err = run("codegen", *NET, "-o", "grads.py")
    assert code == 130 and err == "symbackprop: interrupted\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("error", [ValueError("boom"), TypeError("boom"), KeyError("boom"), RuntimeError("boom"),
                                   UnicodeEncodeError("ascii", "δ", 0, 1, "boom")])
def test_a_bug_in_the_library_is_reported_as_a_bug_not_a_usage_error(run, tmp_path, monkeypatch, error):
    def broken(d):
        raise error
    monkeypatch.setattr(cli, "numpy_module", broken)
    code, out, err = run("codegen", *NET, "-o", "grads.py")
    assert code == 3 and out == "" and err.count("\n") == 1
    assert err.startswith(f"symbackprop: internal error: {type(error).__name__}: ") and "please report it" in err
    assert list(tmp_path.iterdir()) == []


def test_errors_the_library_raises_on_purpose_are_user_errors(run, monkeypatch):
    def refuse(d):
        raise sb.errors.InputError("this network cannot be written")
    monkeypatch.setattr(cli, "numpy_module", refuse)
    assert run("codegen", *NET, "-o", "grads.py")[1:] == ("", "symbackprop: error: this network cannot be written\n")


def test_a_reader_that_goes_away_ends_the_output_quietly(run, monkeypatch):
    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert cli.main(["derive", *NET]) == 141


def test_head_on_a_long_output_gives_no_traceback(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "symbackprop", "derive", "--layers", "2,16,16,1", "--full"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    first = process.stdout.readline()  # the output is far larger than a pipe holds: the writer blocks
    process.stdout.close()
    _, err = process.communicate(timeout=120)
    # 141 where the write fails once the reader is gone; 0 where the pipe had taken the whole output
    assert first.startswith(b"Backpropagation through the 2-16-16-1 network") and err == b"" and process.returncode in (0, 141)


@pytest.mark.parametrize("encoding", ["cp1252", "ascii"])
def test_a_console_that_cannot_show_the_symbols_gets_their_ascii_spelling(tmp_path, encoding):
    env = dict(os.environ, PYTHONIOENCODING=encoding)

    def run(*argv):
        done = subprocess.run([sys.executable, "-m", "symbackprop", *argv], capture_output=True, cwd=tmp_path, env=env, check=False)
        return done.returncode, done.stdout.decode("ascii"), done.stderr.decode("ascii")  # pure ASCII, or this raises

    code, derivation, _ = run("derive", *NET)
    delta = naming.ascii_text(sb.text.plain(naming.delta(sp.Symbol("z1"))))
    assert code == 0 and f"{delta} = " in derivation and "dJ/dw1 = " in derivation
    code, verdict, _ = run("verify", *NET, "--param", "w1", "--claim", "δ_3*x1")  # a wrong claim, written with δ
    assert code == 1 and verdict.startswith("wrong")
    code, _, error = run("derive", *NET, "--param", "w9")
    assert code == 2 and error.startswith("symbackprop: error:") and "Traceback" not in error


def test_walkthrough_markdown_latex_pdf(run, tmp_path):
    (tmp_path / "v.json").write_text(json.dumps(MAZUR))
    code, out, _ = run("walkthrough", *NET, "--values", "v.json", "--lr", "0.5", "--digits", "9")
    assert code == 0 and "= 0.298371109$$" in out and "simultaneous update" in out
    code, out, _ = run("walkthrough", *NET, "--values", "v.json", "--format", "latex", "-o", "w.tex")
    assert code == 0 and (tmp_path / "w.tex").read_text().startswith(r"\documentclass")
    assert run("walkthrough", *NET, "--values", "v.json", "--format", "pdf")[0] == 2  # needs -o


def test_check_exit_codes(run, tmp_path):
    code, out, _ = run("check", "--layers", "2,3,1", "--activation", "tanh,sigmoid", "--loss", "bce")
    assert code == 0 and "13 pass, 0 fail" in out
    (tmp_path / "v.json").write_text(json.dumps(MAZUR))
    assert run("check", *NET, "--values", "v.json")[0] == 0
    code, out, _ = run("check", *NET, "--values", "v.json", "--eps", "0.5", "--atol", "1e-12", "--rtol", "1e-12")
    assert code == 1 and "some gradients do not match" in out
    code, out, _ = run("check", "--layers", "2,64,1", "--directions", "3")
    assert code == 0 and "direction 3" in out and "direction 4" not in out


def test_check_draws_its_point_inside_the_domain_and_says_where(run, tmp_path):
    code, out, _ = run("check", "--expr", "log(x)*y + sqrt(y)")
    assert code == 0 and out.startswith("checked at ") and "2 pass, 0 fail" in out
    x, y = (float(part.split(" = ")[1]) for part in out.splitlines()[0].split(": ", 1)[1].split(", "))
    assert x > 0 and y > 0
    (tmp_path / "v.json").write_text(json.dumps({"x": -1, "y": 2}))
    code, out, err = run("check", "--expr", "log(x)*y", "--values", "v.json")
    assert code == 2 and "is undefined at x = -1" in err and err.count("\n") == 1
    (tmp_path / "v.json").write_text(json.dumps({"x": -1}))
    code, out, err = run("check", "--expr", "sqrt(x)", "--values", "v.json")
    assert code == 2 and "sqrt(x) is undefined at x = -1" in err and "loss" not in err


def test_check_says_when_gradients_are_zero_and_so_check_nothing(run, tmp_path):
    (tmp_path / "v.json").write_text(json.dumps({"x1": 1.0, "y1": 0.5, "w1": -1.0, "b1": -1.0}))  # relu(-2) = 0
    code, out, _ = run("check", "--layers", "1,1", "--activation", "relu", "--values", "v.json")
    assert code == 1 and "2 zero" in out and "nothing was checked" in out and "all gradients match" not in out
    assert "--seed" in out and "--values" in out
    (tmp_path / "v.json").write_text(json.dumps({"x": -1.0, "y": 1.0}))  # relu(-1)·y: both gradients exactly 0
    code, out, _ = run("check", "--expr", "relu(x)*y", "--values", "v.json")
    assert code == 1 and "nothing was checked" in out


def test_verify_takes_the_only_variable_as_wrt_and_asks_otherwise(run):
    assert run("verify", "--expr", "x**2", "--claim", "2*x")[0] == 0
    assert run("verify", "--expr", "sin(t)", "--claim", "sin(t)")[0] == 1  # compared with cos(t), not with f
    assert run("verify", "--expr", "x*y", "--wrt", "x", "--claim", "y")[0] == 0
    code, out, err = run("verify", "--expr", "x*y", "--claim", "y")
    assert code == 2 and out == "" and "--wrt" in err and "x, y" in err


def test_e_is_eulers_number_unless_wrt_names_it(run):
    assert run("verify", "--expr", "e^x", "--wrt", "x", "--claim", "e^x")[0] == 0
    assert run("verify", "--expr", "e^x", "--wrt", "x", "--claim", "exp(x)")[0] == 0
    assert run("verify", "--expr", "e^x", "--wrt", "e", "--claim", "x*e^(x - 1)")[0] == 0  # e declared a variable
    assert run("verify", "--expr", "e^x", "--wrt", "e", "--claim", "e^x")[0] == 1
    code, out, _ = run("derive", "--expr", "a*e^x", "--wrt", "a,e")
    assert code == 0 and "∂f/∂e" in out


def test_verify_exit_codes_and_explanations(run):
    code, out, _ = run("verify", "--expr", "sigmoid(z2)", "--wrt", "z2", "--claim", "z2*(1-z2)")
    assert code == 1 and out.startswith("wrong: claimed z2*(1 - z2)\n  should be (1 - sigmoid(z2))*sigmoid(z2)\n  at z2 = ")
    assert run("verify", "--expr", "sigmoid(z2)", "--wrt", "z2", "--claim", "sigmoid(z2)*(1-sigmoid(z2))")[0] == 0
    code, out, _ = run("verify", "--layers", "1,1,1", "--loss", "bce", "--param", "w2",
                       "--chain", "y/yhat + (1-y)/(1-yhat)", "z2*(1-z2)", "a1")
    assert code == 1 and "2 factor(s) wrong" in out and "3. ∂z2/∂w2: right" in out
    assert run("verify", "--layers", "1,1,1", "--loss", "bce", "--param", "w2", "--claim", "(yhat - y)*a1")[0] == 0


BAD = [
    (["derive", "--layers", "2,x,1"], "malformed --layers '2,x,1'"),
    (["derive", "--layers", "2"], "layers needs at least an input and an output size"),
    (["derive", "--layers", "2,1", "--activation", "sigmod"], "unknown activation 'sigmod'; known activations: sigmoid"),
    (["derive", "--layers", "2,1", "--loss", "hinge"], "unknown loss 'hinge'"),
    (["derive", "--layers", "2,1", "--bias", "some"], "unknown --bias 'some'"),
    (["derive", "--expr", "x*y", "--wrt", "z"], "cannot differentiate with respect to 'z'"),
    (["derive", "--expr", "x*("], "syntax error in 'x*('"),
    (["derive", "--expr", "__import__('os')"], "unknown function '__import__'"),
    (["derive"], "give a network (--layers 2,2,1) or an expression"),
    (["derive", "--layers", "2,1", "--param", "w9"], "'w9' is not a parameter here"),
    (["walkthrough", "--layers", "2,1", "--values", "broken.json"], "the values file broken.json is not valid JSON"),
    (["walkthrough", "--layers", "2,1", "--values", "partial.json"], "values are missing for y1, w1, w2, b1"),
    (["walkthrough", "--layers", "2,1", "--values", "list.json"], "must hold a JSON object"),
    (["walkthrough", "--layers", "2,1", "--values", "absent.json"], "cannot read the values file absent.json"),
    (["check", "--layers", "2,1", "--values", "partial.json"], "lacks y1, w1, w2, b1"),
    (["codegen", "--layers", "2,1", "-o", "no/such/folder/grads.py"], "the folder no/such/folder does not exist"),
    (["verify", "--expr", "x**2", "--wrt", "x"], "give the claimed formula with --claim"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["check", "--layers", "2,3,1", "--eps", "0"], "argument --eps: must be a number from 1e-12 to 1, got 0"),
    (["check", "--layers", "2,3,1", "--eps", "-1"], "argument --eps: must be a number from 1e-12 to 1"),
    (["check", "--layers", "2,3,1", "--eps", "nan"], "argument --eps: must be a number from 1e-12 to 1"),
    (["check", "--layers", "2,3,1", "--eps", "inf"], "argument --eps: must be a number from 1e-12 to 1"),
    (["check", "--layers", "2,3,1", "--eps", "5e-324"], "argument --eps: must be a number from 1e-12 to 1"),
    (["check", "--layers", "2,3,1", "--eps", "tiny"], "argument --eps: 'tiny' is not a number"),
    (["check", "--layers", "2,3,1", "--atol", "-0.5"], "argument --atol: must be a finite number >= 0"),
    (["check", "--layers", "2,3,1", "--rtol", "nan"], "argument --rtol: must be a finite number >= 0"),
    (["check", "--layers", "2,3,1", "--directions", "0"], "argument --directions: must be a whole number from 1 to 10,000"),
    (["check", "--layers", "2,3,1", "--directions", "-3"], "argument --directions: must be a whole number from 1 to 10,000"),
    (["check", "--layers", "2,3,1", "--directions", "1000000000000"], "argument --directions: must be a whole number from 1 to 10,000"),
    (["check", "--layers", "2,3,1", "--directions", "2.5"], "argument --directions: '2.5' is not a whole number"),
    (["check", "--layers", "2,3,1", "--seed", "-1"], "argument --seed: must be a whole number >= 0"),
    (["walkthrough", "--layers", "2,1", "--values", "partial.json", "--digits", "-2"], "argument --digits: must be a whole number from 1 to 17"),
    (["walkthrough", "--layers", "2,1", "--values", "partial.json", "--digits", "0"], "argument --digits: must be a whole number from 1 to 17"),
    (["walkthrough", "--layers", "2,1", "--values", "partial.json", "--digits", "18"], "argument --digits: must be"),
    (["walkthrough", "--layers", "2,1", "--values", "partial.json", "--lr", "inf"], "argument --lr: must be a finite number"),
    (["graph", "--layers", "2,1", "--values", "partial.json", "--max-nodes", "0"], "argument --max-nodes: must be a whole number >= 1"),
    (["derive", "--layers", "2,1", "--form", "tensor"], "argument --form: invalid choice: 'tensor'"),
    (["derive", "--expr", "x*y", "--form", "matrix"], "--form matrix is for networks"),
    (["verify", "--layers", "2,1", "--param", "w1", "--claim", "x1", "--form", "matrix"], "unknown name 'w1'"),
    (["verify", "--layers", "2,1", "--wrt", "w1", "--claim", "x1"], "--wrt goes with --expr"),
    (["derive", "--layers", "2,2,1", "--par", "w1"], "unrecognized arguments: --par"),  # never an abbreviation
    (["derive", "--layers", "2,2,1", "--form", "latex"], "argument --form: invalid choice: 'latex'"),
    (["codegen", "--layers", "2,1", "-o", "."], ". ends with '.', so it names a folder"),
    (["demo", "--out", "partial.json"], "partial.json is a file, not a folder"),
    (["check", "--expr", "log(-1 - x**2)"], "no random point inside the function's domain"),
    (["derive", "--expr", "2 + 3"], "has no symbols to differentiate"),
    (["verify", "--expr", "x", "--claim", "exp(exp(exp(exp(10))))"], "the formula cannot be computed: exp(exp(10)) is beyond float64's range"),
    (["derive", "--expr", "x**" * 200 + "x"], "the formula is nested 201 levels deep; at most 100 are read"),
    (["check", "--layers", "2,1", "--values", "/dev/zero"], "the values file /dev/zero is larger than 16 MB"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(run, tmp_path, argv, message):
    (tmp_path / "broken.json").write_text('{"x1": 0.5,')
    (tmp_path / "partial.json").write_text('{"x1": 0.5, "x2": 1}')
    (tmp_path / "list.json").write_text("[1, 2]")
    before = sorted(tmp_path.iterdir())
    code, out, err = run(*argv)
    assert code == 2 and out == ""
    assert err.startswith("symbackprop: error: ") and err.count("\n") == 1 and message in err, err
    assert sorted(tmp_path.iterdir()) == before


def test_every_command_has_help_with_examples(run):
    for command in cli.EXAMPLES:
        with pytest.raises(SystemExit) as done:
            run(command, "--help")
        assert done.value.code == 0
    # argparse printed the help; the examples are part of it
    assert "examples:" in cli.parser()._subparsers._group_actions[0].choices["verify"].format_help()


SOFTMAX = ["--layers", "2,2", "--activation", "softmax", "--loss", "cross_entropy"]
SOFTMAX_VALUES = {"x1": 0.5, "x2": -0.2, "w1": 0.1, "w2": 0.2, "w3": -0.3, "w4": 0.4, "b1": 0.1, "b2": -0.1}


@pytest.mark.parametrize("command", ["walkthrough", "graph", "check"])
def test_softmax_cross_entropy_with_targets_that_are_not_probabilities_is_refused(run, tmp_path, command):
    (tmp_path / "sm.json").write_text(json.dumps(SOFTMAX_VALUES | {"y1": 0.3, "y2": 0.3}))
    code, out, err = run(command, *SOFTMAX, "--values", "sm.json")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "cross-entropy after a softmax needs targets that sum to 1 (a probability vector); y1 + y2 = 0.6" in err
    (tmp_path / "sm.json").write_text(json.dumps(SOFTMAX_VALUES | {"y1": 0.25, "y2": 0.75}))
    assert run(command, *SOFTMAX, "--values", "sm.json")[0] == 0


def test_check_of_a_matrix_form_network_refuses_targets_that_are_not_probabilities(run, tmp_path):
    module = sb.compile(sb.backprop(sb.mlp([2, 2], activation="softmax", loss="cross_entropy", form="matrix")))
    flat = sb.check.as_module(module)
    values = dict.fromkeys(flat.PARAMETERS, 0.1) | {"x1": 0.5, "x2": -0.2, "y1": 1.5, "y2": -0.5}
    (tmp_path / "sm.json").write_text(json.dumps(values))
    code, _, err = run("check", *SOFTMAX, "--form", "matrix", "--values", "sm.json")
    assert code == 2 and "not negative" in err and "y2 = -0.5" in err


def test_check_of_a_large_network_without_directions_is_refused_at_once(run):
    count = cli.parameter_count([784, 128, 10], "per_neuron")
    assert count > cli.LARGE_NETWORK
    code, out, err = run("check", "--layers", "784,128,10", "--activation", "relu,softmax", "--loss", "cross_entropy",
                         "--form", "matrix")
    assert code == 2 and out == "" and f"{count} parameters" in err and "pass --directions 10" in err
    code, out, _ = run("check", "--layers", "784,128,10", "--activation", "relu,softmax", "--loss", "cross_entropy",
                       "--form", "matrix", "--directions", "2")
    assert code == 0 and "direction 2" in out


def test_walkthrough_takes_its_format_from_the_output_ending(run, tmp_path):
    (tmp_path / "v.json").write_text(json.dumps(MAZUR))
    assert run("walkthrough", *NET, "--values", "v.json", "-o", "w.tex")[0] == 0
    assert (tmp_path / "w.tex").read_text().startswith(r"\documentclass")
    for name in ("w.md", "w.markdown", "w.txt"):
        assert run("walkthrough", *NET, "--values", "v.json", "-o", name)[0] == 0
        assert (tmp_path / name).read_text().startswith("# ")
    code, out, err = run("walkthrough", *NET, "--values", "v.json", "-o", "x.tex", "--format", "markdown")
    assert code == 2 and out == "" and "--format markdown does not fit" in err and not (tmp_path / "x.tex").exists()
    code, out, err = run("walkthrough", *NET, "--values", "v.json", "-o", "x.md", "--format", "pdf")
    assert code == 2 and out == "" and "does not fit" in err and not (tmp_path / "x.md").exists()


def test_walkthrough_to_a_pdf_name_writes_a_pdf_or_nothing(run, tmp_path):
    (tmp_path / "v.json").write_text(json.dumps(MAZUR))
    code, _, err = run("walkthrough", *NET, "--values", "v.json", "-o", "w.pdf")
    if code == 2:  # no pdflatex here: refused, and nothing written
        assert "pdflatex" in err and not (tmp_path / "w.pdf").exists()
    else:
        assert code == 0 and (tmp_path / "w.pdf").read_bytes().startswith(b"%PDF")


def test_values_files_with_a_byte_order_mark_are_read_and_repeated_names_refused(run, tmp_path):
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(MAZUR).encode())
    assert run("walkthrough", *NET, "--values", "bom.json")[0] == 0
    assert run("check", *NET, "--values", "bom.json")[0] == 0
    text = json.dumps(MAZUR)[:-1] + ', "w1": 0.9}'
    (tmp_path / "dup.json").write_text(text)
    for command in ("walkthrough", "check", "graph"):
        code, out, err = run(command, *NET, "--values", "dup.json")
        assert code == 2 and out == "" and "gives 'w1' more than once" in err


def test_the_network_is_described_with_the_option_spelling_of_no_bias(run):
    code, out, _ = run("derive", "--layers", "2,1", "--bias", "none")
    assert code == 0 and "bias none" in out and "None" not in out


@needs_graphviz
@pytest.mark.parametrize("in_the_way", ["file", "folder"])
def test_demo_checks_every_output_before_printing_or_writing_any(run, tmp_path, in_the_way):
    (tmp_path / "d").mkdir()
    if in_the_way == "file":
        (tmp_path / "d" / "graph.svg").write_text("mine")
    else:
        (tmp_path / "d" / "graph.svg").mkdir()
    code, out, err = run("demo", "--out", "d")
    assert code == 2 and out == "" and "d/graph.svg" in err
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["graph.svg"]


def test_demo_says_which_pdf_it_kept(run, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "walkthrough.pdf").write_bytes(b"%PDF mine")
    code, out, _ = run("demo", "--out", "d")
    assert code == 0 and "d/walkthrough.pdf kept as it was" in out and "walkthrough.pdf," not in out.split("Wrote ")[1]
    assert (tmp_path / "d" / "walkthrough.pdf").read_bytes() == b"%PDF mine"


# ---------------------------------------------------------------- functions of matrices -------

LEAST_SQUARES = ["--expr", "trace((X*W - Y)^T*(X*W - Y))", "--shape", "X=n,m", "--shape", "W=m,k", "--shape", "Y=n,k", "--wrt", "W"]
GAUSSIAN = ["--expr", "log(det(S))/2 + (v - mu)^T*S^-1*(v - mu)/2", "--shape", "S=n,n", "--shape", "v=n", "--shape", "mu=n"]
SMALL_LEAST_SQUARES = ["--expr", "tr((X W - Y)ᵀ (X W - Y))", "--shape", "X=3,2", "--shape", "W=2,4", "--shape", "Y=3,4", "--wrt", "W"]


def _works(make) -> bool:
    """Whether ``make()`` runs: an output that does not take derivations with matrix steps is left unchecked."""
    try:
        make()
    except (InputError, TypeError):
        return False
    return True


_X, _W = sp.MatrixSymbol("X", 2, 2), sp.MatrixSymbol("W", 2, 2)
_D = sb.backprop(sp.trace(_X * _W), wrt=[_W])
prints_matrices = pytest.mark.skipif(not _works(lambda: derivation_text(_D)), reason="no text printer for matrix steps")
codes_matrices = pytest.mark.skipif(not _works(lambda: sb.numpy_module(_D)), reason="no code generation for matrix steps")
walks_matrices = pytest.mark.skipif(not _works(lambda: sb.walkthrough(_D, {"X": [[1, 0], [0, 1]], "W": [[1, 2], [3, 4]]})),
                                    reason="no walkthrough of matrix steps")
draws_matrices = pytest.mark.skipif(not _works(lambda: sb.picture(_D)), reason="no picture of matrix steps")
draws_values = pytest.mark.skipif(not _works(lambda: sb.picture(_D, {"X": [[1, 0], [0, 1]], "W": [[1, 2], [3, 4]]})),
                                  reason="no picture of matrix steps at values")


def test_derive_a_matrix_gradient_with_shapes(run):
    code, out, err = run("derive", *LEAST_SQUARES, "--param", "W")
    assert code == 0, err
    delta_view, closed = (line.split("= ", 1)[1] for line in out.splitlines()[:2])
    d = sb.backprop(parse_expr(LEAST_SQUARES[1], shapes={"X": "n,m", "W": "m,k", "Y": "n,k"}), wrt=["W"])
    assert sb.verify(closed, d, wrt="W") and sb.verify(delta_view, d, wrt="W")  # what is printed reads back, and is right
    X, W, Y = (d.symbol(name) for name in "XWY")
    assert sb.verify(2 * X.T * (X * W - Y), parse_expr(closed, {"X": X, "W": W, "Y": Y}))  # the textbook form, by value


def test_sizes_may_be_numbers(run):
    code, out, err = run("derive", *SMALL_LEAST_SQUARES, "--param", "W")
    assert code == 0, err
    code, out, _ = run("verify", *SMALL_LEAST_SQUARES, "--claim", "2 Xᵀ (X W - Y)")
    assert code == 0 and out.startswith("right")


@pytest.mark.parametrize("claim, code, says", [
    ("2*X^T*(X*W - Y)", 0, "right (numerically"),
    ("2*X.T@(X@W - Y)", 0, "right (numerically"),
    ("X^T*(X*W - Y)", 1, "its value: with k = 2, m = 3, n = 4"),
    ("2*X*(X*W - Y)", 1, "its shapes do not fit: cannot multiply 2*X (n×m) by X*W - Y (n×k)"),
    ("2*(X*W - Y)^T*X", 1, "its shape: it is k×m, but ∂J/∂W has the shape of W, m×k"),
])
def test_verify_a_matrix_claim(run, claim, code, says):
    got, out, err = run("verify", *LEAST_SQUARES, "--claim", claim)
    assert got == code and says in out and err == ""
    if code:
        assert "should be" in out


def test_verify_the_gaussian_likelihood_by_each_variable(run):
    code, _, _ = run("verify", *GAUSSIAN, "--wrt", "mu", "--claim", "-(S^-1 + S^-T)*(v - mu)/2")
    assert code == 0
    code, _, _ = run("verify", *GAUSSIAN, "--wrt", "mu", "--claim", "-S^-1*(v - mu)")  # only for a symmetric S
    assert code == 1
    code, _, err = run("verify", *GAUSSIAN, "--claim", "S^-T")
    assert code == 2 and "--wrt, one of S, mu, v" in err  # the sizes are not variables


@pytest.mark.parametrize("argv, message", [
    (["derive", "--expr", "trace(X*W)", "--wrt", "W"], "X is used as a matrix but has no shape: give it one with --shape X=ROWS,COLS"),
    (["derive", "--expr", "trace((X*W - Y)^T*(X*W - Y))", "--shape", "X=n,m", "--shape", "W=m,k"],
     "Y is used as a matrix but has no shape: give it one with --shape Y=ROWS,COLS"),
    (["verify", "--expr", "x^T*A*x", "--shape", "A=n,n", "--claim", "2*A*x"], "x is used as a matrix"),
    (["derive", "--expr", "trace(X*W)", "--shape", "X=n,m", "--shape", "W=n,m"], "cannot multiply X (n×m) by W (n×m): m columns, n rows"),
    (["derive", "--expr", "trace(X)", "--shape", "X=n,m"], "X (n×m) is in trace(...) but is not square"),
    (["derive", "--expr", "trace((X*W - Y)^T*(X*W - Y))", "--shape", "X=n,m", "--shape", "Y=n,k"],
     "(W has no shape: give one to each that is a matrix)"),
    (["derive", "--expr", "trace(X)", "--shape", "X"], "malformed --shape 'X': write NAME=ROWS,COLS"),
    (["derive", "--expr", "trace(X)", "--shape", "X=n,n", "--shape", "X=m,m"], "--shape gives X twice"),
    (["derive", "--expr", "trace(X)", "--shape", "X=0,0"], "the shape of X must be sizes >= 1 or size names"),
    (["derive", "--layers", "2,1", "--shape", "X=1,2"], "--shape goes with --expr"),
    (["derive", "--expr", "trace(X)", "--shape", "X=n,n", "--shape", "Z=n,n"], "--shape gives Z, which the formula does not use"),
    (["check", "--expr", "x**2", "--size", "n=3"], "--size gives the sizes of matrices"),
    (["check", *LEAST_SQUARES, "--values", "v.json"], "leave out --values"),
    (["check", *LEAST_SQUARES, "--size", "n=two"], "malformed --size 'n=two'"),
])
def test_matrix_usage_errors_are_one_line(run, argv, message, tmp_path):
    (tmp_path / "v.json").write_text("{}", encoding="utf-8")
    code, out, err = run(*argv)
    assert code == 2 and message in err and err.count("\n") == 1 and out == ""


@prints_matrices
def test_derive_prints_a_matrix_derivation(run):
    code, out, err = run("derive", *LEAST_SQUARES)
    assert code == 0 and "W" in out and err == ""
    code, out, _ = run("derive", *LEAST_SQUARES, "--full")
    assert code == 0
    code, out, _ = run("derive", *LEAST_SQUARES, "--format", "latex")
    assert code == 0 and out.startswith(r"\documentclass")
    code, out, _ = run("derive", *LEAST_SQUARES, "--param", "W", "--format", "latex")
    assert code == 0 and r"\partial" in out


@codes_matrices
def test_codegen_and_check_of_a_function_of_matrices(run, tmp_path):
    code, out, err = run("codegen", *GAUSSIAN, "--wrt", "S,mu", "-o", "gauss.py")
    assert code == 0, err
    assert "import numpy" in (tmp_path / "gauss.py").read_text(encoding="utf-8")
    code, out, err = run("check", *LEAST_SQUARES, "--size", "n=5", "--seed", "2")
    assert code == 0 and " 0 fail" in out, err
    code, out, err = run("check", *SMALL_LEAST_SQUARES)
    assert code == 0 and " 0 fail" in out, err


@walks_matrices
def test_walkthrough_of_a_function_of_matrices(run, tmp_path):
    values = {"X": [[1, 2], [3, 4], [5, 6]], "W": [[0.5, 0, 1, 2], [1, -1, 0, 0.25]], "Y": [[1, 0, 0, 1]] * 3}
    (tmp_path / "ls.json").write_text(json.dumps(values), encoding="utf-8")
    code, _, err = run("walkthrough", *SMALL_LEAST_SQUARES, "--values", "ls.json")
    assert code == 0, err
    symbolic = [a.replace("3", "n").replace("2", "m").replace("4", "k") if a.startswith(("X=", "W=", "Y=")) else a
                for a in SMALL_LEAST_SQUARES]
    code, _, err = run("walkthrough", *symbolic, "--values", "ls.json", "--size", "n=3", "--size", "m=2", "--size", "k=4")
    assert code == 0, err
    (tmp_path / "bad.json").write_text(json.dumps(values | {"X": [[1, 2], [3]]}), encoding="utf-8")
    code, _, err = run("walkthrough", *SMALL_LEAST_SQUARES, "--values", "bad.json")
    assert code == 2 and "the value of X must be a matrix" in err


@draws_matrices
def test_graph_of_a_function_of_matrices_needs_no_values(run):
    code, out, err = run("graph", *LEAST_SQUARES)
    assert code == 0 and out.startswith("digraph"), err
    code, out, err = run("graph", "--expr", "x*y")
    assert code == 2 and "--values" in err
    code, out, err = run("graph", "--expr", "x*y", "--values", "v.json", "--size", "n=2")
    assert code == 2 and "--size gives the sizes of matrices" in err


@draws_values
def test_graph_of_a_function_of_matrices_at_values(run, tmp_path):
    (tmp_path / "s.json").write_text(json.dumps({"S": [[2, 1], [0, 1]], "a": [1, -1]}), encoding="utf-8")
    argv = ["--expr", "logdet(S) + a^T*inv(S)*a", "--shape", "S=n,n", "--shape", "a=n,1", "--values", "s.json"]
    code, out, err = run("graph", *argv, "--size", "n=2")
    assert code == 0 and out.startswith("digraph"), err


def test_check_of_a_network_in_matrix_form_takes_the_matrices_the_walkthrough_takes(run, tmp_path):
    values = {"X": [[0.5, -1.0], [1.0, 0.25], [0.3, 0.2]], "Y": [[1.0, 0.0], [0.0, 1.0]], "W_1": [[0.1, 0.2, 0.3], [0.3, -0.4, 0.1]],
              "b_1": [[0.1], [0.2]], "W_2": [[0.7, -0.8], [0.2, 0.1]], "b_2": [0.1, 0.0]}  # a column as a flat list
    network = ["--layers", "3,2,2", "--activation", "tanh,softmax", "--loss", "cross_entropy", "--form", "matrix"]
    (tmp_path / "m.json").write_text(json.dumps(values))
    code, out, _ = run("check", *network, "--values", "m.json")
    assert code == 0 and "all gradients match: 14 pass, 0 fail" in out and "x1[1] = -1" in out  # X's second column: sample 1
    assert run("walkthrough", *network, "--values", "m.json")[0] == 0
    (tmp_path / "m.json").write_text(json.dumps(values | {"W_1": [[0.1, 0.2], [0.3, -0.4]]}))
    code, out, err = run("check", *network, "--values", "m.json")
    assert code == 2 and out == "" and err.strip().endswith("the value of W_1 must be 2×3 at these layer sizes, got 2×2")
