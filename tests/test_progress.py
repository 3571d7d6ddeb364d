"""The progress bar shows on a terminal for long work, and stays quiet otherwise or when asked."""

import io
import subprocess
import sys

import symbackprop as sb
from symbackprop.progress import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_shown_on_a_terminal_for_long_work_only(monkeypatch):
    monkeypatch.delenv("SYMBACKPROP_PROGRESS", raising=False)
    terminal = Terminal()
    with Progress("work", total=500, stream=terminal) as bar:
        for _ in range(500):
            bar.advance()
    assert terminal.getvalue().rstrip().endswith("work 500/500")
    short = Terminal()
    with Progress("work", total=10, stream=short) as bar:
        bar.advance(10)
    assert short.getvalue() == ""
    pipe = io.StringIO()
    with Progress("work", total=500, stream=pipe) as bar:
        bar.advance(500)
    assert pipe.getvalue() == ""


def test_asked_to_be_quiet_or_loud(monkeypatch):
    monkeypatch.setenv("SYMBACKPROP_PROGRESS", "0")
    terminal = Terminal()
    with Progress("work", total=500, stream=terminal) as bar:
        bar.advance(500)
    assert terminal.getvalue() == ""
    monkeypatch.setenv("SYMBACKPROP_PROGRESS", "1")
    pipe = io.StringIO()
    with Progress("work", total=3, stream=pipe) as bar:
        bar.advance(3)
    assert "work 3/3" in pipe.getvalue()


def test_a_large_derivation_reports_progress_when_asked():
    script = "import symbackprop as sb; sb.numpy_module(sb.backprop(sb.mlp([2, 16, 16, 1])))"
    loud = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          env={"SYMBACKPROP_PROGRESS": "1", "PATH": ""})
    assert "local partials 67/67" in loud.stderr and "code for the forward pass" in loud.stderr
    quiet = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert quiet.stderr == ""  # not a terminal
    assert sb.backprop(sb.mlp([1, 1]))  # small work draws nothing either way
