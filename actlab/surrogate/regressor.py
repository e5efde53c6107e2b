"""The surrogate: a regressor fit on the features (:mod:`actlab.surrogate.features`) of functions
already trained, which predicts the validation accuracy of the others.

The regressor, chosen by measurement (``benchmarks/surrogate.py``, 92 functions on MNIST-1D and
digits, ``benchmarks/RESULTS.md``): extremely randomised trees (200, scikit-learn) on an
embedding of the features (each block standardised, reduced to 8 principal components and
weighed alike; fit on the trained and the untrained functions together, as AQuaSurF fits its
UMAP), the uncertainty being the spread of the trees. They ranked best leave-one-out (Spearman
0.90 and 0.86) and stayed best or close when fit on the 8 usual functions alone (0.60, 0.75),
where AQuaSurF's 3 nearest neighbours fell to 0.44 and 0.34; a Gaussian process, a random
forest, Bayesian ridge and the k nearest neighbours remain available (``regressor=``). UMAP was
not needed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from actlab._errors import ActlabError
from actlab._io import finite
from actlab.execution import load_data
from actlab.surrogate.features import BLOCKS, Task, block_values, feature_path, load_or_compute, small_linear_algebra

REGRESSORS = ("trees", "forest", "gp", "knn", "ridge")
DEFAULT_REGRESSOR = "trees"
COMPONENTS = 8  # principal components kept per feature block


class _Embedding:
    """Each block standardised (per column), reduced to its first principal components and scaled
    to unit total variance, so that every block weighs alike; the blocks side by side."""

    def __init__(self, blocks: Sequence[str], components: int = COMPONENTS):
        self.blocks, self.components = tuple(blocks), components

    def fit(self, rows: Sequence[Mapping[str, Any]]) -> _Embedding:
        from sklearn.decomposition import PCA

        self.parts = []
        for b in self.blocks:
            x = np.array([block_values(r, b) for r in rows], dtype=float)
            mu, sd = x.mean(0), x.std(0)
            sd[sd < 1e-12] = 1.0
            z = (x - mu) / sd
            k = max(1, min(self.components, len(rows) - 1, z.shape[1]))
            pca = PCA(n_components=k, svd_solver="full").fit(z) if len(rows) > 1 else None
            scale = math.sqrt(float(pca.explained_variance_.sum())) if pca is not None else 1.0
            self.parts.append((b, mu, sd, pca, scale if scale > 1e-12 else 1.0))
        return self

    def transform(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        cols = []
        for b, mu, sd, pca, scale in self.parts:
            z = (np.array([block_values(r, b) for r in rows], dtype=float) - mu) / sd
            cols.append((pca.transform(z) if pca is not None else np.zeros((len(rows), 1))) / scale)
        return np.concatenate(cols, 1)


def _regressor(name: str, n: int):
    """A scikit-learn regressor of ``name`` for ``n`` training points, seeded."""
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
    from sklearn.linear_model import BayesianRidge
    from sklearn.neighbors import KNeighborsRegressor

    if name == "knn":
        return KNeighborsRegressor(n_neighbors=min(3, n))
    if name == "trees":
        return ExtraTreesRegressor(n_estimators=200, random_state=0)
    if name == "forest":
        return RandomForestRegressor(n_estimators=200, random_state=0)
    if name == "ridge":
        return BayesianRidge()
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(1.0, (1e-2, 1e3)) + WhiteKernel(1e-2, (1e-6, 1e1))
    return GaussianProcessRegressor(kernel, normalize_y=True, random_state=0, n_restarts_optimizer=2)


def _predict(model, name: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread: the GP's and Bayesian ridge's standard deviation, the spread of the
    trees' predictions, the spread of the k nearest neighbours' accuracies."""
    if name in ("gp", "ridge"):
        mean, std = model.predict(x, return_std=True)
    elif name in ("trees", "forest"):
        per = np.stack([t.predict(x) for t in model.estimators_])
        mean, std = per.mean(0), per.std(0)
    else:
        idx = model.kneighbors(x, return_distance=False)
        mean, std = model.predict(x), y[idx].std(1)
    return np.asarray(mean, float), np.asarray(std, float)


