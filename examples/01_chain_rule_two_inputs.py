"""Example 1: the chain rule through one node of a two-input function, with the graph picture.

f(x, y) = (x + σ(y)) / (σ(x) + (x + y)²) at x = 3, y = −4 (the staged-computation example of
CS231n): every step, its local derivatives, and ∂f/∂x, ∂f/∂y, drawn as a computational graph.
"""

import shutil

import sympy as sp
from _common import output_folder, write

import symbackprop as sb
from symbackprop.text import derivation_text

x, y = sp.symbols("x y")
f = (x + sb.sigmoid(y)) / (sb.sigmoid(x) + (x + y) ** 2)
d = sb.backprop(f, wrt=[x, y])
print(derivation_text(d, show_chain=[x, y]))

folder = output_folder("01_chain_rule_two_inputs")
drawing = sb.picture(f, {"x": 3, "y": -4})
write(folder, "graph.dot", drawing.dot)
if shutil.which("dot"):
    write(folder, "graph.svg", drawing.svg())
write(folder, "gradients.tex", "\n\n".join(f"\\[ {sb.gradient_latex(d, v, closed=False)} \\]" for v in (x, y)) + "\n")
values = {x: 3, y: -4}
print(f"at x = 3, y = -4: f = {float(f.subs(values)):.4f}, ∂f/∂x = {float(d[x].subs(values)):.4f}, "
      f"∂f/∂y = {float(d[y].subs(values)):.4f}")
