"""What an activation function costs: forward + backward time and memory kept for backward.

For each catalogue function (``actlab.get(spec)``) on one float32 tensor of ``--numel`` elements
(4M by default) that requires grad:

* **time**: ``y = f(x); torch.autograd.grad(y, x, g)`` (forward and backward, no gradient
  accumulation) in ns per element: in each of ``--rounds`` rounds every variant in turn runs
  ``--warmup`` untimed and ``--repeats`` timed calls back to back, so that a slow spell of the
  machine hits all alike; the median of all timed calls; relative to native ReLU and SiLU;
* **faults/call**: minor page faults per timed call. PyTorch's CPU tensors come from glibc
  malloc, which by default hands the top of its heap back to the kernel when a large block is
  freed and takes fresh pages again at the next allocation: ~1 us per 4 KiB page on this VM,
  i.e. ~1 ns per element of a fresh float32 tensor, as much as a whole native ReLU forward +
  backward, and it varies from run to run with the order of allocations. So the script first
  tells malloc (``mallopt``) to keep freed memory and to serve blocks up to 32 MiB from its heap;
  the timings then measure the functions, and this column reads 0 or a few hundred.
  ``--default-malloc`` leaves malloc as it is (what a training process gets);
* **saved**: bytes per element of the tensors autograd keeps for backward, summed over distinct
  storages with ``torch.autograd.graph.saved_tensors_hooks``; "not x" leaves out the input's own
  storage (memory that exists only because of backward);
* **GB/s**: effective bandwidth, counting the least traffic fwd + bwd of any element-wise
  function needs: 20 bytes per element (forward reads x, writes y; backward reads x or y and
  the incoming gradient, writes the input gradient). The machine's copy bandwidth is
  ``y.copy_(x)`` on the same size (8 bytes per element moved).

Every function runs eager and through ``torch.compile`` (Inductor, which needs a C++ compiler;
a failure is reported in the table, not raised); "1st call s" is the first fwd + bwd call, which
for a compiled function includes compiling it (Inductor's on-disk cache is disabled, and the
first compiled function also pays Inductor's one-off start-up). The composite
``x * sigmoid(1.5 * x) + 0.1 * tanh(x)`` also runs as a hand-written ``torch.autograd.Function``
that saves only x and recomputes sigmoid and tanh in backward, eager and compiled (compiled,
AOTAutograd's partitioner decides anew what to keep: see "not x").

Mode "fast" is ``actlab.fast(spec, mode="compiled")``: one compiled kernel computes f(x) and
f'(x) in a single pass and keeps f'(x) for backward, which is then one multiplication (see
``actlab/catalogue/_fast.py``; "not x" counts the kept f'(x)). After the table, the script shows
what ``actlab.fast(spec)`` in its default mode "auto" picks for each function when it measures
on a tensor of this size (it keeps the compiled kernel only at <= 0.9x eager's time).

Run (under a minute on 2 cores, most of it compiling):

    .venv/bin/python benchmarks/activation_cost.py
    .venv/bin/python benchmarks/activation_cost.py --quick      # ~30 s smoke run (fewer functions)
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import statistics
import sys
import time
import warnings

# Compile every function from scratch, so that "1st call s" is the real compile time and not a
# hit in Inductor's on-disk cache from an earlier run.
os.environ.setdefault("TORCHINDUCTOR_FORCE_DISABLE_CACHES", "1")
# Compile in this process (no pool of compile workers), so that their CPU time counts as ours.
os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")

import torch
from _common import OtherLoad, machine_line, timings

import actlab

warnings.filterwarnings("ignore", message="dynamo_pgo force disabled")  # says the caches are off, as asked

FUNCTIONS = [
    "relu",
    "silu",
    "gelu",
    "mish",
    "elu",
    "softplus",
    "tanh",
    "sigmoid",
    "hard_swish",
    "expr:max(x, x*tanh(x))",
    "expr:x * sigmoid(1.5 * x) + 0.1 * tanh(x)",
]
COMPOSITE = "expr:x * sigmoid(1.5 * x) + 0.1 * tanh(x)"
HAND = "  the same, hand autograd.Function"
MIN_BYTES = 20  # per element, forward + backward of an element-wise function


class CompositeFn(torch.autograd.Function):
    """x * sigmoid(1.5x) + 0.1 tanh(x); saves x only, recomputes in backward, in place where it
    can (two fresh tensors each way). f'(x) = s + 1.5 x s (1 - s) + 0.1 (1 - tanh(x)^2), s = sigmoid(1.5x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.tanh(x).mul_(0.1).addcmul_(x, x.mul(1.5).sigmoid_())

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        s = x.mul(1.5).sigmoid_()
        d = torch.tanh(x)
        d.mul_(d).mul_(-0.1).add_(0.1).add_(s)  # 0.1 (1 - tanh^2) + s
        s.addcmul_(s, s, value=-1)  # s (1 - s)
        return d.addcmul_(s, x, value=1.5).mul_(g)


