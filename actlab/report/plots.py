"""Plots of activation functions: numbers computed in one function, drawn in another."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from ..catalogue import REGISTRY, Entry, format_spec
from ..catalogue.properties import interval, value_and_derivative


@dataclass
class CurveData:
    label: str
    entry: Entry
    x: list[float]
    y: list[float]
    dy: list[float]


def curve_data(spec: str, lo: float = -5.0, hi: float = 5.0, n: int = 801) -> CurveData:
    """f and f' of a catalogue spec on ``[lo, hi]`` (clipped to the function's domain)."""
    entry, kwargs = REGISTRY.resolve(spec)
    a, b = interval(entry, lo, hi)
    x = torch.linspace(a, b, n, dtype=torch.float64)
    y, dy = value_and_derivative(entry, x, **kwargs)
    return CurveData(format_spec(entry.name, kwargs), entry, x.tolist(), y.tolist(), dy.tolist())


def _ylim(*series: list[float], cap: float = 6.0) -> tuple[float, float]:
    vals = [v for s in series for v in s if math.isfinite(v)]
    if not vals:
        return -1.0, 1.0
    lo, hi = max(min(vals), -cap), min(max(vals), cap)
    pad = 0.08 * max(hi - lo, 1.0)
    return lo - pad, hi + pad


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_entry(data: CurveData, path: str | Path, *, title: bool = True, size=(4.2, 3.0), dpi: int = 110) -> Path:
    """One function and its derivative, with the formula as the title."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=size, dpi=dpi)
    ax.axhline(0, color="0.8", lw=0.8)
    ax.axvline(0, color="0.8", lw=0.8)
    ax.plot(data.x, data.y, color="C0", lw=2, label="f(x)")
    ax.plot(data.x, data.dy, color="C1", lw=1.3, ls="--", label="f'(x)")
    ax.set_ylim(*_ylim(data.y, data.dy))
    ax.set_xlim(data.x[0], data.x[-1])
    ax.grid(alpha=0.25)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    if title:
        try:
            ax.set_title(f"{data.label}:  ${data.entry.formula}$", fontsize=9)
            fig.canvas.draw()
        except ValueError:  # a user formula mathtext cannot render: show it as text
            ax.set_title(f"{data.label}: {data.entry.formula}", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def draw_many(datas: list[CurveData], path: str | Path, *, derivative: bool = True, dpi: int = 120) -> Path:
    """Several functions on one figure (left: f, right: f')."""
    plt = _pyplot()
    ncols = 2 if derivative else 1
    fig, axes = plt.subplots(1, ncols, figsize=(5.2 * ncols, 3.8), dpi=dpi, squeeze=False)
    for ax, key, ttl in zip(axes[0], ("y", "dy"), ("f(x)", "f'(x)")):
        ax.axhline(0, color="0.8", lw=0.8)
        ax.axvline(0, color="0.8", lw=0.8)
        for i, d in enumerate(datas):
            ax.plot(d.x, getattr(d, key), lw=1.8, color=f"C{i % 10}", label=d.label)
        ax.set_ylim(*_ylim(*(getattr(d, key) for d in datas)))
        ax.set_title(ttl)
        ax.grid(alpha=0.25)
    axes[0][0].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
