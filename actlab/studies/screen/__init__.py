"""Screen activation functions: rank every candidate without training it, train only the
promising ones (AQuaSurF's loop, Bingham & Miikkulainen 2023, on actlab's surrogate).

``run_screen(config, out)``:

1. the features of every candidate on the task (:mod:`actlab.surrogate.features`; a second or so for the
   whole catalogue), kept in ``out/features``; a candidate that cannot run in the model is set
   aside with the reason;
2. the eight usual functions (elu, relu, selu, sigmoid, softplus, softsign, swish, tanh) are
   trained, ``seeds`` seeds each, and the surrogate is fit on their validation accuracy;
3. ``train_top`` times, ``per_round`` at a time, the untrained candidates predicted best are
   trained and the surrogate fit again; each prediction is recorded before its training;
4. ``train_random`` candidates drawn at random (seeded) among the rest are predicted, then
   trained: the top picks are predicted high by construction, so the random ones are the fair
   sample for the rank correlation of predicted and real accuracy;
5. the surrogate fit on everything trained ranks every candidate (real accuracy where trained,
   prediction elsewhere); its leave-one-out rank correlation over the trained functions is given
   too.

A function's score is its validation accuracy: the best epoch's, averaged over the seeds (0 for a
run that diverged before its first validation), as search scores a trial. Every training is a
runner unit (:mod:`actlab.execution.runner`), written to ``out/units/<function>__seed<k>.json``; since every
choice depends only on finished trainings, a killed screen resumes with nothing lost and makes
the same choices again.

Modules: :mod:`.config` (the candidates and :class:`ScreenConfig`), :mod:`.trainings` (training
and scoring a function), :mod:`.run` (:func:`run_screen`) and :mod:`.results` (the ranking, the
correlations and the table). This file only re-exports.
"""

from actlab.studies.screen.config import ScreenConfig, candidates, catalogue_names, usual
from actlab.studies.screen.results import FORMAT_RESULTS, ROLES, format_table, summarise
from actlab.studies.screen.run import run_screen
from actlab.studies.screen.trainings import Trainings

__all__ = [
    "FORMAT_RESULTS",
    "ROLES",
    "ScreenConfig",
    "Trainings",
    "candidates",
    "catalogue_names",
    "format_table",
    "run_screen",
    "summarise",
    "usual",
]
