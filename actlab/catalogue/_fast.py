"""A fast forward + backward for composite and evolved activations, chosen per function by measuring it.

``actlab.fast("expr:x * sigmoid(1.5 * x) + 0.1 * tanh(x)")`` is an ``nn.Module`` that computes the
function the fastest way this machine was measured to run it:

* ``"eager"``: the catalogue's own module, native torch ops and autograd (what :func:`~actlab.get`
  gives). Single native ops (ReLU, SiLU, GELU, tanh...) stay here: ``torch.compile`` makes them
  slower on CPU (ReLU 12x, tanh 3x; ``benchmarks/activation_cost.py``).
* ``"compiled"``: one ``torch.compile`` kernel computes ``f(x)`` and ``f'(x)`` together in a single
  pass; it keeps ``f'(x)`` for backward (4 bytes per element, as much as keeping ``x``), and the
  backward pass is one multiplication ``g * f'(x)``. For an expression the derivative comes from
  the tree (:func:`~actlab.catalogue.expr.compile_dual`, autograd's conventions at kinks and ties) and
  ``tanh`` is computed from ``expm1`` inside the kernel, because Inductor's vectorised CPU ``tanh``
  is 2-3x slower than its ``exp``; for another catalogue function it comes from ``torch.func.jvp``.
  Without gradients (evaluation) the module runs the eager function.

``mode="auto"`` (the default) times both on a probe tensor (``probe_shape``, 1M elements) and
keeps the compiled kernel only at <= 0.9x eager's time: compiling costs 2-3.5 s per function (about
8 s more for the first in a process; ``benchmarks/RESULTS.md``),
so it pays in long trainings and in a user's model, not in a 4-epoch fitness run. The choice and
both timings are in ``module.choice`` and ``module.timings`` and in its ``repr``. A function that is
not element-wise, has learnable parameters or is random (``rrelu`` while training) always runs
eager; so does every function where Inductor cannot compile (no C++ compiler): the reason is in
``module.choice``. Compiled and eager results agree up to float rounding (tested), not bit for bit.

Second derivatives are not available through the compiled kernel (its backward is
``once_differentiable``): use ``mode="eager"`` for gradient penalties.
"""

from __future__ import annotations

import sys
import threading
import time
import types
from collections.abc import Callable

import torch
from torch import nn

from actlab._errors import ActlabError, first_line
from actlab.catalogue import expr as E
from actlab.catalogue._registry import REGISTRY, Entry, _short, get

