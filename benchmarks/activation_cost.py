"""What an activation function costs: forward + backward time and memory kept for backward.

For each catalogue function (``actlab.get(spec)``) on one float32 tensor of ``--numel`` elements
(4M by default) that requires grad:

* **time**: ``y = f(x); torch.autograd.grad(y, x, g)`` (forward and backward, no gradient
  accumulation), median of ``--repeats`` calls after ``--warmup``, in ns per element; relative
  to native ReLU and native SiLU measured in the same run;
* **saved**: bytes per element of the tensors autograd keeps for backward, summed over distinct
  storages with ``torch.autograd.graph.saved_tensors_hooks``; "not x" leaves out the input's own
  storage (memory that exists only because of backward);
* **GB/s**: effective bandwidth, counting the least traffic fwd + bwd of any element-wise
  function needs: 20 bytes per element (forward reads x, writes y; backward reads x or y and
  the incoming gradient, writes the input gradient). The machine's copy bandwidth is
  ``y.copy_(x)`` on the same size (8 bytes per element moved).

Every function runs eager and through ``torch.compile`` (Inductor, which needs a C++ compiler;
a failure is reported in the table, not raised). The composite
``x * sigmoid(1.5 * x) + 0.1 * tanh(x)`` also runs as a hand-written ``torch.autograd.Function``
that saves only x and recomputes sigmoid and tanh in backward, eager and compiled.

Run (about 3 minutes on 2 cores, most of it compiling):

    .venv/bin/python benchmarks/activation_cost.py
    .venv/bin/python benchmarks/activation_cost.py --quick      # ~30 s smoke run (fewer functions)
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import torch

import actlab
from _common import machine_line, median_seconds

FUNCTIONS = ["relu", "silu", "gelu", "mish", "elu", "softplus", "tanh", "sigmoid", "hard_swish",
             "expr:max(x, x*tanh(x))", "expr:x * sigmoid(1.5 * x) + 0.1 * tanh(x)"]
COMPOSITE = "expr:x * sigmoid(1.5 * x) + 0.1 * tanh(x)"
MIN_BYTES = 20  # per element, forward + backward of an element-wise function


class CompositeFn(torch.autograd.Function):
    """x * sigmoid(1.5x) + 0.1 tanh(x); saves x only, recomputes in backward.
    f'(x) = s (1 + 1.5 x (1 - s)) + 0.1 (1 - tanh(x)^2), s = sigmoid(1.5x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.tanh(x).mul_(0.1).addcmul_(x, torch.sigmoid(x * 1.5))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x * 1.5)
        t = torch.tanh(x)
        d = (1 - s).mul_(x).mul_(1.5).add_(1).mul_(s)  # s (1 + 1.5 x (1 - s))
        return d.add_(t.mul_(t).mul_(-0.1).add_(0.1)).mul_(g)


def hand_composite(x):
    return CompositeFn.apply(x)


