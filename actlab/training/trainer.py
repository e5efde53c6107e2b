"""One trainer for compare, search and evolve.

``train(build, data, config)`` seeds every random number generator, builds the model, and
trains it on tensors (no DataLoader: small data lives on the device, batches are index slices
of a seeded permutation). A data set too big for memory (:class:`~actlab.data.StreamedSplit`\\ s)
is read through a ``DataLoader`` instead, shuffled by the same seeded generator, in batches of
``batch_size`` for training and evaluation alike; its diagnostics are measured on the first
``DIAGNOSTIC_SAMPLE`` validation examples. It records, per epoch, the training loss and metrics (running means
over the epoch's batches, as Keras reports them), the validation loss and metrics (eval mode,
after the epoch) and the wall time of the training pass; at the end it restores the weights of
the best validation epoch and scores the test split once.

The training pass keeps its bookkeeping on the device: the running loss is summed as a tensor,
predictions go into one preallocated tensor, and the epoch's metrics are read once at its end,
so a batch costs no Python-side synchronisation. The optimizer is PyTorch's fused kernel where it
has one (Adam, SGD, Adagrad; on the CPU PyTorch's default is a per-parameter Python loop, see
benchmarks/RESULTS.md for what the kernel saves), else its ``foreach`` form; ``fused=False``
selects the per-parameter reference loop (which the packed trainer reproduces exactly).

A NaN or inf training loss ends the run with status ``"diverged"`` at that epoch, with the
weights as they were before that batch: the fused step is told through its ``found_inf`` input
(the flag AMP's gradient scaler uses) to skip every update from the first non-finite loss on,
and the flag is read every ``CHECK_EVERY`` batches and at the end of the epoch; without a fused
kernel the loss is checked before every step. Early
stopping ends it with ``"stopped"`` after ``patience`` epochs without improvement of
``monitor``. An ``on_epoch`` callback returning ``True`` ends it with ``"pruned"`` (Optuna
pruning). The same seed, data, config and thread count give bit-identical records.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import nn

from actlab import _validate as V
from actlab._errors import ActlabError
from actlab._refs import qualified_name
from actlab.data import Dataset, Split, StreamedSplit
from actlab.models.plan import SlotModel
from actlab.training.diagnostics import GradientMonitor, slot_diagnostics
from actlab.training.fit import DEFAULT_METRIC, check_settings, load_fit, reference, train_fit
from actlab.training.losses import LossFn, get_loss
from actlab.training.metrics import classification_metrics, prediction_metrics
from actlab.training.result import RunResult

# name -> (torch class, default learning rate). Defaults are PyTorch's own, except SGD, which
# has none in PyTorch and takes Keras' 0.01.
OPTIMIZERS: dict[str, tuple[type[torch.optim.Optimizer], float]] = {
    "sgd": (torch.optim.SGD, 0.01),
    "rmsprop": (torch.optim.RMSprop, 0.01),
    "adagrad": (torch.optim.Adagrad, 0.01),
    "adadelta": (torch.optim.Adadelta, 1.0),
    "adam": (torch.optim.Adam, 1e-3),
    "adamax": (torch.optim.Adamax, 2e-3),
    "nadam": (torch.optim.NAdam, 2e-3),
}
MONITORS = ("val_loss", "val_accuracy")
GRAD_SAMPLES = 32  # diagnostics: gradient norms of about this many batches per epoch (every batch cost ~7% of an epoch)
EVAL_BATCH = 2048
CHECK_EVERY = 32  # fused optimizers: batches between two reads of the divergence flag
FUSED = ("adam", "sgd", "adagrad")  # optimizers with a fused kernel in PyTorch (CPU and CUDA)
XY = tuple[torch.Tensor, torch.Tensor]  # a split's inputs and labels, on the training's device
OnDevice = XY | StreamedSplit  # a split as a run holds it: on its device, or read batch by batch
DIAGNOSTIC_SAMPLE = 1024  # validation examples of a streamed split that diagnostics are measured on
FIT_FIELDS = ("fit", "fit_name", "fit_version", "fit_metric", "fit_direction")  # TrainConfig's fit settings
TRAIN_AUC = False  # final_train's AUC: never read (the over-fitting gap takes its accuracy), a third of its cost
MIN_STEPS = 10  # optimizer steps per epoch below which a study warns (see few_steps)


@dataclass
class TrainConfig:
    """Everything that decides a training run (saved with every result)."""

    epochs: int = 20
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float | None = None  # None: the optimizer's default (see OPTIMIZERS)
    momentum: float = 0.0  # sgd and rmsprop only
    weight_decay: float = 0.0
    loss: str = "cross_entropy"
    patience: int | None = 5  # epochs without improvement before stopping; None: never
    min_delta: float = 0.0
    monitor: str = "val_loss"
    restore_best: bool = True  # test with the weights of the best validation epoch
    seed: int = 0
    threads: int | None = None  # torch intra-op threads; None: leave as is
    device: str = "cpu"
    diagnostics: bool = True
    # Score the test and train splits at the end (RunResult.test, final_train); False: validation
    # alone, for trainings that are only selected on it (evolve's fitness), which then have none.
    final_scores: bool = True
    fused: bool = True  # the optimizer's fused kernel where PyTorch has one; False: the per-parameter loop
    fit: Any = None  # the user's training loop in place of this trainer: a reference or a callable (see training.fit)
    fit_name: str | None = None  # the loop's qualified name (set from fit; in a run's key, where fit is not)
    fit_version: str | None = None  # the user's version of the loop (in a run's key)
    fit_metric: str = DEFAULT_METRIC  # the metric of the loop's results the studies select on
    fit_direction: str = "max"  # max or min

    def __post_init__(self) -> None:
        self.optimizer = self.optimizer.lower()
        if self.optimizer not in OPTIMIZERS:
            close = difflib.get_close_matches(self.optimizer, OPTIMIZERS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ActlabError(f"unknown optimizer {self.optimizer!r}; {hint}choose one of: {', '.join(OPTIMIZERS)}")
        self.epochs = V.integer("epochs", self.epochs, 1, V.MAX_EPOCHS)
        self.batch_size = V.integer("batch size", self.batch_size, 1, V.MAX_BATCH)
        V.number("learning rate", self.lr, 0, 1e4, lo_open=True, none_ok=True)  # checked, kept as given:
        V.number("momentum", self.momentum, 0, 1)  # 1 and 1.0 must give one run key
        V.number("weight decay", self.weight_decay, 0, 1e4)
        V.number("min_delta", self.min_delta, 0)
        if self.monitor not in MONITORS:
            raise ActlabError(f"monitor must be one of {', '.join(MONITORS)}, got {self.monitor!r}")
        self.patience = V.integer(
            "patience",
            self.patience,
            1,
            V.MAX_EPOCHS,
            none_ok=True,
            hint="no early stopping is None in Python, 0 on the command line",
        )
        self.seed = V.integer("seed", self.seed, 0, 2**63 - 1)
        self.threads = V.integer(
            "threads",
            self.threads,
            1,
            V.MAX_THREADS,
            none_ok=True,
            hint="torch's own choice is None in Python, 0 on the command line",
        )
        V.device(self.device)
        get_loss(self.loss)  # fail early on an unknown loss
        if not isinstance(self.final_scores, bool):
            raise ActlabError(f"final_scores is true or false, got {self.final_scores!r}")
        self._check_fit()

    def _check_fit(self) -> None:
        check_settings(self.fit_version, self.fit_metric, self.fit_direction)
        if self.fit is not None:
            self.fit = reference(self.fit)
            self.fit_name = qualified_name(load_fit(self.fit))
        elif self.fit_version is not None or (self.fit_metric, self.fit_direction) != (DEFAULT_METRIC, "max"):
            raise ActlabError("a fit version, metric or direction applies to a training loop of your own: give fit too")

    def require_final_scores(self, study: str) -> None:
        """One line where ``study``, which reports test scores, is given a training without them."""
        if not self.final_scores:
            raise ActlabError(f"{study} reports each run's test scores: leave final_scores true")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else OPTIMIZERS[self.optimizer][1]

    def to_dict(self) -> dict[str, Any]:
        """The config as plain data; the fit settings only where there is a loop of the user's, and
        ``final_scores`` only where it is off (so a run without them keeps the key it always had)."""
        d = asdict(self)
        if self.fit is None:
            for k in FIT_FIELDS:
                del d[k]
        if self.final_scores:
            del d["final_scores"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class Stopper:
    """Early stopping and the best epoch of one run: the one-model trainer keeps one, the packed
    trainer one per member."""

    def __init__(self, config: TrainConfig):
        self.monitor, self.min_delta, self.patience = config.monitor, config.min_delta, config.patience
        self.sign = 1.0 if config.monitor == "val_loss" else -1.0
        self.best, self.waited = math.inf, 0
        self.best_epoch: int | None = None

    def update(
        self,
        epoch: int,
        record: Mapping[str, Any],
        prune: Callable[[int, Mapping[str, Any]], bool | None] | None = None,
    ) -> tuple[str | None, bool]:
        """After a finite training epoch with its validation scores: ``(status, improved)``, status
        ``"diverged"`` (the monitored score is NaN), ``"pruned"`` (``prune(epoch, record)`` said
        so), ``"stopped"`` (``patience`` epochs without improvement) or None to go on."""
        score = self.sign * record.get(self.monitor, math.nan)
        if math.isnan(score):
            return "diverged", False
        improved = score < self.best - self.min_delta
        if improved:
            self.best, self.best_epoch, self.waited = score, epoch, 0
        else:
            self.waited += 1
        if prune is not None and prune(epoch, record):
            return "pruned", improved
        if self.patience is not None and self.waited >= self.patience:
            return "stopped", improved
        return None, improved


def few_steps(n_train: int, config: TrainConfig) -> str | None:
    """One line of warning when ``config``'s batch leaves fewer than ``MIN_STEPS`` optimizer steps
    per epoch on ``n_train`` training examples (iris: 105 examples at batch 128 is one step per
    epoch, 30 in 30 epochs: the model stops long before it converges); else None."""
    steps = math.ceil(n_train / config.batch_size)
    if config.fit is not None or steps >= min(
        MIN_STEPS, n_train
    ):  # a loop of the user's batches as it likes  # (a split of fewer examples: only batch 1 gives each its step)
        return None
    smaller = 2 ** max(0, (n_train // MIN_STEPS).bit_length() - 1)  # a power of two giving at least MIN_STEPS
    return (
        f"actlab: warning: batch size {config.batch_size} on {n_train} training examples is {steps} optimizer "
        f"step{'s' if steps > 1 else ''} per epoch, {steps * config.epochs} in {config.epochs} epochs; runs may end "
        f"before they converge: give a smaller --batch-size (e.g. {smaller}) or more --epochs"
    )


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _make_optimizer(model: nn.Module, config: TrainConfig, fused: bool | None = None) -> torch.optim.Optimizer:
    """The configured optimizer; ``fused`` (default ``config.fused``) picks PyTorch's fused kernel
    where it has one, else the ``foreach`` form; ``False``, the per-parameter reference loop."""
    cls, _ = OPTIMIZERS[config.optimizer]
    kw: dict[str, Any] = {"lr": config.learning_rate, "weight_decay": config.weight_decay}
    if config.optimizer in ("sgd", "rmsprop"):
        kw["momentum"] = config.momentum
    fast = config.fused if fused is None else fused
    kw["foreach"] = False
    if fast:
        kw.update({"fused": True, "foreach": None} if config.optimizer in FUSED else {"foreach": True})
    return cls(model.parameters(), **kw)


@torch.inference_mode()
def predict(
    model: nn.Module, x: torch.Tensor | StreamedSplit, batch: int = EVAL_BATCH, device: torch.device | None = None
) -> torch.Tensor:
    """Logits of ``model`` on ``x`` in eval mode, in batches (under ``torch.inference_mode``); a
    streamed split is read in batches of ``batch``, each moved to ``device``."""
    was = model.training
    model.eval()
    try:
        if isinstance(x, StreamedSplit):
            return torch.cat([model(xb.to(device)) for xb, _ in x.batches(batch)]) if len(x) else torch.zeros(0)
        return torch.cat([model(x[i : i + batch]) for i in range(0, len(x), batch)]) if len(x) else x.new_zeros(0)
    finally:
        model.train(was)


def evaluate(
    model: nn.Module,
    x: torch.Tensor | StreamedSplit,
    y: torch.Tensor,
    loss_fn: LossFn,
    n_classes: int,
    batch: int = EVAL_BATCH,
    device: torch.device | None = None,
    auc: bool = True,
) -> dict[str, float]:
    z = predict(model, x, batch, device)
    loss = float(loss_fn(z.float(), y)) if len(y) else math.nan
    return {"loss": loss if math.isfinite(loss) else math.nan, **classification_metrics(z, y, n_classes, auc)}


def train(
    build: Callable[[], nn.Module] | nn.Module,
    data: Dataset,
    config: TrainConfig | None = None,
    on_epoch: Callable[[int, Mapping[str, Any]], bool | None] | None = None,
) -> RunResult:
    """Train a model on ``data`` (an :class:`actlab.data.Dataset`) and score it.

    ``build`` is a zero-argument function returning the model (called after seeding, so the
    initial weights depend only on ``config.seed``) or a model. ``on_epoch(epoch, record)`` is
    called after every epoch; returning ``True`` stops the run as ``"pruned"``. With
    ``config.fit`` the user's loop trains the model instead (:mod:`actlab.training.fit`; no
    ``on_epoch``).
    """
    config = config or TrainConfig()
    if config.fit is not None:
        if config.threads:
            torch.set_num_threads(config.threads)
        seed_everything(config.seed)
        return train_fit(build, data, config)
    run = _Run.start(build, data, config)
    start = time.perf_counter()
    status, epochs, stop = run.fit(on_epoch)
    test, final_train = {}, {}
    if config.final_scores:
        test, final_train = run.score(run.test_split), run.score(run.train_split, auc=TRAIN_AUC)
    diagnostics = {}
    if config.diagnostics and isinstance(run.model, SlotModel):
        diagnostics = slot_diagnostics(run.model, run.diagnostic_inputs(), epochs)
    if run.grads is not None:
        run.grads.remove()
    n_params = sum(p.numel() for p in run.model.parameters() if p.requires_grad)
    return RunResult(
        status,
        epochs,
        test,
        final_train,
        stop.best_epoch,
        n_params,
        time.perf_counter() - start,
        diagnostics,
        learned_parameters(run.model.state_dict()),
    )


@dataclass
class _Run:
    """One model's training: the model, its optimizer and loss, the splits on its device."""

    model: nn.Module
    config: TrainConfig
    train_split: OnDevice
    val_split: OnDevice
    test_split: OnDevice
    n_classes: int
    loss_fn: LossFn
    optimizer: torch.optim.Optimizer
    grads: GradientMonitor | None
    gen: torch.Generator

    @classmethod
    def start(cls, build: Callable[[], nn.Module] | nn.Module, data: Dataset, config: TrainConfig) -> _Run:
        """Seed every generator, build the model (after seeding) and put it and the data on the
        device; then the optimizer, for parameters sized at the first call too."""
        if config.threads:
            torch.set_num_threads(config.threads)
        seed_everything(config.seed)
        device = torch.device(config.device)
        model = (build() if callable(build) and not isinstance(build, nn.Module) else build).to(device)
        tr, va, te = (_on(s, device) for s in (data.train, data.val, data.test))
        loss_fn = get_loss(config.loss)
        _materialise(model, data.train.head(2).to(device))
        optimizer = _make_optimizer(model, config)
        grads = GradientMonitor(model) if config.diagnostics else None
        gen = torch.Generator().manual_seed(config.seed)
        return cls(model, config, tr, va, te, data.n_classes, loss_fn, optimizer, grads, gen)

    def fit(
        self, on_epoch: Callable[[int, Mapping[str, Any]], bool | None] | None
    ) -> tuple[str, list[dict[str, Any]], Stopper]:
        """Train epoch by epoch until the last, divergence, early stopping or pruning; leave the
        model with the weights of its best epoch (``restore_best``). Returns the status, the
        epochs' records and the stopper (which knows the best epoch)."""
        epochs: list[dict[str, Any]] = []
        status, best_state, stop = "finished", None, Stopper(self.config)
        for epoch in range(1, self.config.epochs + 1):
            record, finite = self.epoch(epoch)
            epochs.append(record)
            if not finite:
                status = "diverged"
                break
            ended, improved = stop.update(epoch, record, on_epoch)
            if improved and self.config.restore_best:
                best_state = copy.deepcopy(self.model.state_dict())
            if ended:
                status = ended
                break
        if best_state is not None:
            self.model.load_state_dict(best_state)
        return status, epochs, stop

    def epoch(self, epoch: int) -> tuple[dict[str, Any], bool]:
        """One training pass and its record (training scores, gradient norms, then the validation
        scores if every loss was finite); and whether it was."""
        t0 = time.perf_counter()
        common = (self.n_classes, self.config.batch_size, self.gen, self.grads)
        if isinstance(self.train_split, tuple):
            train_stats, finite = _train_epoch(self.model, self.optimizer, self.loss_fn, self.train_split, *common)
        else:
            train_stats, finite = _train_stream_epoch(
                self.model, self.optimizer, self.loss_fn, self.train_split, *common
            )
        record: dict[str, Any] = {
            "epoch": epoch,
            "seconds": time.perf_counter() - t0,
            **{f"train_{m}": v for m, v in train_stats.items()},
        }
        if self.grads is not None:
            record["grad_norm"] = self.grads.epoch_means()
        if finite:
            t1 = time.perf_counter()
            val = self.score(self.val_split)
            record.update({f"val_{m}": v for m, v in val.items()})
            record["eval_seconds"] = time.perf_counter() - t1
        return record, finite

    def score(self, split: OnDevice, auc: bool = True) -> dict[str, float]:
        """Loss and metrics of the model on a split (a streamed one in batches of ``batch_size``)."""
        if isinstance(split, tuple):
            return evaluate(self.model, *split, self.loss_fn, self.n_classes, auc=auc)
        y = split.y.to(self.config.device)
        return evaluate(self.model, split, y, self.loss_fn, self.n_classes, self.config.batch_size, y.device, auc)

    def diagnostic_inputs(self) -> torch.Tensor:
        """The validation inputs, or the first ``DIAGNOSTIC_SAMPLE`` of a streamed split."""
        if isinstance(self.val_split, tuple):
            return self.val_split[0]
        size = self.config.batch_size
        first = [x for x, _ in itertools.islice(self.val_split.batches(size), math.ceil(DIAGNOSTIC_SAMPLE / size))]
        return torch.cat(first)[:DIAGNOSTIC_SAMPLE].to(self.config.device) if first else torch.zeros(0)


