"""Population training: K MLPs that differ only in their activation functions, packed into one
model and trained together, each as if it were trained alone.

Packing. Member k's layer l has its weight as slice ``W_l[k]`` of one ``(K, in, out)``
parameter; one batched matmul per layer computes every member. Members are sorted by their
activation plan, so that members with the same function form a contiguous slice and each
slot's activation is applied once per distinct function (a function with parameters, such as
PReLU, keeps one module per member). Every member sees the same batches, in the order the
one-model trainer draws them for the same seed, and its loss is its own mean loss: the sum over
members has, for each member's parameters, exactly that member's gradient. The optimizers of
actlab update element by element (SGD, Adam, RMSprop, ...), so one optimizer over the packed
tensors makes each member's update what its own optimizer would make. The result is the one-
by-one result of ``train`` with the same config, up to floating-point rounding (a batched matmul
may add in another order), which the tests bound. Packed members match alone exactly in float64;
in float32 to rounding, which training can grow (a pre-activation that rounds to the other side
of a kink: about 4e-4 in a loss after 4 epochs of leaky ReLU on digits, with ``fused=False``,
PyTorch's per-parameter optimizer loop). The default fused kernel adds its own: it rounds an
element by its position in the tensor (vector body or scalar tail), which differs inside a pack,
and a long training can grow that to about 1e-3 in a loss.

Each member keeps its own early stopping, best epoch, divergence and pruning. A member that
stops is scored with the weights of its best epoch in a pack of its own, and after the epoch the
pack goes on with the others only: their slices of the packed weights and of the optimizer's
state (moments, momentum buffers, sums of squares; step counts are shared), so the stopped no
longer cost matmuls, activations or optimizer work. Inside an epoch (a loss that turns non-
finite) a stopped member rides along, masked, without effect on the others (batches are
independent in a batched matmul).

``train_population(plans, data, config, model_options)`` returns one
:class:`~actlab.training.RunResult` per plan, in the order given. ``packable(model)``
says whether a model can be packed (``mlp`` only; other models train one by one).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin

from actlab._errors import ActlabError
from actlab.catalogue import REGISTRY, Activation, Entry, expr, get
from actlab.data import Dataset
from actlab.models import MLP, build, copy_activation
from actlab.training.diagnostics import slot_diagnostics
from actlab.training.losses import LossFn, cross_entropy, get_loss
from actlab.training.metrics import batched_classification_metrics
from actlab.training.result import RunResult
from actlab.training.trainer import (
    EVAL_BATCH,
    GRAD_SAMPLES,
    TRAIN_AUC,
    XY,
    Stopper,
    TrainConfig,
    _make_optimizer,
    learned_parameters,
    seed_everything,
)

OnEpoch = Callable[[int, int, Mapping[str, Any]], bool | None]  # (member, epoch, record) -> prune?


def packable(model: str, plan: Any = None, fit: Any = None) -> bool:
    """Whether the packed trainer reproduces a model with this activation plan: the MLP, with a
    function in every slot that acts on each element alone (a pack's activations see a
    ``(members, batch, features)`` tensor: softmax along a dimension, or a PReLU with one slope per
    feature, would act across members or batch rows).

    A property of the functions, never of the machine's rounding: a catalogue entry is judged by
    what its table row declares (``axis``, ``mixes_features``, one parameter per channel) and its
    module's make (parts sized at the first call); only a function the catalogue does not
    describe (a user's module, or an entry registered as kind ``user``) is also measured, with a
    tolerance far above rounding (:func:`_acts_on_elements`). A run of the user's own training loop
    (``fit``) is never packed."""
    if model != "mlp" or fit is not None:
        return False
    specs = plan.values() if isinstance(plan, Mapping) else [plan]
    return all(_layout_free(s) for s in specs)


def _layout_free(spec: Any) -> bool:
    if spec is None:
        return True
    if isinstance(spec, str):
        try:
            return _spec_acts_on_elements(spec)
        except ActlabError:
            return False
    return isinstance(spec, nn.Module) and not _sized_at_first_call(spec) and _acts_on_elements(spec)


def _spec_acts_on_elements(spec: str) -> bool:
    if spec.strip().startswith(
        (expr.PREFIX, expr.LEARN_PREFIX)
    ):  # the expression language: element-wise primitives only
        return True  # (and get() would build its catalogue entry: properties, LaTeX, sympy)
    entry, kwargs = REGISTRY.resolve(spec)
    if not _declared_elementwise(entry, kwargs):
        return False
    module = get(spec)
    return not _sized_at_first_call(module) and (entry.kind != "user" or _acts_on_elements(module))


def _declared_elementwise(entry: Entry, kwargs: Mapping[str, Any] | None = None) -> bool:
    """What the entry's table row says: it applies to each element alone (``axis``), learns no
    mixing of features (``mixes_features``) and, with these arguments, has no parameter per
    channel (``num_parameters``, PReLU's)."""
    per_channel = {**entry.params, **(kwargs or {})}.get("num_parameters", 1) != 1
    return entry.elementwise and not entry.mixes_features and not per_channel


def _sized_at_first_call(act: nn.Module) -> bool:
    """A part sized by its first input (per-channel parameters, a gated unit's projection): in a
    pack it would be sized by the ``(members, batch, features)`` layout."""
    return any(isinstance(m, LazyModuleMixin) for m in act.modules())


#: How far a pack's call may differ from the slices' calls and still count as element-wise:
#: some 100 float32 ulps, far above the rounding of a kernel that takes another code path
#: for another shape (elu differs by 6e-8 on some CPUs), far below a real dependence between
#: elements (a softmax, a mean or a cumulative sum moves values by 1e-2 and more).
ELEMENTWISE_RTOL = ELEMENTWISE_ATOL = 1e-5


def _acts_on_elements(act: nn.Module) -> bool:
    """The module gives the same, to :data:`ELEMENTWISE_RTOL`, on a ``(2, 3, 5)`` tensor as on
    each of its ``(3, 5)`` slices (NaN where the slices have NaN)."""
    act = copy.deepcopy(act).eval()
    x = torch.randn(2, 3, 5, generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad():
            whole, parts = act(x), torch.stack([act(x[0]), act(x[1])])
        return whole.shape == parts.shape and torch.allclose(
            whole, parts, rtol=ELEMENTWISE_RTOL, atol=ELEMENTWISE_ATOL, equal_nan=True
        )
    except Exception:  # a shape the function refuses, or not a tensor: it is not element-wise
        return False


def _keys(acts: Sequence[nn.Module]) -> list[tuple[str, str, int]]:
    """What identifies each activation module's function: its class, its repr (which shows its
    arguments, or an expression's text) and, for a wrapped callable, which callable (two of a
    user's functions may share a name): the rank of its first appearance, so that the order of
    a pack never depends on where objects lie in memory."""
    fns: list[Callable | None] = []
    out = []
    for act in acts:
        fn = act.fn if isinstance(act, Activation) else None
        rank = next((i for i, f in enumerate(fns) if f is fn), None)
        if rank is None:
            fns.append(fn)
            rank = len(fns) - 1
        out.append((type(act).__module__ + "." + type(act).__qualname__, repr(act), rank))
    return out


def _linears(m: MLP) -> list[nn.Linear]:
    """An MLP's linear layers, in order."""
    return [lin for lin in m.linears if isinstance(lin, nn.Linear)]


class PackedMLP(nn.Module):
    """K :class:`~actlab.models.MLP` members of one shape in one module; ``forward(x)`` gives
    logits of shape ``(K, batch, classes)``, member k in row ``order.index(k)``."""

    def __init__(self, members: Sequence[MLP]):
        super().__init__()
        first = members[0]
        shapes = [tuple(lin.weight.shape) for lin in _linears(first)]
        for m in members:
            if [tuple(lin.weight.shape) for lin in _linears(m)] != shapes or m.slots != first.slots:
                raise ActlabError("packed members must have the same layers; train them one by one instead")
        self.slots = first.slots
        slot_keys = {s: _keys([m.acts[s] for m in members]) for s in self.slots}
        keys = [tuple(slot_keys[s][i] for s in self.slots) for i in range(len(members))]
        self.order = sorted(range(len(members)), key=lambda i: (keys[i], i))  # equal functions side by side
        ms = [members[i] for i in self.order]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([_linears(m)[j].weight.detach().t() for m in ms]).contiguous())
            for j in range(len(shapes))
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([_linears(m)[j].bias.detach() for m in ms]).unsqueeze(1).contiguous())
            for j in range(len(shapes))
        )
        self.acts = nn.ModuleList()
        self.groups: list[list[tuple[int, int, int]]] = []  # per slot: (start, stop, module) runs
        for s in self.slots:
            self.groups.append(self._add_runs([slot_keys[s][i] for i in self.order], [m.acts[s] for m in ms]))

    def _add_runs(self, key: Sequence[Any], acts: Sequence[nn.Module]) -> list[tuple[int, int, int]]:
        """One slot's ``(start, stop, module)`` runs (rows in pack order): members side by side with
        one function without parameters share one module, applied once; a function with parameters
        keeps one module per member."""
        runs: list[tuple[int, int, int]] = []
        run_shared = False
        for j, act in enumerate(acts):
            shared = not any(True for _ in act.parameters())
            if runs and shared and run_shared and key[runs[-1][0]] == key[j]:
                runs[-1] = (runs[-1][0], j + 1, runs[-1][2])
            else:
                self.acts.append(act)
                runs.append((j, j + 1, len(self.acts) - 1))
                run_shared = shared
        return runs

    @property
    def size(self) -> int:
        return self.weights[0].shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(1).unsqueeze(0).expand(self.size, -1, -1)
        acts = list(self.acts)  # once, not a ModuleList lookup per group
        for w, b, groups in zip(self.weights, self.biases, self.groups, strict=True):
            h = torch.baddbmm(b, h, w)
            if len(groups) == 1:
                h = acts[groups[0][2]](h)
            else:
                parts = h.split([z - a for a, z, _ in groups])  # backward: one cat (slices would zero-fill)
                h = torch.cat([acts[i](p) for p, (_, _, i) in zip(parts, groups, strict=True)])
        return h

    def member_state(self, k: int) -> dict[str, torch.Tensor]:
        """Member k's weights (a copy), keyed like its own MLP's ``state_dict``."""
        row = self.order.index(k)
        state = {}
        for j, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            state[f"linears.{j}.weight"] = w[row].detach().t().clone()
            state[f"linears.{j}.bias"] = b[row, 0].detach().clone()
        for s, groups in zip(self.slots, self.groups, strict=True):
            for a, z, i in groups:
                if a <= row < z:
                    for name, t in self.acts[i].state_dict().items():
                        state[f"acts.{s}.{name}"] = t.detach().clone()
        return state

    def load_member_state(self, k: int, state: dict[str, torch.Tensor]) -> None:
        row = self.order.index(k)
        with torch.no_grad():
            for j, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
                w[row].copy_(state[f"linears.{j}.weight"].t())
                b[row, 0].copy_(state[f"linears.{j}.bias"])
            for s, groups in zip(self.slots, self.groups, strict=True):
                for a, z, i in groups:
                    if a <= row < z:
                        for name, t in self.acts[i].state_dict().items():
                            t.copy_(state[f"acts.{s}.{name}"])

    def subset(self, rows: Sequence[int]) -> PackedMLP:
        """A pack of these rows (ascending) only: copies of their weights, the same activation
        modules (a shared run keeps its module while one of its rows stays)."""
        pack = PackedMLP.__new__(PackedMLP)
        nn.Module.__init__(pack)
        pack.slots, pack.order = self.slots, [self.order[r] for r in rows]
        index = torch.tensor(rows, dtype=torch.long, device=self.weights[0].device)
        pack.weights = nn.ParameterList(nn.Parameter(w.detach().index_select(0, index)) for w in self.weights)
        pack.biases = nn.ParameterList(nn.Parameter(b.detach().index_select(0, index)) for b in self.biases)
        pack.acts, pack.groups = nn.ModuleList(), []
        new_row = {r: j for j, r in enumerate(rows)}
        for groups in self.groups:
            runs = []
            for a, z, i in groups:
                kept = [new_row[r] for r in range(a, z) if r in new_row]
                if kept:
                    pack.acts.append(self.acts[i])
                    runs.append((kept[0], kept[-1] + 1, len(pack.acts) - 1))
            pack.groups.append(runs)
        return pack


