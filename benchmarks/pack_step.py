"""What one training step of a pack costs, by what its members' functions are: the functions of
``evolve_packs.py`` (each member its own), the identity (no activation work) and one ``tanh(x)``
shared by every member. Packs of 3 and 12 MLPs (MNIST-1D's shape: 40 inputs, 10 classes, width
64), batch 32, Adam fused, random data, one thread.

    .venv/bin/python benchmarks/pack_step.py [--steps 300] [--repeat 5]

Prints the best of ``--repeat`` runs of ``--steps`` steps, in µs a step.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine_line  # noqa: E402
from evolve_packs import FUNCTIONS  # noqa: E402

from actlab.catalogue.expr import Expression  # noqa: E402
from actlab.models import MLP  # noqa: E402
from actlab.training.population import PackedMLP  # noqa: E402


def step_us(functions: list[str | None], steps: int, repeat: int) -> float:
    """Best of ``repeat`` runs of ``steps`` steps of a pack with these functions (None: identity)."""
    torch.manual_seed(0)
    pack = PackedMLP([MLP(40, 10, Expression(f) if f else nn.Identity()) for f in functions])
    optimizer = torch.optim.Adam(pack.parameters(), lr=3e-3, fused=True)
    x, y, k = torch.randn(32, 40), torch.randint(0, 10, (32,)), len(functions)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        z = pack(x)
        F.cross_entropy(z.reshape(-1, 10), y.repeat(k), reduction="none").view(k, -1).mean(1).sum().backward()
        optimizer.step()

    for _ in range(30):
        step()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - t) / steps)
    return best * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=300, help="steps of a run (default 300)")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each pack, the best shown (default 5)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    print(machine_line("1 torch thread"))
    print("members  own functions  identity  all tanh(x)   (µs a step)")
    for k in (3, 12):
        own = step_us(FUNCTIONS[:k], a.steps, a.repeat)
        ident = step_us([None] * k, a.steps, a.repeat)
        tanh = step_us(["tanh(x)"] * k, a.steps, a.repeat)
        print(f"{k:>7}  {own:>13.0f}  {ident:>8.0f}  {tanh:>11.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
