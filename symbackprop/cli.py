"""The ``symbackprop`` command: derive, codegen, walkthrough, check, verify and demo.

Bad input (an unknown name, malformed layers, a broken values file, a formula that is not
allowed, a missing folder, a file that would be overwritten) gets one line on stderr and exit
code 2, and nothing is written; ``check`` and ``verify`` exit 0 when all is right, 1 when not.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import sympy as sp

from . import __version__
from .api import backprop
from .check import gradcheck
from .codegen import numpy_module
from .compile import compile as compile_module
from .derive import Derivation
from .files import needs_writing, write_file
from .graph import picture
from .latex import document_latex, gradient_latex
from .network import BIAS_MODES, mlp
from .parse import ParseError, parse_expr
from .primitives import ACTIVATIONS, LOSSES
from .text import derivation_text, gradient_lines
from .verify import verify
from .walkthrough import walkthrough, walkthrough_latex, walkthrough_markdown, walkthrough_pdf

EXAMPLES = {
    "derive": """examples:
  symbackprop derive --layers 2,2,2,1 --activation sigmoid --loss half_sse
  symbackprop derive --layers 2,2,2 --bias per_layer --param w5 --format latex
  symbackprop derive --expr "(x + sigmoid(y)) / (sigmoid(x) + (x + y)**2)" --wrt x,y""",
    "codegen": """examples:
  symbackprop codegen --layers 2,3,1 --activation tanh,sigmoid --loss bce -o grads.py
  symbackprop codegen --expr "w*x + log(1 + exp(b))" --wrt w,b -o grads.py --force""",
    "walkthrough": """examples:
  symbackprop walkthrough --layers 2,2,2 --bias per_layer --values mazur.json --lr 0.5
  symbackprop walkthrough --layers 2,2,2 --bias per_layer --values mazur.json --format pdf -o mazur.pdf
  (mazur.json: {"x1": 0.05, "x2": 0.1, "y1": 0.01, "y2": 0.99, "w1": 0.15, …, "b2": 0.6})""",
    "check": """examples:
  symbackprop check --layers 2,4,4,1 --activation relu,relu,sigmoid --loss bce
  symbackprop check --layers 2,64,64,1 --directions 10 --seed 3""",
    "verify": """examples:
  symbackprop verify --expr "sigmoid(z2)" --wrt z2 --claim "z2*(1-z2)"
  symbackprop verify --layers 1,1,1 --loss bce --param w2 --claim "(yhat - y)*a1"
  symbackprop verify --layers 1,1,1 --loss bce --param w2 --chain "y/yhat + (1-y)/(1-yhat)" "z2*(1-z2)" "a1\"""",
    "graph": """examples:
  symbackprop graph --expr "(x + sigmoid(y)) / (sigmoid(x) + (x + y)**2)" --values xy.json -o graph.png
  symbackprop graph --layers 2,2,2 --bias per_layer --values mazur.json -o mazur.svg
  (xy.json: {"x": 3, "y": -4}; the output's ending chooses .dot, .svg or .png)""",
    "demo": """examples:
  symbackprop demo
  symbackprop demo --out my-demo""",
}


