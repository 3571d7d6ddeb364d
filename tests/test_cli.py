"""The command line: every subcommand, exit codes, one-line errors, files never clobbered."""

import json
import os

import pytest
import sympy as sp

import symbackprop as sb
from symbackprop import cli, naming

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
    code, out, _ = run("derive", "--layers", "2,2,1", "--activation", "relu,sigmoid", "--loss", "bce", "--bias", "none")
    assert code == 0 and "Chain rule for w6" in out and "b1" not in out


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


def test_an_interrupted_write_leaves_no_file(run, tmp_path, monkeypatch):
    def interrupted(src, dst):
        raise KeyboardInterrupt
    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run("codegen", *NET, "-o", "grads.py")
    assert list(tmp_path.iterdir()) == []


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
    assert code == 0 and "direction 3" in out


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
