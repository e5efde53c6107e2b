"""``actlab search``: per-layer activation search with Optuna."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..report.search import write_search_report
from .._errors import ActlabError
from ..search import SearchConfig
from ..training import OPTIMIZERS, TrainConfig
from ._settings import defaults

OFFLINE_SUITE = ("iris", "wine", "breast_cancer", "digits", "mnist1d", "fashion-mnist")


# Option name -> path in SearchConfig's dict: the defaults are SearchConfig's own.
NAMES = {"dataset": "dataset", "model": "model", "layers": "layers", "width": "width", "trials": "trials",
         "sampler": "sampler", "pruner": "pruner", "seed": "seed", "pack": "pack", "top_k": "top_k",
         "final_seeds": "final_seeds", "heartbeat": "heartbeat", "epochs": "train.epochs", "patience": "train.patience",
         "batch_size": "train.batch_size", "optimizer": "train.optimizer"}
_D = defaults(SearchConfig(), NAMES)


def add(sub) -> None:
    p = sub.add_parser(
        "search", help="search the best activation for every layer with Optuna (à la carte)",
        formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(prog, max_help_position=30),
        description="Every layer's activation is a categorical hyper-parameter; Optuna maximises validation\n"
                    "accuracy. Then the top-k configurations and the ReLU baseline are trained alike with several\n"
                    "fresh seeds (best validation epoch kept) and scored on test. Kill it at any time and run the same\n"
                    "command again to resume; start it on several machines with one --storage to cooperate.\n\n"
                    "Examples:\n"
                    "  actlab search --dataset iris --layers 5 --candidates sipper48 --trials 100\n"
                    "  actlab search --dataset digits --n-jobs 2 --storage journal:study.log\n"
                    "  actlab search --dataset wine --storage postgresql://me@dbhost/actlab --study wine-10\n"
                    "  actlab search --suite offline --trials 30")
    p.add_argument("--dataset", default=_D["dataset"], help=f"dataset (default {_D['dataset']}); csv:PATH / npz:PATH work too")
    p.add_argument("--suite", choices=("offline",), help="search every offline dataset and print win/tie/loss")
    p.add_argument("--model", default=_D["model"], help=f"mlp or any actlab model with activation slots (default {_D['model']})")
    p.add_argument("--layers", "--depth", dest="layers", type=int, default=_D["layers"],
                   help=f"mlp layers (default {_D['layers']}; the paper used 5 and 10; --depth is the same)")
    p.add_argument("--width", type=int, default=_D["width"], help=f"mlp width (default {_D['width']})")
    p.add_argument("--candidates", default="sipper48", help="sipper48 (default), all, or a comma list of specs")
    p.add_argument("--search-output", action="store_true", help="also search the output layer's activation")
    p.add_argument("--trials", type=int, default=_D["trials"],
                   help=f"finished trials wanted in the study, across restarts (default {_D['trials']})")
    p.add_argument("--sampler", default=_D["sampler"], help=f"tpe, cmaes, random or grid (default {_D['sampler']})")
    p.add_argument("--pruner", default=_D["pruner"], help=f"hyperband, median or none (default {_D['pruner']})")
    p.add_argument("--seed", type=int, default=_D["seed"], help=f"sampler and training seed (default {_D['seed']})")
    p.add_argument("--storage", help="Optuna storage URL, or journal:PATH (default sqlite in --out)")
    p.add_argument("--study", help="study name (default actlab-DATASET-MODEL)")
    p.add_argument("--n-jobs", type=int, default=1, help="local worker processes, one thread each (default 1)")
    p.add_argument("--pack", type=int, default=_D["pack"], help=f"trials asked together and trained as one packed model, "
                                                             f"each as if alone (mlp only; default {_D['pack']})")
    p.add_argument("--out", default="search-out", help="output folder (default search-out)")
    p.add_argument("--top-k", type=int, default=_D["top_k"], help=f"configurations trained again and scored on test (default {_D['top_k']})")
    p.add_argument("--final-seeds", type=int, default=_D["final_seeds"], help=f"seeds of the final evaluation (default {_D['final_seeds']})")
    g = p.add_argument_group("training of each trial")
    g.add_argument("--epochs", type=int, default=_D["epochs"], help=f"maximum epochs (default {_D['epochs']})")
    g.add_argument("--patience", type=int, default=_D["patience"], help=f"plateau stop, 0 = none (default {_D['patience']})")
    g.add_argument("--batch-size", type=int, default=_D["batch_size"], help=f"batch size (default {_D['batch_size']})")
    g.add_argument("--optimizer", choices=list(OPTIMIZERS), default=_D["optimizer"], help=f"default {_D['optimizer']}")
    g.add_argument("--lr", type=float, help="learning rate (default: the optimizer's own; Adam 1e-3 as the paper)")
    g.add_argument("--limit", type=int, help="use at most this many training examples")
    g.add_argument("--data-dir", help="where dataset files are")
    g.add_argument("--target", help="target column of a csv: dataset")
    g.add_argument("--threads", type=int, help="torch threads of a single worker (0 = torch's choice)")
    g.add_argument("--heartbeat", type=float, default=_D["heartbeat"],
                   help=f"seconds between a trial's liveness stamps (default {_D['heartbeat']:g})")
    p.add_argument("--force", action="store_true", help="write into an --out that holds another command's results")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_search)


def _config(args, dataset: str):
    from ..search import SearchConfig, candidates

    train = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                        patience=args.patience or None, monitor="val_accuracy", threads=args.threads or None)
    data_options = {k: v for k, v in {"limit": args.limit, "target": args.target, "data_dir": args.data_dir}.items() if v is not None}
    if args.model != "mlp" and (args.layers != _D["layers"] or args.width != _D["width"]):
        raise ActlabError(f"--layers and --width apply to the mlp model only, not {args.model!r}")
    return SearchConfig(dataset=dataset, model=args.model, layers=args.layers, width=args.width,
                        candidates=candidates(args.candidates), search_output=args.search_output, trials=args.trials,
                        sampler=args.sampler, pruner=args.pruner, seed=args.seed, train=train, data_options=data_options,
                        top_k=args.top_k, final_seeds=args.final_seeds, heartbeat=args.heartbeat, pack=args.pack)


def cmd_search(args) -> int:
    from ..search.run import run_search

    if not args.out.strip():  # Path("") is the current folder; the suite writes OUT/<dataset>
        raise ActlabError("--out is empty; give the folder for the results, e.g. --out results")
    if args.suite:
        return _suite(args)
    config = _config(args, args.dataset)
    results = run_search(config, args.out, storage_url=args.storage, study_name=args.study, n_jobs=args.n_jobs,
                         progress=not args.quiet, force=args.force)
    write_search_report(results, args.out)
    print(format_final(results))
    print(f"results: {Path(args.out) / 'results.json'}\nreport:  {Path(args.out) / 'report.html'}")
    return 0


def format_final(results) -> str:
    c = results["counts"]
    lines = [f"study {results['study']}: {c['done']} finished trials ({c['pruned']} pruned), {c['failed']} failed"]
    for cfg in (results.get("final") or {}).get("configs", []):
        plan = ", ".join(f"{k}={v}" for k, v in cfg["plan"].items())
        p = "" if cfg["name"] == "baseline" else f"  p={cfg['p_holm']:.3f} {cfg['outcome']}" if math.isfinite(cfg["p_holm"]) else f"  {cfg['outcome']}"
        lines.append(f"{cfg['name']:<9} test {cfg['mean']:.3f} ± {cfg['std']:.3f}  val {cfg['val_accuracy']:.3f}  [{plan}]{p}")
    return "\n".join(lines)


def _suite(args) -> int:
    from ..data import available
    from ..search.run import run_search

    table = []
    for name in OFFLINE_SUITE:
        if not available(name, data_dir=args.data_dir):
            print(f"suite: {name} not present locally, skipped")
            continue
        if name == "fashion-mnist" and args.limit is None:
            args.limit = 2000  # a subset: the suite must stay an afternoon's work on a laptop
        config = _config(args, name)
        out = Path(args.out) / name
        print(f"suite: searching {name} -> {out}")
        results = run_search(config, out, storage_url=args.storage, study_name=f"{args.study or 'actlab-suite'}-{name}",
                             n_jobs=args.n_jobs, progress=not args.quiet, force=args.force)
        write_search_report(results, out)
        best = next((c for c in results.get("final", {}).get("configs", []) if c["name"] == "top-1"), None)
        base = next((c for c in results.get("final", {}).get("configs", []) if c["name"] == "baseline"), None)
        table.append((name, base, best))
    print(f"\n{'dataset':<15} {'baseline':>16} {'à la carte (top-1)':>20} {'p (Holm)':>9}  outcome")
    wins = {"win": 0, "tie": 0, "loss": 0}
    for name, base, best in table:
        if not best:
            continue
        wins[best["outcome"]] += 1
        print(f"{name:<15} {base['mean']:>9.3f} ± {base['std']:.3f} {best['mean']:>13.3f} ± {best['std']:.3f} "
              f"{best['p_holm']:>9.3f}  {best['outcome']}")
    print(f"win / tie / loss against the baseline: {wins['win']} / {wins['tie']} / {wins['loss']}")
    print(f"reports: {Path(args.out)}/<dataset>/report.html")
    return 0
