"""A study's task: the one place a unit of training is made, from any study's config."""

from __future__ import annotations

import pytest

from actlab.execution import Task, Unit
from actlab.studies.compare import CompareConfig
from actlab.studies.evolve import EvolveConfig
from actlab.studies.screen import ScreenConfig
from actlab.studies.search import SearchConfig
from actlab.training import TrainConfig


@pytest.mark.parametrize("make", [CompareConfig, SearchConfig, EvolveConfig, ScreenConfig])
def test_every_study_config_gives_its_task(make):
    config = make(dataset="iris", data_seed=3, data_options={"limit": 50})
    task = Task.of(config)
    assert (task.dataset, task.model, task.data_seed) == ("iris", config.model, 3)
    assert task.train == config.train and dict(task.data_options) == {"limit": 50}
    u = task.unit("relu__seed1", "relu", seed=1)
    assert isinstance(u, Unit) and u.plan == "relu" and u.train == {**config.train.to_dict(), "seed": 1}


def test_where_the_data_is_read_does_not_change_a_units_key():
    config = CompareConfig(dataset="iris")
    here = Task.of(config).unit("a", "relu", seed=0)
    there = Task.of(config, {"data_dir": "/elsewhere", "download": False}).unit("a", "relu", seed=0)
    assert here.data_options != there.data_options and here.key() == there.key()
    assert Task.of(config).unit("a", "relu", seed=1).key() != here.key()  # the seed decides the result


def test_training_overrides_and_the_share_of_the_training_split():
    task = Task(dataset="digits", train=TrainConfig(epochs=7))
    whole = task.unit("u", {"hidden": "tanh"}, epochs=2, train_fraction=1.0)
    part = task.unit("u", {"hidden": "tanh"}, epochs=2, train_fraction=0.25)
    assert whole.train["epochs"] == part.train["epochs"] == 2 and "train_fraction" not in whole.train
    assert "train_fraction" not in whole.data_options and part.data_options["train_fraction"] == 0.25
    assert whole.key() != part.key()
    assert task.train.epochs == 7 and not task.data_options  # the task itself is unchanged


def test_a_plan_given_as_a_mapping_is_copied():
    plan = {"hidden": "relu"}
    u = Task().unit("u", plan, seed=0)
    plan["hidden"] = "tanh"
    assert u.plan == {"hidden": "relu"}
