"""Curves and measured properties of catalogue entries.

:func:`curve` gives the 1-D curve of an entry (what plots show and what the declared
properties describe); :func:`measure` measures those properties numerically, so that the
test suite can check every declared property against the function itself.
"""

from __future__ import annotations

import math

import torch

from actlab._errors import ActlabError, first_line
from actlab.catalogue._registry import Entry

_GUMBEL_DRAWS = 64


def _seeded_module(entry: Entry, params: dict, channels: int = 1) -> torch.nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        m = entry.make_module(**params).double().eval()
        m(torch.zeros(1, channels, 5, 5, dtype=torch.float64))  # materialise lazy parameters
    return m


def curve(entry: Entry, x: torch.Tensor, **params) -> torch.Tensor:
    """The entry's 1-D curve at ``x`` (a 1-D tensor), differentiable in ``x``.

    * element-wise: ``f(x)``;
    * along a dimension: ``f([x, 0])[0]`` (``f([x, x])[0]`` for GLU), the first output when the
      input along ``dim`` is the pair; stochastic entries average 64 seeded draws;
    * spatial (FReLU): the centre pixel of a constant 5x5 one-channel image of value x, with
      the module's parameters initialised from seed 0, in evaluation mode.
    """
    kw = {**entry.params, **params}
    if entry.axis == "elementwise":
        return entry.fn(x, **kw)
    if entry.axis == "spatial":
        m = _seeded_module(entry, params)
        img = x.reshape(-1, 1, 1, 1).expand(-1, 1, 5, 5)
        return m(img)[:, 0, 2, 2]
    other = x if entry.view_pair == "same" else torch.zeros_like(x)
    pair = torch.stack([x, other], dim=1)
    kw["dim"] = 1
    if not entry.stochastic:
        return entry.fn(pair, **kw)[:, 0]
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return torch.stack([entry.fn(pair, **kw)[:, 0] for _ in range(_GUMBEL_DRAWS)]).mean(0)


def value_and_derivative(entry: Entry, x: torch.Tensor, **params) -> tuple[torch.Tensor, torch.Tensor]:
    """``f(x)`` and ``f'(x)`` of the curve, in float64, by autograd."""
    x = x.detach().to(torch.float64).requires_grad_(True)
    try:
        y = curve(entry, x, **params)
    except ActlabError:
        raise
    except (RuntimeError, ValueError, TypeError, IndexError, ArithmeticError) as e:  # arguments the curve cannot take
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
        raise ActlabError(
            f"activation '{entry.name}'{f' with {shown}' if shown else ''} cannot be drawn as a curve "
            f"({first_line(e)[:160]}); check its arguments"
        ) from None
    if not y.requires_grad:  # a function that does not depend on x (a constant): f' = 0, not an autograd error
        return y.detach(), torch.zeros_like(x).detach()
    (g,) = torch.autograd.grad(y.sum(), x, allow_unused=True)
    if g is None:
        g = torch.zeros_like(x)
    return y.detach(), g.detach()


def interval(entry: Entry, lo: float, hi: float, margin: float = 1e-6) -> tuple[float, float]:
    """``[lo, hi]`` clipped to the entry's domain (kept ``margin`` inside open ends)."""
    d0, d1 = entry.domain
    return max(lo, d0 + margin), min(hi, d1 - margin)


def _grid(entry: Entry, n: int = 40001) -> torch.Tensor:
    a, b = interval(entry, -20.0, 20.0)
    parts = [torch.linspace(a, b, n, dtype=torch.float64)]
    tails = torch.logspace(1.3, 4, 200, dtype=torch.float64)
    d0, d1 = entry.domain
    parts += [tails[tails < d1], -tails[-tails > d0]]
    near = torch.logspace(-300, -1, 300, dtype=torch.float64)  # approach finite domain ends
    if math.isfinite(d0):
        parts.append(torch.cat([torch.tensor([d0], dtype=torch.float64), d0 + near]))
    if math.isfinite(d1):
        parts.append(torch.cat([torch.tensor([d1], dtype=torch.float64), d1 - near]))
    g = torch.cat(parts)
    return torch.sort(g[(g >= d0) & (g <= d1)]).values


def _bounded(entry: Entry, rng: tuple[float, float]) -> tuple[bool, bool]:
    """(bounded below, bounded above). Unbounded: beyond +-100 somewhere on the grid, or still
    moving that way by at least 0.5 a decade between x = 1e2, 1e3 and 1e4 (log-like growth)."""
    lo, hi = rng
    return not (lo <= -100 or _runs_off(entry, up=False)), not (hi >= 100 or _runs_off(entry, up=True))


