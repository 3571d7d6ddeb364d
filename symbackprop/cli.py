"""The ``symbackprop`` command: derive, codegen, walkthrough, check, verify, graph and demo.

Exit codes:

- 0: done (``check``: every gradient matches; ``verify``: the claim is right);
- 1: ``check`` found a gradient that does not match, or could check nothing (every gradient is
  exactly 0 at the point, analytic and numeric); ``verify`` found a claim that is wrong;
- 2: a user error: bad input (an unknown name, malformed layers, an option out of range, a
  broken values file, a formula that is not allowed, a point outside a function's domain), a
  file that would be overwritten, a missing folder, a missing system program. One line on
  stderr, ``symbackprop: error: …``, and nothing is written;
- 3: a bug in symbackprop: one line, ``symbackprop: internal error: …``, asking for a report;
- 130: interrupted (Ctrl-C); 143: terminated (SIGTERM), one line ``symbackprop: terminated``;
  either way a file being written is left as it was, with no temporary file; 141: the reader of the output went away (``… | head``), quietly.

Options are never abbreviated (``--form`` is not ``--format``). Without ``--format``,
``walkthrough`` takes the format from the output's ending (``.md``, ``.tex``, ``.pdf``).
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from pathlib import Path

import numpy as np
import sympy as sp

from . import __version__, naming
from .api import backprop, mlp
from .check import EPS_RANGE, MAX_DIRECTIONS, UndefinedPoint, as_module, gradcheck
from .codegen import numpy_module
from .compile import compile as compile_module
from .derive import Derivation
from .errors import InputError, SymbackpropError, ToolError
from .files import check_file_name, needs_writing, write_file
from .graph import picture
from .latex import document_latex, gradient_latex
from .matrices import has_matrices, is_matrix, shape_text
from .matrices import sizes as size_symbols
from .network import BIAS_MODES, Graph, weight_count
from .parse import MissingShape, parse_expr
from .primitives import ACTIVATIONS, LOSSES
from .text import TextPrinter, derivation_text, gradient_lines
from .values import matrix, number, read_values, same_name
from .verify import verify
from .walkthrough import given_values, pass_values, walkthrough, walkthrough_latex, walkthrough_markdown, walkthrough_pdf

EXAMPLES = {
    "derive": """examples:
  symbackprop derive --layers 2,2,2,1 --activation sigmoid --loss half_sse
  symbackprop derive --layers 2,2,2 --bias per_layer --param w5 --format latex
  symbackprop derive --expr "(x + sigmoid(y)) / (sigmoid(x) + (x + y)**2)" --wrt x,y
  symbackprop derive --expr "trace((X*W - Y)^T*(X*W - Y))" --shape X=n,m --shape W=m,k --shape Y=n,k --wrt W
  symbackprop derive --layers 784,128,10 --activation relu,softmax --loss cross_entropy --form matrix
  symbackprop derive --layers 2,3,1 --full""",
    "codegen": """examples:
  symbackprop codegen --layers 2,3,1 --activation tanh,sigmoid --loss bce -o grads.py
  symbackprop codegen --expr "w*x + log(1 + exp(b))" --wrt w,b -o grads.py --force
  symbackprop codegen --expr "logdet(S) + a^T*inv(S)*a" --shape S=n,n --shape a=n,1 --wrt S -o gauss.py
  symbackprop codegen --layers 784,128,10 --activation relu,softmax --loss cross_entropy --form matrix -o mnist.py""",
    "walkthrough": """examples:
  symbackprop walkthrough --layers 2,2,2 --bias per_layer --values mazur.json --lr 0.5
  symbackprop walkthrough --layers 2,2,2 --bias per_layer --values mazur.json --format pdf -o mazur.pdf
  (mazur.json: {"x1": 0.05, "x2": 0.1, "y1": 0.01, "y2": 0.99, "w1": 0.15, …, "b2": 0.6})
  symbackprop walkthrough --expr "tr((X*W - Y)^T*(X*W - Y))" --shape X=n,m --shape W=m,k --shape Y=n,k --wrt W --values ls.json --size n=3 --size m=2 --size k=1
  (ls.json: {"X": [[1, 2], [3, 4], [5, 6]], "W": [[0.5], [-1]], "Y": [[1], [0], [2]]}: matrices as rows)""",
    "check": """examples:
  symbackprop check --layers 2,4,4,1 --activation relu,relu,sigmoid --loss bce
  symbackprop check --layers 2,64,64,1 --form matrix --directions 10 --seed 3
  symbackprop check --expr "log(x)*y + sqrt(y)"
  symbackprop check --expr "tr((X*W - Y)^T*(X*W - Y))" --shape X=n,m --shape W=m,k --shape Y=n,k --size n=5\"""",
    "verify": """examples:
  symbackprop verify --expr "sigmoid(z2)" --claim "z2*(1-z2)"
  symbackprop verify --expr "x*y" --wrt x --claim "y"
  symbackprop verify --expr "trace((X*W - Y)^T*(X*W - Y))" --shape X=n,m --shape W=m,k --shape Y=n,k --wrt W --claim "2*X^T*(X*W - Y)"
  symbackprop verify --layers 1,1,1 --loss bce --param w2 --claim "(yhat - y)*a1"
  symbackprop verify --layers 1,1,1 --loss bce --param w2 --chain "y/yhat + (1-y)/(1-yhat)" "z2*(1-z2)" "a1\"""",
    "graph": """examples:
  symbackprop graph --expr "(x + sigmoid(y)) / (sigmoid(x) + (x + y)**2)" --values xy.json -o graph.png
  symbackprop graph --layers 2,2,2 --bias per_layer --values mazur.json -o mazur.svg
  symbackprop graph --expr "logdet(S) + a^T*inv(S)*a" --shape S=n,n --shape a=n,1 -o gauss.svg
  (xy.json: {"x": 3, "y": -4}; the output's ending chooses .dot, .svg or .png; a matrix expression is drawn with
  shapes, without values)""",
    "demo": """examples:
  symbackprop demo
  symbackprop demo --out my-demo
  (writes derivation.tex, grads.py, walkthrough.md, and where pdflatex and Graphviz are
  installed walkthrough.pdf and graph.svg)""",
}


