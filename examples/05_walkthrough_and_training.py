"""Example 5: the 2-2-2-1 sigmoid network with squared loss and learning rate 0.5, worked by hand:
every forward value, every chain-rule term, the update of every weight, then training until the
loss is small (with a loss-curve plot when matplotlib is installed).
"""

from _common import output_folder, write

import symbackprop as sb
from symbackprop.cli import DEMO_VALUES

net = sb.mlp([2, 2, 2, 1], activation="sigmoid", loss="half_sse")
d = sb.backprop(net)
worked = sb.walkthrough(d, DEMO_VALUES, learning_rate=0.5)
folder = output_folder("05_walkthrough_and_training")
write(folder, "walkthrough.md", sb.walkthrough_markdown(worked, digits=9))
write(folder, "walkthrough.tex", sb.walkthrough_latex(worked, digits=9))
print(f"loss before the update: {worked.loss:.9f}")
for p, new in worked.updates:
    print(f"  {p} ← {dict(worked.given)[p]} − 0.5 · {dict(worked.gradients)[p]:.9f} = {new:.9f}")

module = sb.compile(d)
theta = [DEMO_VALUES[name] for name in module.PARAMETERS]
inputs = [DEMO_VALUES[name] for name in module.INPUTS]
targets = [DEMO_VALUES[name] for name in module.TARGETS]
params, losses = sb.train(module, theta, inputs, targets, learning_rate=0.5, epochs=2000)
small = next(i for i, loss in enumerate(losses) if loss < 1e-4)
print(f"training: loss {losses[0]:.6f} → {losses[-1]:.2e} after {len(losses) - 1} steps (below 1e-4 after {small})")
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed: no loss-curve plot (pip install matplotlib)")
else:
    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.semilogy(losses)
    axes.set_xlabel("gradient-descent step")
    axes.set_ylabel("loss J")
    axes.set_title("2-2-2-1 sigmoid network, learning rate 0.5")
    figure.tight_layout()
    figure.savefig(folder / "loss.png", dpi=100)
    print(f"wrote {folder / 'loss.png'}")
