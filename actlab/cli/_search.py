"""``actlab search``: per-layer activation search with Optuna."""

from __future__ import annotations

from pathlib import Path

from actlab._errors import ActlabError
from actlab._progress import duration
from actlab.api._options import add_options, check_where
from actlab.api._search import OFFLINE_SUITE, STUDY, SUITE_LIMITS, config_from_args, format_final, run
from actlab.report.search import score_text, write_search_report
from actlab.stats import NOT_CONVERGED, OUTCOMES, format_p

DESCRIPTION = """\
Every layer's activation is a categorical hyper-parameter; Optuna maximises validation
accuracy. Then the top-k configurations and the ReLU baseline are trained alike with several
fresh seeds (best validation epoch kept) and scored on test. Kill it at any time and run the same
command again to resume; start it on several machines with one --storage to cooperate.

Examples:
  actlab search --dataset iris --layers 5 --candidates sipper48 --trials 100 --batch-size 8
  actlab search --dataset digits --workers 2 --storage journal:study.log
  actlab search --dataset wine --storage postgresql://me@dbhost/actlab --study wine-10
  actlab search --suite offline --trials 30"""


def add(p) -> None:
    p.description = DESCRIPTION
    add_options(p, STUDY)
    p.set_defaults(func=cmd_search)


def cmd_search(args) -> int:
    if not args.out.strip():  # Path("") is the current folder; the suite writes OUT/<dataset>
        raise ActlabError("--out is empty; give the folder for the results, e.g. --out results")
    check_where(args)
    if args.suite:
        return _suite(args)
    results = run(args, config_from_args(args), Path(args.out), args.study)
    print(format_final(results))
    print(f"results: {Path(args.out) / 'results.json'}\nreport:  {Path(args.out) / 'report.html'}")
    return 0


def _suite(args) -> int:
    todo, left = _suite_plan(args)
    before = len(todo) - len(left)
    epochs = todo[0][1].train.epochs if todo else 0
    print(
        f"suite: {len(todo)} dataset{'' if len(todo) == 1 else 's'}"
        + (f", {before} finished before" if before else "")
        + (
            f"; {'what is left' if before else 'the search'} takes at most about {duration(sum(left.values()))} on "
            f"this machine (every trial and final run for all {epochs} epochs at the speed of a ReLU epoch timed "
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
            results = run(args, config, out, study)
        final = results.get("final") or {}
        best = next((c for c in final.get("configs", []) if c["name"] == "top-1"), None)
        base = next((c for c in final.get("configs", []) if c["name"] == "baseline"), None)
        table.append((name, base, best, final.get("convergence")))
    print(_suite_table(table))
    print(f"reports: {Path(args.out)}/<dataset>/report.html")
    return 0


def _suite_plan(args) -> tuple[list[tuple], dict[str, float]]:
    """The suite's datasets present here, each ``(name, config, out, study, results of a search
    finished before or None)``, and the longest each unfinished one may take (seconds)."""
    from actlab.data import available, load
    from actlab.studies.search.run import finished_results, longest

    todo = []
    for name in OFFLINE_SUITE:
        if not available(name, data_dir=args.data_dir):
            print(f"suite: {name} not present locally, skipped")
            continue
        config = config_from_args(args, name, SUITE_LIMITS.get(name))
        out, study = Path(args.out) / name, f"{args.study or 'actlab-suite'}-{name}"
        todo.append((name, config, out, study, finished_results(config, out, study)))
    left = {
        name: longest(config, load(name, seed=config.data_seed, **config.data_options), args.workers)
        for name, config, _, _, before in todo
        if before is None
    }
    return todo, left


def _suite_table(table: list[tuple]) -> str:
    """The win/tie/loss table of the suite: ``(dataset, baseline, top-1, convergence note)`` rows."""
    lines = [f"\n{'dataset':<15} {'baseline':>16} {'à la carte (top-1)':>20} {'p (Holm)':>9}  outcome"]
    wins = dict.fromkeys(OUTCOMES, 0)
    notes = []
    for name, base, best, note in table:
        if not best:
            continue
        wins[best["outcome"]] += 1
        notes += [note] if best["outcome"] == NOT_CONVERGED and note else []
        lines.append(
            f"{name:<15} {score_text(base):>16} {score_text(best):>20} {format_p(best['p_holm']):>9}  {best['outcome']}"
        )
    late = f" ({wins[NOT_CONVERGED]} {NOT_CONVERGED})" if wins[NOT_CONVERGED] else ""
    lines.append(f"win / tie / loss against the baseline: {wins['win']} / {wins['tie']} / {wins['loss']}{late}")
    return "\n".join(lines + notes[:1])


__all__ = ["STUDY", "add", "cmd_search"]
