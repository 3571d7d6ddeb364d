"""Every example runs as a script, prints its derivation and writes its files."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXPECTED = {
    "01_chain_rule_two_inputs.py": ("at x = 3, y = -4: f = 1.5456, ∂f/∂x = 2.0596, ∂f/∂y = 1.5922", ["graph.dot", "gradients.tex"]),
    "02_two_sigmoid_neurons_bce.py": ("chain rule for ∂J/∂w2: 2 factor(s) wrong", ["derivation.tex"]),
    "03_relu_softmax_matrix.py": ("δ_Z_2 = (W_3ᵀ δ_Z_3) ⊙ 1[Z_2 > 0]", ["derivation.tex", "grads.py"]),
    "04_logistic_one_hidden_layer.py": ("δ_Z_2    = (Ŷ - Y) / m ", ["derivation.tex", "grads.py"]),
    "05_walkthrough_and_training.py": ("below 1e-4 after", ["walkthrough.md", "walkthrough.tex"]),
    "06_generated_code_xor.py": ("accuracy 100.0%", ["xor_grads.py"]),
    "07_matrix_calculus.py": ("(57) ∂ log det X/∂X    = X⁻ᵀ", ["derivation.tex", "gauss_grads.py"]),
}


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("0*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name, tmp_path):
    line, files = EXPECTED[name]
    run = subprocess.run([sys.executable, str(EXAMPLES / name), "--out", str(tmp_path)], cwd=tmp_path,
                         capture_output=True, text=True, check=False, timeout=300)
    assert run.returncode == 0, run.stderr
    assert line in run.stdout
    assert set(files) <= {p.name for p in tmp_path.iterdir()}
    if name == "07_matrix_calculus.py":  # the Cookbook's forms, the wrong transpose caught, the code checked
        assert "(81) ∂ xᵀAx/∂x         = (A + Aᵀ) x" in run.stdout and "should be 2 lambda W + 2 Xᵀ (X W - Y)" in run.stdout
        assert "all gradients match" in run.stdout
    if name == "03_relu_softmax_matrix.py":  # the directional check the example prints must agree
        numbers = run.stdout.rsplit("analytic ", 1)[1].split(", finite differences ")
        assert abs(float(numbers[0]) - float(numbers[1])) < 1e-6
