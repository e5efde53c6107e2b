"""``actlab search``: per-layer activation search with Optuna."""

from __future__ import annotations

from pathlib import Path

from actlab._errors import ActlabError
from actlab._io import finite
from actlab._progress import duration
from actlab.cli._catalogue import HelpFormatter
from actlab.cli._data_help import dataset_help, limit_help
from actlab.cli._settings import defaults
from actlab.report.search import score_text, write_search_report
from actlab.stats import NOT_CONVERGED, OUTCOMES, format_p
from actlab.studies.search import SearchConfig
from actlab.surrogate import KEEP
from actlab.training import OPTIMIZERS, TrainConfig

OFFLINE_SUITE = ("iris", "wine", "breast_cancer", "digits", "mnist1d", "fashion-mnist")
SUITE_LIMITS = {"fashion-mnist": 2000}  # a subset unless --limit says otherwise: the suite stays an afternoon's work


# Option name -> path in SearchConfig's dict: the defaults are SearchConfig's own.
NAMES = {
    "dataset": "dataset",
    "model": "model",
    "layers": "layers",
    "width": "width",
    "trials": "trials",
    "sampler": "sampler",
    "pruner": "pruner",
    "seed": "seed",
    "pack": "pack",
    "top_k": "top_k",
    "final_seeds": "final_seeds",
    "heartbeat": "heartbeat",
    "epochs": "train.epochs",
    "patience": "train.patience",
    "batch_size": "train.batch_size",
    "optimizer": "train.optimizer",
    "surrogate": "surrogate",
}
_D = defaults(SearchConfig(), NAMES)