class UsageError(Exception):
    """Bad input on the command line: reported in one line, exit code 2."""


LARGE_NETWORK = 2000  # parameters: above this, a network weight by weight takes long; say so at once
FORMS = ("scalar", "matrix")


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def _number(kind, allowed, requirement: str):
    """An argparse type: a number of ``kind`` (int or float) that ``allowed`` accepts."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole number' if kind is int else 'number'}") from None
        if not allowed(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text}")
        return value
    return parse


STEP = _number(float, lambda v: EPS_RANGE[0] <= v <= EPS_RANGE[1], f"a number from {EPS_RANGE[0]:g} to {EPS_RANGE[1]:g}")
NON_NEGATIVE = _number(float, lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")
FINITE = _number(float, math.isfinite, "a finite number")
COUNT = _number(int, lambda v: v >= 1, "a whole number >= 1")
DIRECTIONS = _number(int, lambda v: 1 <= v <= MAX_DIRECTIONS, f"a whole number from 1 to {MAX_DIRECTIONS:,}")
SEED = _number(int, lambda v: v >= 0, "a whole number >= 0")
DIGITS = _number(int, lambda v: 1 <= v <= 17, "a whole number from 1 to 17")


def _network_options(parser, command: str) -> None:
    group = parser.add_argument_group("a network")
    group.add_argument("--layers", help="layer sizes, inputs first, e.g. 2,2,2,1")
    group.add_argument("--activation", default="sigmoid",
                       help=f"one name, or one per non-input layer, e.g. relu,softmax ({', '.join(ACTIVATIONS)})")
    group.add_argument("--loss", default="half_sse", help=f"{', '.join(LOSSES)} (default half_sse)")
    group.add_argument("--bias", default="per_neuron", help="per_neuron, per_layer or none (default per_neuron)")
    group.add_argument("--form", choices=FORMS,
                       help="scalar: one symbol per weight; matrix: W_l, b_l, X, Y, for any width in milliseconds "
                            f"(default scalar; a network of more than {LARGE_NETWORK} parameters needs the choice made)")
    group = parser.add_argument_group("or an expression")
    group.add_argument("--expr", help='a formula, e.g. "x*sigmoid(y)" or "trace(X^T*X)" (read safely, never evaluated)')
    group.add_argument("--wrt", help="the symbols to differentiate with respect to, e.g. x,y (default: all)")
    group.add_argument("--shape", action="append", metavar="NAME=ROWS,COLS",
                       help="make NAME a matrix of this shape, sizes as numbers or names (X=n,m; w=3,1; a column: a=n); "
                            "repeat for each matrix")


def _layers(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"malformed --layers {text!r}: give positive sizes separated by commas, like 2,2,1") from None
    return sizes


def parameter_count(sizes, bias) -> int:
    """How many weights and biases a network with these layer sizes has.

    >>> parameter_count([784, 128, 10], "per_neuron")
    101770
    """
    weights = weight_count(sizes)
    return weights + {"per_neuron": sum(sizes[1:]), "per_layer": len(sizes) - 1}.get(bias, 0)


def _network(args):
    """The network or expression the options describe."""
    form = getattr(args, "form", None)
    if args.expr is not None and args.layers is not None:
        raise UsageError("give either --layers or --expr, not both")
    if args.expr is not None:
        if form == "matrix":
            raise UsageError("--form matrix is for networks (--layers); an expression is derived symbol by symbol")
        shapes = _shapes(args)
        try:  # --wrt e makes e a variable, not Euler's number
            expr = parse_expr(args.expr, variables=_wrt(args) or (), shapes=shapes)
        except MissingShape as error:
            raise UsageError(f"{error.name} is used as a matrix but has no shape: give it one with --shape {error.name}=ROWS,COLS "
                             "(sizes as numbers or names, e.g. n,m)") from None
        unused = sorted(set(shapes) - {s.name for s in expr.atoms(sp.MatrixSymbol)})
        if unused:
            raise UsageError(f"--shape gives {', '.join(unused)}, which the formula does not use")
        return expr
    if args.shape:
        raise UsageError("--shape goes with --expr: a network's matrices have their shapes from --layers")
    if args.layers is None:
        raise UsageError("give a network (--layers 2,2,1) or an expression (--expr \"...\")")
    sizes, bias, count = _sizes(args)
    if form is None and count > LARGE_NETWORK:
        raise UsageError(f"the {args.layers.replace(',', '-')} network has {count} parameters: weight by weight this takes "
                         f"long; pass --form matrix to derive it in matrix form (milliseconds), or --form scalar to go on anyway")
    activation = args.activation.split(",") if "," in args.activation else args.activation
    return mlp(sizes, activation=activation, loss=args.loss, bias=bias, form=form or "scalar")


def _sizes(args) -> tuple[list[int], str | None, int]:
    """The layer sizes, the bias mode and the parameter count --layers and --bias describe."""
    bias = None if args.bias == "none" else args.bias
    if bias not in BIAS_MODES:
        raise UsageError(f"unknown --bias {args.bias!r}; use per_neuron, per_layer or none")
    sizes = _layers(args.layers)
    return sizes, bias, parameter_count(sizes, bias) if all(n >= 1 for n in sizes) else 0


def _shapes(args) -> dict[str, str]:
    """The shapes given with --shape NAME=ROWS,COLS, by name."""
    shapes: dict[str, str] = {}
    for given in args.shape or ():
        name, _, shape = given.partition("=")
        name = name.strip()
        if not name or not shape.strip():
            raise UsageError(f"malformed --shape {given!r}: write NAME=ROWS,COLS, e.g. X=n,m or w=3,1")
        if name in shapes:
            raise UsageError(f"--shape gives {name} twice")
        shapes[name] = shape
    return shapes


def _sizes_given(args) -> dict[str, int] | None:
    """The sizes given with --size NAME=NUMBER, by name (None where none are given)."""
    if not getattr(args, "size", None):
        return None
    sizes: dict[str, int] = {}
    for given in args.size:
        name, _, value = given.partition("=")
        if name.strip() in sizes:
            raise UsageError(f"--size gives {name.strip()} twice")
        try:
            sizes[name.strip()] = COUNT(value.strip())
        except argparse.ArgumentTypeError as error:
            raise UsageError(f"malformed --size {given!r}: write NAME=NUMBER, e.g. n=3 ({error})") from None
    return sizes


def _wrt(args) -> list[str] | None:
    """The names given with --wrt, or None."""
    return [name.strip() for name in args.wrt.split(",")] if getattr(args, "wrt", None) else None


def _derivation(args) -> Derivation:
    target = _network(args)
    wrt = _wrt(args)
    if wrt is not None and args.expr is None:
        raise UsageError("--wrt goes with --expr; for a network, choose a parameter with --param")
    return backprop(target, wrt=wrt)


def _size_option(parser) -> None:
    parser.add_argument("--size", action="append", metavar="NAME=NUMBER",
                        help="the value of a size named in --shape (n=3), for functions of matrices of symbolic size; repeat for each")


def _parameter(d, name: str) -> sp.Symbol:
    """The parameter ``name`` stands for, by any name the library prints for it (W1 for W_1)."""
    try:
        p = d.symbol(name)
    except InputError:
        p = None
    if p in d.wrt:
        return p
    raise UsageError(f"{name!r} is not a parameter here; the parameters: {', '.join(p.name for p in d.wrt)}")


def _emit(text: str | bytes, output: str | None, force: bool) -> None:
    if output is None:
        sys.stdout.write(text if isinstance(text, str) else text.decode())
    else:
        write_file(output, text, force=force)
        print(f"wrote {output}")


def run_derive(args) -> int:
    d = _derivation(args)
    if args.full and args.param:
        raise UsageError("--full shows every parameter, --param one: give one of them")
    if args.param and d.graph.has_matrices and args.format != "latex":  # no chain rule: the delta view and the closed form
        p = _parameter(d, args.param)
        show = TextPrinter(naming.text_names(d.graph)).doprint
        print(f"∂{show(d.graph.output)}/∂{show(p)} = {show(d.gradient(p))}\n   = {show(d[p])}")
    elif args.param:
        p = _parameter(d, args.param)
        if args.format == "latex":
            print(gradient_latex(d, p))
        else:
            print("\n".join(f"{lhs} = {rhs}" if lhs else f"   = {rhs}" for lhs, rhs in gradient_lines(d, p)))
    elif args.format == "latex":
        print(document_latex(d).rstrip("\n"))
    else:  # the chain rule of the first parameter, unless every one is asked for (none for matrix steps)
        print(derivation_text(d, show_chain=list(d.wrt) if args.full and not d.graph.has_matrices else None), end="")
    return 0


def run_codegen(args) -> int:
    _output(args)
    d = _derivation(args)
    _emit(numpy_module(d), args.output, args.force)
    return 0


FORMAT_ENDINGS = {".md": "markdown", ".markdown": "markdown", ".tex": "latex", ".pdf": "pdf"}


def _output(args) -> str | None:
    """The -o file, refused at once where its name ends with a separator (a folder)."""
    if getattr(args, "output", None) is not None:
        check_file_name(args.output)
    return getattr(args, "output", None)


def _format(args) -> str:
    """--format, or where it is not given the one the output's ending names (markdown otherwise);
    a --format that contradicts a known ending is refused."""
    ending = Path(args.output).suffix.lower() if args.output else ""
    implied = FORMAT_ENDINGS.get(ending)
    if args.format is None:
        return implied or "markdown"
    if implied is not None and implied != args.format:
        raise UsageError(f"--format {args.format} does not fit the output {args.output} (a {ending} file is {implied}); "
                         f"drop --format or change the ending")
    return args.format


def run_walkthrough(args) -> int:
    _output(args)
    args.format = _format(args)
    d = _derivation(args)
    if isinstance(d, Derivation) and d.graph.has_matrices:
        w = walkthrough(d, read_values(args.values, matrices=True), learning_rate=args.lr, exact=args.exact, sizes=_sizes_given(args))
    else:
        if args.size:
            raise UsageError("--size gives the sizes of matrices (--shape); this function has none")
        w = walkthrough(d, read_values(args.values), learning_rate=args.lr, exact=args.exact)
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
    if args.directions is None and args.form is not None and args.layers is not None and args.expr is None:
        # (without --form a network this large is refused first: it must choose its form)
        count = _sizes(args)[2]
        if count > LARGE_NETWORK:
            raise UsageError(f"the {args.layers.replace(',', '-')} network has {count} parameters: checking each one takes "
                             f"long; pass --directions 10 to check 10 random directions")
    d = _derivation(args)
    values = read_values(args.values, matrices=d.graph.has_matrices) if args.values else None
    if d.graph.has_matrices and not d.graph.is_network:  # a function of matrices
        return _check_matrices(d, args, values)
    if args.size and not d.graph.has_matrices:
        raise UsageError("--size gives the sizes of matrices (--shape); this function has none")
    module = as_module(compile_module(d), sizes=_sizes_given(args))
    given = {}
    if values is not None and any(isinstance(value, list) for value in values.values()):
        given = _matrices_given(values, d.graph, module, args.values)
    elif values is not None:
        names = {same_name(n): n for n in module.INPUTS + module.TARGETS + module.PARAMETERS}
        unknown = [name for name in values if name not in names]
        if unknown:
            raise UsageError(f"{unknown[0]!r} is not a variable of {d.graph.description}; its variables: {naming.listing(list(names.values()))}")
        missing = [n for key, n in names.items() if key not in values]
        if missing:
            raise UsageError(f"the values file {args.values} lacks {', '.join(missing)}")
        for group, names in (("params", module.PARAMETERS), ("inputs", module.INPUTS), ("targets", module.TARGETS)):
            given[group] = np.array([number(values[same_name(n)], n) for n in names], dtype=float)
        if not d.graph.has_matrices:
            given_values(d.graph, values)  # unknown names, and targets the loss cannot take, named as walkthrough does
    try:
        report = gradcheck(module, **given, eps=args.eps, atol=args.atol, rtol=args.rtol,
                           directions=args.directions, seed=args.seed)
    except UndefinedPoint:
        if d.graph.has_matrices:
            raise
        pass_values(d, given_values(d.graph, values))  # names the step, the variables and their values
        raise
    print(report)
    return 0 if report.passed and not report.checked_nothing else 1


def _matrices_given(values: dict, graph, module, path: str) -> dict:
    """The point of a check of a network in matrix form from a values file of whole matrices, as
    the walkthrough takes them: the parameters' entries in one vector, and X and Y (one column
    per sample) as rows of inputs and targets."""
    by_name = {same_name(v.name): v for v in graph.variables}
    unknown = [name for name in values if same_name(name) not in by_name]
    if unknown:
        raise UsageError(f"{unknown[0]!r} is not a variable of {graph.description}; its variables: {naming.listing(list(by_name))}")
    missing = [v.name for key, v in by_name.items() if key not in {same_name(name) for name in values}]
    if missing:
        raise UsageError(f"the values file {path} lacks {', '.join(missing)}")
    given = {by_name[same_name(name)]: value for name, value in values.items()}
    arrays = {v: matrix(value, v.name) if is_matrix(v) else np.array(float(number(value, v.name))) for v, value in given.items()}
    X, Y = (arrays[v] if arrays[v].ndim == 2 else arrays[v].reshape(-1, 1) for v in graph.inputs + graph.targets)  # a flat list: one sample
    wanted = {**dict(zip(graph.params, module.shapes)), graph.inputs[0]: (len(module.INPUTS), X.shape[1]),
              graph.targets[0]: (len(module.TARGETS), X.shape[1])}
    arrays |= {graph.inputs[0]: X, graph.targets[0]: Y}
    for v, shape in wanted.items():
        if arrays[v].shape != shape and arrays[v].size == int(np.prod(shape)) and 1 in shape:
            arrays[v] = arrays[v].reshape(shape)  # a flat list for a column
        if arrays[v].shape != shape:
            shown = shape_text(shape) if v in graph.params else f"{shape_text(v.shape)} = {shape_text(shape)} (one column per sample)"
            raise UsageError(f"the value of {v.name} must be {shown} at these layer sizes, got {shape_text(arrays[v].shape) or 'a number'}")
    return dict(params=np.concatenate([np.ravel(arrays[p]) for p in graph.params]), inputs=arrays[graph.inputs[0]].T,
                targets=arrays[graph.targets[0]].T)


def _check_matrices(d, args, values) -> int:
    """``check`` of a function of matrices: at a random point drawn with --seed, at the sizes --size
    gives (small ones where a size is symbolic and not given)."""
    if values is not None:
        raise UsageError("a function of matrices is checked at a random point: leave out --values (choose it with --seed, "
                         "the sizes with --size)")
    sizes = _sizes_given(args)
    module = as_module(compile_module(d), sizes=sizes)
    report = gradcheck(module, eps=args.eps, atol=args.atol, rtol=args.rtol, directions=args.directions, seed=args.seed)
    print(report)
    return 0 if report.passed and not report.checked_nothing else 1


def run_verify(args) -> int:
    if (args.claim is None) == (args.chain is None):
        raise UsageError("give the claimed formula with --claim, or its chain-rule factors with --chain")
    target = _network(args)
    if args.expr is not None:
        wrt = args.wrt
        if wrt is not None and "," in wrt:
            raise UsageError("verify checks one derivative: give one symbol with --wrt")
        if wrt is None:  # the claim is a derivative: with respect to the only variable, or say which
            names = sorted(symbol.name for symbol in target.free_symbols - set(size_symbols(target)))
            if len(names) != 1:
                raise UsageError(f"say which variable the claim is the derivative by: --wrt, one of {', '.join(names)}")
            wrt = names[0]
    else:
        if args.wrt is not None:
            raise UsageError("--wrt goes with --expr; for a network, choose the parameter with --param")
        if args.param is None:
            raise UsageError("say which parameter the claim is about with --param, e.g. --param w1")
        wrt = args.param
    verdict = verify(args.claim if args.claim is not None else args.chain, target, wrt=wrt)
    print(verdict)
    return 0 if verdict else 1


def run_graph(args) -> int:
    _output(args)
    target = _network(args)
    matrices = target.has_matrices if isinstance(target, Graph) else has_matrices(target)
    if args.values is None and not matrices:
        raise UsageError("the following arguments are required: --values (a matrix expression may be drawn without values)")
    if args.size and not matrices:
        raise UsageError("--size gives the sizes of matrices (--shape); this function has none")
    values = read_values(args.values, matrices=matrices) if args.values is not None else None
    sizes = {"sizes": _sizes_given(args)} if args.size else {}  # symbolic sizes, for a picture at values
    drawing = picture(target, values, max_nodes=args.max_nodes, **sizes)
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
    folder = Path(args.out)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file, not a folder; choose another with --out")
    w = walkthrough(d, DEMO_VALUES, learning_rate=0.5)
    outputs = {"derivation.tex": document_latex(d), "grads.py": numpy_module(d), "walkthrough.md": walkthrough_markdown(w)}
    notes = []
    # The picture needs Graphviz and the PDF pdflatex; without them the demo still succeeds.
    try:
        outputs["graph.svg"] = picture(net, DEMO_VALUES).svg()
    except ToolError as error:
        notes.append(f"graph.svg not made: {error}")
    # The PDF costs a pdflatex run: it is made only when absent, or again with --force.
    pdf = folder / "walkthrough.pdf"
    make_pdf = args.force or not (pdf.exists() or pdf.is_symlink())
    if folder.is_dir():  # every file is checked before any is written or anything printed
        for name, text in outputs.items():
            needs_writing(folder / name, text, force=args.force, unchanged_ok=True)
        if make_pdf:
            needs_writing(pdf, b"", force=True)  # a folder or a device in its place is refused now
    try:
        folder.mkdir(exist_ok=True)
    except OSError as error:
        raise type(error)(f"cannot create the folder {folder}: {(error.strerror or str(error)).lower()}") from None
    for name, text in outputs.items():  # the same run writes the same bytes: a rerun changes nothing
        write_file(folder / name, text, force=args.force, unchanged_ok=True)
    print(derivation_text(d), end="")
    written = list(outputs)
    if make_pdf:
        try:
            walkthrough_pdf(w, pdf, force=args.force)
            written.insert(3, pdf.name)
        except ToolError as error:
            notes.insert(0, f"{pdf.name} not made: {error}")
    else:
        notes.insert(0, f"{pdf} kept as it was (pass --force to make it again)")
    print(f"\nWrote {', '.join(str(folder / name) for name in written)}.")
    for line in notes:
        print(line)
    print()
    report = gradcheck(compile_module(d))
    print("Gradient check of the generated code against central finite differences:")
    print(report)
    return 0 if report.passed else 1


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="symbackprop", description="Backpropagation derived symbolically: chain rule, deltas, "
                  "closed forms, LaTeX, NumPy code, worked examples and checks.",
                  epilog="exit codes: 0 done (check, verify: right), 1 check or verify found something wrong (check: "
                  "or nothing could be checked), "
                  "2 a user error (one line on stderr, nothing written), 3 a bug in symbackprop, 130 interrupted, 143 terminated")
    top.add_argument("--version", action="version", version=f"symbackprop {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="command", parser_class=_Parser)

    def command(name, help_, run):
        sub = commands.add_parser(name, help=help_, description=help_, epilog=EXAMPLES[name],
                                  formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
        sub.set_defaults(run=run)
        if name != "demo":
            _network_options(sub, name)
        return sub

    sub = command("derive", "print the chain rule, the deltas and the closed forms", run_derive)
    sub.add_argument("--param", help="one parameter's chain rule, delta form and closed form")
    sub.add_argument("--full", action="store_true",
                     help="text: the chain rule of every parameter (default: the first parameter's only; long for a large network)")
    sub.add_argument("--format", choices=("text", "latex"), default="text")

    sub = command("codegen", "write the standalone NumPy gradient module", run_codegen)
    sub.add_argument("-o", "--output", required=True, help="the file to write, e.g. grads.py")
    sub.add_argument("--force", action="store_true", help="overwrite an existing file (a symbolic link: the file it points to)")

    sub = command("walkthrough", "a worked example with numbers, from a JSON file of values", run_walkthrough)
    sub.add_argument("--values", required=True, help="a JSON object of every input, target and parameter")
    sub.add_argument("--lr", type=FINITE, default=0.5, help="learning rate (default 0.5)")
    sub.add_argument("--format", choices=("markdown", "latex", "pdf"),
                     help="default: from the output's ending (.md, .tex, .pdf), else markdown")
    sub.add_argument("--digits", type=DIGITS, default=6, help="significant digits, 1 to 17 (default 6)")
    sub.add_argument("--exact", action="store_true", help="exact values (rationals) where the inputs are rational")
    _size_option(sub)
    sub.add_argument("-o", "--output", help="the file to write (default: standard output)")
    sub.add_argument("--force", action="store_true", help="overwrite an existing file (a symbolic link: the file it points to)")

    sub = command("check", "check the gradients against central finite differences", run_check)
    sub.add_argument("--values", help="a JSON object of values (default: random, drawn with --seed inside the domain)")
    sub.add_argument("--seed", type=SEED, default=0, help="the random point's seed, >= 0 (default 0)")
    sub.add_argument("--directions", type=DIRECTIONS, help=f"check this many random directions (1 to {MAX_DIRECTIONS:,}) instead "
                     "of every parameter")
    sub.add_argument("--eps", type=STEP, default=1e-6, help=f"the finite-difference step relative to max(1, |parameter|), "
                     f"{EPS_RANGE[0]:g} to {EPS_RANGE[1]:g} (default 1e-6)")
    sub.add_argument("--atol", type=NON_NEGATIVE, default=1e-5, help="absolute tolerance, >= 0 (default 1e-5)")
    sub.add_argument("--rtol", type=NON_NEGATIVE, default=1e-3, help="relative tolerance, >= 0 (default 1e-3)")
    _size_option(sub)

    sub = command("verify", "check a hand-derived formula and say what is wrong", run_verify)
    sub.add_argument("--param", help="the parameter of the network the claim is about")
    sub.add_argument("--claim", help="the claimed derivative")
    sub.add_argument("--chain", nargs="+", help="the claimed chain-rule factors, output first")

    sub = command("graph", "draw the computational graph with values, gradients and local derivatives", run_graph)
    sub.add_argument("--values", help="a JSON object of every input, target and parameter, matrices as rows of numbers "
                     "(required, except for a matrix expression, which may be drawn with shapes only)")
    sub.add_argument("-o", "--output", help="a .dot, .svg or .png file (default: DOT on standard output)")
    sub.add_argument("--max-nodes", type=COUNT, default=150, help="refuse larger graphs (default 150)")
    _size_option(sub)
    sub.add_argument("--force", action="store_true", help="overwrite an existing file (a symbolic link: the file it points to)")

    sub = command("demo", "the whole job on the classic 2-2-2-1 sigmoid network", run_demo)
    sub.add_argument("--out", default="symbackprop-demo", help="the folder to write into (default symbackprop-demo)")
    sub.add_argument("--force", action="store_true", help="overwrite files there that differ, and remake the PDF")
    return top


MAX_MESSAGE = 1000  # characters of an error message shown; the rest is cut


def _one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _os_message(error: OSError) -> str:
    """An operating-system error in words: the library's own message, or what failed on which file."""
    if error.filename is not None and error.strerror:
        return f"{error.strerror}: {error.filename}"
    return str(error)