class UsageError(Exception):
    """Bad input on the command line: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def _network_options(parser) -> None:
    group = parser.add_argument_group("a network")
    group.add_argument("--layers", help="layer sizes, inputs first, e.g. 2,2,2,1")
    group.add_argument("--activation", default="sigmoid",
                       help=f"one name, or one per non-input layer, e.g. relu,softmax ({', '.join(ACTIVATIONS)})")
    group.add_argument("--loss", default="half_sse", help=f"{', '.join(LOSSES)} (default half_sse)")
    group.add_argument("--bias", default="per_neuron", help="per_neuron, per_layer or none (default per_neuron)")
    group = parser.add_argument_group("or an expression")
    group.add_argument("--expr", help='a formula, e.g. "x*sigmoid(y)" (read safely, never evaluated)')
    group.add_argument("--wrt", help="the symbols to differentiate with respect to, e.g. x,y (default: all)")


def _layers(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"malformed --layers {text!r}: give positive sizes separated by commas, like 2,2,1") from None
    return sizes


def _network(args):
    """The network or expression the options describe."""
    if args.expr is not None and args.layers is not None:
        raise UsageError("give either --layers or --expr, not both")
    if args.expr is not None:
        return parse_expr(args.expr)
    if args.layers is None:
        raise UsageError("give a network (--layers 2,2,1) or an expression (--expr \"...\")")
    bias = None if args.bias == "none" else args.bias
    if bias not in BIAS_MODES:
        raise UsageError(f"unknown --bias {args.bias!r}; use per_neuron, per_layer or none")
    activation = args.activation.split(",") if "," in args.activation else args.activation
    return mlp(_layers(args.layers), activation=activation, loss=args.loss, bias=bias)


def _derivation(args) -> Derivation:
    target = _network(args)
    wrt = [name.strip() for name in args.wrt.split(",")] if getattr(args, "wrt", None) else None
    if wrt is not None and args.expr is None:
        raise UsageError("--wrt goes with --expr; for a network, choose a parameter with --param")
    return backprop(target, wrt=wrt)


def _parameter(d: Derivation, name: str) -> sp.Symbol:
    for p in d.wrt:
        if p.name == name:
            return p
    raise UsageError(f"{name!r} is not a parameter here; the parameters: {', '.join(p.name for p in d.wrt)}")


def _values(path: str) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read the values file {path}: {error.strerror}") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"the values file {path} is not valid JSON: {error.msg} at line {error.lineno}") from None
    if not isinstance(values, dict):
        raise UsageError(f"the values file {path} must hold a JSON object of names and numbers, like {{\"x1\": 0.5}}")
    return values


def _emit(text: str | bytes, output: str | None, force: bool) -> None:
    if output is None:
        sys.stdout.write(text if isinstance(text, str) else text.decode())
    else:
        write_file(output, text, force=force)
        print(f"wrote {output}")


def run_derive(args) -> int:
    d = _derivation(args)
    chosen = [_parameter(d, args.param)] if args.param else list(d.wrt)
    if args.format == "latex":
        print(gradient_latex(d, chosen[0]) if args.param else document_latex(d).rstrip("\n"))
    elif args.param:
        print("\n".join(f"{lhs} = {rhs}" if lhs else f"   = {rhs}" for lhs, rhs in gradient_lines(d, chosen[0])))
    else:
        print(derivation_text(d, show_chain=chosen), end="")
    return 0


def run_codegen(args) -> int:
    d = _derivation(args)
    _emit(numpy_module(d), args.output, args.force)
    return 0


def run_walkthrough(args) -> int:
    d = _derivation(args)
    w = walkthrough(d, _values(args.values), learning_rate=args.lr, exact=args.exact)
    if args.format == "pdf":
        if args.output is None:
            raise UsageError("--format pdf needs an output file: -o walkthrough.pdf")
        walkthrough_pdf(w, args.output, args.digits, force=args.force)
        print(f"wrote {args.output}")
    else:
        render = walkthrough_markdown if args.format == "markdown" else walkthrough_latex
        _emit(render(w, args.digits), args.output, args.force)
    return 0


def run_check(args) -> int:
    d = _derivation(args)
    module = compile_module(d)
    given = {}
    if args.values:
        values = _values(args.values)
        missing = [n for n in module.INPUTS + module.TARGETS + module.PARAMETERS if n not in values]
        if missing:
            raise UsageError(f"the values file {args.values} lacks {', '.join(missing)}")
        for group, names in (("params", module.PARAMETERS), ("inputs", module.INPUTS), ("targets", module.TARGETS)):
            try:
                given[group] = np.array([values[n] for n in names], dtype=float)
            except (TypeError, ValueError):
                raise UsageError(f"the values file {args.values} has a value that is not a number among the {group}") from None
    report = gradcheck(module, **given, eps=args.eps, atol=args.atol, rtol=args.rtol,
                       directions=args.directions, seed=args.seed)
    print(report)
    return 0 if report.passed else 1


def run_verify(args) -> int:
    if (args.claim is None) == (args.chain is None):
        raise UsageError("give the claimed formula with --claim, or its chain-rule factors with --chain")
    target = _network(args)
    if args.expr is not None:
        wrt = args.wrt
        if wrt is not None and "," in wrt:
            raise UsageError("verify checks one derivative: give one symbol with --wrt")
    else:
        if args.param is None:
            raise UsageError("say which parameter the claim is about with --param, e.g. --param w1")
        wrt = args.param
    verdict = verify(args.claim if args.claim is not None else args.chain, target, wrt=wrt)
    print(verdict)
    return 0 if verdict else 1


def run_graph(args) -> int:
    target = _network(args)
    values = _values(args.values)
    drawing = picture(target, values, max_nodes=args.max_nodes)
    if args.output is None:
        sys.stdout.write(drawing.dot)
    else:
        drawing.save(args.output, force=args.force)
        print(f"wrote {args.output}")
    return 0


DEMO_VALUES = {"x1": 0.05, "x2": 0.10, "y1": 0.01, "w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30, "w5": 0.40,
               "w6": 0.45, "w7": 0.50, "w8": 0.55, "w9": 0.30, "w10": 0.35, "b1": 0.35, "b2": 0.35, "b3": 0.60,
               "b4": 0.60, "b5": 0.25}


def run_demo(args) -> int:
    net = mlp([2, 2, 2, 1], activation="sigmoid", loss="half_sse")
    d = backprop(net)
    print(derivation_text(d), end="")
    folder = Path(args.out)
    folder.mkdir(exist_ok=True)
    w = walkthrough(d, DEMO_VALUES, learning_rate=0.5)
    outputs = {"derivation.tex": document_latex(d), "grads.py": numpy_module(d), "walkthrough.md": walkthrough_markdown(w)}
    for name, text in outputs.items():  # every file is checked before any is written
        needs_writing(folder / name, text, force=args.force, unchanged_ok=True)
    for name, text in outputs.items():  # the same run writes the same bytes: a rerun changes nothing
        write_file(folder / name, text, force=args.force, unchanged_ok=True)
    print(f"\nWrote {', '.join(str(folder / name) for name in outputs)}.\n")
    report = gradcheck(compile_module(d))
    print("Gradient check of the generated code against central finite differences:")
    print(report)
    return 0 if report.passed else 1


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="symbackprop", description="Backpropagation derived symbolically: chain rule, deltas, "
                  "closed forms, LaTeX, NumPy code, worked examples and checks.")
    top.add_argument("--version", action="version", version=f"symbackprop {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="command", parser_class=_Parser)

    def command(name, help_, run):
        sub = commands.add_parser(name, help=help_, description=help_, epilog=EXAMPLES[name],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.set_defaults(run=run)
        return sub

    sub = command("derive", "print the chain rule, the deltas and the closed forms", run_derive)
    _network_options(sub)
    sub.add_argument("--param", help="one parameter (default: all)")
    sub.add_argument("--format", choices=("text", "latex"), default="text")

    sub = command("codegen", "write the standalone NumPy gradient module", run_codegen)
    _network_options(sub)
    sub.add_argument("-o", "--output", required=True, help="the file to write, e.g. grads.py")
    sub.add_argument("--force", action="store_true", help="overwrite an existing file")

    sub = command("walkthrough", "a worked example with numbers, from a JSON file of values", run_walkthrough)
    _network_options(sub)
    sub.add_argument("--values", required=True, help="a JSON object of every input, target and parameter")
    sub.add_argument("--lr", type=float, default=0.5, help="learning rate (default 0.5)")
    sub.add_argument("--format", choices=("markdown", "latex", "pdf"), default="markdown")
    sub.add_argument("--digits", type=int, default=6, help="significant digits (default 6)")
    sub.add_argument("--exact", action="store_true", help="exact values (rationals) where the inputs are rational")
    sub.add_argument("-o", "--output", help="the file to write (default: standard output)")
    sub.add_argument("--force", action="store_true", help="overwrite an existing file")

    sub = command("check", "check the gradients against central finite differences", run_check)
    _network_options(sub)
    sub.add_argument("--values", help="a JSON object of values (default: random, drawn with --seed)")
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--directions", type=int, help="check this many random directions instead of every parameter")
    sub.add_argument("--eps", type=float, default=1e-6)
    sub.add_argument("--atol", type=float, default=1e-5)
    sub.add_argument("--rtol", type=float, default=1e-3)

    sub = command("verify", "check a hand-derived formula and say what is wrong", run_verify)
    _network_options(sub)
    sub.add_argument("--param", help="the parameter of the network the claim is about")
    sub.add_argument("--claim", help="the claimed derivative")
    sub.add_argument("--chain", nargs="+", help="the claimed chain-rule factors, output first")

    sub = command("graph", "draw the computational graph with values, gradients and local derivatives", run_graph)
    _network_options(sub)
    sub.add_argument("--values", required=True, help="a JSON object of every input, target and parameter")
    sub.add_argument("-o", "--output", help="a .dot, .svg or .png file (default: DOT on standard output)")
    sub.add_argument("--max-nodes", type=int, default=150, help="refuse larger graphs (default 150)")
    sub.add_argument("--force", action="store_true", help="overwrite an existing file")

    sub = command("demo", "the whole job on the classic 2-2-2-1 sigmoid network", run_demo)
    sub.add_argument("--out", default="symbackprop-demo", help="the folder to write into (default symbackprop-demo)")
    sub.add_argument("--force", action="store_true", help="overwrite files there that differ")
    return top


def main(argv=None) -> int:
    try:
        args = parser().parse_args(argv)
        return args.run(args)
    except (UsageError, ParseError, ValueError, TypeError, FileExistsError, FileNotFoundError, RuntimeError) as error:
        print(f"symbackprop: error: {error}", file=sys.stderr)
        return 2
    except KeyError as error:
        print(f"symbackprop: error: {error.args[0]}", file=sys.stderr)
        return 2


def run() -> None:
    """The console script."""
    sys.exit(main())
