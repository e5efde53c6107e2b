"""A unit: one training described by plain data (the activation plan as spec strings, the dataset
and model by name, the training config), so that it travels to worker processes and Dask workers
as it is; no model or tensor is ever sent.

A study's :class:`Task` (dataset, model, data seed, data and model options, training config) is
what all its trainings share; :meth:`Task.unit` makes each of them, the one place a unit is made.

The key of a unit (:meth:`Unit.key`) is the one rule for what makes two trainings the same:
everything that decides the result, and nothing that only says where it runs (the training's
``threads`` and ``device``, the file a user's training loop is read from (its qualified name and
version are in the key), the data's ``data_dir`` and ``download``: :data:`WHERE_ONLY`).

A user's model builder or data loader is in the key by its reference and by its ``source`` option:
the hash of its file and the user's version of it, written where the command names it
(:func:`actlab._refs.source_hash`), so that an edited file makes new units. The built-in models and
data sets have no ``source``: their keys are those they always had.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from actlab._errors import ActlabError
from actlab._refs import SOURCE
from actlab.training import TrainConfig

FORMAT_UNIT = "actlab-unit"  # the "format" of a unit's record file
WHERE_ONLY = {"train": ("threads", "device", "fit"), "data_options": ("data_dir", "download")}  # not in a unit's key
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,120}$")


def slug(spec: str) -> str:
    """A file-name-safe, collision-free name for an activation spec (part of a unit's name)."""
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", spec).strip("_")[:60] or "act"
    return s if s == spec else f"{s}-{hashlib.sha1(spec.encode()).hexdigest()[:6]}"


@dataclass
class Unit:
    """One training: ``plan`` (a spec string or ``{slot: spec}``) in ``model`` on ``dataset``,
    with ``train`` (a :class:`~actlab.training.TrainConfig` as a dict, its seed included).
    ``name`` is unique within a study's folder and becomes a file name."""

    name: str
    plan: Any
    dataset: str
    model: str
    train: dict[str, Any]
    data_seed: int = 0
    data_options: dict[str, Any] = field(default_factory=dict)
    model_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name) or self.name in (".", ".."):
            raise ActlabError(f"unit name {self.name!r} is not a plain file name (letters, digits, '_', '.', '-')")

    def to_dict(self) -> dict[str, Any]:
        """The unit as plain data, a copy (what :func:`dataclasses.asdict` gives, without its cost)."""
        return {f: _copied(getattr(self, f)) for f in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Unit:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def key(self) -> str:
        """What decides the result, hashed: units with equal keys train to equal results."""
        d = {f: getattr(self, f) for f in self.__dataclass_fields__ if f != "name"}
        for part, names in WHERE_ONLY.items():
            d[part] = {k: v for k, v in d[part].items() if k not in names}
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def code_changed(self, saved: Any) -> str | None:
        """Which code of the user's (model builder, data loader) is another version in this unit than in
        ``saved`` (a unit's dict): a clause for an error, or None."""
        for part, ref in (("model_options", self.model), ("data_options", self.dataset)):
            theirs = saved.get(part) if isinstance(saved, Mapping) else None
            theirs = theirs.get(SOURCE) if isinstance(theirs, Mapping) else None
            if getattr(self, part).get(SOURCE) != theirs:
                return f"{ref} is another version: its file or version changed since"
        return None

    def pack_key(self) -> str:
        """Units with equal pack keys can train in one packed model."""
        d = {f: getattr(self, f) for f in self.__dataclass_fields__ if f not in ("name", "plan")}
        return json.dumps(d, sort_keys=True, default=str)


def _copied(v: Any) -> Any:
    """A copy of plain data: dicts, lists and tuples copied through, anything else deep-copied
    (numbers and strings are their own copies)."""
    if isinstance(v, dict):
        return {k: _copied(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_copied(x) for x in v)
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return copy.deepcopy(v)


@dataclass(frozen=True)
class Task:
    """A study's task: ``model`` on ``dataset`` (split by ``data_seed``, loaded with
    ``data_options``, built with ``model_options``) trained with ``train``. Every study, the
    surrogate and the runner take it; :meth:`of` reads it from a study's config."""

    dataset: str = "mnist1d"
    model: str = "mlp"
    train: TrainConfig = field(default_factory=TrainConfig)
    data_seed: int = 0
    data_options: Mapping[str, Any] = field(default_factory=dict)
    model_options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, config: Any, location: Mapping[str, Any] | None = None) -> Task:
        """The task of a study's ``config`` (its dataset, model, data seed, options and training
        config); ``location`` (``data_dir``, ``download``) says where the data is read from."""
        return cls(
            dataset=config.dataset,
            model=config.model,
            train=config.train,
            data_seed=int(config.data_seed),
            data_options={**config.data_options, **(location or {})},
            model_options=dict(config.model_options),
        )

    def unit(self, name: str, plan: Any, **train: Any) -> Unit:
        """The training of ``plan`` named ``name``; ``train`` overrides training settings (the
        seed: every study says which seed a training has; ``train_fraction`` goes to the data)."""
        data_options = dict(self.data_options)
        if "train_fraction" in train:
            share = train.pop("train_fraction")
            if share is not None and share < 1:
                data_options["train_fraction"] = share
        settings = {**self.train.to_dict(), **train}
        if settings.get("final_scores") is True:  # the default, left out as TrainConfig.to_dict does
            del settings["final_scores"]
        return Unit(
            name=name,
            plan=dict(plan) if isinstance(plan, Mapping) else plan,
            dataset=self.dataset,
            model=self.model,
            train=settings,
            data_seed=self.data_seed,
            data_options=data_options,
            model_options=dict(self.model_options),
        )


__all__ = ["FORMAT_UNIT", "WHERE_ONLY", "Task", "Unit", "slug"]
