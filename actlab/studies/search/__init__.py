"""Per-layer "à la carte" activation search with Optuna (Sipper 2021, done right).

Every activation slot of the model is a categorical hyper-parameter ``act_<slot>``. A trial
trains the model with actlab's one trainer and returns the best **validation** accuracy; the
test split is never looked at during the search. The output slot is identity (logits into the
loss, which applies softmax once) unless ``search_output`` adds it to the space.

After the search, the top-k configurations and the baseline (ReLU in every hidden slot, logits
into cross-entropy) are trained alike with ``final_seeds`` fresh seeds on the training split for
the search's full epoch budget, the weights of the best validation-loss epoch are scored on test,
and each configuration is tested against the baseline; where a side had not converged, all of
them train again with the budget doubled, up to ``actlab.stats.EXTEND`` times (:mod:`actlab.studies.search.final`).

Many workers, processes or machines, can run :func:`work` on one study; see
:mod:`actlab.studies.search.study` for the heartbeat, stale-trial retry and exact-budget rules.

Modules: :mod:`.config` (the candidates and the settings), :mod:`.space` (Optuna's sampler and
pruner, a trial's plan), :mod:`.study` (storages and many workers on one study), :mod:`.trials`
(a worker), :mod:`.final` (the final evaluation) and :mod:`.run` (a whole search). This file
only re-exports.
"""

from actlab.studies.search.config import BASELINE, PRUNERS, SAMPLERS, SearchConfig, candidates
from actlab.studies.search.space import baseline_plan, make_pruner, make_sampler, plan_of, suggest
from actlab.studies.search.trials import best_so_far, describe, work

__all__ = [
    "BASELINE",
    "PRUNERS",
    "SAMPLERS",
    "SearchConfig",
    "baseline_plan",
    "best_so_far",
    "candidates",
    "describe",
    "make_pruner",
    "make_sampler",
    "plan_of",
    "suggest",
    "work",
]
