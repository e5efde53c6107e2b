"""The one trainer: determinism, divergence, early stopping, pruning, optimizers, losses,
metrics against scikit-learn, and the diagnostics that explain a result."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from actlab import ActlabError
from actlab.models import build, count_parameters
from actlab.training import (
    LOSSES,
    OPTIMIZERS,
    TrainConfig,
    batched_classification_metrics,
    classification_metrics,
    train,
)
from actlab.training.diagnostics import effective_rank, slot_diagnostics

TIMING = ("seconds", "eval_seconds")


def _without_timing(epochs):
    return [{k: v for k, v in e.items() if k not in TIMING} for e in epochs]


def _mlp(data, act="relu", **kw):
    return lambda: build("mlp", data.input_shape, data.n_classes, act, **kw)


def test_same_seed_is_bit_identical_and_another_seed_differs(digits):
    cfg = TrainConfig(epochs=3, seed=7)
    a, b = train(_mlp(digits), digits, cfg), train(_mlp(digits), digits, cfg)
    assert _without_timing(a.epochs) == _without_timing(b.epochs)
    assert a.test == b.test and a.diagnostics == b.diagnostics
    c = train(_mlp(digits), digits, TrainConfig(epochs=3, seed=8))
    assert _without_timing(c.epochs) != _without_timing(a.epochs)


def test_training_learns_and_records_every_epoch(digits):
    r = train(_mlp(digits), digits, TrainConfig(epochs=15, patience=None))
    assert r.status == "finished" and len(r.epochs) == 15
    first, last = r.epochs[0], r.epochs[-1]
    assert last["train_loss"] < first["train_loss"] / 3
    for key in (
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
        "val_precision",
        "val_recall",
        "val_f1",
        "val_auc",
        "seconds",
    ):
        assert all(math.isfinite(e[key]) for e in r.epochs), key
    assert r.test["accuracy"] > 0.9  # 10 classes: chance is 0.1
    assert set(r.test) == {"loss", "accuracy", "precision", "recall", "f1", "auc"}
    assert r.best_epoch == 1 + int(np.argmin([e["val_loss"] for e in r.epochs]))


def test_a_diverging_run_is_recorded_not_raised(digits):
    r = train(_mlp(digits, "exponential"), digits, TrainConfig(epochs=5, optimizer="sgd", lr=1.0))
    assert r.status == "diverged"
    assert len(r.epochs) == 1 and math.isnan(r.epochs[0]["train_loss"])
    assert 0.0 <= r.test["accuracy"] <= 0.2  # NaN outputs count as wrong predictions


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fused_and_reference_optimizers_diverge_alike_and_keep_the_last_finite_weights(digits, optimizer):
    """The fused step skips every update from the first non-finite loss on (found_inf), so a run
    diverges at the same epoch as with the per-parameter loop, which stops before that batch."""
    lr = 1.0 if optimizer == "sgd" else 0.5
    runs = {}
    for fused in (True, False):
        model = {}

        def make(model=model):
            model["m"] = build("mlp", digits.input_shape, digits.n_classes, "expr:exp(x)", width=32, depth=3)
            return model["m"]

        cfg = TrainConfig(
            epochs=6, optimizer=optimizer, lr=lr, patience=None, restore_best=False, fused=fused, diagnostics=False
        )
        runs[fused] = (train(make, digits, cfg), model["m"])
    (a, ma), (b, _) = runs[True], runs[False]
    assert a.status == b.status == "diverged" and len(a.epochs) == len(b.epochs)
    assert math.isnan(a.epochs[-1]["train_loss"])
    for p in ma.parameters():  # no NaN reached the weights: the bad step was skipped
        assert torch.isfinite(p).all()
    assert math.isfinite(a.test["loss"]) == math.isfinite(b.test["loss"])


def test_the_training_pass_reads_the_device_once_every_few_batches(digits):
    """No per-batch .item()/bool(): with a fused optimizer an epoch of 79 batches (digits, batch
    16) reads tensors only for the divergence flag every CHECK_EVERY batches and at the end."""
    from torch.overrides import TorchFunctionMode

    from actlab.training.losses import get_loss
    from actlab.training.trainer import CHECK_EVERY, _make_optimizer, _train_epoch

    class CountReads(TorchFunctionMode):
        reads = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func in (torch.Tensor.item, torch.Tensor.__bool__, torch.Tensor.tolist):
                CountReads.reads += 1
            return func(*args, **(kwargs or {}))

    def reads(fused: bool) -> int:
        torch.manual_seed(0)
        model = _mlp(digits)()
        opt = _make_optimizer(model, TrainConfig(fused=fused))
        assert bool(opt.defaults.get("fused")) == fused
        CountReads.reads = 0
        with CountReads():
            stats, finite = _train_epoch(
                model,
                opt,
                get_loss("cross_entropy"),
                (digits.train.x, digits.train.y),
                10,
                16,
                torch.Generator().manual_seed(0),
                None,
            )
        assert finite and math.isfinite(stats["loss"]) and 0 < stats["accuracy"] <= 1
        return CountReads.reads

    batches = math.ceil(len(digits.train.x) / 16)
    assert batches > 70
    assert reads(True) <= batches // CHECK_EVERY + 12  # the epoch-end metrics read a few values
    assert reads(False) >= batches  # the reference loop checks every loss before its step: the counter sees it


def test_training_pass_metrics_are_those_of_its_predictions(digits):
    """train_accuracy is the running accuracy of the epoch's predictions, as classification_metrics
    gives it on the logits the pass produced (reference: the per-parameter path, batch by batch)."""
    r = train(_mlp(digits), digits, TrainConfig(epochs=2, patience=None, diagnostics=False))
    assert 0.1 < r.epochs[0]["train_accuracy"] < r.epochs[1]["train_accuracy"] <= 1
    for key in ("train_precision", "train_recall", "train_f1"):
        assert 0 < r.epochs[1][key] <= 1


@pytest.mark.parametrize(
    "name,kind",
    [("adam", "fused"), ("sgd", "fused"), ("adagrad", "fused"), ("rmsprop", "foreach"), ("nadam", "foreach")],
)
def test_the_fastest_optimizer_form_is_chosen_and_runs_stay_bit_identical(digits, name, kind):
    from actlab.training.trainer import _make_optimizer

    opt = _make_optimizer(torch.nn.Linear(3, 2), TrainConfig(optimizer=name))
    assert opt.defaults.get(kind) is True
    assert not _make_optimizer(torch.nn.Linear(3, 2), TrainConfig(optimizer=name, fused=False)).defaults.get(kind)
    cfg = TrainConfig(epochs=2, optimizer=name, seed=3, diagnostics=False)
    a, b = train(_mlp(digits), digits, cfg), train(_mlp(digits), digits, cfg)
    assert _without_timing(a.epochs) == _without_timing(b.epochs) and a.test == b.test


def test_early_stopping_restores_the_best_validation_epoch(digits):
    cfg = TrainConfig(epochs=60, patience=2, lr=0.05, monitor="val_loss")  # a high rate over-fits fast
    r = train(_mlp(digits, width=256), digits, cfg)
    assert r.status == "stopped" and len(r.epochs) < 60
    assert len(r.epochs) == r.best_epoch + 2
    best = r.epochs[r.best_epoch - 1]
    # the tested weights are the best epoch's: rescoring the validation split gives its numbers back
    assert min(e["val_loss"] for e in r.epochs) == best["val_loss"]


def test_on_epoch_returning_true_prunes(digits):
    seen = []
    r = train(_mlp(digits), digits, TrainConfig(epochs=10), on_epoch=lambda e, rec: seen.append(e) or e == 2)
    assert r.status == "pruned" and seen == [1, 2] and len(r.epochs) == 2


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_every_optimizer_lowers_the_loss(digits, optimizer):
    r = train(_mlp(digits), digits, TrainConfig(epochs=4, optimizer=optimizer, patience=None))
    assert r.status == "finished"
    assert r.epochs[-1]["val_loss"] < r.epochs[0]["val_loss"]


@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_loss_trains_a_classifier(digits, loss):
    r = train(_mlp(digits), digits, TrainConfig(epochs=6, loss=loss, lr=3e-3, patience=None))
    assert r.status == "finished"
    assert r.test["accuracy"] > 0.5, f"{loss}: {r.test['accuracy']:.3f}"


def test_bad_training_settings_are_one_line_errors():
    for kw in (
        {"optimizer": "adamw2"},
        {"epochs": 0},
        {"batch_size": 0},
        {"lr": -1.0},
        {"loss": "mape"},
        {"loss": "nosuch"},
        {"monitor": "train_loss"},
        {"patience": 0},
    ):
        with pytest.raises(ActlabError) as e:
            TrainConfig(**kw)
        assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "kw,words",
    [
        ({"epochs": 10**12}, "epochs must be at most"),
        ({"epochs": 2.5}, "epochs must be a whole number"),
        ({"epochs": True}, "epochs must be a whole number"),
        ({"batch_size": 10**12}, "batch size must be at most"),
        ({"lr": float("nan")}, "learning rate must be a finite number"),
        ({"lr": 0.0}, "learning rate must be greater than 0"),
        ({"lr": float("inf")}, "learning rate must be a finite number"),
        ({"momentum": -0.1}, "momentum must be at least 0"),
        ({"weight_decay": float("nan")}, "weight decay must be a finite number"),
        ({"min_delta": -1.0}, "min_delta"),
        ({"patience": 10**12}, "patience must be at most"),
        ({"seed": -1}, "seed must be at least 0"),
        ({"threads": 0}, "threads must be at least 1"),
        ({"threads": -1}, "threads must be at least 1"),
        ({"threads": 10**12}, "threads must be at most"),
        ({"device": "bogus"}, "unknown device 'bogus'"),
        ({"device": "meta"}, "cannot train"),
        ({"device": "cuda:99"}, "cuda"),
    ],
)
def test_numbers_and_devices_out_of_range_are_one_line_errors(kw, words):
    with pytest.raises(ActlabError) as e:
        TrainConfig(**kw)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_a_device_this_machine_lacks_is_refused_and_cpu_accepted():
    assert TrainConfig(device="cpu", threads=None, epochs=3.0).epochs == 3  # a whole float from JSON is fine
    if not torch.cuda.is_available():
        with pytest.raises(ActlabError, match="no CUDA device"):
            TrainConfig(device="cuda")
    else:
        TrainConfig(device="cuda")


def test_metrics_agree_with_scikit_learn():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(500, 5, generator=g)
    y = torch.randint(0, 5, (500,), generator=g)
    z[y == 2, 2] += 1.5  # some signal
    m = classification_metrics(z, y, 5)
    pred, prob = z.argmax(1).numpy(), torch.softmax(z.double(), 1).numpy()
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
        assert m[name] == pytest.approx(fn(y, pred, average="macro", zero_division=0)), name
    assert m["auc"] == pytest.approx(skm.roc_auc_score(y, prob, multi_class="ovr"))
    z[::3] = z[0]  # ties, and a constant model: ranks of equal scores are averaged
    z[::4] = 0.0
    prob = torch.softmax(z.double(), 1).numpy()
    assert classification_metrics(z, y, 5)["auc"] == pytest.approx(
        skm.roc_auc_score(y, prob, multi_class="ovr"), abs=1e-12
    )
    assert classification_metrics(torch.zeros(40, 3), torch.arange(40) % 3, 3)["auc"] == 0.5


def test_batched_metrics_are_each_models_metrics():
    """K models scored at once equal each scored alone, including one with a NaN row, one all NaN,
    one that never predicts some classes, and one constant model."""
    g = torch.Generator().manual_seed(1)
    y = torch.randint(0, 4, (300,), generator=g)
    z = torch.randn(5, 300, 4, generator=g)
    z[1, 7] = float("nan")
    z[2] = float("nan")
    z[3, :, 1:] = -10.0  # predicts class 0 only
    z[4] = 0.0
    batched = batched_classification_metrics(z, y, 4)
    assert len(batched) == 5
    for r in range(5):
        alone = classification_metrics(z[r], y, 4)
        assert batched[r].keys() == alone.keys()
        for name, v in alone.items():
            assert (math.isnan(v) and math.isnan(batched[r][name])) or batched[r][name] == pytest.approx(
                v, abs=1e-12
            ), name
        pred = z[r].argmax(1).numpy()
        if r not in (1, 2):
            assert alone["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro", zero_division=0))
    assert math.isnan(batched[2]["auc"]) and batched[2]["accuracy"] == 0.0 and batched[4]["auc"] == 0.5


def test_non_finite_outputs_count_as_wrong():
    z = torch.tensor([[2.0, 0.0], [float("nan"), 0.0], [0.0, 3.0]])
    m = classification_metrics(z, torch.tensor([0, 0, 1]), 2)
    assert m["accuracy"] == pytest.approx(2 / 3) and math.isnan(m["auc"])


def test_dead_units_are_counted_exactly(digits):
    model = build("mlp", digits.input_shape, digits.n_classes, "relu", width=64)
    with torch.no_grad():
        model.linears[0].bias[:16] = -1e4  # these 16 of 64 ReLU units can never be active
        model.linears[1].bias[:] = 1e4  # every hidden unit always active
    d = slot_diagnostics(model, digits.val.x, [])
    assert d["input"]["dead"] == pytest.approx(16 / 64)
    assert d["hidden_1"]["dead"] == 0.0 and d["hidden_1"]["saturated"] == 0.0
    assert d["output"]["dead"] == 0.0  # identity


def test_saturation_and_self_normalisation_are_measured(digits):
    torch.manual_seed(0)
    model = build("mlp", digits.input_shape, digits.n_classes, "sigmoid")
    with torch.no_grad():
        model.linears[0].weight.mul_(100)  # pushes sigmoid into its flat tails
    assert slot_diagnostics(model, digits.val.x, [])["input"]["saturated"] > 0.5
    torch.manual_seed(0)
    selu = build("mlp", (256,), 10, "selu", width=256, depth=6)
    for lin in selu.linears:  # LeCun-normal init: the setting in which SELU self-normalises
        torch.nn.init.normal_(lin.weight, 0, lin.in_features**-0.5)
        torch.nn.init.zeros_(lin.bias)
    d = slot_diagnostics(selu, torch.randn(2000, 256), [])
    assert abs(d["hidden_4"]["mean"]) < 0.15 and abs(d["hidden_4"]["std"] - 1) < 0.15


def test_effective_rank_counts_the_directions_a_slot_uses(digits):
    model = build("mlp", digits.input_shape, digits.n_classes, "relu", width=64)
    with torch.no_grad():  # every unit of the first layer a copy of unit 0 (weights and bias)
        model.linears[0].weight[:] = model.linears[0].weight[0]
        model.linears[0].bias[:] = model.linears[0].bias[0]
    d = slot_diagnostics(model, digits.val.x, [])
    assert d["input"]["effective_rank"] <= 1.01 / 64  # one direction of 64
    rows = torch.randn(4000, 16, generator=torch.Generator().manual_seed(0))
    assert effective_rank(rows) > 0.9  # independent columns use (nearly) every direction
    assert effective_rank(rows[:, :1].repeat(1, 16) * torch.arange(1.0, 17.0)) <= 1.01 / 16


def test_gradient_norms_are_recorded_per_slot(digits):
    r = train(_mlp(digits, "sigmoid", depth=5), digits, TrainConfig(epochs=2))
    d = r.diagnostics
    assert set(d) == {"input", "hidden_1", "hidden_2", "hidden_3", "output"}
    assert all(d[s]["grad_norm_first"] > 0 and d[s]["grad_norm_last"] > 0 for s in d)
    # the vanishing gradient of stacked sigmoids: the first layer gets far less than the last
    assert d["input"]["grad_norm_first"] < d["output"]["grad_norm_first"] / 5


def test_seed_cnn_has_the_seeds_parameter_count():
    assert count_parameters(build("seed-cnn", (3, 32, 32), 10, "relu")) == 42_442


def test_frelu_trains_in_the_residual_cnn(digits):
    images = type(digits)(**{**vars(digits), "input_shape": (1, 8, 8)})
    for split in ("train", "val", "test"):
        s = getattr(digits, split)
        setattr(images, split, type(s)(s.x.reshape(-1, 1, 8, 8), s.y))
    r = train(lambda: build("resnet", (1, 8, 8), 10, "frelu"), images, TrainConfig(epochs=2, patience=None))
    assert r.status == "finished" and r.test["accuracy"] > 0.6
    assert set(r.diagnostics) >= {"input", "hidden_1", "output"}