def add(sub) -> None:
    p = sub.add_parser(
        "search",
        help="search the best activation for every layer with Optuna (à la carte)",
        formatter_class=HelpFormatter,
        description="Every layer's activation is a categorical hyper-parameter; Optuna maximises validation\n"
        "accuracy. Then the top-k configurations and the ReLU baseline are trained alike with several\n"
        "fresh seeds (best validation epoch kept) and scored on test. Kill it at any time and run the same\n"
        "command again to resume; start it on several machines with one --storage to cooperate.\n\n"
        "Examples:\n"
        "  actlab search --dataset iris --layers 5 --candidates sipper48 --trials 100 --batch-size 8\n"
        "  actlab search --dataset digits --n-jobs 2 --storage journal:study.log\n"
        "  actlab search --dataset wine --storage postgresql://me@dbhost/actlab --study wine-10\n"
        "  actlab search --suite offline --trials 30",
    )
    p.add_argument("--dataset", default=_D["dataset"], help=dataset_help(_D["dataset"]))
    p.add_argument(
        "--suite",
        choices=("offline",),
        help=f"search each offline dataset in turn ({', '.join(OFFLINE_SUITE[:-1])}, and "
        f"{OFFLINE_SUITE[-1]} where its files are here, {SUITE_LIMITS['fashion-mnist']} training "
        "examples unless --limit), then print a win/tie/loss table; it says first how long it may "
        "take, and a rerun reads the datasets it finished before",
    )
    p.add_argument(
        "--model", default=_D["model"], help=f"mlp or any actlab model with activation slots (default {_D['model']})"
    )
    p.add_argument(
        "--layers",
        "--depth",
        dest="layers",
        type=int,
        default=_D["layers"],
        help=f"mlp layers (default {_D['layers']}; Sipper's paper used 5 and 10; --depth is the same)",
    )
    p.add_argument("--width", type=int, default=_D["width"], help=f"mlp width (default {_D['width']})")
    p.add_argument(
        "--candidates",
        default="sipper48",
        help="the activations each layer chooses from: sipper48 (default: the 48 of Sipper's à-la-carte "
        "paper), all (every element-wise function of the catalogue), or specs separated by commas",
    )
    p.add_argument("--search-output", action="store_true", help="also search the output layer's activation")
    p.add_argument(
        "--surrogate",
        type=int,
        nargs="?",
        const=KEEP,
        default=_D["surrogate"],
        metavar="N",
        help=f"search only the N candidates (default {KEEP}) a surrogate predicts best, best first: it "
        "trains the 8 usual functions (elu, relu, selu, sigmoid, softplus, softsign, swish, tanh) "
        "once and ranks the rest by their features at initialisation (as actlab screen)",
    )
    p.add_argument(
        "--trials",
        type=int,
        default=_D["trials"],
        help=f"finished trials wanted in the study, across restarts (default {_D['trials']})",
    )
    p.add_argument("--sampler", default=_D["sampler"], help=f"tpe, cmaes, random or grid (default {_D['sampler']})")
    p.add_argument("--pruner", default=_D["pruner"], help=f"hyperband, median or none (default {_D['pruner']})")
    p.add_argument("--seed", type=int, default=_D["seed"], help=f"sampler and training seed (default {_D['seed']})")
    p.add_argument(
        "--storage",
        help="where the study is kept: an Optuna storage URL (sqlite:///PATH, "
        "postgresql://USER@HOST/DB) or journal:PATH (default: study.db in --out)",
    )
    p.add_argument("--study", help="study name (default actlab-DATASET-MODEL)")
    p.add_argument("--n-jobs", type=int, default=1, help="local worker processes, one thread each (default 1)")
    p.add_argument(
        "--pack",
        type=int,
        default=_D["pack"],
        help=f"trials asked together and trained as one packed model, "
        f"each as if alone (mlp only; default {_D['pack']})",
    )
    p.add_argument("--out", default="search-out", help="output folder (default search-out)")
    p.add_argument(
        "--top-k",
        type=int,
        default=_D["top_k"],
        help=f"configurations trained again and scored on test (default {_D['top_k']})",
    )
    p.add_argument(
        "--final-seeds",
        type=int,
        default=_D["final_seeds"],
        help=f"seeds of the final evaluation (default {_D['final_seeds']})",
    )
    g = p.add_argument_group("training of each trial")
    g.add_argument("--epochs", type=int, default=_D["epochs"], help=f"maximum epochs (default {_D['epochs']})")
    g.add_argument(
        "--patience", type=int, default=_D["patience"], help=f"plateau stop, 0 = none (default {_D['patience']})"
    )
    g.add_argument("--batch-size", type=int, default=_D["batch_size"], help=f"batch size (default {_D['batch_size']})")
    g.add_argument(
        "--optimizer", choices=list(OPTIMIZERS), default=_D["optimizer"], help=f"optimizer (default {_D['optimizer']})"
    )
    g.add_argument(
        "--lr", type=float, help="learning rate (default: the optimizer's own, 1e-3 for Adam as in Sipper's paper)"
    )
    g.add_argument("--limit", type=int, help=limit_help())
    g.add_argument(
        "--data-dir",
        help="where dataset files are looked for and downloaded to (default: $ACTLAB_DATA, else ~/.cache/actlab)",
    )
    g.add_argument("--target", help="target column of a csv: dataset")
    g.add_argument(
        "--threads",
        type=int,
        help="torch threads per training (default: torch's choice in this process, "
        "one in each --n-jobs worker; 0 = torch's choice)",
    )
    g.add_argument(
        "--heartbeat",
        type=float,
        default=_D["heartbeat"],
        help=f"seconds between the marks a running trial leaves in the study, by which other processes "
        f"tell a trial whose process died (default {_D['heartbeat']:g})",
    )
    p.add_argument("--force", action="store_true", help="write into an --out that holds another command's results")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_search)


def _config(args, dataset: str, limit: int | None = None):
    """The search's config for ``dataset``; ``limit``, when --limit is not given."""
    from actlab.studies.search import SearchConfig, candidates

    train = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        lr=args.lr,
        patience=args.patience or None,
        monitor="val_accuracy",
        threads=args.threads or None,
    )
    limit = args.limit if args.limit is not None else limit
    data_options = {
        k: v for k, v in {"limit": limit, "target": args.target, "data_dir": args.data_dir}.items() if v is not None
    }
    if args.model != "mlp" and (args.layers != _D["layers"] or args.width != _D["width"]):
        raise ActlabError(f"--layers and --width apply to the mlp model only, not {args.model!r}")
    return SearchConfig(
        dataset=dataset,
        model=args.model,
        layers=args.layers,
        width=args.width,
        candidates=candidates(args.candidates),
        search_output=args.search_output,
        trials=args.trials,
        sampler=args.sampler,
        pruner=args.pruner,
        seed=args.seed,
        train=train,
        data_options=data_options,
        top_k=args.top_k,
        final_seeds=args.final_seeds,
        heartbeat=args.heartbeat,
        pack=args.pack,
        surrogate=args.surrogate,
    )