def _quiet_stdout() -> None:
    """Point standard output at /dev/null, so that flushing it at exit raises nothing more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


class _AsciiConsole:
    """A text stream that writes the library's symbols in their ASCII spelling (δ_3 → delta_3),
    for a console whose encoding cannot show them."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(naming.ascii_text(text))

    def __getattr__(self, name):
        return getattr(self.stream, name)


def _console(stream):
    """``stream`` itself where its encoding can show every symbol the library prints, else an
    :class:`_AsciiConsole` over it (files written with ``-o`` stay UTF-8 either way).

    >>> import io
    >>> _console(io.TextIOWrapper(io.BytesIO(), encoding="cp1252")).write("δ_3")
    7
    """
    try:
        "".join(naming.ASCII).encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return _AsciiConsole(stream)
    return stream


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: raised like Ctrl-C's KeyboardInterrupt, so every cleanup that runs on
    Ctrl-C (a half-written temporary file removed) runs on SIGTERM too."""


def _raise_terminated(signum, frame):
    raise Terminated


def _on_sigterm_raise():
    """Make SIGTERM raise :class:`Terminated` (in the main thread only; elsewhere Python cannot
    install handlers); return a function that puts the previous handler back."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except (ValueError, AttributeError, OSError):  # not the main thread, or no SIGTERM here
        return lambda: None
    return lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def main(argv=None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    >>> main(["check", "--expr", "x**2", "--eps", "0"])  # the message goes to stderr
    2
    """
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = map(_console, streams)
    restore_sigterm = _on_sigterm_raise()
    try:
        return _main(argv)
    finally:
        restore_sigterm()
        sys.stdout, sys.stderr = streams


def _main(argv) -> int:
    try:
        try:
            args = parser().parse_args(argv)
            code = args.run(args)
            sys.stdout.flush()
            return code
        except BrokenPipeError:  # the reader went away (… | head): stop quietly, as cat does
            _quiet_stdout()
            return 141
    except Terminated:
        print("symbackprop: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("symbackprop: interrupted", file=sys.stderr)
        return 130
    except (UsageError, SymbackpropError) as error:
        print(f"symbackprop: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except OSError as error:  # reading or writing a file: it exists, is missing, is a folder, is not ours
        print(f"symbackprop: error: {_one_line(_os_message(error))}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 -- anything else is a bug in symbackprop, not in the user's input
        print(f"symbackprop: internal error: {type(error).__name__}: {_one_line(error, 200)} — this is a bug in "
              "symbackprop; please report it with the command you ran", file=sys.stderr)
        return 3


def run() -> None:
    """The console script."""
    sys.exit(main())
