"""Jinja2 templates from ``templates/``.

A wheel ships them inside the package (``symbackprop/templates``); a source checkout or an
editable install reads the top-level ``templates/`` folder. Templates hold layout only: they
receive already-printed strings.

>>> print(render("derivation.txt.j2", title="t", sections=[("S", [("a", "1")])]).splitlines()[0])
t
"""

from __future__ import annotations

import inspect
from pathlib import Path

import jinja2

from . import naming
from .primitives import ARRAY_FORMS

_PACKAGE = Path(__file__).resolve().parent

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader([_PACKAGE / "templates", _PACKAGE.parent / "templates"]),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)
# Text of the user's (names, formulas) in a comment or docstring of generated code.
_ENVIRONMENT.filters["source_comment"] = naming.source_comment
# The stable forms on arrays, written into every generated module that calls them.
_ENVIRONMENT.globals["array_forms"] = {name: inspect.getsource(form).rstrip("\n") for name, form in ARRAY_FORMS.items()}


def render(name: str, **context) -> str:
    """Render the template ``name`` with ``context``."""
    return _ENVIRONMENT.get_template(name).render(**context)
