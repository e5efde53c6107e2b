"""The population trainer: K MLPs with different activations packed into one model train as if
each were trained alone (the same records, statuses and weights, up to float rounding), on
real data (scikit-learn's digits)."""

from __future__ import annotations

import math

import pytest
import torch

from actlab.models import build
from actlab.training import TrainConfig, train
from actlab.training.population import PackedMLP, packable, train_population

PLANS = ["relu", "tanh", "expr:max(x, x*tanh(x))", {"input": "elu", "hidden": "relu"}, "relu", "prelu",
         "leaky_relu(negative_slope=0.2)", "leaky_relu", "expr:x * sigmoid(1.5 * x) + 0.1 * tanh(x)"]
OPTS = {"width": 32, "depth": 4}


def alone(plan, data, cfg, opts=OPTS):
    model = {}

    def make():
        model["m"] = build("mlp", data.input_shape, data.n_classes, plan, **opts)
        return model["m"]

    return train(make, data, cfg), model["m"]


def _close_records(a, b, tol=1e-5):
    assert a.status == b.status and a.best_epoch == b.best_epoch and len(a.epochs) == len(b.epochs)
    for ea, eb in zip(a.epochs, b.epochs):
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
        yield dataclasses.replace(digits, **{s: dataclasses.replace(getattr(digits, s), x=getattr(digits, s).x.double())
                                             for s in ("train", "val", "test")})
    finally:
        torch.set_default_dtype(was)


def _trace(r) -> str:
    return str([(e.get("val_loss"), e["train_loss"]) for e in r.epochs])  # as text, NaN equals NaN


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_packed_members_train_as_if_alone(digits64, optimizer, fused):
    cfg = TrainConfig(epochs=4, batch_size=32, optimizer=optimizer, lr=3e-3 if optimizer == "adam" else 0.05,
                      momentum=0.9 if optimizer == "sgd" else 0.0, weight_decay=1e-4, patience=None, diagnostics=False,
                      threads=1, fused=fused)
    packed = train_population(PLANS, digits64, cfg, OPTS)
    for plan, p in zip(PLANS, packed):
        one, model = alone(plan, digits64, cfg)
        _close_records(p, one, tol=1e-10)
        assert p.test["accuracy"] == one.test["accuracy"]
        if p.status == "finished":
            assert p.test["accuracy"] > 0.5, plan  # they learn: 10 classes
    assert len({round(r.test["accuracy"], 6) for r in packed}) > 2  # different functions, different results
    assert {r.status for r in packed} == ({"finished"} if optimizer == "adam" else {"finished", "diverged"})


def test_packed_float32_members_agree_within_rounding(digits):
    """With PyTorch's per-parameter optimizer loop (fused=False); the fused kernel rounds by
    position and agrees to about 1e-3 after a few epochs (see the module docstring)."""
    cfg = TrainConfig(epochs=4, batch_size=32, lr=3e-3, weight_decay=1e-4, patience=None, diagnostics=False, threads=1,
                      fused=False)
    packed = train_population(PLANS, digits, cfg, OPTS)
    for plan, p in zip(PLANS, packed):
        one, _ = alone(plan, digits, cfg)
        _close_records(p, one, tol=1e-5)


def test_weights_match_one_by_one(digits64):
    digits = digits64
    cfg = TrainConfig(epochs=3, batch_size=64, lr=3e-3, patience=None, restore_best=False, diagnostics=False, threads=1,
                      fused=False)
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


def test_each_member_stops_diverges_and_is_pruned_on_its_own(digits):
    plans = ["relu", "expr:exp(x)", "tanh", "sigmoid", "expr:square(x)"]
    cfg = TrainConfig(epochs=12, batch_size=64, optimizer="sgd", lr=0.5, patience=2, monitor="val_loss",
                      diagnostics=False, threads=1, fused=False)
    prune_at = {3: 2}  # member 3 (sigmoid) pruned after epoch 2, as Optuna would

    packed = train_population(plans, digits, cfg, OPTS, on_epoch=lambda k, e, r: prune_at.get(k) == e)
    statuses = [r.status for r in packed]
    assert statuses[1] == "diverged" and statuses[3] == "pruned" and len(packed[3].epochs) == 2
    assert len({len(r.epochs) for r in packed}) > 1  # they ended at different epochs
    for k, (plan, p) in enumerate(zip(plans, packed)):
        one = train(lambda plan=plan: build("mlp", digits.input_shape, digits.n_classes, plan, **OPTS), digits, cfg,
                    on_epoch=(lambda e, r, k=k: prune_at.get(k) == e))
        _close_records(p, one, tol=1e-4)
    # a member that diverges leaves the others exactly as they are without it
    without = train_population([p for i, p in enumerate(plans) if i != 1], digits, cfg, OPTS,
                               on_epoch=lambda k, e, r: k == 2 and e == 2)
    for a, b in zip([r for i, r in enumerate(packed) if i != 1], without):
        assert _trace(a) == _trace(b)  # bit for bit


def test_pack_groups_equal_functions_in_contiguous_slices(digits):
    members = [build("mlp", digits.input_shape, 10, p, **OPTS) for p in PLANS]
    pack = PackedMLP(members)
    keys = [repr(members[i].acts["input"]) for i in pack.order]
    assert keys == sorted(keys, key=lambda k: (keys.index(k)))  # every function's members side by side
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


def test_packable_only_for_the_mlp():
    assert packable("mlp") and not packable("seed-cnn") and not packable("resnet")


def test_packed_members_get_the_diagnostics_they_get_alone(digits64):
    """Gradient norms per slot and epoch, dead units, saturation, mean and std: the packed trainer
    measures each member as the one-model trainer does (float64: equal to rounding)."""
    plans = ["relu", "tanh", "prelu", "expr:max(x, x*tanh(x))"]
    cfg = TrainConfig(epochs=3, batch_size=32, lr=3e-3, patience=None, diagnostics=True, threads=1, fused=False)
    packed = train_population(plans, digits64, cfg, OPTS)
    for plan, p in zip(plans, packed):
        one, _ = alone(plan, digits64, cfg)
        assert set(p.diagnostics) == set(one.diagnostics) == {"input", "hidden_1", "hidden_2", "output"}
        for slot, d in one.diagnostics.items():
            for name, v in d.items():
                assert p.diagnostics[slot][name] == pytest.approx(v, rel=1e-9, abs=1e-12), (plan, slot, name)
        for ep, eo in zip(p.epochs, one.epochs):
            assert ep["grad_norm"] == pytest.approx(eo["grad_norm"], rel=1e-9)
    assert packed[0].diagnostics["input"]["dead"] != packed[1].diagnostics["input"]["dead"] or \
        packed[0].diagnostics["input"]["saturated"] != packed[1].diagnostics["input"]["saturated"]