def saved_bytes(f, x) -> tuple[float, float]:
    """Bytes per element saved for backward: all distinct storages, and those other than x's."""
    storages = {}

    def pack(t):
        s = t.untyped_storage()
        storages[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = f(x)
    del y
    total = sum(storages.values())
    other = total - storages.get(x.untyped_storage().data_ptr(), 0)
    return total / x.numel(), other / x.numel()


def measure(f, x, g, warmup: int, repeats: int) -> dict:
    def step():
        torch.autograd.grad(f(x), x, g)

    t0 = time.perf_counter()
    step()  # the first call compiles a compiled function
    first = time.perf_counter() - t0
    seconds = median_seconds(step, warmup, repeats)
    try:
        saved, other = saved_bytes(f, x)
    except Exception as e:  # hooks inside a compiled graph are not guaranteed to work
        saved = other = float("nan")
        warnings.warn(f"saved_tensors_hooks failed: {type(e).__name__}: {e}")
    return {"s": seconds, "first": first, "saved": saved, "other": other}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch intra-op threads (default: all cores)")
    ap.add_argument("--numel", type=int, default=4 * 2**20, help="elements of the input tensor")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="smoke run: relu, silu, the two expressions; 5 repeats")
    args = ap.parse_args()
    functions = FUNCTIONS
    if args.quick:
        functions = ["relu", "silu", "expr:max(x, x*tanh(x))", COMPOSITE]
        args.warmup, args.repeats = 2, 5
    torch.set_num_threads(args.threads)
    print(machine_line(f"{torch.get_num_threads()} torch threads"))

    torch.manual_seed(0)
    x = torch.randn(args.numel, requires_grad=True)
    g = torch.randn(args.numel)
    n = x.numel()
    dst = torch.empty_like(g)
    copy_gbs = 8 * n / median_seconds(lambda: dst.copy_(g), args.warmup, args.repeats) / 1e9
    print(f"{n:,} float32 elements ({4 * n / 2**20:.0f} MiB per tensor); copy bandwidth {copy_gbs:.1f} GB/s; "
          f"median of {args.repeats} after {args.warmup} warm-up calls\n")

    if COMPOSITE in functions:  # the hand Function must agree with the expression it replaces
        xs = x[:100_000].detach().requires_grad_()
        ya, yb = actlab.get(COMPOSITE)(xs), hand_composite(xs)
        ga, gb = (torch.autograd.grad(y, xs, g[:100_000])[0] for y in (ya, yb))
        print(f"hand Function vs expression: max |f| diff {float((ya - yb).abs().max()):.1e}, "
              f"max |grad| diff {float((ga - gb).abs().max()):.1e}\n")

    variants = [(spec, mode, actlab.get(spec)) for spec in functions for mode in ("eager", "compiled")]
    if COMPOSITE in functions:
        variants += [(COMPOSITE + " [hand Function]", mode, hand_composite) for mode in ("eager", "compiled")]
    rows = []
    for name, mode, f in variants:
        if mode == "compiled":
            torch._dynamo.reset()
            f = torch.compile(f)
        try:
            rows.append((name, mode, measure(f, x, g, args.warmup, args.repeats)))
        except Exception as e:  # e.g. no C++ compiler for Inductor
            rows.append((name, mode, {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"}))
        print(f"  measured {name} ({mode})", flush=True)

    ref = {name: r["s"] for name, mode, r in rows if mode == "eager" and name in ("relu", "silu")}
    print(f"\n{'function':<52} {'mode':<9} {'ns/el':>6} {'xReLU':>6} {'xSiLU':>6} {'GB/s':>6} "
          f"{'saved B/el':>10} {'not x':>6} {'1st call s':>10}")
    print("-" * 118)
    for name, mode, r in rows:
        if "error" in r:
            print(f"{name:<52} {mode:<9} failed: {r['error']}")
            continue
        s = r["s"]
        print(f"{name:<52} {mode:<9} {1e9 * s / n:6.2f} {s / ref['relu']:6.2f} {s / ref['silu']:6.2f} "
              f"{MIN_BYTES * n / s / 1e9:6.1f} {r['saved']:10.1f} {r['other']:6.1f} {r['first']:10.2f}")

    by = {(name, mode): r.get("s") for name, mode, r in rows}
    parts = [f"copy {copy_gbs:.0f} GB/s", f"relu eager {1e9 * ref['relu'] / n:.2f} ns/el"]
    if COMPOSITE in functions:
        c = {k: by.get((COMPOSITE, k)) for k in ("eager", "compiled")}
        h = {k: by.get((COMPOSITE + " [hand Function]", k)) for k in ("eager", "compiled")}
        parts.append(f"composite eager {c['eager'] / ref['silu']:.2f}x SiLU")
        if c["compiled"]:
            parts.append(f"composite compiled/eager {c['compiled'] / c['eager']:.2f}")
        parts.append(f"hand Function eager/composite eager {h['eager'] / c['eager']:.2f}")
        if h["compiled"]:
            parts.append(f"hand compiled/composite eager {h['compiled'] / c['eager']:.2f}")
    print("RATIOS " + "; ".join(parts))


if __name__ == "__main__":
    main()
