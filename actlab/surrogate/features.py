"""The features of an activation function on a task, computed without training it, and their
files.

After AQuaSurF (Bingham & Miikkulainen, "Efficient activation function optimization through
surrogate modeling", NeurIPS 2023). A :class:`Task` is a dataset, a model and a data seed;
:func:`compute_features` describes a function on that task without training it:

* ``outputs``: the function's curve at 1,000 draws of N(0, 1) (NumPy seed 0) clipped to
  [-5, 5], as AQuaSurF; the curve is the catalogue's (:func:`actlab.catalogue.properties.curve`:
  ``f([x, 0])[0]`` for functions along a dimension) or the expression's;
* ``slopes``: its derivative at the same draws;
* ``fisher``: the model with the function in every slot, at its initial weights (the trainer's
  for ``Task.seed``), on one training batch and its loss: for every dense or convolutional layer
  the eigenvalues of the two K-FAC factors (input covariance with a bias column, covariance of
  the per-example output gradients; patches for convolutions, Grosse & Martens 2016), their
  pairwise products as sums of logarithms (the Fisher block's eigenvalues), and their histogram
  on a fixed log scale as a cumulative distribution, concatenated over layers (AQuaSurF's rule
  for the number of bins: one per 100 weights, here between 10 and 200);
* ``init``: cheap signals from the same pass, slot by slot: the effective rank (exp of the
  entropy of the normalised singular values, as NEAR, arXiv 2408.08776) of the pre- and
  post-activation matrices over the width, the post-activation mean, standard deviation and
  fraction of exact zeros, the log10 weight-gradient norm of every layer, and the log of the
  initial loss.

Features cost a forward and backward pass on one batch and a dozen small eigenvalue problems,
7-8 ms a function on a busy 2-core machine: 2-4% of the short trainings (0.2-0.4 s) of
``benchmarks/surrogate.py``, under 1% of a 50-epoch MNIST-1D training. :func:`load_or_compute`
keeps them as one JSON file per function (written atomically), so a rerun computes none again;
:meth:`actlab.surrogate.Surrogate.features` also keeps them in memory.

Non-finite numbers never leave :func:`compute_features`: NaN becomes 0 and +-inf becomes
+-``BIG`` (1e6) in every output, slope, activation and gradient, before any clipping (curve
values are then clipped to [-``CLIP``, ``CLIP``]); an eigenvalue below ``EIG_FLOOR`` is raised
to it; ``init["nonfinite"]`` keeps how much was not finite (the mean of the fractions of
curve values and of activations). A function that cannot run in the model (FReLU in an MLP)
has ``ok`` False, zeros for its model features and the reason in ``note``;
:meth:`actlab.surrogate.Surrogate.predict` gives it 0 (it cannot train).

The regressor that learns from them: :mod:`actlab.surrogate.regressor`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import time
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from actlab._errors import ActlabError, first_line
from actlab._io import finite_float, oversized, read_json, write_json_atomic
from actlab.catalogue import REGISTRY
from actlab.catalogue.expr import PREFIX, Expression, canonical, template
from actlab.catalogue.properties import value_and_derivative
from actlab.execution import BAD_UNIT, WHERE_ONLY
from actlab.models import build
from actlab.training import get_loss
from actlab.training.diagnostics import as_rows, effective_rank

FORMAT_FEATURES = "actlab-surrogate-features"
FEATURES_VERSION = 1  # raised whenever a feature's definition changes: cached files of another version are recomputed
DRAWS, DRAW_SEED, X_CLIP = 1000, 0, 5.0
CLIP = 10.0  # curve values and slopes are clipped to [-CLIP, CLIP]
BIG = 1e6  # +-inf becomes +-BIG, NaN 0
EIG_FLOOR = 1e-30
LOG_RANGE = (-100.0, 100.0)  # histogram range of the log eigenvalues (AQuaSurF's)
BINS = (10, 200)  # bins per layer: one per 100 weights, within these bounds
BATCH = 256  # examples in the batch of the Fisher features
BLOCKS = ("outputs", "slopes", "fisher", "init")
_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d)


@dataclass
class Task:
    """What a function is ranked for: ``model`` on ``dataset`` with the split of ``data_seed``,
    initial weights of training seed ``seed``, one batch of ``batch`` training examples for the
    Fisher features and the training ``loss``."""

    dataset: str = "mnist1d"
    model: str = "mlp"
    data_seed: int = 0
    model_options: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=dict)
    loss: str = "cross_entropy"
    seed: int = 0
    batch: int = BATCH

    @classmethod
    def of(cls, config: Any, seed: int) -> Task:
        """The task of a study's ``config`` (its dataset, model, data seed and options, and its
        training loss) with the initial weights of training seed ``seed``."""
        return cls(
            dataset=config.dataset,
            model=config.model,
            data_seed=config.data_seed,
            model_options=dict(config.model_options),
            data_options=dict(config.data_options),
            loss=config.train.loss,
            seed=seed,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def key(self) -> str:
        """Everything that decides the features (not where the data is read from)."""
        d = self.to_dict()
        d["data_options"] = {k: v for k, v in d["data_options"].items() if k not in WHERE_ONLY["data_options"]}
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def draws() -> torch.Tensor:
    """The 1,000 inputs of the curve features: N(0, 1) draws of seed 0 clipped to [-5, 5] (float64)."""
    return torch.tensor(np.clip(np.random.default_rng(DRAW_SEED).standard_normal(DRAWS), -X_CLIP, X_CLIP))


def _finite(t: torch.Tensor) -> torch.Tensor:
    return torch.nan_to_num(t.detach().double(), nan=0.0, posinf=BIG, neginf=-BIG)


def _curve(spec: str) -> tuple[torch.Tensor, torch.Tensor]:
    """f and f' at the draws (float64), any number allowed (NaN, inf)."""
    x = draws().clone()
    text = spec.strip()
    if text.startswith(PREFIX):
        x = x.requires_grad_(True)
        y = Expression(text[len(PREFIX) :]).eval()(x)
        (g,) = torch.autograd.grad(y.sum(), x, allow_unused=True) if y.requires_grad else (None,)
        return y.detach(), (g if g is not None else torch.zeros_like(x)).detach()
    entry, kwargs = REGISTRY.resolve(text)
    return value_and_derivative(entry, x, **kwargs)


