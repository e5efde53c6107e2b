"""Rank activation functions before training them: features at initialisation, and a regressor
fit on the functions already trained.

After AQuaSurF (Bingham & Miikkulainen, "Efficient activation function optimization through
surrogate modeling", NeurIPS 2023). A :class:`Task` is a dataset, a model and a data seed;
:meth:`Surrogate.features` describes a function on that task without training it:

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
``benchmarks/surrogate.py``, under 1% of a 50-epoch MNIST-1D training. They are cached in memory
and, given a ``folder``, as one JSON file per function (written atomically), so a rerun
computes none again.

Non-finite numbers never leave :meth:`Surrogate.features`: NaN becomes 0 and +-inf becomes
+-``BIG`` (1e6) in every output, slope, activation and gradient, before any clipping (curve
values are then clipped to [-``CLIP``, ``CLIP``]); an eigenvalue below ``EIG_FLOOR`` is raised
to it; ``init["nonfinite"]`` keeps how much was not finite (the mean of the fractions of
curve values and of activations). A function that cannot run in the model (FReLU in an MLP) has ``ok`` False, zeros for
its model features and the reason in ``note``; :meth:`Surrogate.predict` gives it 0 (it cannot
train).

The regressor, chosen by measurement (``benchmarks/surrogate.py``, 92 functions on MNIST-1D and
digits, ``benchmarks/RESULTS.md``): extremely randomised trees (200, scikit-learn) on an
embedding of the features (each block standardised, reduced to 8 principal components and
weighed alike; fit on the trained and the untrained functions together, as AQuaSurF fits its
UMAP), the uncertainty being the spread of the trees. They ranked best leave-one-out (Spearman
0.90 and 0.86) and stayed best or close when fit on the 8 usual functions alone (0.60, 0.75),
where AQuaSurF's 3 nearest neighbours fell to 0.44 and 0.34; a Gaussian process, a random
forest, Bayesian ridge and the k nearest neighbours remain available (``regressor=``). UMAP was
not needed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from actlab._errors import ActlabError, first_line
from actlab._io import finite, finite_float, oversized, read_json, write_json_atomic
from actlab._progress import Progress
from actlab.catalogue import REGISTRY
from actlab.catalogue.expr import PREFIX, Expression, canonical
from actlab.catalogue.properties import value_and_derivative
from actlab.execution import (
    BAD_UNIT,
    WHERE_ONLY,
    Runner,
    Unit,
    finished_text,
    load_data,
    provide_data,
)
from actlab.models import build
from actlab.training import TrainConfig, best_val_accuracy, get_loss

FORMAT_FEATURES = "actlab-surrogate-features"
FEATURES_VERSION = 1  # raised whenever a feature's definition changes: cached files of another version are recomputed
USUAL = ("elu", "relu", "selu", "sigmoid", "softplus", "softsign", "swish", "tanh")  # trained first (AQuaSurF)
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


def _module(spec: str) -> Any:
    """The spec as the model takes it (an expression becomes its module directly, as the runner does)."""
    text = spec.strip()
    return Expression(text[len(PREFIX) :]) if text.startswith(PREFIX) else spec


def _effective_rank(m: torch.Tensor) -> float:
    """exp(entropy of the normalised singular values) / the largest possible rank."""
    if m.numel() == 0 or min(m.shape) == 0:
        return 0.0
    c = m - m.mean(0)
    c = c.T @ c if c.shape[0] >= c.shape[1] else c @ c.T  # the smaller Gram matrix: its eigenvalues are s^2
    s = torch.linalg.eigvalsh((c + c.T) / 2).clamp_min(0).sqrt()
    total = float(s.sum())
    if not total > 0 or not math.isfinite(total):
        return 0.0
    p = s / total
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum())) / min(m.shape)


def _as_rows(t: torch.Tensor) -> torch.Tensor:
    """(N, C, ...) activations as rows of C features: (N * positions, C)."""
    return t.reshape(t.shape[0], -1) if t.dim() <= 2 else t.transpose(1, -1).reshape(-1, t.shape[1])


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
        p = tuple((kk - 1) * dd // 2 for kk, dd in zip(k, d)) if p == "same" else (0, 0)
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
    grads = _as_rows(_finite(g))
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
    key = (task.key(), id(data.train.x))
    if key not in _BATCHES:
        gen = torch.Generator().manual_seed(task.seed)
        idx = torch.randperm(len(data.train), generator=gen)[: task.batch]
        if len(_BATCHES) >= 8:
            _BATCHES.pop(next(iter(_BATCHES)))
        _BATCHES[key] = (data.train.x[idx], data.train.y[idx])
    return _BATCHES[key]


_BATCHES: dict[tuple[str, int], tuple[torch.Tensor, torch.Tensor]] = {}


def _model_features(spec: str, task: Task, data) -> dict[str, Any]:
    """The ``fisher`` and ``init`` blocks and the fraction of non-finite activations."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(task.seed)  # the trainer's initial weights for this seed (CPU)
        model = build(task.model, data.input_shape, data.n_classes, _module(spec), **task.model_options)
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
        pre, post = _as_rows(_finite(pre)), _as_rows(_finite(post))
        init[f"rank_pre_{slot}"] = _effective_rank(pre)
        init[f"rank_post_{slot}"] = _effective_rank(post)
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


