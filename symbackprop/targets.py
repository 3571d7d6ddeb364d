"""The targets a loss takes for granted: cross-entropy after a softmax, whose fused delta
δ = ŷ − y holds only for targets that form a probability vector (none negative, sum 1).

One rule for every place that computes numbers (walkthrough, picture, gradient check) and the
same words in the generated modules, which carry their own copy of the check.

>>> probability_problem(["y1", "y2"], [0.3, 0.3])
'cross-entropy after a softmax needs targets that sum to 1 (a probability vector); y1 + y2 = 0.6'
>>> probability_problem(["y1", "y2"], [0.25, 0.75]) is None
True
"""

from __future__ import annotations

import math

SUM_RULE = "cross-entropy after a softmax needs targets that sum to 1 (a probability vector)"
SIGN_RULE = "cross-entropy after a softmax needs targets that are not negative (a probability vector)"
TOLERANCE = 1e-6  # per target: K targets may sum to 1 ± K·TOLERANCE
NAMES_SHOWN = 4  # names of a sum written out; a longer one is written y1 + … + y10


def tolerance(count: int) -> float:
    """How far the sum of ``count`` targets may be from 1."""
    return TOLERANCE * max(count, 1)


def sum_text(names) -> str:
    """``y1 + y2``, or ``y1 + … + y10`` for many names."""
    names = list(names)
    return " + ".join(names) if len(names) <= NAMES_SHOWN else f"{names[0]} + … + {names[-1]}"


def probability_problem(names, values) -> str | None:
    """What keeps ``values`` (the targets ``names`` of one sample) from being a probability
    vector, in one line, or None when they are one."""
    numbers = [float(v) for v in values]
    negative = [f"{name} = {value:g}" for name, value in zip(names, numbers) if value < 0]
    if negative:
        return f"{SIGN_RULE}; {', '.join(negative)}"
    total = math.fsum(numbers)
    if not abs(total - 1.0) <= tolerance(len(numbers)):
        return f"{SUM_RULE}; {sum_text(names)} = {total:.10g}"
    return None
