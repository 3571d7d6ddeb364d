"""The project's promises about itself: the README's commands, CI, and a shippable wheel."""

import json
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import sympy as sp

import symbackprop as sb
from symbackprop import naming

ROOT = Path(__file__).resolve().parent.parent
# Without pdflatex or Graphviz, what needs them is skipped; CI installs both, so there it runs.
HAVE_PDFLATEX = shutil.which("pdflatex") is not None
HAVE_DOT = shutil.which("dot") is not None


def readme_commands() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.DOTALL).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_readme_starts_with_the_main_job_and_the_test_command():
    main, tests = readme_commands()[:2]
    assert main.endswith("symbackprop demo")
    assert "pytest" in tests


def test_ci_runs_exactly_the_readme_test_command():
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert readme_commands()[1] in ci_lines


def test_main_job_derives_writes_and_checks_the_2_2_2_1_network(tmp_path):
    script = Path(sys.executable).parent / "symbackprop"  # the console script the README runs
    run = subprocess.run([str(script), "demo"], capture_output=True, text=True, check=True, cwd=tmp_path)
    out = run.stdout
    assert out.startswith("Backpropagation through the 2-2-2-1 network, sigmoid, loss half_sse")
    shown = naming.text_names(sb.mlp([2, 2, 2, 1])).get  # how the library prints each symbol
    d1, d3, d4, yhat = (shown(sp.Symbol(s)) for s in ("delta_1", "delta_3", "delta_4", "a5"))
    assert f"{d1} = ({d3}*w5 + {d4}*w7)*a1*(1 - a1)" in out  # upstream sum, then σ' whole
    assert f"∂J/∂w1 = ∂J/∂{yhat} · ∂{yhat}/∂z5 · ∂z5/∂a3 · ∂a3/∂z3 · ∂z3/∂a1 · ∂a1/∂z1 · ∂z1/∂w1 + " in out
    assert out.rstrip().endswith("15 pass, 0 fail, 0 on a kink (eps 1e-06, atol 1e-05, rtol 0.001)")
    written = sorted(p.name for p in (tmp_path / "symbackprop-demo").iterdir())
    expected = ["derivation.tex", "grads.py", "walkthrough.md"] + ["walkthrough.pdf"] * HAVE_PDFLATEX + ["graph.svg"] * HAVE_DOT
    assert written == sorted(expected)
    # what could not be made is said in one line each, with how to get it; the demo still succeeds
    assert ("walkthrough.pdf not made: pdflatex is not installed" in out) != HAVE_PDFLATEX
    assert ("graph.svg not made: Graphviz's dot program is not installed" in out) != HAVE_DOT
    assert all("apt-get install" in line for line in out.splitlines() if " not made: " in line)
    if HAVE_PDFLATEX:
        assert (tmp_path / "symbackprop-demo" / "walkthrough.pdf").read_bytes().startswith(b"%PDF")
    again = subprocess.run([sys.executable, "-m", "symbackprop", "demo"], check=False, capture_output=True, text=True, cwd=tmp_path)
    # a rerun writes the same bytes, so it may; the PDF, which costs a pdflatex run, it keeps and says so
    assert again.returncode == 0 and again.stdout.split("\nWrote ")[0] == out.split("\nWrote ")[0]
    assert again.stdout.split("Gradient check")[1] == out.split("Gradient check")[1]
    assert ("symbackprop-demo/walkthrough.pdf kept as it was (pass --force to make it again)" in again.stdout) == HAVE_PDFLATEX


