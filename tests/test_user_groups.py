"""Triple and coevolution over a user's model evolve one function per slot group of that model
(``--slots``, else one per activation found): the best holds one function per group, named as the
user named them, and a resumed run ends as an uninterrupted one."""

from __future__ import annotations

import json
import textwrap

import pytest

import actlab
from actlab import ActlabError
from actlab.models import build
from actlab.studies.evolve.checkpoint import CHECKPOINT
from actlab.studies.evolve.config import EvolveConfig
from actlab.studies.evolve.run import run_evolution

NET = textwrap.dedent(
    """\
    from torch import nn

    def build(input_shape, n_classes, depth=3):
        layers = [nn.Linear(input_shape[0], 8), nn.ReLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(8, 8), nn.Tanh()]
        return nn.Sequential(*layers, nn.Linear(8, n_classes))
    """
)
GROUPS = "1=first,*=rest"


@pytest.fixture
def net(workdir):
    (workdir / "net.py").write_text(NET)
    return "net.py:build"


def _config(model: str, mode: str = "coevolution", **options) -> EvolveConfig:
    return EvolveConfig(
        mode=mode,
        dataset="digits",
        model=model,
        model_options={"slots": GROUPS, **options},
        data_options={"limit": 150},
        population=4,
        generations=2,
        train={"epochs": 1, "batch_size": 16},
        hall_of_fame=2,
        final_seeds=0,
        pack=1,
    )


def test_coevolution_evolves_a_function_per_user_group_and_resumes_to_the_same_end(net, tmp_path):
    full = run_evolution(_config(net), tmp_path / "full", progress=False)
    assert full["config"]["groups"] == ["first", "rest"]
    assert all(list(h["slots"]) == ["first", "rest"] for h in full["history"])  # one population per group
    assert all(list(item["functions"]) == ["first", "rest"] for item in full["hall_of_fame"])
    best = json.loads((tmp_path / "full" / "best.json").read_text())
    assert best["groups"] == ["first", "rest"] and list(best["plan"]) == ["first", "rest"]
    modules = actlab.load(tmp_path / "full" / "best.json")
    assert list(modules) == ["first", "rest"]
    model = build(net, (64,), 10, best["plan"], slots=GROUPS)
    assert model.specs == best["plan"]  # each group's function in its own slot

    part = tmp_path / "part"
    assert run_evolution(_config(net), part, progress=False, stop_after=0) == {"stopped_after": 0}
    assert len(json.loads((part / CHECKPOINT).read_text())["populations"]) == 2
    resumed = run_evolution(_config(net), part, resume=True, progress=False)
    assert resumed["hall_of_fame"] == full["hall_of_fame"]
    for key in ("slots", "representatives", "best", "mean"):  # the same generations; their seconds differ
        assert [h[key] for h in resumed["history"]] == [h[key] for h in full["history"]]


def test_triple_mode_holds_one_tree_per_found_slot(net, tmp_path):
    config = _config(net, mode="triple", depth=2)
    config.model_options.pop("slots")  # each activation its own slot: 1 and 3
    config.generations = 1
    results = run_evolution(config, tmp_path / "triple", progress=False)
    assert results["config"]["groups"] == ["1", "3"]
    assert all(list(item["functions"]) == ["1", "3"] for item in results["hall_of_fame"])


@pytest.mark.parametrize(
    "depth, slots, message",
    [
        (9, None, r"which has 9 \(1, 3, \.\.\., 17 \(9 layers\)\); group them into 2 to 8 with --slots"),
        (1, None, r"which has 1 \(1\); evolve one function with --mode single"),
        (3, "1=all,*=rest", r"net.py:build has the slot groups 'all', 'rest'; .* other than 'all'"),
    ],
)
def test_too_many_or_too_few_groups_are_one_line(net, tmp_path, depth, slots, message):
    config = _config(net, depth=depth)
    config.model_options["slots"] = slots
    with pytest.raises(ActlabError, match=message):
        run_evolution(config, tmp_path / "bad", progress=False)


def test_a_built_in_models_evolution_keeps_its_config_and_key():
    config = EvolveConfig(mode="coevolution")
    assert "groups" not in config.to_dict() and config.slots == ("input", "hidden", "output")
    assert config.run_key() == EvolveConfig.from_dict(config.to_dict()).run_key()
