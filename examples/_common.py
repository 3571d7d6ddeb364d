"""What every example shares: where it writes, and writing without clobbering a changed file."""

import argparse
from pathlib import Path

from symbackprop.files import write_file


def output_folder(name: str) -> Path:
    """The folder given with --out (default: example-output/<name> under the current folder)."""
    parser = argparse.ArgumentParser(description=f"symbackprop example: {name}")
    parser.add_argument("--out", default=str(Path("example-output") / name), help="where to write the files")
    folder = Path(parser.parse_args().out)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write(folder: Path, name: str, content) -> None:
    """Write a file; a rerun writes the same bytes, a file changed by hand is left alone (error)."""
    write_file(folder / name, content, unchanged_ok=True)
    print(f"wrote {folder / name}")