def cmd_search(args) -> int:
    from actlab.studies.search.run import run_search

    if not args.out.strip():  # Path("") is the current folder; the suite writes OUT/<dataset>
        raise ActlabError("--out is empty; give the folder for the results, e.g. --out results")
    if args.suite:
        return _suite(args)
    config = _config(args, args.dataset)
    results = run_search(
        config,
        args.out,
        storage_url=args.storage,
        study_name=args.study,
        n_jobs=args.n_jobs,
        progress=not args.quiet,
        force=args.force,
    )
    write_search_report(results, args.out)
    print(format_final(results))
    print(f"results: {Path(args.out) / 'results.json'}\nreport:  {Path(args.out) / 'report.html'}")
    return 0


def _num(v) -> str:
    """A mean or spread as the tables print it (``n/a`` for none: one seed has no spread)."""
    return f"{v:.3f}" if finite(v) else "n/a"


def format_final(results) -> str:
    c = results["counts"]
    lines = [f"study {results['study']}: {c['done']} finished trials ({c['pruned']} pruned), {c['failed']} failed"]
    final = results.get("final") or {}
    for cfg in final.get("configs", []):
        plan = ", ".join(f"{k}={v}" for k, v in cfg["plan"].items())
        p = "" if cfg["name"] == "baseline" else f"  p={format_p(cfg['p_holm'])} {cfg['outcome']}"
        lines.append(f"{cfg['name']:<9} test {score_text(cfg)}  val {_num(cfg['val_accuracy'])}  [{plan}]{p}")
    if len(final.get("budgets") or ()) > 1:
        lines.append(
            f"final runs: {final['epochs']} epochs each (the budget doubled from {final['budgets'][0]} for "
            "every contender: a comparison had not converged)"
        )
    if any(c["outcome"] == NOT_CONVERGED for c in final.get("configs", [])):
        lines.append(final["convergence"])
    return "\n".join(lines)


def _suite(args) -> int:
    from actlab.data import available, load
    from actlab.studies.search.run import finished_results, longest, run_search

    todo = []  # (dataset, config, out, study, results of a search finished before, or None)
    for name in OFFLINE_SUITE:
        if not available(name, data_dir=args.data_dir):
            print(f"suite: {name} not present locally, skipped")
            continue
        config = _config(args, name, SUITE_LIMITS.get(name))
        out, study = Path(args.out) / name, f"{args.study or 'actlab-suite'}-{name}"
        todo.append((name, config, out, study, finished_results(config, out, study)))
    left = {
        name: longest(config, load(name, seed=config.data_seed, **config.data_options), args.n_jobs)
        for name, config, _, _, before in todo
        if before is None
    }
    before = len(todo) - len(left)
    print(
        f"suite: {len(todo)} dataset{'' if len(todo) == 1 else 's'}"
        + (f", {before} finished before" if before else "")
        + (
            f"; {'what is left' if before else 'the search'} takes at most about {duration(sum(left.values()))} on "
            f"this machine (every trial and final run for all {args.epochs} epochs at the speed of a ReLU epoch timed "
            "here; pruning and the plateau stop make it shorter)"
            if left
            else ""
        )
    )
    table = []
    for name, config, out, study, results in todo:
        if results is not None:
            print(f"suite: {name} finished before; its results are read from {out / 'results.json'}")
            if not (out / "report.html").exists():
                write_search_report(results, out)
        else:
            print(f"suite: searching {name} -> {out} (at most about {duration(left[name])})")
            results = run_search(
                config,
                out,
                storage_url=args.storage,
                study_name=study,
                n_jobs=args.n_jobs,
                progress=not args.quiet,
                force=args.force,
            )
            write_search_report(results, out)
        configs = (results.get("final") or {}).get("configs", [])
        best = next((c for c in configs if c["name"] == "top-1"), None)
        base = next((c for c in configs if c["name"] == "baseline"), None)
        table.append((name, base, best, (results.get("final") or {}).get("convergence")))
    print(f"\n{'dataset':<15} {'baseline':>16} {'à la carte (top-1)':>20} {'p (Holm)':>9}  outcome")
    wins = dict.fromkeys(OUTCOMES, 0)
    notes = []
    for name, base, best, note in table:
        if not best:
            continue
        wins[best["outcome"]] += 1
        notes += [note] if best["outcome"] == NOT_CONVERGED and note else []
        print(
            f"{name:<15} {score_text(base):>16} {score_text(best):>20} {format_p(best['p_holm']):>9}  {best['outcome']}"
        )
    late = f" ({wins[NOT_CONVERGED]} {NOT_CONVERGED})" if wins[NOT_CONVERGED] else ""
    print(f"win / tie / loss against the baseline: {wins['win']} / {wins['tie']} / {wins['loss']}{late}")
    if notes:
        print(notes[0])
    print(f"reports: {Path(args.out)}/<dataset>/report.html")
    return 0