class Surrogate:
    """Predicts the validation accuracy of activation functions on a :class:`Task` from their
    features, once fit on functions already trained.

    Args:
        task: the dataset, model and seeds the functions are ranked for.
        data: the task's data, already loaded (default: loaded on first use).
        folder: keep each function's features there as JSON (computed once, even across runs).
        regressor: one of :data:`REGRESSORS` (see the module docstring for the default).
        blocks: the feature blocks used (default: all of :data:`BLOCKS`).

    Example::

        >>> s = Surrogate(Task("iris"))
        >>> s.fit(["relu", "tanh", "sigmoid", "elu"], [0.93, 0.90, 0.70, 0.92])  # doctest: +SKIP
        >>> mean, std = s.predict(["gelu", "softsign"])  # doctest: +SKIP
    """

    def __init__(
        self,
        task: Task | None = None,
        data=None,
        folder: str | Path | None = None,
        regressor: str = DEFAULT_REGRESSOR,
        blocks: Sequence[str] | None = None,
    ):
        if regressor not in REGRESSORS:
            raise ActlabError(f"unknown surrogate regressor {regressor!r}; choose one of: {', '.join(REGRESSORS)}")
        self.task = task or Task()
        self.blocks = tuple(blocks or BLOCKS)
        unknown = [b for b in self.blocks if b not in BLOCKS]
        if unknown:
            raise ActlabError(f"unknown feature block {unknown[0]!r}; choose among: {', '.join(BLOCKS)}")
        self.regressor, self._data = regressor, data
        self.folder = Path(folder) if folder is not None else None
        self._cache: dict[str, dict[str, Any]] = {}
        self._fit: tuple[Any, ...] | None = None

    @property
    def data(self):
        if self._data is None:
            t = self.task
            self._data = load_data({"dataset": t.dataset, "data_seed": t.data_seed, "data_options": t.data_options})
        return self._data

    # ------------------------------------------------------------------------ features
    def features(self, spec: str) -> dict[str, Any]:
        """The features of ``spec`` (:mod:`actlab.surrogate.features`): from memory, from
        ``folder``, or computed (and then kept in both). A spec the catalogue does not know is
        refused in one line; one that cannot run in the task's model gets ``ok`` False."""
        if not isinstance(spec, str):
            raise ActlabError(f"a function to rank is a spec string such as 'relu', got {type(spec).__name__}")
        if spec not in self._cache:
            path = feature_path(self.folder, self.task, spec) if self.folder is not None else None
            self._cache[spec] = load_or_compute(spec, self.task, self.data, path)
        return self._cache[spec]

    def ok(self, spec: str) -> bool:
        """Whether ``spec`` runs in the task's model."""
        return bool(self.features(spec)["ok"])

    # ------------------------------------------------------------------------- fitting
    def fit(self, specs: Sequence[str], accuracies: Sequence[float], pool: Iterable[str] = ()) -> Surrogate:
        """Fit on trained functions and their validation accuracies. The embedding (unsupervised)
        is fit on ``specs`` and the untrained ``pool`` together, as AQuaSurF's; functions that
        cannot run in the model are left out of both."""
        specs, accs = list(specs), [float(a) if finite(a) else math.nan for a in accuracies]
        if len(specs) != len(accs):
            raise ActlabError(f"{len(specs)} functions but {len(accs)} accuracies; give one accuracy per function")
        keep = [i for i, s in enumerate(specs) if self.ok(s) and math.isfinite(accs[i])]
        if len(keep) < 2:
            raise ActlabError("the surrogate needs at least 2 trained functions that run in the model; train more")
        train = [specs[i] for i in keep]
        y = np.array([accs[i] for i in keep])
        rows = [self.features(s) for s in dict.fromkeys([*train, *pool]) if self.ok(s)]
        with small_linear_algebra():
            emb = _Embedding(self.blocks).fit(rows)
            x = emb.transform([self.features(s) for s in train])
            model = _regressor(self.regressor, len(train))
            model.fit(x, y)
        self._fit = (emb, model, y)
        return self

    def predict(self, specs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Predicted validation accuracy of each spec and its uncertainty (``mean``, ``std``);
        0 and 0 for a function that cannot run in the model."""
        if self._fit is None:
            raise ActlabError("the surrogate is not fit yet; call fit(specs, accuracies) with trained functions first")
        emb, model, y = self._fit
        specs = list(specs)
        mean, std = np.zeros(len(specs)), np.zeros(len(specs))
        run = [i for i, s in enumerate(specs) if self.ok(s)]
        if run:
            with small_linear_algebra():
                m, s = _predict(model, self.regressor, emb.transform([self.features(specs[i]) for i in run]), y)
            mean[run], std[run] = np.clip(m, 0.0, 1.0), np.nan_to_num(s, nan=0.0)
        return mean, std

    def leave_one_out(self, specs: Sequence[str], accuracies: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """For every function, its prediction by a surrogate fit on all the others (the
        embedding on all of them: it sees no accuracy)."""
        specs, accs = list(specs), list(accuracies)
        mean, std = np.zeros(len(specs)), np.zeros(len(specs))
        for i in range(len(specs)):
            rest = specs[:i] + specs[i + 1 :]
            self.fit(rest, accs[:i] + accs[i + 1 :], pool=[specs[i]])
            m, s = self.predict([specs[i]])
            mean[i], std[i] = m[0], s[0]
        return mean, std

    def embedding(self, specs: Sequence[str]) -> np.ndarray:
        """Two principal components of the fitted embedding for ``specs`` (a map for reports;
        zeros for functions that cannot run in the model)."""
        if self._fit is None:
            raise ActlabError("the surrogate is not fit yet; call fit(specs, accuracies) first")
        from sklearn.decomposition import PCA

        emb = self._fit[0]
        run = [s for s in specs if self.ok(s)]
        out = np.zeros((len(specs), 2))
        if len(run) >= 2:
            with small_linear_algebra():
                z = emb.transform([self.features(s) for s in run])
                k = min(2, z.shape[1], len(run))
                xy = PCA(n_components=k, svd_solver="full").fit_transform(z)
            idx = [i for i, s in enumerate(specs) if self.ok(s)]
            out[np.ix_(idx, range(k))] = xy
        return out
