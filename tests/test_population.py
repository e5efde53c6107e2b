"""The population trainer: K MLPs with different activations packed into one model train as if
each were trained alone (the same records, statuses and weights, up to float rounding), on
real data (scikit-learn's digits)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import LazyLinear

import actlab
from actlab.catalogue import Activation
from actlab.catalogue import learnable as LN
from actlab.models import build
from actlab.training import TrainConfig, train
from actlab.training.population import PackedMLP, packable, train_population

PLANS = [
    "relu",
    "tanh",
    "expr:max(x, x*tanh(x))",
    {"input": "elu", "hidden": "relu"},
    "relu",
    "prelu",
    "leaky_relu(negative_slope=0.2)",
    "leaky_relu",
    "expr:x * sigmoid(1.5 * x) + 0.1 * tanh(x)",
]
OPTS = {"width": 32, "depth": 4}


def alone(plan, data, cfg, opts=OPTS):
    model = {}

    def make():
        model["m"] = build("mlp", data.input_shape, data.n_classes, plan, **opts)
        return model["m"]

    return train(make, data, cfg), model["m"]


def _close_records(a, b, tol=1e-5):
    assert a.status == b.status and a.best_epoch == b.best_epoch and len(a.epochs) == len(b.epochs)
    for ea, eb in zip(a.epochs, b.epochs, strict=True):
        for key in ("train_loss", "val_loss", "val_accuracy", "train_accuracy"):
            va, vb = ea.get(key), eb.get(key)
            if va is None or vb is None or (isinstance(va, float) and math.isnan(va)):
                assert (va is None and vb is None) or (math.isnan(va) and math.isnan(vb)), (key, va, vb)
            else:
                assert va == pytest.approx(vb, abs=tol), (key, ea["epoch"], va, vb)
    assert a.test["accuracy"] == pytest.approx(b.test["accuracy"], abs=2 / 360)  # at most one example flips


@pytest.fixture
def digits64(digits):
    """digits in float64, with float64 as the default dtype while the test runs: float32 rounding
    differs between a batched and a plain matmul (by machine: AVX2 and AVX-512 kernels differ), and a
    member near divergence amplifies it; in float64 packed and alone agree to the last bits."""
    import dataclasses

    was = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield dataclasses.replace(
            digits,
            **{
                s: dataclasses.replace(getattr(digits, s), x=getattr(digits, s).x.double())
                for s in ("train", "val", "test")
            },
        )
    finally:
        torch.set_default_dtype(was)


def _trace(r) -> str:
    return str([(e.get("val_loss"), e["train_loss"]) for e in r.epochs])  # as text, NaN equals NaN


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_packed_members_train_as_if_alone(digits64, optimizer, fused):
    cfg = TrainConfig(
        epochs=4,
        batch_size=32,
        optimizer=optimizer,
        lr=3e-3 if optimizer == "adam" else 0.05,
        momentum=0.9 if optimizer == "sgd" else 0.0,
        weight_decay=1e-4,
        patience=None,
        diagnostics=False,
        threads=1,
        fused=fused,
    )
    packed = train_population(PLANS, digits64, cfg, OPTS)
    for plan, p in zip(PLANS, packed, strict=True):
        one, model = alone(plan, digits64, cfg)
        _close_records(p, one, tol=1e-10)
        assert p.test["accuracy"] == one.test["accuracy"]
        if p.status == "finished":
            assert p.test["accuracy"] > 0.5, plan  # they learn: 10 classes
    assert len({round(r.test["accuracy"], 6) for r in packed}) > 2  # different functions, different results
    assert {r.status for r in packed} == ({"finished"} if optimizer == "adam" else {"finished", "diverged"})


def test_packed_float32_members_agree_within_rounding(digits):
    """With PyTorch's per-parameter optimizer loop (fused=False). The first steps agree to the last
    bits; a pre-activation that rounds to the other side of leaky ReLU's kink then grows a
    difference (4e-4 in a loss by epoch 4 on an AMD EPYC, 0 on other CPUs): the bound is for
    rounding grown by training, far below what a packing error gives (the float64 tests below
    demand equality)."""
    cfg = TrainConfig(
        epochs=4, batch_size=32, lr=3e-3, weight_decay=1e-4, patience=None, diagnostics=False, threads=1, fused=False
    )
    packed = train_population(PLANS, digits, cfg, OPTS)
    for plan, p in zip(PLANS, packed, strict=True):
        one, _ = alone(plan, digits, cfg)
        _close_records(p, one, tol=5e-3)


def test_weights_match_one_by_one(digits64):
    digits = digits64
    cfg = TrainConfig(
        epochs=3, batch_size=64, lr=3e-3, patience=None, restore_best=False, diagnostics=False, threads=1, fused=False
    )
    captured = {}
    real_init = PackedMLP.__init__

    def spy(self, members):
        real_init(self, members)
        captured["pack"] = self

    PackedMLP.__init__ = spy
    try:
        train_population(PLANS, digits, cfg, OPTS)
    finally:
        PackedMLP.__init__ = real_init
    pack = captured["pack"]
    for k, plan in enumerate(PLANS):
        _, model = alone(plan, digits, cfg)
        state = pack.member_state(k)
        for name, t in model.state_dict().items():
            torch.testing.assert_close(state[name], t, rtol=1e-10, atol=1e-12, msg=f"{plan}: {name}")


def test_each_member_stops_diverges_and_is_pruned_on_its_own(digits64):
    """In float64: with SGD at lr 0.5 a float32 member's rounding grows to 3e-3 in a loss on some
    CPUs, and could flip an early stop."""
    digits = digits64
    plans = ["relu", "expr:exp(x)", "tanh", "sigmoid", "expr:square(x)"]
    cfg = TrainConfig(
        epochs=12,
        batch_size=64,
        optimizer="sgd",
        lr=0.5,
        patience=2,
        monitor="val_loss",
        diagnostics=False,
        threads=1,
        fused=False,
    )
    prune_at = {3: 2}  # member 3 (sigmoid) pruned after epoch 2, as Optuna would

    packed = train_population(plans, digits, cfg, OPTS, on_epoch=lambda k, e, r: prune_at.get(k) == e)
    statuses = [r.status for r in packed]
    assert statuses[1] == "diverged" and statuses[3] == "pruned" and len(packed[3].epochs) == 2
    assert len({len(r.epochs) for r in packed}) > 1  # they ended at different epochs
    for k, (plan, p) in enumerate(zip(plans, packed, strict=True)):
        one = train(
            lambda plan=plan: build("mlp", digits.input_shape, digits.n_classes, plan, **OPTS),
            digits,
            cfg,
            on_epoch=(lambda e, r, k=k: prune_at.get(k) == e),
        )
        _close_records(p, one, tol=1e-9)
    # a member that diverges leaves the others exactly as they are without it
    without = train_population(
        [p for i, p in enumerate(plans) if i != 1], digits, cfg, OPTS, on_epoch=lambda k, e, r: k == 2 and e == 2
    )
    for a, b in zip([r for i, r in enumerate(packed) if i != 1], without, strict=True):
        assert _trace(a) == _trace(b)  # bit for bit


STOP_PLANS = ["relu", "tanh", "expr:max(x, x*tanh(x))", "prelu", "sigmoid", "elu"]


@pytest.mark.parametrize(
    "optimizer,lr,momentum,fused",
    [
        ("adam", 1e-2, 0.0, True),
        ("sgd", 0.1, 0.9, True),
        ("rmsprop", 1e-2, 0.5, True),
        ("nadam", 1e-2, 0.0, True),
    ],
)
def test_members_that_stop_leave_the_pack_and_the_others_train_as_if_alone(
    digits64, monkeypatch, optimizer, lr, momentum, fused
):
    """Members stop at different epochs (patience 1); the pack goes on with the others only, each
    with its slice of the optimizer's state (moments, momentum, sums of squares, NAdam's shared
    product): every member's records, scores and tested weights are those of its training alone
    (float64)."""
    cfg = TrainConfig(
        epochs=6,
        batch_size=64,
        optimizer=optimizer,
        lr=lr,
        momentum=momentum,
        weight_decay=1e-4,
        patience=1,
        monitor="val_accuracy",
        diagnostics=False,
        threads=1,
        fused=fused,
    )
    opts = {"width": 16, "depth": 2}
    tested = {}
    real_state = PackedMLP.member_state

    def spy(self, k):  # the last state read of member k is the one it is tested with
        tested[k] = real_state(self, k)
        return tested[k]

    monkeypatch.setattr(PackedMLP, "member_state", spy)
    packed = train_population(STOP_PLANS, digits64, cfg, opts)
    sizes = [e["packed"] for r in packed for e in r.epochs]
    assert max(sizes) == len(STOP_PLANS) and min(sizes) < len(STOP_PLANS)  # the pack shrank
    assert len({len(r.epochs) for r in packed}) > 1  # members stopped at different epochs
    for k, (plan, p) in enumerate(zip(STOP_PLANS, packed, strict=True)):
        one, model = alone(plan, digits64, cfg, opts)
        _close_records(p, one, tol=1e-10)
        for split in ("test", "final_train"):
            assert getattr(p, split) == pytest.approx(getattr(one, split), rel=1e-10, abs=1e-12), (plan, split)
        for name, t in model.state_dict().items():
            torch.testing.assert_close(tested[k][name], t, rtol=1e-10, atol=1e-12, msg=f"{plan}: {name}")


def test_pack_groups_equal_functions_in_contiguous_slices(digits):
    members = [build("mlp", digits.input_shape, 10, p, **OPTS) for p in PLANS]
    pack = PackedMLP(members)
    keys = [repr(members[i].acts["input"]) for i in pack.order]
    assert keys == sorted(keys, key=lambda k: keys.index(k))  # every function's members side by side
    runs = pack.groups[0]
    distinct = {repr(m.acts["input"]) for m in members if not list(m.acts["input"].parameters())}
    n_own = sum(1 for m in members if list(m.acts["input"].parameters()))  # prelu: one module per member
    assert len(runs) == len(distinct) + n_own
    assert [(a, z) for a, z, _ in runs] == sorted((a, z) for a, z, _ in runs) and runs[-1][1] == len(PLANS)
    x = digits.val.x[:5]
    with torch.no_grad():
        z = pack(x)
        for k, m in enumerate(members):
            torch.testing.assert_close(z[pack.order.index(k)], m(x), rtol=1e-5, atol=1e-6)


def test_two_functions_with_one_name_keep_their_own_function_in_a_pack():
    double, triple = Activation(lambda x: 2 * x, name="f"), Activation(lambda x: 3 * x, name="f")
    members = [build("mlp", (4,), 3, act, width=8, depth=2) for act in (double, triple, double)]
    pack = PackedMLP(members)
    x = torch.randn(5, 4)
    with torch.no_grad():
        z = pack(x)
        for k, m in enumerate(members):
            torch.testing.assert_close(z[pack.order.index(k)], m(x))
    assert len(pack.groups[0]) == 2 and pack.order == [0, 2, 1]  # equal functions still share a run


def test_packable_only_for_the_mlp():
    assert packable("mlp") and not packable("seed-cnn") and not packable("resnet")


def _one_ulp_up_on_packs(f):
    """``f``, but on a 3-D input (a pack's layout) every value moved up by one float ulp: the
    rounding a kernel may give for another shape on another CPU."""

    def g(x, *args, **kwargs):
        y = f(x, *args, **kwargs)
        return torch.nextafter(y, torch.full_like(y, math.inf)) if x.dim() == 3 else y

    return g


@pytest.mark.parametrize("name,fn", [("elu", "elu"), ("selu", "selu"), ("celu", "celu"), ("mish", "mish")])
def test_packing_does_not_depend_on_the_last_bit(monkeypatch, name, fn):
    """On some CPUs elu gives another last bit on a (2, 3, 5) tensor than on its (3, 5) slices:
    whether a function packs is a property of the function, the same on every machine."""
    import torch.nn.functional as F

    monkeypatch.setattr(F, fn, _one_ulp_up_on_packs(getattr(F, fn)))
    x = torch.randn(2, 3, 5)
    act = actlab.get(name)
    assert not torch.equal(act(x), torch.stack([act(x[0]), act(x[1])]))  # the perturbation is in place
    assert packable("mlp", name) and packable("mlp", {"input": name, "hidden": "relu"})
    own = Activation(_one_ulp_up_on_packs(torch.tanh), name="wobbly_tanh")  # not a catalogue entry: measured
    assert packable("mlp", own)


MIXING = {
    "softmax along features": nn.Softmax(dim=1),
    "cumulative sum": Activation(lambda x: x.cumsum(1), name="cumsum"),
    "minus the mean": Activation(lambda x: x - x.mean(), name="centred"),
    "a 1% pull to the mean": Activation(lambda x: x + 0.01 * x.mean(), name="pulled"),
    "PReLU per feature": nn.PReLU(3),
    "lazy per-channel unit": LazyLinear(5),
}


@pytest.mark.parametrize("what", list(MIXING))
def test_a_function_that_mixes_elements_is_never_packed(what):
    assert not packable("mlp", MIXING[what]) and not packable("mlp", {"input": "relu", "hidden": MIXING[what]})


def test_a_registered_function_packs_by_what_it_does(registry):
    """A user's entry is measured too (its declared axis is only a default): a mean across the
    tensor keeps it out of a pack, rounding does not."""
    actlab.register("pack_centred", lambda x: x - x.mean())
    actlab.register("pack_wobbly", _one_ulp_up_on_packs(torch.tanh))
    actlab.register("pack_dim", lambda x, dim=1: torch.softmax(x, dim), params={"dim": 1}, axis="dim")
    assert not packable("mlp", "pack_centred") and packable("mlp", "pack_wobbly") and not packable("mlp", "pack_dim")


def test_every_catalogue_entry_packs_as_its_table_row_declares():
    """Element-wise entries pack; along a dimension, spatial, learned feature mixing, parameters per
    channel (sized at the first call, or PReLU's num_parameters) train alone."""
    for e in actlab.entries():
        per_channel = isinstance(e.make_module(**e.params), (LN.PerChannel, LN.GatedUnit))
        assert packable("mlp", e.name) == (e.axis == "elementwise" and not e.mixes_features and not per_channel), e.name
    assert packable("mlp", "prelu(num_parameters=1)") and not packable("mlp", "prelu(num_parameters=4)")
    assert {"log", "acos", "asin", "log10"} <= {
        e.name for e in actlab.entries() if packable("mlp", e.name)
    }  # NaN is no mixing


def test_packed_members_get_the_diagnostics_they_get_alone(digits64):
    """Gradient norms per slot and epoch, dead units, saturation, mean and std: the packed trainer
    measures each member as the one-model trainer does (float64: equal to rounding)."""
    plans = ["relu", "tanh", "prelu", "expr:max(x, x*tanh(x))"]
    cfg = TrainConfig(epochs=3, batch_size=32, lr=3e-3, patience=None, diagnostics=True, threads=1, fused=False)
    packed = train_population(plans, digits64, cfg, OPTS)
    for plan, p in zip(plans, packed, strict=True):
        one, _ = alone(plan, digits64, cfg)
        assert set(p.diagnostics) == set(one.diagnostics) == {"input", "hidden_1", "hidden_2", "output"}
        for slot, d in one.diagnostics.items():
            for name, v in d.items():
                assert p.diagnostics[slot][name] == pytest.approx(v, rel=1e-9, abs=1e-12), (plan, slot, name)
        for ep, eo in zip(p.epochs, one.epochs, strict=True):
            assert ep["grad_norm"] == pytest.approx(eo["grad_norm"], rel=1e-9)
    assert (
        packed[0].diagnostics["input"]["dead"] != packed[1].diagnostics["input"]["dead"]
        or packed[0].diagnostics["input"]["saturated"] != packed[1].diagnostics["input"]["saturated"]
    )


def test_a_training_without_final_scores_trains_as_one_with_them_and_scores_no_test(digits64):
    """TrainConfig.final_scores off (evolve's fitness trainings): the same epochs, best epoch and
    learned constants, packed and alone; no test or train scores, and a record that reads back."""
    from actlab._errors import ActlabError
    from actlab.training import RunResult

    plans = ["relu", "expr:x * sigmoid(1.5 * x)", "pexpr:max(x, 0.3 * x)"]
    on = TrainConfig(epochs=3, batch_size=64, patience=None, diagnostics=False, threads=1)
    off = TrainConfig(**{**on.to_dict(), "final_scores": False})
    assert "final_scores" not in on.to_dict() and off.to_dict()["final_scores"] is False  # keys kept as they were
    scored, unscored = train_population(plans, digits64, on, OPTS), train_population(plans, digits64, off, OPTS)
    for plan, packed_pair in zip(plans, zip(scored, unscored, strict=True), strict=True):
        for a, b in (packed_pair, (alone(plan, digits64, on)[0], alone(plan, digits64, off)[0])):
            assert _trace(b) == _trace(a) and b.best_epoch == a.best_epoch and b.learned == a.learned
            assert b.test == {} and b.final_train == {} and RunResult.check(b.to_dict())
            assert RunResult.from_dict(b.to_dict()).score == a.score
            assert a.test["accuracy"] > 0.5 and RunResult.check(a.to_dict())
            # the train split's scores give the over-fitting gap its accuracy: no AUC there
            assert "auc" in a.test and "auc" not in a.final_train and a.final_train["accuracy"] > 0.5
    half = {**scored[0].to_dict(), "test": {}}  # a test missing alone is a damaged record
    assert not RunResult.check(half)
    with pytest.raises(ActlabError, match="final_scores is true or false"):
        TrainConfig(final_scores="no")


def test_members_whose_losses_add_up_past_floats_range_keep_learning(digits):
    """A batch's losses are checked through their sum, one read of the device; a sum past
    float32's range (each loss finite) is checked member by member, and stops no one."""
    from actlab.training.population import _train_epoch

    torch.manual_seed(0)
    members = [build("mlp", digits.input_shape, digits.n_classes, a, **OPTS) for a in ("relu", "tanh")]
    pack = PackedMLP(members)
    optimizer = torch.optim.SGD(pack.parameters(), lr=0.01)
    split = (digits.train.x[:64], digits.train.y[:64])

    def huge(z, y):  # finite, and 2 x 3e38 is past float32's 3.4e38
        return z.sum() * 0 + 3e38

    stats, live, _ = _train_epoch(
        pack,
        optimizer,
        huge,
        split,
        digits.n_classes,
        32,
        torch.Generator().manual_seed(0),
        torch.ones(2, dtype=torch.bool),
    )
    assert live == [True, True]
    assert all(math.isfinite(s["loss"]) and s["loss"] == pytest.approx(3e38, rel=1e-6) for s in stats), stats