MODES = ("auto", "eager", "compiled")
PROBE_SHAPE = (4096, 256)
Kernel = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class DualFunction(torch.autograd.Function):
    """``y = f(x)`` from a kernel that returns ``(f(x), f'(x))``; backward is ``g * f'(x)``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, kernel: Kernel) -> torch.Tensor:
        y, d = kernel(x)
        ctx.save_for_backward(d)
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g: torch.Tensor):
        (d,) = ctx.saved_tensors
        return g * d, None


def _exporting() -> bool:
    """Whether the model is being traced or exported, where a compiled kernel cannot go."""
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or torch.compiler.is_exporting()


_KERNELS: dict[str, Kernel] = {}  # one compiled kernel per canonical spec, shared by all modules
_CHOICES: dict[tuple, tuple[str, dict]] = {}  # (spec, probe shape, dtype, device) -> measured choice
_LOCK = threading.Lock()


def _dual_source(spec: str, entry: Entry, kwargs: dict) -> Callable[[torch.Tensor], tuple]:
    """The function the kernel compiles: ``x -> (f(x), f'(x))`` as tensors."""
    if spec.strip().startswith(E.PREFIX):
        dual = E.compile_dual(E.parse(spec.strip()[len(E.PREFIX) :]), inductor=True)

        def kernel(x):
            y, d = dual(x)
            return y, torch.full_like(x, d) if isinstance(d, float) else d.expand_as(x)

        return kernel
    f = entry.function(**kwargs)

    def jvp(x):
        return torch.func.jvp(f, (x,), (torch.ones_like(x),))

    return jvp


def _kernel(spec: str, source: Callable[[torch.Tensor], tuple]) -> Kernel:
    """The compiled kernel of ``spec`` (made from ``source`` at the first request in a process)."""
    with _LOCK:
        if spec not in _KERNELS:
            if not _KERNELS:  # the first compile of a process is the slow one: say so, once
                print(
                    f"actlab: compiling a kernel for {_short(spec)} (the first compile in a process usually takes "
                    "10-30 s, later ones a few seconds)",
                    file=sys.stderr,
                    flush=True,
                )
            _KERNELS[spec] = _flat(torch.compile(_own_code(source, f"actlab_fast_{len(_KERNELS)}"), dynamic=False))
        return _KERNELS[spec]


def _own_code(f: Callable, name: str) -> Callable:
    """``f`` with a code object of its own. Dynamo keeps compiled graphs per code object, and
    every kernel source is a closure of one ``def``: without this, each new function would count
    as a recompile of the same code, and past ``recompile_limit`` (8) Dynamo would silently run
    the source uncompiled."""
    code = f.__code__.replace(co_name=name, co_qualname=name)
    return types.FunctionType(code, f.__globals__, name, f.__defaults__, f.__closure__)


def _flat(kernel: Kernel) -> Kernel:
    """The kernel on the flattened input, so that it is specialised on the number of elements only.

    ``dynamic=False``: a kernel per size runs about 1.4x faster than one for any size (measured
    on the 4-op composite); a training step sees two sizes (full and last batch) per layer. Past
    Dynamo's ``recompile_limit`` (8 sizes) the source runs uncompiled, with the same results."""

    def run(x: torch.Tensor):
        y, d = kernel(x.reshape(-1))
        return y.view(x.shape), d.view(x.shape)

    return run


def _why_eager(entry: Entry, module: nn.Module, source: Callable[[torch.Tensor], tuple]) -> str | None:
    """Why a function cannot have the compiled kernel, or None.

    Besides what the entry declares, the kernel's source is run uncompiled on a probe and must
    give the module's values (in training mode, twice, under two seeds: a random function such
    as RReLU fails here) and autograd's gradient."""
    if not entry.elementwise:
        return f"eager: {entry.name} is not element-wise"
    if entry.stochastic:
        return f"eager: {entry.name} draws random numbers"
    if any(True for _ in module.parameters()):
        return f"eager: {entry.name} has learnable parameters"
    if not entry.differentiable:
        return f"eager: {entry.name} has zero gradient almost everywhere"
    x = torch.linspace(-6.0, 6.0, 241, dtype=torch.float64)
    x = x[x.abs() > 1e-9].requires_grad_()  # no kinks at 0 (conventions may differ there)
    was = module.training
    try:
        module.train()
        outs = []
        for seed in (0, 1):
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                outs.append(module(x))
        (want,) = torch.autograd.grad(outs[0].sum(), x)
        with torch.no_grad():
            y, d = source(x.detach())
    except Exception as e:
        return f"eager: the kernel's source fails on a probe ({type(e).__name__})"
    finally:
        module.train(was)
    if not torch.equal(outs[0], outs[1]):
        return f"eager: {entry.name} draws random numbers in training"
    if not (
        torch.allclose(y, outs[0].detach(), rtol=1e-9, atol=1e-9, equal_nan=True)
        and torch.allclose(d, want, rtol=1e-6, atol=1e-6, equal_nan=True)
    ):
        return f"eager: the kernel's source does not reproduce {entry.name} on a probe"
    return None


WIN = 0.9  # compiled is kept only when it takes at most this share of eager's time


def _measure(eager: nn.Module, kernel: Kernel, shape, dtype, device, rounds: int = 7) -> dict:
    """Seconds of one forward + backward, eager and compiled, on a probe of ``shape``: the fastest
    of ``rounds`` calls each, taken in turn so that a slow spell of the machine hits both alike."""
    gen = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(shape, generator=gen, dtype=dtype).to(device).requires_grad_()
    g = torch.randn(shape, generator=gen, dtype=dtype).to(device)
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)

    def timed(f) -> float:
        t0 = time.perf_counter()
        torch.autograd.grad(f(x), x, g)
        sync()
        return time.perf_counter() - t0

    compiled = lambda t: DualFunction.apply(t, kernel)  # noqa: E731
    compile_s = timed(compiled)  # compiles
    for f in (eager, compiled, eager, compiled):  # warm up
        timed(f)
    eager_s = compiled_s = float("inf")
    for _ in range(rounds):
        eager_s, compiled_s = min(eager_s, timed(eager)), min(compiled_s, timed(compiled))
    return {"eager_s": eager_s, "compiled_s": compiled_s, "compile_s": compile_s, "probe_shape": tuple(shape)}


