"""A progress bar for long work, on a terminal only: quiet in pipes, files, CI and when asked.

Set ``SYMBACKPROP_PROGRESS=0`` to silence it, ``=1`` to show it even off a terminal.

>>> import io
>>> stream = io.StringIO()
>>> with Progress("deriving", total=4, stream=stream, show=True) as bar:
...     for _ in range(4):
...         bar.advance()
>>> stream.getvalue().rstrip().splitlines()[-1].endswith("deriving 4/4")
True
"""

from __future__ import annotations

import os
import sys
import time

MIN_TOTAL = 200  # smaller jobs finish before a bar would help


class Progress:
    """``with Progress(label, total) as bar: … bar.advance()``; redraws at most ten times a second."""

    def __init__(self, label: str, total: int, stream=None, show: bool | None = None):
        self.label, self.total, self.done = label, total, 0
        self.stream = stream or sys.stderr
        setting = os.environ.get("SYMBACKPROP_PROGRESS")
        if show is None:
            show = setting == "1" or (setting != "0" and total >= MIN_TOTAL and getattr(self.stream, "isatty", lambda: False)())
        self.show = show
        self._drawn = 0.0

    def __enter__(self):
        return self

    def advance(self, steps: int = 1) -> None:
        self.done += steps
        if self.show and (time.monotonic() - self._drawn > 0.1 or self.done >= self.total):
            width = 30
            filled = width * self.done // max(self.total, 1)
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.label} {self.done}/{self.total}")
            self.stream.flush()
            self._drawn = time.monotonic()

    def __exit__(self, *exc):
        if self.show:
            self.stream.write("\n")
            self.stream.flush()
        return False
