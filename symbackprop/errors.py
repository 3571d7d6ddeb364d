"""The errors the library raises on purpose, kept apart from its bugs.

An :class:`InputError` is input the library cannot use (a name, a size, a value, a formula, a
combination of options): its message names the problem, and the user can fix it. A
:class:`ToolError` is a system program (pdflatex, Graphviz) that is missing or failed. Anything
else escaping the library is a bug in it, and the command line reports it as one.

>>> issubclass(InputError, ValueError), issubclass(ToolError, RuntimeError)
(True, True)
>>> isinstance(MissingTool("pdflatex is not installed"), SymbackpropError)
True
"""

from __future__ import annotations


class SymbackpropError(Exception):
    """Base of every error the library raises on purpose."""


class InputError(SymbackpropError, ValueError):
    """Input that cannot be used; the message says which and why."""


class ToolError(SymbackpropError, RuntimeError):
    """A system program the library calls failed; the message gives its own error lines."""


class MissingTool(ToolError):
    """A system program is not installed; the message says how to install it."""
