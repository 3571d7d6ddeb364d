"""``python -m symbackprop``: the command line (``symbackprop demo`` runs the whole job)."""

from .cli import run

if __name__ == "__main__":
    run()