def curve_at_draws(spec: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``f`` and ``f'`` of ``spec`` at the :func:`draws` (float64), NaN as 0 and +-inf as +-``BIG``,
    unclipped."""
    y, dy = _curve(spec)
    return _finite(y), _finite(dy)


def _patches(layer: nn.Module, a: torch.Tensor) -> torch.Tensor:
    """A layer's input as the rows the K-FAC input factor is made of: examples for a dense
    layer, the patch at every output position for a convolution (Grosse & Martens 2016)."""
    if isinstance(layer, nn.Linear):
        return a.reshape(-1, a.shape[-1])
    if isinstance(layer, nn.Conv1d):
        a, k, s, p, d = (
            a.unsqueeze(-1),
            (layer.kernel_size[0], 1),
            (layer.stride[0], 1),
            (layer.padding[0], 0),
            (layer.dilation[0], 1),
        )
    else:
        k, s, p, d = layer.kernel_size, layer.stride, layer.padding, layer.dilation
    if isinstance(p, str):  # "same" / "valid"
        p = tuple((kk - 1) * dd // 2 for kk, dd in zip(k, d, strict=True)) if p == "same" else (0, 0)
    cols = torch.nn.functional.unfold(a, k, dilation=d, padding=p, stride=s)  # (N, C*k*k, L)
    return cols.transpose(1, 2).reshape(-1, cols.shape[1])


def _log_eigs(m: torch.Tensor, n: int) -> torch.Tensor:
    """log eigenvalues of m.T m / n (float64), floored."""
    c = m.T @ m / max(n, 1)
    c = (c + c.T) / 2
    try:
        e = torch.linalg.eigvalsh(c)
    except RuntimeError:  # did not converge
        e = torch.zeros(c.shape[0], dtype=c.dtype)
    return torch.nan_to_num(e, nan=0.0).clamp_min(EIG_FLOOR).log()


def _fisher_cdf(layer: nn.Module, a: torch.Tensor, g: torch.Tensor, n: int) -> np.ndarray:
    rows = _patches(layer, _finite(a))
    if layer.bias is not None:
        rows = torch.cat([torch.ones(rows.shape[0], 1, dtype=rows.dtype), rows], 1)
    grads = as_rows(_finite(g))
    la = _log_eigs(rows, n)  # input covariance, summed over positions, over examples
    lg = _log_eigs(grads, grads.shape[0])  # output-gradient covariance over examples and positions
    logs = (la[:, None] + lg[None, :]).flatten().numpy()
    weights = sum(p.numel() for p in layer.parameters())
    bins = int(min(max(weights // 100, BINS[0]), BINS[1]))
    hist, _ = np.histogram(np.clip(logs, *LOG_RANGE), bins=bins, range=LOG_RANGE)
    cdf = np.cumsum(hist).astype(float)
    return cdf / cdf[-1] if cdf[-1] > 0 else cdf


def _batch(data, task: Task) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``task.batch`` examples of the training split in the order of a seeded permutation."""
    key = (task.key(), id(data.train))
    if key not in _BATCHES:
        gen = torch.Generator().manual_seed(task.seed)
        idx = torch.randperm(len(data.train), generator=gen)[: task.batch]
        if len(_BATCHES) >= 8:
            _BATCHES.pop(next(iter(_BATCHES)))
        _BATCHES[key] = data.train.take(idx)
    return _BATCHES[key]


_BATCHES: dict[tuple[str, int], tuple[torch.Tensor, torch.Tensor]] = {}


def _model_features(spec: str, task: Task, data) -> dict[str, Any]:
    """The ``fisher`` and ``init`` blocks and the fraction of non-finite activations."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(task.seed)  # the trainer's initial weights for this seed (CPU)
        model = build(task.model, data.input_shape, data.n_classes, template(spec), **task.model_options)
        model.train()
        x, y = _batch(data, task)
        seen: dict[nn.Module, list] = {}
        acts: dict[str, list] = {}
        hooks = []
        layers = [m for m in model.modules() if isinstance(m, _LAYERS)]

        def keep_layer(m, inp, out):
            out.retain_grad()
            seen[m] = [inp[0].detach(), out]

        for m in layers:
            hooks.append(m.register_forward_hook(keep_layer))
        for slot in getattr(model, "slots", ()):
            hooks.append(
                model.acts[slot].register_forward_hook(
                    lambda m, inp, out, slot=slot: acts.__setitem__(slot, [inp[0].detach(), out.detach()])
                )
            )
        try:
            z = model(x)
            loss = get_loss(task.loss)(z, y)
            if loss.requires_grad:
                (loss * len(x)).backward()  # per-example gradients: the mean's times the batch
        finally:
            for h in hooks:
                h.remove()
    fisher: list[float] = []
    init: dict[str, float] = {}
    bad = total = 0
    for i, m in enumerate(layers):
        a, out = seen.get(m, (None, None))
        if a is None or out.grad is None:  # a layer the pass does not reach
            fisher.extend([0.0] * int(min(max(sum(p.numel() for p in m.parameters()) // 100, BINS[0]), BINS[1])))
            init[f"grad_{i}"] = -12.0
            continue
        fisher.extend(_fisher_cdf(m, a, out.grad, len(x)).tolist())
        g = torch.cat([_finite(p.grad).flatten() for p in m.parameters() if p.grad is not None] or [torch.zeros(1)])
        init[f"grad_{i}"] = float(torch.log10(g.norm().clamp_min(1e-12)).clamp(-12, 12))
    for slot in getattr(model, "slots", ()):
        if slot == "output" or slot not in acts:
            continue
        pre, post = acts[slot]
        bad += int((~torch.isfinite(post)).sum())
        total += post.numel()
        pre, post = as_rows(_finite(pre)), as_rows(_finite(post))
        init[f"rank_pre_{slot}"] = effective_rank(pre)
        init[f"rank_post_{slot}"] = effective_rank(post)
        init[f"mean_{slot}"] = float(post.mean().clamp(-CLIP, CLIP))
        init[f"std_{slot}"] = float(post.std().clamp(0, CLIP)) if post.numel() > 1 else 0.0
        init[f"zero_{slot}"] = float((post == 0).double().mean())
    lv = float(loss.detach())
    init["log_loss"] = math.log(min(max(lv, 1e-12), BIG)) if math.isfinite(lv) else math.log(BIG)
    init["nonfinite"] = bad / max(total, 1)
    return {"fisher": fisher, "init": init}


def compute_features(spec: str, task: Task, data) -> dict[str, Any]:
    """The features of ``spec`` on ``task`` (``data`` loaded for it), uncached: a JSON-ready
    dict with the blocks of :data:`BLOCKS`, ``ok``, ``note`` and ``seconds``."""
    t0 = time.perf_counter()
    note = None
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(
            DRAW_SEED
        )  # stochastic curves (Gumbel softmax) draw the same numbers every time
        try:
            y, dy = _curve(spec)
        except BAD_UNIT as e:  # a function whose curve cannot be drawn: its model features still count
            y, dy, note = (
                torch.zeros(DRAWS, dtype=torch.float64),
                torch.zeros(DRAWS, dtype=torch.float64),
                first_line(e),
            )
    curve_bad = int((~torch.isfinite(y)).sum())
    out = {"outputs": _finite(y).clamp(-CLIP, CLIP).tolist(), "slopes": _finite(dy).clamp(-CLIP, CLIP).tolist()}
    try:
        model = _model_features(spec, task, data)
        ok = True
    except BAD_UNIT as e:  # it cannot run in this model
        model, ok, note = None, False, f"does not run in model {task.model!r}: {first_line(e)}"
    if model is None:
        reference = _reference_shape(task, data)
        model = {"fisher": [0.0] * len(reference["fisher"]), "init": dict.fromkeys(reference["init"], 0.0)}
    model["init"]["nonfinite"] = (model["init"].get("nonfinite", 0.0) + curve_bad / DRAWS) / 2
    return {
        "format": FORMAT_FEATURES,
        "version": FEATURES_VERSION,
        "spec": spec,
        "task_key": task.key(),
        **out,
        **model,
        "ok": ok,
        "note": note,
        "seconds": time.perf_counter() - t0,
    }


_SHAPES: dict[str, dict[str, Any]] = {}


def _reference_shape(task: Task, data) -> dict[str, Any]:
    """The model blocks of ReLU on ``task``: the layout a function that cannot run gets, in zeros."""
    if task.key() not in _SHAPES:
        _SHAPES[task.key()] = _model_features("relu", task, data)
    return _SHAPES[task.key()]


def block_values(f: Mapping[str, Any], name: str) -> list[float]:
    """The numbers of feature block ``name`` of ``f``, in order (``init`` is a dict)."""
    v = f[name]
    return list(v.values()) if isinstance(v, Mapping) else list(v)


def _read_features(path: Path, spec: str, task: Task, data) -> dict[str, Any] | None:
    """Cached features of ``spec`` at ``path``, or None when absent, damaged, of another version
    or for another task (then they are computed again and the file rewritten)."""
    try:
        d = read_json(path, "features", "they are computed again")
    except ActlabError:
        return None
    if (
        not isinstance(d, dict)
        or d.get("format") != FORMAT_FEATURES
        or d.get("version") != FEATURES_VERSION
        or d.get("spec") != spec
        or d.get("task_key") != task.key()
    ):
        return None
    ref = _reference_shape(task, data)
    try:
        if (
            len(d["outputs"]) != DRAWS
            or len(d["slopes"]) != DRAWS
            or len(d["fisher"]) != len(ref["fisher"])
            or list(d["init"]) != list(ref["init"])
            or not isinstance(d["ok"], bool)
            or not (d["note"] is None or isinstance(d["note"], str))
            or oversized(d)
        ):
            return None
        seconds = finite_float(d["seconds"])
        blocks = {b: [finite_float(v) for v in block_values(d, b)] for b in BLOCKS}
    except (KeyError, TypeError, AttributeError):
        return None
    if seconds is None or seconds < 0 or any(v is None for values in blocks.values() for v in values):
        return None
    blocks["init"] = dict(zip(d["init"], blocks["init"], strict=True))
    return {**d, **blocks, "seconds": seconds}  # numbers as floats: an int of the file is read as one


def feature_path(folder: Path, task: Task, spec: str) -> Path:
    """The file in ``folder`` that keeps the features of ``spec`` on ``task``."""
    h = hashlib.sha256(json.dumps([task.key(), spec]).encode()).hexdigest()[:20]
    return folder / f"{h}.json"


def load_or_compute(spec: str, task: Task, data, path: Path | None = None) -> dict[str, Any]:
    """The features of ``spec`` on ``task``: read from ``path`` where a valid file is there, else
    computed (and then written there, atomically). A spec the catalogue does not know is refused
    in one line."""
    f = _read_features(path, spec, task, data) if path is not None else None
    if f is None:
        function_key(spec)  # an unknown name, bad arguments, an expression that does not parse: one line
        with small_linear_algebra():
            f = compute_features(spec, task, data)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(path, f)
    return f


@contextlib.contextmanager
def small_linear_algebra():
    """One thread (torch's and BLAS') and no convergence warnings: these matrices are tiny, and
    two threads on a busy machine made one 81 x 1000 SVD 100x slower (seconds instead of 20 ms)
    and the features 30x slower; a GP's length-scale at a bound is no reason to warn a user."""
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        torch.set_num_threads(threads)


def function_key(spec: str) -> Any:
    """What makes two specs one function: the entry and its arguments (``swish`` is ``silu``),
    or the expression's text."""
    text = spec.strip()
    if text.startswith(PREFIX):
        return canonical(text[len(PREFIX) :])
    entry, kwargs = REGISTRY.resolve(text)
    return entry.name, tuple(sorted((k, repr(v)) for k, v in kwargs.items()))
