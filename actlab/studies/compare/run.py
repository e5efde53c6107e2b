"""Run a comparison: check the activations, hand every (activation, seed) pair to the runner,
time the activations alone where runs trained packed, then summarise into ``results.json``."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import torch

from actlab._errors import ActlabError, first_line
from actlab._io import own_out, write_json_atomic
from actlab._io import prepare_out as _prepare_out
from actlab._progress import Progress
from actlab.catalogue import get
from actlab.execution import Runner, Task, Unit, load_data, provide_data, read_unit, slug
from actlab.models import build, model_summary
from actlab.studies.compare.config import CompareConfig
from actlab.studies.compare.results import summarise
from actlab.training import TrainConfig, few_steps, train


def prepare_out(out: str | Path) -> Path:
    """Create ``out`` and ``out/runs`` and prove they are writable, or say so in one line."""
    return _prepare_out(out, "runs")


def check_activations(config: CompareConfig, data) -> None:
    """Resolve every activation and run one forward pass of the model with it, before any training."""
    x = data.train.head(2)
    for spec in config.activations:
        get(spec)  # unknown names and bad arguments: one line from the catalogue
        model = build(config.model, data.input_shape, data.n_classes, spec, **config.model_options).eval()
        try:
            with torch.no_grad():
                model(x)
        except Exception as e:  # a shape the activation cannot take, e.g. FReLU in an MLP
            msg = first_line(e)
            raise ActlabError(
                f"activation {spec!r} does not work in model {config.model!r} on {config.dataset} "
                f"({msg}); choose another model or activation"
            ) from None


def units(config: CompareConfig, data_location: dict[str, Any] | None = None) -> list[Unit]:
    """The comparison's trainings, seed-major (a machine that slows down meanwhile slows every
    activation alike). ``data_location`` (``data_dir``, ``download``) says where the data is."""
    task = Task.of(config, data_location)
    return [
        task.unit(f"{slug(act)}__seed{seed}", act, seed=seed)
        for seed in range(config.seeds)
        for act in config.activations
    ]


def run_compare(
    config: CompareConfig,
    out: str | Path,
    data=None,
    progress: bool = True,
    runner: Runner | None = None,
    data_location: dict[str, Any] | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Train what is missing (on ``runner``, default: this process, packs of 32), then summarise.
    Returns the ``results.json`` content; the caller writes the report. A folder holding another
    command's results is refused unless ``force``."""
    todo = units(config, data_location)
    if data is None:
        data = load_data(todo[0].to_dict())
    check_activations(config, data)  # before any file is made
    out = prepare_out(out)
    own_out(out, "compare", force)
    for u in todo:  # a folder of other runs is refused in one line, before anything is said
        read_unit(out / "runs", u)
    if progress:
        print(model_summary(config.model, data.input_shape, data.n_classes, **config.model_options), file=sys.stderr)
    provide_data(todo[0], data)
    by_name = {u.name: (u.plan, u.train["seed"]) for u in todo}
    bar = Progress(len(todo), "runs", enabled=progress)
    # said once, with the first run trained here (not before: a folder of other runs is refused in one line)
    warning = [w for w in [few_steps(len(data.train), config.train)] if w]

    def done(u: Unit, rec: dict[str, Any], cached: bool) -> None:
        if warning and not cached:
            print(warning.pop(), file=sys.stderr, flush=True)
        if "error" in rec:
            return
        r = rec["result"]
        how = (
            "already done, skipped"
            if cached
            else (
                f"{r['status']}, test acc {r['test'].get('accuracy', math.nan):.3f}"
                + (f", packed {rec.get('packed')}" if rec.get("packed", 1) > 1 else "")
            )
        )
        bar.begin(f"{u.plan} seed {u.train['seed']}")
        bar.finish(how, skipped=cached)

    own = runner is None
    runner = runner or Runner()
    try:
        records = runner.run(todo, out / "runs", on_done=done)
    finally:
        if own:
            runner.close()
    failed = next((n for n, r in records.items() if "error" in r), None)
    if failed is not None:
        raise ActlabError(f"run {failed} failed ({records[failed]['error']}); fix it and rerun to continue")
    runs = {by_name[n]: {"activation": by_name[n][0], "seed": by_name[n][1], **r} for n, r in records.items()}
    timing = None
    if any(r.get("packed", 1) > 1 for r in records.values()):
        timing = time_alone(config, data)
    results = summarise(config, data, runs, timing)
    write_json_atomic(out / "results.json", results)
    return results


def time_alone(config: CompareConfig, data, epochs: int = 3) -> dict[str, float]:
    """Seconds per training epoch of each activation trained alone (seed 0, ``epochs`` epochs, the
    first a warm-up not counted): the time column when the runs trained packed."""
    out = {}
    for act in config.activations:
        cfg = TrainConfig.from_dict(
            {**config.train.to_dict(), "seed": 0, "epochs": epochs, "patience": None, "diagnostics": False}
        )
        r = train(
            lambda act=act: build(config.model, data.input_shape, data.n_classes, act, **config.model_options),
            data,
            cfg,
        )
        t = [e["seconds"] for e in r.epochs[1:]] or [e["seconds"] for e in r.epochs]
        out[act] = float(sorted(t)[len(t) // 2])
    return out