def _runs_off(entry: Entry, up: bool) -> bool:
    d0, d1 = entry.domain
    for sign in (1.0, -1.0):
        pts = torch.tensor([1e2, 1e3, 1e4], dtype=torch.float64) * sign
        if all(d0 <= float(p) <= d1 for p in pts):
            steps = curve(entry, pts).detach().diff()
            if bool(((steps if up else -steps) >= 0.5).all()):
                return True
    return False


def _max_jump(entry: Entry, h: float) -> tuple[float, float]:
    a, b = interval(entry, *entry.probe)
    x = torch.arange(a, b, h, dtype=torch.float64)
    y, g = value_and_derivative(entry, x)
    return float(y.diff().abs().max()), float(g.diff().abs().max())


def measure(entry: Entry) -> dict:
    """Measure the curve's properties numerically (float64).

    * ``range``: min and max over a dense grid of [-20, 20] plus tails out to +-1e4 (within the
      domain);
    * ``monotonic``: non-decreasing or non-increasing on that grid;
    * ``smooth`` (C^1): the largest jump of f and of f' between neighbours shrinks about ten-fold
      when the step shrinks ten-fold (a kink or a jump does not shrink);
    * ``zero_centred``: 0 is in the domain, f(0) = 0 and f takes both signs;
    * ``differentiable``: the gradient is not zero everywhere on random inputs;
    * ``elementwise``: changing one input feature changes only that output feature.
    """
    x = _grid(entry)
    y = curve(entry, x).detach()
    finite = y[~torch.isnan(y)]
    out: dict = {"nan_in_domain": int(torch.isnan(y).sum()), "range": (float(finite.min()), float(finite.max()))}
    out["bounded_below"], out["bounded_above"] = _bounded(entry, out["range"])
    yc = torch.nan_to_num(y, posinf=1e308, neginf=-1e308)
    d = yc.diff()
    scale = 1e-9 * (1 + yc.abs()[1:])
    out["monotonic"] = bool((d >= -scale).all() or (d <= scale).all())
    jf1, jd1 = _max_jump(entry, 1e-2)
    jf2, jd2 = _max_jump(entry, 1e-3)
    continuous = jf2 <= 0.5 * jf1 or jf2 < 1e-9
    c1 = jd2 <= 0.5 * jd1 or jd2 < 1e-6
    out["smooth"] = bool(continuous and c1)
    d0, d1 = entry.domain
    if d0 < 0 < d1:
        f0 = float(curve(entry, torch.zeros(1, dtype=torch.float64)).detach()[0])
        out["zero_centred"] = abs(f0) < 1e-9 and out["range"][0] < 0 < out["range"][1]
    else:
        out["zero_centred"] = False
    out["differentiable"] = _has_gradient(entry)
    out["elementwise"] = _acts_elementwise(entry)
    return out


def _sample(entry: Entry, shape, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a, b = interval(entry, *entry.probe, margin=1e-3)
    return a + (b - a) * torch.rand(shape, generator=g, dtype=torch.float64)


def _call(entry: Entry, x: torch.Tensor) -> torch.Tensor:
    if entry.axis == "spatial":
        return _seeded_module(entry, {}, x.shape[1])(x)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return entry.fn(x, **entry.params)


def _has_gradient(entry: Entry) -> bool:
    shape = (2, 3, 5, 5) if entry.axis == "spatial" else (16, 6)
    x = _sample(entry, shape).requires_grad_(True)
    y = _call(entry, x)
    w = torch.randn(y.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    (g,) = torch.autograd.grad((y * w).sum(), x, allow_unused=True)
    return g is not None and bool((g != 0).any())


def _acts_elementwise(entry: Entry) -> bool:
    shape = (2, 3, 5, 5) if entry.axis == "spatial" else (16, 6)
    x = _sample(entry, shape)
    y = _call(entry, x)
    if y.shape != x.shape:
        return False
    x2 = x.clone()
    if entry.axis == "spatial":
        x2[:, :, 2, 2] += 0.25
    else:
        x2[:, 0] += 0.25 * (1 if x2[:, 0].max() + 0.25 < entry.domain[1] else -1)
    changed = (_call(entry, x2) - y).abs() > 1e-12
    return (
        bool(changed.sum(0).bool().sum() <= 1)
        if entry.axis != "spatial"
        else int(changed.sum()) <= changed.shape[0] * changed.shape[1]
    )
