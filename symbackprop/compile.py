"""The generated NumPy module, compiled in-process: exactly the code a user would paste.

>>> from symbackprop import backprop, mlp
>>> module = compile(backprop(mlp([2, 1])))
>>> J, gradients = module.loss_and_gradients([0.1, 0.2, 0.3], [1.0, 2.0], [1.0])
>>> len(gradients) == len(module.PARAMETERS) == 3
True
>>> import inspect
>>> "def loss_and_gradients" in inspect.getsource(module)
True
"""

from __future__ import annotations

import builtins
import hashlib
import linecache
import types

from .codegen import numpy_module
from .derive import Derivation


def compile(d: Derivation, name: str = "symbackprop_generated") -> types.ModuleType:
    """Generate the NumPy module of ``d`` and execute it as a module object.

    Its source is registered with :mod:`linecache`, so ``inspect.getsource`` and tracebacks show
    the generated lines.
    """
    source = numpy_module(d)
    filename = f"<{name}-{hashlib.sha256(source.encode()).hexdigest()[:12]}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    exec(builtins.compile(source, filename, "exec"), module.__dict__)  # noqa: S102  (our own generated code)
    return module