class FastActivation(nn.Module):
    """An activation run eager or through a compiled ``(f, f')`` kernel; see :func:`fast`."""

    def __init__(
        self,
        spec: str,
        mode: str = "auto",
        probe_shape: tuple[int, ...] = PROBE_SHAPE,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
    ):
        super().__init__()
        if mode not in MODES:
            raise ActlabError(f"unknown fast mode {_short(str(mode), 20)}; choose one of {', '.join(MODES)}")
        self.spec, self.mode = spec, mode
        self.eager = get(spec)
        entry, kwargs = REGISTRY.resolve(spec)
        self._kernel: Kernel | None = None
        self.choice, self.timings = "eager", {}
        if mode == "eager":
            return
        source = _dual_source(spec, entry, kwargs)
        self.choice = _why_eager(entry, self.eager, source) or "compiled"
        if self.choice != "compiled":
            return
        try:
            self._kernel = _kernel(spec, source)
            if mode == "auto":
                key = (spec, tuple(probe_shape), dtype, str(device))
                with _LOCK:
                    hit = _CHOICES.get(key)
                if hit is None:
                    t = _measure(self.eager, self._kernel, probe_shape, dtype, device)
                    hit = ("compiled" if t["compiled_s"] <= WIN * t["eager_s"] else "eager", t)
                    with _LOCK:
                        _CHOICES[key] = hit
                self.choice, self.timings = hit
                if self.choice != "compiled":
                    self._kernel = None
            else:  # compile now, so that a failure shows here and not in the first training step
                DualFunction.apply(torch.zeros(2, dtype=dtype, device=device, requires_grad=True), self._kernel)
        except ActlabError:
            raise
        except Exception as e:  # Inductor without a C++ compiler, an op it cannot lower...
            first = first_line(e)[:120]
            self.choice, self._kernel = f"eager: compiling failed ({type(e).__name__}: {first})", None
            if mode == "compiled":
                raise ActlabError(
                    f"cannot compile {_short(spec)}: {type(e).__name__}: {first}; use mode='auto' or 'eager'"
                ) from None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            self.choice == "compiled"
            and self._kernel is not None
            and x.requires_grad
            and torch.is_grad_enabled()
            and not _exporting()
        ):
            return DualFunction.apply(x, self._kernel)
        return self.eager(x)  # inference, and export (ONNX, torch.export, tracing): the eager form

    def extra_repr(self) -> str:
        t = self.timings
        if t:
            ratio = t["compiled_s"] / t["eager_s"]
            return f"{self.spec!r}, {self.choice} (compiled {ratio:.2f}x eager, measured on {t['probe_shape']})"
        return f"{self.spec!r}, {self.choice}"

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_kernel"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.choice == "compiled":
            entry, kwargs = REGISTRY.resolve(self.spec)
            self._kernel = _kernel(self.spec, _dual_source(self.spec, entry, kwargs))


def fast(
    spec: str,
    mode: str = "auto",
    probe_shape: tuple[int, ...] = PROBE_SHAPE,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> FastActivation:
    """The activation ``spec`` as its fastest measured implementation (see the module docstring).

    ``mode``: ``"auto"`` measures eager and compiled forward + backward on a probe tensor of
    ``probe_shape`` (``dtype``, ``device``) and keeps the faster (the measurement is made once per
    spec and probe in a process); ``"compiled"`` and ``"eager"`` force one.
    """
    if not isinstance(spec, str):
        raise ActlabError(
            f"fast() takes an activation spec string such as 'expr:x*sigmoid(x)', got {type(spec).__name__}"
        )
    return FastActivation(spec, mode, probe_shape, dtype, device)


__all__ = ["DualFunction", "FastActivation", "MODES", "fast"]
