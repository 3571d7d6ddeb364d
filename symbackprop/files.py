"""Writing files the careful way: never over a user's file unless asked, never half a file.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_file(folder / "a.txt", "one").name
'a.txt'
>>> write_file(folder / "a.txt", "two")
Traceback (most recent call last):
...
FileExistsError: ...a.txt already exists; pass force (--force) to overwrite it
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def needs_writing(path, content: str | bytes, force: bool = False, unchanged_ok: bool = False) -> bool:
    """Whether ``content`` must be written to ``path``; raise if it may not be: the folder is
    missing, or the file exists (unless ``force``, or ``unchanged_ok`` and it holds ``content``)."""
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder {path.parent} does not exist")
    if path.exists():
        if unchanged_ok and path.is_file() and path.read_bytes() == data:
            return False
        if not force:
            raise FileExistsError(f"{path} already exists; pass force (--force) to overwrite it")
    return True


def write_file(path, content: str | bytes, force: bool = False, unchanged_ok: bool = False) -> Path:
    """Write ``content`` to ``path`` atomically (a temporary file in the same folder, then a
    rename), if :func:`needs_writing` allows and requires it."""
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    if not needs_writing(path, data, force, unchanged_ok):
        return path
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path