MAX_LEARNED = 64  # values kept per parameter of an activation function


def learned_parameters(state: Mapping[str, torch.Tensor]) -> dict[str, dict[str, list[float]]]:
    """The trained parameters of a model's activation functions, as they were tested:
    ``{slot: {name: values}}`` from the ``acts.<slot>.<name>`` entries of its state dict (a
    PReLU's slopes, an expression's learned constants), parameters of at most 64 values."""
    out: dict[str, dict[str, list[float]]] = {}
    for key, t in state.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "acts" and t.is_floating_point() and 0 < t.numel() <= MAX_LEARNED:
            out.setdefault(parts[1], {})[parts[2]] = [float(v) for v in t.detach().flatten().double().tolist()]
    return out


@torch.no_grad()
def _materialise(model: nn.Module, x: torch.Tensor) -> None:
    """Run lazily shaped layers (FReLU) once, before the optimizer sees their parameters (not in
    inference mode: parameters made there could never be trained)."""
    was = model.training
    model.eval()
    try:
        model(x)
    finally:
        model.train(was)


def _on(split: Split | StreamedSplit, device: torch.device) -> OnDevice:
    return split if isinstance(split, StreamedSplit) else (split.x.to(device), split.y.to(device))


def _train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    split: XY,
    k: int,
    batch_size: int,
    gen: torch.Generator,
    grads: GradientMonitor | None,
) -> tuple[dict[str, float], bool]:
    """One pass over the shuffled training split. Returns running metrics and whether every
    batch loss was finite (no update is made from the first that is not; the pass stops there or
    a few batches later, see the module docstring)."""
    x, y = split
    n = len(x)
    model.train()
    order = torch.randperm(n, generator=gen).to(x.device)
    # index_select: 2x faster than x[idx] on the CPU
    batches = ((x.index_select(0, idx), y.index_select(0, idx)) for idx in order.split(batch_size))
    done = _train_pass(model, optimizer, loss_fn, batches, n, batch_size, grads, x.device)
    return _epoch_scores(done, lambda: y[order], k)


