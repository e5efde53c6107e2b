"""The studies: :mod:`~actlab.studies.compare` (activation functions over seeds),
:mod:`~actlab.studies.search` (the best function per layer, with Optuna),
:mod:`~actlab.studies.evolve` (new functions by genetic programming) and
:mod:`~actlab.studies.screen` (rank functions with the surrogate, train the top predicted).
Each hands its trainings to the runner (:mod:`actlab.execution`) and returns its results; the
reports and the command line sit above."""
