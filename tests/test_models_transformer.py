"""The small transformer (``--model transformer``): shapes and slots, gated units as the MLP's first
layer, the inputs it takes and refuses in one line, real training on a small MNIST-1D, and the
compare and search commands run on it."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

import actlab
from actlab.catalogue.learnable import GatedUnit
from actlab.data import load
from actlab.models import Transformer, build, count_parameters, slot_names
from actlab.training import TrainConfig, train


@pytest.fixture(scope="module")
def mnist1d():
    return load("mnist1d", seed=0, limit=400)


def test_shapes_slots_and_the_layers_that_feed_them(mnist1d):
    assert mnist1d.input_shape == (1, 40)
    m = build("transformer", mnist1d.input_shape, 10, "gelu")
    assert isinstance(m, Transformer) and m.slots == ("input", "hidden_1", "output")
    assert slot_names("transformer", (1, 40), 10, depth=4) == ("input", "hidden_1", "hidden_2", "hidden_3", "output")
    x = mnist1d.train.x[:6]
    assert m(x).shape == (6, 10) and m.pos.shape == (1, 10, 32)  # patches of 4: 10 tokens of width 32
    layers = m.slot_layers()
    assert layers["input"] is m.blocks[0].fc1 and layers["hidden_1"] is m.blocks[1].fc1 and layers["output"] is m.fc
    assert layers["input"].weight.shape == (64, 32)  # hidden = mlp_ratio 2 x width 32
    # the activation sees (batch * tokens, features): per-feature parameters count the 64 MLP features
    p = build("transformer", mnist1d.input_shape, 10, "prelu(num_parameters=64)")
    assert p(x).shape == (6, 10)
    a = build("transformer", mnist1d.input_shape, 10, "acon_c")
    a(x)
    assert a.acts["input"].channels == 64


def test_a_gated_unit_replaces_the_first_projection_and_activation(mnist1d):
    plain = build("transformer", mnist1d.input_shape, 10, "relu")
    gated = build("transformer", mnist1d.input_shape, 10, {"input": "swiglu", "hidden": "relu"})
    unit = gated.acts["input"]
    assert isinstance(unit, GatedUnit) and unit.gate == "silu" and unit.init == "linear"
    assert (unit.in_features, unit.out_features) == (32, 43)  # h = 2/3 of 64: about the same parameters
    assert isinstance(gated.blocks[0].fc1, nn.Identity) and gated.blocks[0].fc2.in_features == 43
    assert isinstance(gated.blocks[1].fc1, nn.Linear)  # hidden_1 stays relu
    assert gated.slot_layers()["input"] is unit
    assert abs(count_parameters(gated) / count_parameters(plain) - 1) < 0.01
    assert gated.specs == {"input": "swiglu", "hidden_1": "relu", "output": "linear"}
    x = mnist1d.train.x[:3]
    y = gated.blocks[0].ln2(gated.embed(torch.zeros(3, 10, 4)) + gated.pos).flatten(0, 1)
    torch.testing.assert_close(
        gated.blocks[0].fc2(unit(y)),
        gated.blocks[0].fc2(
            torch.nn.functional.silu(y @ unit.weight[:43].T + unit.bias[:43])
            * (y @ unit.weight[43:].T + unit.bias[43:])
        ),
    )
    assert gated(x).shape == (3, 10)


def test_vectors_are_one_channel_signals_and_images_are_refused_in_one_line():
    iris = build("transformer", (4,), 3, "relu")
    assert iris.pos.shape[1] == 1 and iris(torch.randn(5, 4)).shape == (5, 3)
    assert build("transformer", (13,), 3, "relu").pos.shape[1] == 4  # the last patch zero-padded
    with pytest.raises(actlab.ActlabError, match=r"needs signal \(C, L\) or vector \(d,\) input.*--shape flat") as e:
        build("transformer", (1, 28, 28), 10, "relu")
    assert "\n" not in str(e.value)
    with pytest.raises(actlab.ActlabError, match="multiple of heads"):
        build("transformer", (1, 40), 10, "relu", width=30, heads=4)


@pytest.mark.parametrize(
    "plan", ["relu", "swiglu", {"input": "geglu", "hidden": "acon_c"}], ids=["relu", "swiglu", "geglu-acon"]
)
def test_trains_on_mnist1d(mnist1d, plan):
    r = train(
        lambda: build("transformer", mnist1d.input_shape, mnist1d.n_classes, plan),
        mnist1d,
        TrainConfig(epochs=2, batch_size=32, lr=3e-3, patience=None, threads=1),
    )
    losses = [e["train_loss"] for e in r.epochs]
    assert r.status == "finished" and losses[1] < losses[0] < math.log(10) + 0.5
    assert r.test["accuracy"] > 0.15  # 10 classes: chance is 0.1
    assert set(r.diagnostics) == {"input", "hidden_1", "output"}
    assert all(math.isfinite(v) for v in r.epochs[-1]["grad_norm"].values())


def test_compare_and_search_accept_it(tmp_path, capsys):
    from actlab.cli import main

    out = tmp_path / "cmp"
    code = main(
        [
            "compare",
            "--dataset",
            "mnist1d",
            "--model",
            "transformer",
            "--activations",
            "relu,gelu,swiglu",
            "--seeds",
            "2",
            "--epochs",
            "2",
            "--limit",
            "200",
            "--threads",
            "1",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    res = json.loads((out / "results.json").read_text())
    assert res["config"]["model"] == "transformer"
    assert sorted(s["activation"] for s in res["summary"]) == ["gelu", "relu", "swiglu"]
    out = tmp_path / "search"
    code = main(
        [
            "search",
            "--dataset",
            "mnist1d",
            "--model",
            "transformer",
            "--candidates",
            "relu,swiglu,xielu",
            "--trials",
            "2",
            "--epochs",
            "1",
            "--final-seeds",
            "0",
            "--limit",
            "200",
            "--threads",
            "1",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    res = json.loads((out / "results.json").read_text())
    assert res["space"]["model"] == "transformer" and res["space"]["slots"] == ["input", "hidden_1"]
    assert res["counts"]["done"] == 2