@torch.inference_mode()
def _logits(pack: PackedMLP, x: torch.Tensor) -> torch.Tensor:
    was = pack.training
    pack.eval()
    try:
        return torch.cat([pack(x[i : i + EVAL_BATCH]) for i in range(0, len(x), EVAL_BATCH)], dim=1)
    finally:
        pack.train(was)


def _scores(z: torch.Tensor, y: torch.Tensor, loss_fn: LossFn, k: int, auc: bool = True) -> list[dict[str, float]]:
    """The trainer's scores of every row of ``z`` ``(K, N, classes)``: its loss (computed as the
    trainer computes it) and the metrics, as many rows at once as fit in about 2**23 scores."""
    step = max(1, 2**23 // max(1, z.shape[1] * k))
    metrics = [
        d for i in range(0, z.shape[0], step) for d in batched_classification_metrics(z[i : i + step], y, k, auc)
    ]
    losses = [float(loss_fn(z[r].float(), y)) if len(y) else math.nan for r in range(z.shape[0])]
    return [{"loss": loss if math.isfinite(loss) else math.nan, **m} for loss, m in zip(losses, metrics, strict=True)]


def train_population(
    plans: Sequence[Any],
    data: Dataset,
    config: TrainConfig | None = None,
    model_options: dict | None = None,
    on_epoch: OnEpoch | None = None,
) -> list[RunResult]:
    """Train one MLP per activation plan, packed; results in the order of ``plans``.

    Member k starts from the weights ``train`` would give it (the model is built after
    ``seed_everything(config.seed)``, as there). ``on_epoch(k, epoch, record)`` returning True
    prunes member k."""
    config = config or TrainConfig()
    if config.fit is not None:
        raise ActlabError("a run of a training loop of your own trains alone, never packed")
    if not plans:
        return []
    if config.threads:
        torch.set_num_threads(config.threads)
    members = _members(plans, data, config, dict(model_options or {}))
    device = torch.device(config.device)
    pack = PackedMLP(members).to(device)
    train, val, test = ((s.x.to(device), s.y.to(device)) for s in (data.train, data.val, data.test))
    splits = (train, val, test)
    loss_fn = get_loss(config.loss)
    optimizer = _make_optimizer(pack, config)
    gen = torch.Generator().manual_seed(config.seed)
    seed_everything(config.seed)  # as train() leaves the global generators (stochastic activations draw from them)
    scoring = _Scoring(members, splits, loss_fn, data.n_classes, time.perf_counter())
    runs = _MemberRuns(pack, config, on_epoch, scoring)
    for epoch in range(1, config.epochs + 1):
        if not bool(runs.active.any()):
            break
        t0 = time.perf_counter()
        train_stats, finite, grad_norms = _train_epoch(
            runs.pack,
            optimizer,
            loss_fn,
            splits[0],
            data.n_classes,
            config.batch_size,
            gen,
            runs.active,
            config.diagnostics,
        )
        seconds = time.perf_counter() - t0
        val_scores = _scores(_logits(runs.pack, splits[1][0]), splits[1][1], loss_fn, data.n_classes)
        runs.record(epoch, seconds, train_stats, finite, grad_norms, val_scores)
        if epoch < config.epochs:
            optimizer = runs.repack(optimizer)
    return runs.results()


def _members(plans: Sequence[Any], data: Dataset, config: TrainConfig, options: dict[str, Any]) -> list[MLP]:
    """One MLP per plan, each built after ``seed_everything(config.seed)`` as ``train`` builds it
    (from the generators' state that seeding leaves, taken once and put back for each member:
    seeding costs more than building); a module given to several members is copied for each."""
    members: list[MLP] = []
    held: set[int] = set()
    seed_everything(config.seed)
    seeded = random.getstate(), np.random.get_state(), torch.get_rng_state()
    for plan in plans:
        random.setstate(seeded[0])
        np.random.set_state(seeded[1])
        torch.set_rng_state(seeded[2])
        model = build("mlp", data.input_shape, data.n_classes, plan, **options)
        assert isinstance(model, MLP)
        for s, act in list(model.acts.items()):  # one module given to several members: a copy each
            if id(act) in held:
                model.acts[s] = act = copy_activation(act, "several members of a pack")
            held.add(id(act))
        members.append(model)
    return members


#: Re-pack the members still learning once this share of a pack has stopped (see
#: :meth:`_MemberRuns.repack`): as soon as one has. Measured with benchmarks/population.py
#: --stops (K 32, patience 1, 8 epochs, a busy machine): as fast as waiting for a quarter (16.5 s
#: vs 15.8-17.3 s), 1.3x faster than letting the stopped ride along (20.8-22.0 s); a re-pack costs
#: a copy of the survivors' weights and optimizer state, and each member is scored once anyway.
REPACK_SHARE = 0.0


@dataclasses.dataclass
class _Scoring:
    """What scoring a finished member needs: the members' own MLPs (diagnostics), the splits on
    the device, the loss, the classes and when the training started."""

    members: Sequence[MLP]
    splits: tuple[XY, XY, XY]
    loss_fn: LossFn
    n_classes: int
    start: float


class _MemberRuns:
    """Each member's own run inside a pack: its epochs' records, status, early stopping and best
    weights; ``pack`` holds the members still in training, ``active`` (by row) those of them that
    still learn. Members that stopped leave the pack when it is re-packed (:meth:`repack`) or
    when the training ends, scored with the weights of their best epoch."""

    def __init__(self, pack: PackedMLP, config: TrainConfig, on_epoch: OnEpoch | None, scoring: _Scoring):
        K = pack.size
        self.config, self.on_epoch, self.scoring = config, on_epoch, scoring
        self._use(pack)
        self.epochs: list[list[dict[str, Any]]] = [[] for _ in range(K)]
        self.status = ["finished"] * K
        self.stops = [Stopper(config) for _ in range(K)]
        self.best_state: list[dict[str, torch.Tensor] | None] = [None] * K
        self.done: list[RunResult | None] = [None] * K

    def _use(self, pack: PackedMLP) -> None:
        self.pack = pack
        self.rows = {k: r for r, k in enumerate(pack.order)}
        self.active = torch.ones(pack.size, dtype=torch.bool, device=pack.weights[0].device)

    def record(
        self,
        epoch: int,
        seconds: float,
        train_stats: list[dict[str, float]],
        finite: list[bool],
        grad_norms: list[list[float]] | None,
        val: list[dict[str, float]],
    ) -> None:
        """Each active member's record of this epoch, as the one-model trainer makes it; a member
        that diverged, stopped or was pruned leaves the active ones."""
        for k, r in self.rows.items():
            if not bool(self.active[r]):
                continue
            rec: dict[str, Any] = {
                "epoch": epoch,
                "seconds": seconds,
                "packed": self.pack.size,
                **{f"train_{m}": v for m, v in train_stats[r].items()},
            }
            if grad_norms is not None:
                rec["grad_norm"] = {slot: grad_norms[j][r] for j, slot in enumerate(self.pack.slots)}
            self.epochs[k].append(rec)
            if not finite[r]:
                self.status[k] = "diverged"
                self.active[r] = False
                continue
            rec.update({f"val_{m}": v for m, v in val[r].items()})
            prune = None if self.on_epoch is None else functools.partial(self.on_epoch, k)
            ended, improved = self.stops[k].update(epoch, rec, prune)
            if improved and self.config.restore_best:
                self.best_state[k] = self.pack.member_state(k)
            if ended:
                self.status[k] = ended
                self.active[r] = False

    def repack(self, optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
        """Once at least :data:`REPACK_SHARE` of the pack (and one member) has stopped, score the
        stopped members and go on with a pack of the others and their slices of the optimizer's
        state: the batched matmuls, activations and optimizer steps then no longer carry them.
        Each survivor's numbers are unchanged (every operation acts on each member alone).
        Returns the optimizer to go on with (``optimizer`` itself where nothing changed)."""
        live = self.active.tolist()
        stopped = [r for r, a in enumerate(live) if not a]
        keep = [r for r, a in enumerate(live) if a]
        if not stopped or not keep or len(stopped) < REPACK_SHARE * len(live):
            return optimizer
        if not _sliceable(optimizer, self.pack):
            return optimizer  # a state that is not per element: the stopped members ride along
        self._finish(stopped)
        pack = self.pack.subset(keep)
        optimizer = _sliced_optimizer(optimizer, self.pack, pack, keep, self.config)
        self._use(pack)
        return optimizer

    def results(self) -> list[RunResult]:
        """Every member's result (those still in the pack are scored now)."""
        self._finish(range(self.pack.size))
        return [r for r in self.done if r is not None]

    def _finish(self, rows: Sequence[int]) -> None:
        """Score the members in these rows of the pack, in a pack of their own with the weights of
        their best epoch: test and train scores (where ``final_scores``), diagnostics (on each
        member's own MLP) and learned parameters."""
        sc = self.scoring
        pack = self.pack.subset(list(rows))
        for k in pack.order:
            state = self.best_state[k]
            if state is not None:
                pack.load_member_state(k, state)
        (xt, yt), (xv, _), (xs, ys) = sc.splits
        test: list[dict[str, float]] = [{} for _ in pack.order]
        train_: list[dict[str, float]] = [{} for _ in pack.order]
        if self.config.final_scores:
            test = _scores(_logits(pack, xs), ys, sc.loss_fn, sc.n_classes)
            train_ = _scores(_logits(pack, xt), yt, sc.loss_fn, sc.n_classes, auc=TRAIN_AUC)
        n_params = sum(p.numel() for p in sc.members[0].parameters() if p.requires_grad)
        seconds = time.perf_counter() - sc.start
        for r, k in enumerate(pack.order):
            state = pack.member_state(k)
            diagnostics: dict[str, dict[str, float]] = {}
            if self.config.diagnostics:  # measured on the member's own MLP, with the weights it was tested with
                m = sc.members[k]
                m.load_state_dict(state)
                diagnostics = slot_diagnostics(m.to(xv.device), xv, self.epochs[k])
            self.done[k] = RunResult(
                self.status[k],
                self.epochs[k],
                test[r],
                train_[r],
                self.stops[k].best_epoch,
                n_params,
                seconds,
                diagnostics,
                learned_parameters(state),
            )


def _packed_parameters(pack: PackedMLP) -> list[nn.Parameter]:
    return [*pack.weights, *pack.biases]


def _sliceable(optimizer: torch.optim.Optimizer, pack: PackedMLP) -> bool:
    """Whether the optimizer's state of the packed tensors is per element (shaped like its
    tensor) or shared by every member (a step count): then each member's slice is its state.
    True of every optimizer actlab offers."""
    for p in _packed_parameters(pack):
        for v in optimizer.state.get(p, {}).values():
            if isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape != p.shape:
                return False
    return True


def _sliced_optimizer(
    old: torch.optim.Optimizer, old_pack: PackedMLP, pack: PackedMLP, keep: Sequence[int], config: TrainConfig
) -> torch.optim.Optimizer:
    """The configured optimizer over ``pack`` (rows ``keep`` of ``old_pack``), its state the kept
    rows of ``old``'s: Adam's moments, momentum buffers, sums of squares; step counts as they
    are. An activation's own parameters keep their state."""
    index = torch.tensor(keep, dtype=torch.long, device=pack.weights[0].device)
    optimizer = _make_optimizer(pack, config)
    for p_old, p_new in zip(_packed_parameters(old_pack), _packed_parameters(pack), strict=True):
        if p_old in old.state:
            optimizer.state[p_new] = {name: _rows_of(v, index) for name, v in old.state[p_old].items()}
    for p in pack.acts.parameters():
        if p in old.state:
            optimizer.state[p] = old.state[p]
    return optimizer


def _rows_of(v: Any, index: torch.Tensor) -> Any:
    """A state entry's rows ``index`` (a tensor per element), a copy of a shared one (a step)."""
    if not isinstance(v, torch.Tensor):
        return v
    return v.index_select(0, index) if v.dim() > 0 else v.clone()


def _train_epoch(
    pack: PackedMLP,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    split: XY,
    nc: int,
    batch_size: int,
    gen: torch.Generator,
    active: torch.Tensor,
    diagnostics: bool = False,
) -> tuple[list[dict[str, float]], list[bool], list[list[float]] | None]:
    """One pass of every active member over the shuffled training split (the batches of the one-
    model trainer). A member whose batch loss is not finite stops learning at that batch. With
    ``diagnostics``, the mean gradient norm of each layer's weight, per layer and row, over the
    batches the one-model trainer samples."""
    x, y = split
    K = pack.size
    pack.train()
    order = torch.randperm(len(x), generator=gen).to(x.device)
    # the epoch's examples in its order, once: each batch is then a slice (index_select: 2x faster
    # than x[idx] on the CPU)
    xs, ys = x.index_select(0, order), y.index_select(0, order)
    every = max(1, math.ceil(len(x) / batch_size) // GRAD_SAMPLES)
    live = active.clone()
    all_live = bool(live.all())
    total = torch.zeros(K, dtype=torch.float64, device=x.device)
    gsum = torch.zeros(len(pack.weights), K, dtype=torch.float64, device=x.device) if diagnostics else None
    sampled = 0
    seen, logits = 0, []
    for b, i in enumerate(range(0, len(x), batch_size)):
        xb, yb = xs[i : i + batch_size], ys[i : i + batch_size]
        optimizer.zero_grad(set_to_none=True)
        z = pack(xb)  # (K, B, C)
        per = _member_losses(loss_fn, z, yb)
        loss = per.sum() if all_live else None
        # one read of the device per batch: the sum of the losses, finite when every member's is
        # (or, past float's range, checked member by member); the rest only when a member stops
        if loss is None or not math.isfinite(loss.item()):
            finite = torch.isfinite(per)
            if not bool((finite | ~live).all()):
                bad = live & ~finite
                live &= ~bad
                total[bad] = math.nan
                all_live = False
                if not bool(live.any()):
                    break
            loss = (per if all_live else torch.where(live, per, torch.zeros_like(per))).sum()
        loss.backward()
        if gsum is not None and b % every == 0:
            gsum += torch.stack([w.grad.flatten(1).norm(dim=1) for w in pack.weights]).double()
            sampled += 1
        _step(optimizer, pack, None if all_live else live)
        if all_live:
            total.add_(per.detach(), alpha=len(yb))  # in float64, as the one-model trainer sums
        else:
            batch_total = per.detach().double() * len(yb)
            total += torch.where(live, batch_total, torch.zeros_like(total))
        seen += len(yb)
        logits.append(z.detach())
    stats = []
    metrics = batched_classification_metrics(torch.cat(logits, dim=1), ys[:seen], nc, auc=False) if logits else []
    for r in range(K):
        if not bool(live[r]) or not metrics:
            stats.append({"loss": math.nan, "accuracy": math.nan})
        else:
            stats.append({"loss": float(total[r]) / max(seen, 1), **metrics[r]})
    norms = None if gsum is None else (gsum / sampled if sampled else torch.full_like(gsum, math.nan)).tolist()
    return stats, [bool(v) for v in live], norms


def _member_losses(loss_fn: LossFn, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each member's own mean loss, shape (K,): cross-entropy directly, other losses through vmap."""
    if loss_fn is cross_entropy:
        k, b, c = z.shape
        return F.cross_entropy(z.reshape(k * b, c), y.repeat(k), reduction="none").view(k, b).mean(1)
    return torch.vmap(loss_fn, in_dims=(0, None))(z, y)


def _step(optimizer: torch.optim.Optimizer, pack: PackedMLP, live: torch.Tensor | None) -> None:
    """``optimizer.step()`` that leaves the members no longer learning (not ``live``; None: all
    learn) exactly as they are (their momentum would move them; a NaN gradient of theirs stays in
    their own rows)."""
    if live is None:
        optimizer.step()
        return
    dead = ~live
    rows = set(dead.nonzero().flatten().tolist())
    packed = [(p, p.detach()[dead].clone()) for p in (*pack.weights, *pack.biases)]
    own = [
        (p, p.detach().clone())
        for groups in pack.groups
        for a, z, i in groups
        if z == a + 1 and a in rows
        for p in pack.acts[i].parameters()
    ]  # a function's parameters, one member's
    optimizer.step()
    with torch.no_grad():
        for p, old in packed:
            p[dead] = old
        for p, old in own:
            p.copy_(old)