# ------------------------------------------------------------------------------- the regressor
REGRESSORS = ("trees", "forest", "gp", "knn", "ridge")
DEFAULT_REGRESSOR = "trees"
COMPONENTS = 8  # principal components kept per feature block


def _block(f: Mapping[str, Any], name: str) -> list[float]:
    v = f[name]
    return list(v.values()) if isinstance(v, Mapping) else list(v)


class _Embedding:
    """Each block standardised (per column), reduced to its first principal components and scaled
    to unit total variance, so that every block weighs alike; the blocks side by side."""

    def __init__(self, blocks: Sequence[str], components: int = COMPONENTS):
        self.blocks, self.components = tuple(blocks), components

    def fit(self, rows: Sequence[Mapping[str, Any]]) -> _Embedding:
        from sklearn.decomposition import PCA

        self.parts = []
        for b in self.blocks:
            x = np.array([_block(r, b) for r in rows], dtype=float)
            mu, sd = x.mean(0), x.std(0)
            sd[sd < 1e-12] = 1.0
            z = (x - mu) / sd
            k = max(1, min(self.components, len(rows) - 1, z.shape[1]))
            pca = PCA(n_components=k, svd_solver="full").fit(z) if len(rows) > 1 else None
            scale = math.sqrt(float(pca.explained_variance_.sum())) if pca is not None else 1.0
            self.parts.append((b, mu, sd, pca, scale if scale > 1e-12 else 1.0))
        return self

    def transform(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        cols = []
        for b, mu, sd, pca, scale in self.parts:
            z = (np.array([_block(r, b) for r in rows], dtype=float) - mu) / sd
            cols.append((pca.transform(z) if pca is not None else np.zeros((len(rows), 1))) / scale)
        return np.concatenate(cols, 1)


@contextlib.contextmanager
def _small_linear_algebra():
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


def _regressor(name: str, n: int):
    """A scikit-learn regressor of ``name`` for ``n`` training points, seeded."""
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
    from sklearn.linear_model import BayesianRidge
    from sklearn.neighbors import KNeighborsRegressor

    if name == "knn":
        return KNeighborsRegressor(n_neighbors=min(3, n))
    if name == "trees":
        return ExtraTreesRegressor(n_estimators=200, random_state=0)
    if name == "forest":
        return RandomForestRegressor(n_estimators=200, random_state=0)
    if name == "ridge":
        return BayesianRidge()
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(1.0, (1e-2, 1e3)) + WhiteKernel(1e-2, (1e-6, 1e1))
    return GaussianProcessRegressor(kernel, normalize_y=True, random_state=0, n_restarts_optimizer=2)


def _predict(model, name: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread: the GP's and Bayesian ridge's standard deviation, the spread of the
    trees' predictions, the spread of the k nearest neighbours' accuracies."""
    if name in ("gp", "ridge"):
        mean, std = model.predict(x, return_std=True)
    elif name in ("trees", "forest"):
        per = np.stack([t.predict(x) for t in model.estimators_])
        mean, std = per.mean(0), per.std(0)
    else:
        idx = model.kneighbors(x, return_distance=False)
        mean, std = model.predict(x), y[idx].std(1)
    return np.asarray(mean, float), np.asarray(std, float)


class Surrogate:
    """Predicts the validation accuracy of activation functions on a :class:`Task` from their
    features, once fit on functions already trained.

    Args:
        task: the dataset, model and seeds the functions are ranked for.
        data: the task's data, already loaded (default: loaded on first use).
        folder: keep each function's features there as JSON (computed once, even across runs).
        regressor: one of :data:`REGRESSORS` (see the module docstring for the default).
        blocks: the feature blocks used (default: all of :data:`BLOCKS`).

    Example::

        >>> s = Surrogate(Task("iris"))
        >>> s.fit(["relu", "tanh", "sigmoid", "elu"], [0.93, 0.90, 0.70, 0.92])  # doctest: +SKIP
        >>> mean, std = s.predict(["gelu", "softsign"])  # doctest: +SKIP
    """

    def __init__(
        self,
        task: Task | None = None,
        data=None,
        folder: str | Path | None = None,
        regressor: str = DEFAULT_REGRESSOR,
        blocks: Sequence[str] | None = None,
    ):
        if regressor not in REGRESSORS:
            raise ActlabError(f"unknown surrogate regressor {regressor!r}; choose one of: {', '.join(REGRESSORS)}")
        self.task = task or Task()
        self.blocks = tuple(blocks or BLOCKS)
        unknown = [b for b in self.blocks if b not in BLOCKS]
        if unknown:
            raise ActlabError(f"unknown feature block {unknown[0]!r}; choose among: {', '.join(BLOCKS)}")
        self.regressor, self._data = regressor, data
        self.folder = Path(folder) if folder is not None else None
        self._cache: dict[str, dict[str, Any]] = {}
        self._fit: tuple[Any, ...] | None = None

    @property
    def data(self):
        if self._data is None:
            t = self.task
            self._data = load_data({"dataset": t.dataset, "data_seed": t.data_seed, "data_options": t.data_options})
        return self._data

    # ------------------------------------------------------------------------ features
    def _path(self, spec: str) -> Path | None:
        if self.folder is None:
            return None
        h = hashlib.sha256(json.dumps([self.task.key(), spec]).encode()).hexdigest()[:20]
        return self.folder / f"{h}.json"

    def features(self, spec: str) -> dict[str, Any]:
        """The features of ``spec`` (see the module docstring): from memory, from ``folder``, or
        computed (and then kept in both). A spec the catalogue does not know is refused in one line;
        one that cannot run in the task's model gets ``ok`` False."""
        if not isinstance(spec, str):
            raise ActlabError(f"a function to rank is a spec string such as 'relu', got {type(spec).__name__}")
        if spec in self._cache:
            return self._cache[spec]
        path = self._path(spec)
        f = _read_features(path, spec, self.task, self.data) if path is not None else None
        if f is None:
            function_key(spec)  # an unknown name, bad arguments, an expression that does not parse: one line
            with _small_linear_algebra():
                f = compute_features(spec, self.task, self.data)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                write_json_atomic(path, f)
        self._cache[spec] = f
        return f

    def ok(self, spec: str) -> bool:
        """Whether ``spec`` runs in the task's model."""
        return bool(self.features(spec)["ok"])

    # ------------------------------------------------------------------------- fitting
    def fit(self, specs: Sequence[str], accuracies: Sequence[float], pool: Iterable[str] = ()) -> Surrogate:
        """Fit on trained functions and their validation accuracies. The embedding (unsupervised)
        is fit on ``specs`` and the untrained ``pool`` together, as AQuaSurF's; functions that
        cannot run in the model are left out of both."""
        specs, accs = list(specs), [float(a) if finite(a) else math.nan for a in accuracies]
        if len(specs) != len(accs):
            raise ActlabError(f"{len(specs)} functions but {len(accs)} accuracies; give one accuracy per function")
        keep = [i for i, s in enumerate(specs) if self.ok(s) and math.isfinite(accs[i])]
        if len(keep) < 2:
            raise ActlabError("the surrogate needs at least 2 trained functions that run in the model; train more")
        train = [specs[i] for i in keep]
        y = np.array([accs[i] for i in keep])
        rows = [self.features(s) for s in dict.fromkeys([*train, *pool]) if self.ok(s)]
        with _small_linear_algebra():
            emb = _Embedding(self.blocks).fit(rows)
            x = emb.transform([self.features(s) for s in train])
            model = _regressor(self.regressor, len(train))
            model.fit(x, y)
        self._fit = (emb, model, y)
        return self

    def predict(self, specs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Predicted validation accuracy of each spec and its uncertainty (``mean``, ``std``);
        0 and 0 for a function that cannot run in the model."""
        if self._fit is None:
            raise ActlabError("the surrogate is not fit yet; call fit(specs, accuracies) with trained functions first")
        emb, model, y = self._fit
        specs = list(specs)
        mean, std = np.zeros(len(specs)), np.zeros(len(specs))
        run = [i for i, s in enumerate(specs) if self.ok(s)]
        if run:
            with _small_linear_algebra():
                m, s = _predict(model, self.regressor, emb.transform([self.features(specs[i]) for i in run]), y)
            mean[run], std[run] = np.clip(m, 0.0, 1.0), np.nan_to_num(s, nan=0.0)
        return mean, std

    def leave_one_out(self, specs: Sequence[str], accuracies: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """For every function, its prediction by a surrogate fit on all the others (the
        embedding on all of them: it sees no accuracy)."""
        specs, accs = list(specs), list(accuracies)
        mean, std = np.zeros(len(specs)), np.zeros(len(specs))
        for i in range(len(specs)):
            rest = specs[:i] + specs[i + 1 :]
            self.fit(rest, accs[:i] + accs[i + 1 :], pool=[specs[i]])
            m, s = self.predict([specs[i]])
            mean[i], std[i] = m[0], s[0]
        return mean, std

    def embedding(self, specs: Sequence[str]) -> np.ndarray:
        """Two principal components of the fitted embedding for ``specs`` (a map for reports;
        zeros for functions that cannot run in the model)."""
        if self._fit is None:
            raise ActlabError("the surrogate is not fit yet; call fit(specs, accuracies) first")
        from sklearn.decomposition import PCA

        emb = self._fit[0]
        run = [s for s in specs if self.ok(s)]
        out = np.zeros((len(specs), 2))
        if len(run) >= 2:
            with _small_linear_algebra():
                z = emb.transform([self.features(s) for s in run])
                k = min(2, z.shape[1], len(run))
                xy = PCA(n_components=k, svd_solver="full").fit_transform(z)
            idx = [i for i, s in enumerate(specs) if self.ok(s)]
            out[np.ix_(idx, range(k))] = xy
        return out


def feature_map(task: Task, specs: Sequence[str], accuracies: Sequence[float], data=None) -> list[list[float] | None]:
    """Where each of ``specs`` sits in the surrogate's feature embedding on ``task`` (first two
    principal components; the surrogate is fit on these functions and ``accuracies``), None for a
    function that cannot run in the model. A map of families of functions for reports."""
    sur = Surrogate(task, data)
    ok = [i for i, s in enumerate(specs) if sur.ok(s)]
    if len(ok) < 3:
        raise ActlabError(f"a map needs at least 3 functions that run in model {task.model!r}; {len(ok)} do")
    sur.fit([specs[i] for i in ok], [accuracies[i] for i in ok])
    xy = sur.embedding(list(specs))
    return [[float(v) for v in xy[i]] if i in ok else None for i in range(len(specs))]


def feature_points(task: Task, items: Sequence[tuple[str, str, float]], data=None) -> dict[str, Any]:
    """The map of a report: ``items`` are ``(name, spec, accuracy)``; ``{"points": [{"name",
    "spec", "accuracy", "xy"}], "note"}``, ``xy`` None for a function that cannot run in the
    model, and no points (the note says why) when fewer than 3 can."""
    try:
        xy = feature_map(task, [s for _, s, _ in items], [a for _, _, a in items], data)
    except ActlabError as e:
        return {"points": [], "note": str(e)}
    return {
        "points": [{"name": n, "spec": s, "accuracy": a, "xy": p} for (n, s, a), p in zip(items, xy)],
        "note": "first two principal components of the surrogate's embedding of the features at initialisation",
    }


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
        blocks = {b: [finite_float(v) for v in _block(d, b)] for b in BLOCKS}
    except (KeyError, TypeError, AttributeError):
        return None
    if seconds is None or seconds < 0 or any(v is None for values in blocks.values() for v in values):
        return None
    blocks["init"] = dict(zip(d["init"], blocks["init"]))
    return {**d, **blocks, "seconds": seconds}  # numbers as floats: an int of the file is read as one


# ------------------------------------------------------------------------ pruning a candidate list
KEEP = 12  # candidates a search keeps by default when a surrogate prunes its list


def prune(
    candidates: Sequence[str],
    keep: int,
    task: Task,
    train: TrainConfig,
    runner: Runner,
    folder: str | Path,
    data=None,
    progress: bool = True,
) -> tuple[list[str], dict[str, Any]]:
    """The ``keep`` candidates predicted best, best first, and a record of how they were chosen.

    The eight usual functions are trained on ``task`` with ``train`` (its seed; each function in
    every slot but the output), as runner units in ``folder`` (a rerun trains none again), and a
    surrogate fit on their validation accuracy predicts the other candidates; a usual function
    among the candidates counts with its real score. A candidate that cannot run in the model is
    dropped. The choice depends only on the task, the trainings and the candidates, so it is the
    same on every rerun."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sur = Surrogate(task, data, folder=folder / "features")
    cfg = {**train.to_dict(), "diagnostics": False}
    units = [
        Unit(
            name=f"usual-{s}",
            plan=s,
            dataset=task.dataset,
            model=task.model,
            train=cfg,
            data_seed=task.data_seed,
            data_options=dict(task.data_options),
            model_options=dict(task.model_options),
        )
        for s in USUAL
    ]
    provide_data(units[0], sur.data)
    bar = Progress(len(units), "runs for the surrogate", enabled=progress)

    def done(u: Unit, rec: dict[str, Any], cached: bool) -> None:
        bar.begin(f"{u.plan} seed {u.train['seed']}")
        bar.finish(finished_text(rec, cached, "val"), skipped=cached)

    recs = runner.run(units, folder, on_done=done)
    usual = {u.plan: best_val_accuracy(recs[u.name]["result"]) for u in units if "result" in recs[u.name]}
    cands = [c for c in candidates if sur.ok(c)]
    if not cands:
        raise ActlabError(
            f"no candidate runs in model {task.model!r} ({sur.features(candidates[0])['note']}); "
            "choose other candidates"
        )
    sur.fit(list(usual), list(usual.values()), pool=cands)
    mean, std = sur.predict(cands)
    trained = {function_key(s): v for s, v in usual.items()}
    score = [trained.get(function_key(c), m) for c, m in zip(cands, mean)]
    order = sorted(range(len(cands)), key=lambda i: (-score[i], i))[:keep]
    kept = [cands[i] for i in order]
    return kept, {
        "keep": keep,
        "kept": kept,
        "regressor": sur.regressor,
        "usual": usual,
        "predicted": {c: [float(m), float(s)] for c, m, s in zip(cands, mean, std)},
        "dropped": {c: sur.features(c)["note"] for c in candidates if not sur.ok(c)},
    }


def function_key(spec: str) -> Any:
    """What makes two specs one function: the entry and its arguments (``swish`` is ``silu``),
    or the expression's text."""
    text = spec.strip()
    if text.startswith(PREFIX):
        return canonical(text[len(PREFIX) :])
    entry, kwargs = REGISTRY.resolve(text)
    return entry.name, tuple(sorted((k, repr(v)) for k, v in kwargs.items()))