def hand_composite(x):
    return CompositeFn.apply(x)


def keep_freed_memory() -> bool:
    """glibc: never trim the heap, serve blocks below 32 MiB from it (see the module docstring)."""
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(-1, 2**31 - 1) and libc.mallopt(-3, 32 * 2**20))  # M_TRIM_, M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


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


def prepare(f, x, g) -> dict:
    """A variant ready to time: its fwd + bwd step, the first call's time, bytes saved."""

    def step():
        torch.autograd.grad(f(x), x, g)

    t0 = time.perf_counter()
    step()  # a compiled function compiles here
    row = {"step": step, "first": time.perf_counter() - t0, "times": []}
    try:
        row["saved"], row["other"] = saved_bytes(f, x)
    except Exception as e:  # hooks inside a compiled graph are not guaranteed to work
        row["saved"] = row["other"] = float("nan")
        warnings.warn(f"saved_tensors_hooks failed: {type(e).__name__}: {e}", stacklevel=2)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch intra-op threads (default: all cores)")
    ap.add_argument("--numel", type=int, default=4 * 2**20, help="elements of the input tensor")
    ap.add_argument("--rounds", type=int, default=3, help="rounds in which every variant is timed, in turn")
    ap.add_argument("--warmup", type=int, default=3, help="untimed calls per variant and round")
    ap.add_argument("--repeats", type=int, default=5, help="timed calls per variant and round")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: relu, silu, the two expressions; 7 repeats (checks the script; numbers are rough)",
    )
    ap.add_argument("--default-malloc", action="store_true", help="do not tune malloc (page faults included)")
    args = ap.parse_args()
    kept = False if args.default_malloc else keep_freed_memory()
    functions = FUNCTIONS
    if args.quick:
        functions = ["relu", "silu", "expr:max(x, x*tanh(x))", COMPOSITE]
        args.rounds, args.warmup, args.repeats = 1, 3, 7
    torch.set_num_threads(args.threads)
    print(machine_line(f"{torch.get_num_threads()} torch threads"))
    others = OtherLoad()

    torch.manual_seed(0)
    x = torch.randn(args.numel, requires_grad=True)
    g = torch.randn(args.numel)
    n = x.numel()
    print("malloc: " + ("keeps freed memory (mallopt)" if kept else "as it is (page faults included)"))

    if COMPOSITE in functions:  # the hand Function must agree with the expression it replaces
        xs = x[:100_000].detach().requires_grad_()
        ya, yb = actlab.get(COMPOSITE)(xs), hand_composite(xs)
        ga, gb = (torch.autograd.grad(y, xs, g[:100_000])[0] for y in (ya, yb))
        print(
            f"hand Function vs expression: max |f| diff {float((ya - yb).detach().abs().max()):.1e}, "
            f"max |grad| diff {float((ga - gb).abs().max()):.1e}"
        )

    variants = [(spec, mode, actlab.get(spec)) for spec in functions for mode in ("eager", "compiled")]
    variants += [(spec, "fast", spec) for spec in functions]  # actlab.fast(spec, mode="compiled"), made below
    if COMPOSITE in functions:
        variants += [(HAND, mode, hand_composite) for mode in ("eager", "compiled")]
    rows = []
    for name, mode, f in variants:
        try:
            t0 = time.perf_counter()
            if mode == "fast":  # compiles its kernel here: counted in "1st call s"
                f = actlab.fast(f, mode="compiled")
            made = time.perf_counter() - t0
            row = prepare(torch.compile(f) if mode == "compiled" else f, x, g)
            row["first"] += made
        except Exception as e:  # e.g. no C++ compiler for Inductor
            row = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"}
        rows.append((name, mode, row))
        print(f"  prepared {name.strip()} ({mode})", file=sys.stderr, flush=True)

    dst = torch.empty_like(g)
    copy_times = []
    for _ in range(args.rounds):  # every variant in turn, so that a slow spell hits all alike
        copy_times += timings(lambda: dst.copy_(g), args.warmup, args.repeats)
        for _, _, row in rows:
            if "error" not in row:
                timings(row["step"], args.warmup, 0)
                f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                row["times"] += timings(row["step"], 0, args.repeats)
                row["faults"] = row.get("faults", 0) + resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    copy_gbs = 8 * n / statistics.median(copy_times) / 1e9
    print(
        f"{n:,} float32 elements ({4 * n / 2**20:.0f} MiB per tensor); copy bandwidth {copy_gbs:.1f} GB/s; "
        f"median of {args.rounds * args.repeats} calls"
        + (f" in {args.rounds} rounds" if args.rounds > 1 else "")
        + f", {args.warmup} warm-up calls before each variant's"
    )

    for _, _, row in rows:
        if "error" not in row:
            row["s"] = statistics.median(row["times"])
    ref = {name: r["s"] for name, mode, r in rows if mode == "eager" and name in ("relu", "silu")}
    print(
        f"\n{'function':<44} {'mode':<9} {'ns/el':>6} {'xReLU':>6} {'xSiLU':>6} {'GB/s':>6} "
        f"{'saved B/el':>10} {'not x':>6} {'1st call s':>10} {'faults/call':>11}"
    )
    print("-" * 122)
    for name, mode, r in rows:
        if "error" in r:
            print(f"{name:<44} {mode:<9} failed: {r['error']}")
            continue
        s = r["s"]
        print(
            f"{name:<44} {mode:<9} {1e9 * s / n:6.2f} {s / ref['relu']:6.2f} {s / ref['silu']:6.2f} "
            f"{MIN_BYTES * n / s / 1e9:6.1f} {r['saved']:10.1f} {r['other']:6.1f} {r['first']:10.2f} "
            f"{r['faults'] / (args.rounds * args.repeats):11.0f}"
        )

    print(f"\nactlab.fast(spec) in mode 'auto' picks, measuring on ({n},) (fastest of 7 calls each):")
    for spec in functions:
        m = actlab.fast(spec, probe_shape=(n,))
        print(
            f"  {spec:<44} {m.choice:<9}"
            + (f" compiled/eager {m.timings['compiled_s'] / m.timings['eager_s']:.2f}" if m.timings else "")
        )

    by = {(name, mode): r.get("s") for name, mode, r in rows}
    parts = [f"copy {copy_gbs:.0f} GB/s", f"relu eager {1e9 * ref['relu'] / n:.2f} ns/el"]
    if COMPOSITE in functions:
        c = {k: by.get((COMPOSITE, k)) for k in ("eager", "compiled")}
        h = {k: by.get((HAND, k)) for k in ("eager", "compiled")}
        parts.append(f"composite eager {c['eager'] / ref['silu']:.2f}x SiLU")
        if by.get((COMPOSITE, "fast")):
            parts.append(f"composite actlab.fast {by[(COMPOSITE, 'fast')] / ref['silu']:.2f}x SiLU (target <= 1.5)")
        if c["compiled"]:
            parts.append(f"composite compiled/eager {c['compiled'] / c['eager']:.2f}")
        parts.append(f"hand Function eager/composite eager {h['eager'] / c['eager']:.2f}")
        if h["compiled"]:
            parts.append(f"hand compiled/composite eager {h['compiled'] / c['eager']:.2f}")
    print(others.line())
    print("RATIOS " + "; ".join(parts))


if __name__ == "__main__":
    main()
