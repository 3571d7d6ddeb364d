"""``python -m symbackprop``: the derivation of the classic 2-2-2-1 sigmoid network."""

from . import backprop, mlp
from .text import derivation_text


def main() -> None:
    net = mlp([2, 2, 2, 1], activation="sigmoid", loss="half_sse")
    print(derivation_text(backprop(net)), end="")


if __name__ == "__main__":
    main()