def test_a_built_wheel_ships_the_templates_and_runs(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next(tmp_path.glob("symbackprop-*.whl"))
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        shipped = {Path(name).name for name in archive.namelist() if name.startswith("symbackprop/templates/")}
        assert {p.name for p in (ROOT / "templates").glob("*.j2")} <= shipped
        archive.extractall(unpacked)
    script = ("import sys, runpy; sys.path.insert(0, sys.argv[1]); import symbackprop; "
              "assert symbackprop.__file__.startswith(sys.argv[1]), symbackprop.__file__; "
              "sys.argv = ['symbackprop', 'codegen', '--layers', '2,2,1', '-o', 'grads.py']; "
              "runpy.run_module('symbackprop', run_name='__main__')")
    run = subprocess.run([sys.executable, "-c", script, str(unpacked)], check=False, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr  # SystemExit(0) from the command line
    assert "# Backward pass: deltas, output first" in (tmp_path / "grads.py").read_text(encoding="utf-8")


def test_the_command_line_examples_in_the_readme_run(tmp_path):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Command line", 1)[1].split("```", 2)[1]
    commands = [line.split("  #")[0].strip() for line in block.splitlines() if line.startswith("symbackprop ")]
    assert len(commands) >= 6
    (tmp_path / "mazur.json").write_text(json.dumps({
        "x1": 0.05, "x2": 0.10, "y1": 0.01, "y2": 0.99, "w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30,
        "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55, "b1": 0.35, "b2": 0.60}))
    script = Path(sys.executable).parent / "symbackprop"
    for command in commands:
        if needs_a_missing_tool(command):
            continue  # CI installs pdflatex and Graphviz and runs these too
        run = subprocess.run([str(script), *shlex.split(command)[1:]], cwd=tmp_path, capture_output=True, text=True, check=False)
        wrong_claim = command.startswith("symbackprop verify")  # the README's claims are the classic mistakes
        assert run.returncode == (1 if wrong_claim else 0), (command, run.stderr)


def needs_a_missing_tool(command: str) -> bool:
    """Whether a command needs pdflatex (a PDF) or Graphviz (a rendered picture) that is not installed."""
    words = shlex.split(command)
    output = words[words.index("-o") + 1] if "-o" in words else ""
    needs_pdflatex = "pdf" in words or output.endswith(".pdf")
    needs_dot = words[1] == "graph" and output.endswith((".svg", ".png", ".pdf"))
    return (needs_pdflatex and not HAVE_PDFLATEX) or (needs_dot and not HAVE_DOT)


def test_commands_needing_a_system_tool_are_recognised():
    assert needs_a_missing_tool("symbackprop walkthrough --layers 2,1 --values v.json --format pdf -o w.pdf") != HAVE_PDFLATEX
    assert needs_a_missing_tool("symbackprop graph --expr x*y --values v.json -o g.svg") != HAVE_DOT
    assert not needs_a_missing_tool("symbackprop graph --expr x*y --values v.json -o g.dot")
    assert not needs_a_missing_tool("symbackprop derive --layers 2,1 --format latex")


def test_the_readme_shows_the_real_formula_and_picture():
    import sympy as sp

    import symbackprop as sb
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    d = sb.backprop(sb.mlp([1, 1, 1], loss="bce"))
    assert f"$${sb.gradient_latex(d, sp.Symbol('w1'), closed=False)}$$" in text
    image = re.search(r"!\[[^]]*\]\(([^)]+)\)", text).group(1)
    svg = (ROOT / image).read_text(encoding="utf-8")
    assert "value 1.546" in svg and "∂f/∂x 2.06" in svg  # the CS231n numbers


def test_the_readme_states_the_limits_the_code_enforces():
    from symbackprop import check, network, parse, values
    limits = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split("Limits, each refused")[1].split("###")[0].split())
    stated = {
        f"at most {parse.MAX_LENGTH:,} characters", f"at most {parse.MAX_DEPTH} levels deep",
        f"at most {parse.MAX_POWER_DIGITS:,} digits", f"at most {network.MAX_WEIGHTS:,} weights",
        f"at most {check.MAX_CHECKED:,} parameters", f"at most {values.MAX_FILE_BYTES // 2**20} MB",
        f"at most {values.MAX_DIGITS} significant digits",
    }
    assert {phrase for phrase in stated if phrase not in limits} == set()


def package_imports() -> dict[str, set[str]]:
    """Each module of the package → the package's modules it imports, read from its syntax tree."""
    import ast
    imports = {}
    modules = {path.stem for path in (ROOT / "symbackprop").glob("*.py")} - {"__init__"}
    for path in sorted((ROOT / "symbackprop").glob("*.py")):
        module = path.stem
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:  # (from . import __version__ reads no module)
                found |= {node.module} if node.module else {alias.name for alias in node.names} & modules
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("symbackprop."):
                found.add(node.module.split(".")[1])
        imports[module] = found - {module}
    return imports


def test_data_flows_one_way_no_module_imports_a_later_stage():
    """No import cycle, and no import inside a function to get round one: the modules can be
    ordered so that each imports only modules before it."""
    import ast
    for path in (ROOT / "symbackprop").glob("*.py"):
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = [n for n in ast.walk(function) if isinstance(n, ast.ImportFrom) and n.level >= 1]
                assert not inner, f"{path.name}: {function.name} imports from the package inside a function"
    imports, ordered = package_imports(), []
    while len(ordered) < len(imports):
        ready = [m for m in imports if m not in ordered and imports[m] <= set(ordered)]
        assert ready, f"an import cycle among: {sorted(set(imports) - set(ordered))}"
        ordered += sorted(ready)
