"""Every activation slot of every model owns its activation module: for each kind of spec (a
name, a spec with arguments, ``expr:``, ``pexpr:``, a module, a callable, a gated unit), no two
slots share a module, a part of one or a parameter; per-slot diagnostics of a real training
measure each slot's own layer; a module given for several slots is copied, one given for one
slot is used as it is."""

from __future__ import annotations

import copy
import threading

import pytest
import torch
from torch import nn

import actlab
from actlab import ActlabError
from actlab.catalogue import expr
from actlab.execution import plan_templates, train_units
from actlab.models import build
from actlab.training import TrainConfig, train
from actlab.training.population import train_population

MODELS = {  # name -> (example shape, options): small, with at least two hidden slots where the model has them
    "mlp": ((1, 40), {"depth": 4, "width": 16}),
    "seed-cnn": ((3, 12, 12), {}),
    "resnet": ((3, 12, 12), {}),
    "cnn1d": ((1, 40), {"channels": 8}),
    "transformer": ((1, 40), {"depth": 3, "width": 16}),
}
SPECS = {  # kind -> (a fresh spec, learnable: every slot's module has parameters of its own)
    "name": (lambda: "relu", False),
    "learnable name": (lambda: "prelu", True),
    "name with arguments": (lambda: "leaky_relu(negative_slope=0.1)", False),
    "expr": (lambda: "expr:x*tanh(x)", False),
    "expr as the runner makes it": (lambda: plan_templates("expr:x*tanh(x)"), False),
    "pexpr": (lambda: "pexpr:x*sigmoid(1.5*x)", True),
    "pexpr as the runner makes it": (lambda: plan_templates("pexpr:x*sigmoid(1.5*x)"), True),
    "module": (lambda: nn.PReLU(), True),
    "callable": (lambda: lambda x: x * torch.sigmoid(x), False),
    "gated unit": (lambda: "swiglu", True),
}


def _built(name: str, plan) -> nn.Module:
    shape, opts = MODELS[name]
    torch.manual_seed(0)
    model = build(name, shape, 3, plan, **opts)
    model(torch.randn(4, *shape))  # sizes what is sized at the first call (FReLU, a gated unit in a slot)
    return model


def _assert_each_slot_owns_its_module(model: nn.Module, learnable: bool) -> None:
    acts = dict(model.acts)
    everywhere = list(model.named_modules(remove_duplicate=False))
    for slot, act in acts.items():
        assert [n for n, m in everywhere if m is act] == [f"acts.{slot}"], slot  # registered once, in its slot
    parts = {s: {id(m) for m in a.modules()} for s, a in acts.items()}
    params = {s: {id(p) for p in a.parameters()} for s, a in acts.items()}
    slots = list(acts)
    for i, a in enumerate(slots):
        for b in slots[i + 1 :]:
            assert not parts[a] & parts[b], (a, b)
            assert not params[a] & params[b], (a, b)
    if learnable:
        assert all(params[s] for s in slots if s != "output"), {s: len(p) for s, p in params.items()}


@pytest.mark.parametrize("kind", SPECS)
@pytest.mark.parametrize("name", MODELS)
def test_every_slot_of_every_model_owns_its_activation_module(name, kind):
    make, learnable = SPECS[kind]
    model = _built(name, make())
    assert len(model.acts) == len(model.slots) >= 3
    _assert_each_slot_owns_its_module(model, learnable)


@pytest.mark.parametrize("name", ["resnet", "seed-cnn"])
def test_spatial_activations_own_their_module_in_the_image_models(name):
    _assert_each_slot_owns_its_module(_built(name, "frelu"), learnable=True)


@pytest.mark.parametrize(
    "plan",
    [
        lambda m: {"input": m, "hidden": m, "output": m},
        lambda m: [m, m, m, m],  # the MLP's four slots, output included
    ],
)
def test_a_module_for_several_slots_is_a_template_each_slot_copies(plan):
    template = nn.PReLU(init=0.3)
    model = _built("mlp", plan(template))
    _assert_each_slot_owns_its_module(model, learnable=True)
    assert all(a is not template and type(a) is nn.PReLU for a in model.acts.values())
    assert all(torch.equal(a.weight, template.weight) for a in model.acts.values())  # copies: the same start


def test_a_module_for_one_slot_is_used_as_it_is():
    mine = nn.PReLU()
    model = _built("mlp", {"input": mine, "hidden": "relu"})
    assert model.acts["input"] is mine
    _assert_each_slot_owns_its_module(model, learnable=False)