def _train_stream_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    split: StreamedSplit,
    k: int,
    batch_size: int,
    gen: torch.Generator,
    grads: GradientMonitor | None,
) -> tuple[dict[str, float], bool]:
    """:func:`_train_epoch` on a streamed split: batches from its DataLoader, shuffled by ``gen``."""
    device = next(model.parameters()).device
    labels: list[torch.Tensor] = []

    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for xb, yb in split.batches(batch_size, gen):
            labels.append(yb)
            yield xb.to(device), yb.to(device)

    model.train()
    done = _train_pass(model, optimizer, loss_fn, batches(), len(split), batch_size, grads, device)
    return _epoch_scores(done, lambda: torch.cat(labels).to(device), k)


def _epoch_scores(
    done: tuple[float, torch.Tensor] | None, labels: Callable[[], torch.Tensor], k: int
) -> tuple[dict[str, float], bool]:
    if done is None:
        return {"loss": math.nan, "accuracy": math.nan}, False
    loss, pred = done
    return {"loss": loss, **prediction_metrics(pred, labels(), k)}, True


def _train_pass(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    batches: Iterable[XY],
    n: int,
    batch_size: int,
    grads: GradientMonitor | None,
    device: torch.device,
) -> tuple[float, torch.Tensor] | None:
    """The optimizer's steps over ``batches`` (``n`` examples): the mean loss and the predictions,
    or None when a batch loss was not finite."""
    every = max(1, math.ceil(n / batch_size) // GRAD_SAMPLES)  # gradient norms of evenly spaced batches
    total = torch.zeros((), dtype=torch.float64, device=device)  # sum of batch loss x batch size
    pred = torch.empty(n, dtype=torch.long, device=device)
    # A fused step skips its update while found_inf is 1: from the first non-finite loss on.
    found = (
        torch.zeros((), dtype=torch.float32, device=device) if getattr(optimizer, "defaults", {}).get("fused") else None
    )
    # found_inf is not declared on Optimizer: the fused step reads it where AMP's scaler sets it
    optimizer.found_inf = found  # type: ignore[attr-defined]
    i = 0
    try:
        for b, (xb, yb) in enumerate(batches):
            optimizer.zero_grad(set_to_none=True)
            z = model(xb)
            loss = loss_fn(z, yb)
            if found is None and not torch.isfinite(loss):
                return None
            loss.backward()
            total.add_(loss.detach(), alpha=len(yb))
            if found is not None:
                found.copy_(torch.isfinite(total).logical_not_())
            if grads is not None and b % every == 0:
                grads.accumulate()
            optimizer.step()
            torch.argmax(z.detach(), 1, out=pred[i : i + len(yb)])
            i += len(yb)
            if found is not None and b % CHECK_EVERY == CHECK_EVERY - 1 and found.item():
                return None
    finally:
        optimizer.found_inf = None  # type: ignore[attr-defined]
    if found is not None and found.item():
        return None
    return total.item() / max(n, 1), pred