class _Unclonable(nn.Module):
    """An activation holding something deepcopy refuses (a lock)."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def forward(self, x):
        return torch.relu(x)


def test_a_module_that_cannot_be_copied_is_refused_for_several_slots_in_one_line():
    only_here = _Unclonable()
    assert _built("mlp", {"input": only_here, "hidden": "relu"}).acts["input"] is only_here
    with pytest.raises(
        ActlabError, match=r"_Unclonable is given for slots input, hidden_1, hidden_2.*cannot be copied"
    ) as e:
        _built("mlp", _Unclonable())
    assert "\n" not in str(e.value)


def test_the_runners_expressions_build_no_catalogue_entry():
    """The runner's ``expr:`` and ``pexpr:`` modules skip what ``get`` would make (properties, LaTeX)."""
    before = expr.entry.cache_info().misses, expr.learnable_entry.cache_info().misses
    plan = plan_templates({"input": "expr:x * tanh(1.37 * x) + 0.011", "hidden": "pexpr:x * sigmoid(1.43 * x) - 0.013"})
    model = _built("mlp", plan)
    assert (expr.entry.cache_info().misses, expr.learnable_entry.cache_info().misses) == before
    assert model.acts["hidden_1"].learnable and model.acts["hidden_1"] is not model.acts["hidden_2"]


def test_swapping_the_residual_cnns_activations_swaps_the_modules_that_run():
    model = _built("resnet", "relu")
    swaps = actlab.swap_activations(model, "prelu")
    assert sorted(s.name for s in swaps) == sorted(f"acts.{s}" for s in model.slots if s != "output")
    calls = dict.fromkeys(model.slots, 0)

    def counter(slot):
        def hook(*_):
            calls[slot] += 1

        return hook

    for s, a in model.acts.items():
        a.register_forward_hook(counter(s))
    model(torch.randn(2, 3, 12, 12))
    assert calls == dict.fromkeys(model.slots, 1)  # each slot's module runs once, in its own place
    _assert_each_slot_owns_its_module(model, learnable=True)


def test_a_module_given_to_several_members_of_a_pack_trains_as_if_alone(digits):
    """Two members with the same PReLU instance in their input slot: each trains its own copy,
    as each would alone (a shared module would take both members' gradients)."""
    cfg = TrainConfig(
        epochs=2, batch_size=32, optimizer="sgd", lr=0.05, patience=None, diagnostics=False, threads=1, fused=False
    )
    shared = nn.PReLU()
    own = copy.deepcopy(shared)  # before the pack trains the first member's module, the one given, in place
    plan = {"input": shared, "hidden": "relu"}
    packed = train_population([plan, plan], digits, cfg, {"width": 16})
    alone = train(
        lambda: build("mlp", digits.input_shape, digits.n_classes, {"input": own, "hidden": "relu"}, width=16),
        digits,
        cfg,
    )
    slope = alone.learned["input"]["weight"][0]
    assert abs(slope - 0.25) > 1e-3  # it trained
    for r in packed:
        assert r.learned["input"]["weight"][0] == pytest.approx(slope, abs=1e-4)


# ------------------------------------------------------------------ real trainings through the runner
@pytest.fixture(scope="module")
def signals(tmp_path_factory):
    """MNIST-1D signals (1, 40), generated locally: 300 training examples."""
    return {"limit": 300, "data_dir": str(tmp_path_factory.mktemp("mnist1d"))}


def _units(model: str, specs: list[str], signals) -> list[dict]:
    return [
        {
            "name": f"u{i}",
            "plan": spec,
            "dataset": "mnist1d",
            "model": model,
            "data_seed": 0,
            "data_options": signals,
            "model_options": {},
            "train": {"epochs": 2, "seed": 0, "threads": 1},
        }
        for i, spec in enumerate(specs)
    ]


def _assert_slots_measured_apart(record: dict, slots: list[str]) -> None:
    assert "error" not in record, record
    diagnostics = record["result"]["diagnostics"]
    assert set(slots) <= set(diagnostics)
    fields = ("dead", "saturated", "mean", "std")  # measured on the slot's inputs, not its layer's gradient
    seen = [tuple(diagnostics[s][f] for f in fields) for s in slots]
    assert len(set(seen)) == len(seen), seen  # each slot's own layer: a shared module gave one set of figures


@pytest.mark.parametrize("model, slots", [("mlp", ["input", "hidden_1"]), ("cnn1d", ["input", "hidden_1", "hidden_2"])])
def test_one_expression_for_every_slot_trains_and_each_slot_is_diagnosed_apart(signals, model, slots):
    (record,) = train_units(_units(model, ["expr:x*tanh(x)"], signals))
    _assert_slots_measured_apart(record, slots)
    assert record["packed"] == 1 and len(record["result"]["epochs"]) == 2


def test_packed_members_with_one_expression_each_are_diagnosed_per_slot(signals):
    records = train_units(_units("mlp", ["expr:x*tanh(x)", "pexpr:x*sigmoid(1.5*x)"], signals))
    for record in records:
        assert record["packed"] == 2
        _assert_slots_measured_apart(record, ["input", "hidden_1"])
