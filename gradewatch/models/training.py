"""Train, select and apply the final-grade model.

One scikit-learn Pipeline: a ColumnTransformer (median imputation, scaling for the linear
model, one-hot categories with unknown and missing values tolerated) and then a regressor.
Candidates: Ridge, HistGradientBoosting and RandomForest, each with a small randomized search;
the configuration with the lowest cross-validated MAE wins and is refitted on all rows.

Uncertainty comes from the out-of-fold residuals of the winning configuration (K-fold
cross-conformal, "CV residuals"): the 90% interval is the prediction plus the conformal
order statistics of the signed residuals (floor((n+1)a/2)-th and ceil((n+1)(1-a/2))-th), and
the probability of finishing below the pass mark is the share of those same residuals below
``pass_mark - prediction``. Signed rather than absolute residuals, because grades clipped at
0 and 100 make errors asymmetric. The final model is refitted on all rows, so its errors are,
if anything, a little smaller than the out-of-fold ones: the intervals err on the wide side.

Speed (100k rows in well under 60 s on 2 cores): the search runs on a seeded subsample of at
most ``search_rows`` rows with half-size forests, each random-forest tree sees at most
``rf_max_samples_rows`` bootstrap rows, tree depth is bounded (which also bounds the cost of
predicting a million rows), and only the winner is fitted on everything.

Selection uses MAE by default (``SearchConfig.selection_metric``); the probability and the
interval come from the same residuals, so they agree: a pass mark below the interval's lower
bound has a probability of at most 5%.
"""

from __future__ import annotations

import math
import pickle
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from scipy.stats import loguniform, randint
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, ParameterSampler, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from gradewatch.models.baselines import PREVIOUS, baseline_errors
from gradewatch.models.features import DEFAULT_FEATURE_SPEC, FeatureSpec
from gradewatch.monitoring.drift import build_profile
from gradewatch.plain import plain
from gradewatch.quality.reference import CleaningReference, fit_reference

CLEANING_PROFILE_KEY = "cleaning"  # the cleaning reference, stored in a version's profile

ARTIFACT_MAGIC = b"GRADEWATCH-MODEL-1\n"
PREDICTION_COLUMNS = (
    "predicted_grade", "interval_lower", "interval_upper", "probability_below_pass", "at_risk",
)
FAMILIES = ("ridge", "hist_gradient_boosting", "random_forest")
PREDICTED = "predicted_grade"  # the loss model's extra input
# Shallow, regularised boosting: the absolute error is mostly noise, and the loss model must
# not chase it (NannyML's DLE uses LightGBM the same way).
LOSS_MODEL_PARAMS = {"learning_rate": 0.05, "max_iter": 150, "max_leaf_nodes": 7, "min_samples_leaf": 50,
                     "l2_regularization": 1.0}

# Modest search spaces: the data have a handful of features, so depth and regularisation
# matter more than anything exotic.
SEARCH_SPACES: dict[str, dict[str, Any]] = {
    "ridge": {"alpha": loguniform(1e-2, 1e3)},
    "hist_gradient_boosting": {
        # Few, strong trees: prediction cost grows with the number of trees (1M rows/5 s).
        "learning_rate": loguniform(0.05, 0.3),
        "max_iter": randint(50, 151),
        "max_leaf_nodes": [7, 15, 31],
        "min_samples_leaf": [5, 10, 20, 40],
        "l2_regularization": loguniform(1e-3, 10),
    },
    "random_forest": {
        "max_features": [1.0, 0.6, 0.33],
        "min_samples_leaf": [1, 2, 4, 8, 16],
        # Bounded depth bounds the prediction cost too (no unbounded trees on 100k rows).
        "max_depth": [8, 12, 16, 20],
    },
}


class ModelInputError(ValueError):
    """Rows that a model cannot score (a feature column is missing); the message says which."""


class ArtifactError(ValueError):
    """Bytes that are not a readable GradeWatch model artifact."""


@dataclass(frozen=True)
class SearchConfig:
    families: tuple[str, ...] = FAMILIES
    n_iter: int = 4  # random configurations per family
    cv: int = 5
    search_rows: int = 20_000
    rf_trees: int = 100  # the final forest
    rf_search_trees: int = 50  # enough to rank configurations, at half the cost
    rf_max_samples_rows: int = 20_000
    coverage: float = 0.9
    selection_metric: str = "mae"  # "mae" (the product's) or "rmse" (the paper's yardstick)
    n_jobs: int | None = -1  # random-forest trees (joblib threads)
    # HistGradientBoosting's OpenMP threads spin while they wait: on a busy 2-core server one
    # search ran 40x slower with 2 threads than with 1, so training uses 1 by default.
    openmp_threads: int | None = 1

    def __post_init__(self) -> None:
        unknown = set(self.families) - set(FAMILIES)
        if unknown or not self.families:
            raise ValueError(f"families must be among {FAMILIES}, got {self.families}")
        if self.selection_metric not in ("mae", "rmse"):
            raise ValueError(f"selection_metric must be 'mae' or 'rmse', got {self.selection_metric!r}")
        if not 0 < self.coverage < 1:
            raise ValueError(f"coverage must be between 0 and 1, got {self.coverage}")


def _preprocessor(spec: FeatureSpec, *, scale: bool) -> ColumnTransformer:
    numeric = [("impute", SimpleImputer(strategy="median"))]
    if scale:
        numeric.append(("scale", StandardScaler()))
    return ColumnTransformer(
        [
            ("numeric", Pipeline(numeric), list(spec.numeric)),
            # Missing categories become their own category; unseen ones encode as all zeros.
            ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
             list(spec.categorical)),
        ],
        verbose_feature_names_out=False,
    )


def build_pipeline(
    family: str, params: dict[str, Any], spec: FeatureSpec, *, n_rows: int,
    config: SearchConfig = SearchConfig(), seed: int = 0, trees: int | None = None,
) -> Pipeline:
    """The pipeline of one candidate ``family`` with hyper-parameters ``params``."""
    if family == "ridge":
        regressor: Any = Ridge(**params)
    elif family == "hist_gradient_boosting":
        regressor = HistGradientBoostingRegressor(random_state=seed, **params)
    elif family == "random_forest":
        share = min(1.0, config.rf_max_samples_rows / max(n_rows, 1))
        regressor = RandomForestRegressor(
            n_estimators=trees or config.rf_trees, max_samples=share if share < 1 else None,
            n_jobs=config.n_jobs, random_state=seed, **params,
        )
    else:
        raise ValueError(f"unknown model family {family!r}; expected one of {FAMILIES}")
    return Pipeline(
        [("features", _preprocessor(spec, scale=family == "ridge")), ("regressor", regressor)]
    )


def prepare_features(frame: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """The feature columns of ``frame`` with the dtypes the pipeline expects.

    Numbers become float64 (nullable integers' NA becomes NaN); categories become strings
    with NaN for missing, because the encoder treats None and NaN differently.
    """
    missing = [c for c in spec.columns if c not in frame.columns]
    if missing:
        raise ModelInputError(f"missing feature columns: {', '.join(missing)}")
    columns: dict[str, Any] = {}
    for name in spec.numeric:
        columns[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64").to_numpy()
    for name in spec.categorical:
        values = frame[name]
        present = values.notna().to_numpy()
        text = values.astype(str).to_numpy(dtype=object)
        text[~present] = np.nan
        columns[name] = text
    return pd.DataFrame(columns, index=frame.index)


def cleaning_reference_of(profile: Mapping[str, Any] | None) -> CleaningReference | None:
    """The cleaning reference stored in a model's reference profile, if it has one."""
    stored = (profile or {}).get(CLEANING_PROFILE_KEY)
    return CleaningReference.from_dict(stored) if stored is not None else None


def conformal_offsets(sorted_residuals: np.ndarray, coverage: float) -> tuple[float, float]:
    """Split-conformal order statistics of signed residuals for a ``coverage`` interval."""
    n = sorted_residuals.size
    alpha = 1 - coverage
    # The epsilon keeps 1 - 0.9 = 0.0999... from moving an order statistic by one.
    k_low = math.floor((n + 1) * alpha / 2 + 1e-9)
    k_high = math.ceil((n + 1) * (1 - alpha / 2) - 1e-9)
    low = float(sorted_residuals[k_low - 1]) if k_low >= 1 else -math.inf
    high = float(sorted_residuals[k_high - 1]) if k_high <= n else math.inf
    return low, high


@dataclass
class TrainedModel:
    pipeline: Pipeline
    feature_spec: FeatureSpec
    target: str
    algorithm: str
    parameters: dict[str, Any]
    residuals: np.ndarray  # sorted out-of-fold residuals (truth - clipped prediction)
    coverage: float
    metrics: dict[str, Any]
    reference_profile: dict[str, Any]
    trained_at: str
    library_versions: dict[str, str] = field(default_factory=dict)
    # Direct loss estimation: a model of this model's absolute out-of-fold error from the
    # indicators and the prediction (None for models trained before it existed).
    loss_model: Pipeline | None = None

    def expected_absolute_errors(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Each row's expected absolute error, before its grade is known (None: no loss model)."""
        if self.loss_model is None:
            return None
        inputs = prepare_features(frame, self.feature_spec).assign(**{PREDICTED: self.predict_grades(frame)})
        return np.clip(self.loss_model.predict(inputs), 0, None)

    @property
    def interval_offsets(self) -> tuple[float, float]:
        return conformal_offsets(self.residuals, self.coverage)

    def predict_grades(self, frame: pd.DataFrame) -> np.ndarray:
        """Point predictions clipped to the target range."""
        low, high = self.feature_spec.target_range
        raw = self.pipeline.predict(prepare_features(frame, self.feature_spec))
        return np.clip(raw, low, high)

    def predict(
        self, frame: pd.DataFrame, pass_mark: float = 60.0, *, risk_threshold: float = 0.5
    ) -> pd.DataFrame:
        """Grade, 90% interval, probability below ``pass_mark`` and at-risk flag per row.

        ``at_risk`` is ``probability_below_pass >= risk_threshold``; lower the threshold to
        trade precision for recall (catch more students who will fail).
        """
        low, high = self.feature_spec.target_range
        predicted = self.predict_grades(frame)
        off_low, off_high = self.interval_offsets
        if pass_mark <= low:
            probability = np.zeros(predicted.size)
        elif pass_mark > high:
            probability = np.ones(predicted.size)
        else:
            below = np.searchsorted(self.residuals, pass_mark - predicted, side="left")
            probability = below / self.residuals.size
        return pd.DataFrame(
            {
                "predicted_grade": predicted,
                "interval_lower": np.clip(predicted + off_low, low, high),
                "interval_upper": np.clip(predicted + off_high, low, high),
                "probability_below_pass": probability,
                "at_risk": probability >= risk_threshold,
            },
            index=frame.index,
        )

    def __getstate__(self) -> dict[str, Any]:
        # The drift profile lives in model_versions.reference_profile, not in the artifact: it
        # also describes audit-only indicators (gender), which the artifact must not carry.
        return {**self.__dict__, "reference_profile": {}}

    def to_bytes(self) -> bytes:
        payload = pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)
        return ARTIFACT_MAGIC + zlib.compress(payload, level=3)

    @staticmethod
    def from_bytes(data: bytes) -> TrainedModel:
        """Rebuild a model from :meth:`to_bytes`. Only call it on bytes whose sha256 matched
        the registry's record: unpickling runs code, so the bytes must be our own."""
        if not data.startswith(ARTIFACT_MAGIC):
            raise ArtifactError("not a GradeWatch model artifact (bad header)")
        try:
            model = pickle.loads(zlib.decompress(data[len(ARTIFACT_MAGIC):]))  # noqa: S301
        except Exception as exc:  # zlib, pickle and import errors all mean "unusable"
            raise ArtifactError(f"the model artifact cannot be read: {type(exc).__name__}") from exc
        if not isinstance(model, TrainedModel):
            raise ArtifactError("the artifact does not hold a GradeWatch model")
        return model


def _training_rows(frame: pd.DataFrame, target: str, spec: FeatureSpec) -> tuple[pd.DataFrame, np.ndarray]:
    if target not in frame.columns:
        raise ModelInputError(f"missing target column {target!r}")
    y = pd.to_numeric(frame[target], errors="coerce").astype("float64").to_numpy()
    graded = np.isfinite(y)
    features = prepare_features(frame.loc[graded], spec)
    return features, y[graded]


def _folds(config: SearchConfig, seed: int) -> KFold:
    """The cross-validation folds; the naive baselines are scored on these same folds."""
    return KFold(n_splits=config.cv, shuffle=True, random_state=seed)


def _search(
    X: pd.DataFrame, y: np.ndarray, spec: FeatureSpec, config: SearchConfig, seed: int
) -> tuple[str, dict[str, Any], np.ndarray, list[dict[str, Any]]]:
    """Randomized search by cross-validated MAE (or RMSE); returns the winner and its OOF
    predictions."""
    low, high = spec.target_range
    folds = _folds(config, seed)
    best: tuple[float, str, dict[str, Any], np.ndarray] | None = None
    board: list[dict[str, Any]] = []
    for family in config.families:
        sampler = ParameterSampler(SEARCH_SPACES[family], n_iter=config.n_iter, random_state=seed)
        for raw_params in sampler:
            params = {k: plain(v) for k, v in raw_params.items()}
            # Each search tree sees as many rows as a final tree: min(rows, rf_max_samples_rows).
            pipeline = build_pipeline(family, params, spec, n_rows=y.size, config=config, seed=seed,
                                      trees=config.rf_search_trees)
            oof = np.clip(cross_val_predict(pipeline, X, y, cv=folds), low, high)
            mae = float(np.mean(np.abs(y - oof)))
            rmse = float(np.sqrt(np.mean((y - oof) ** 2)))
            board.append({"algorithm": family, "parameters": params, "cv_mae": mae, "cv_rmse": rmse})
            score = rmse if config.selection_metric == "rmse" else mae
            if best is None or score < best[0]:
                best = (score, family, params, oof)
    assert best is not None
    board.sort(key=lambda row: row[f"cv_{config.selection_metric}"])
    return best[1], best[2], best[3], board


def train_model(
    frame: pd.DataFrame,
    feature_spec: FeatureSpec = DEFAULT_FEATURE_SPEC,
    target: str = "final_grade",
    *,
    seed: int = 0,
    config: SearchConfig = SearchConfig(),
    profile_spec: FeatureSpec | None = None,
) -> TrainedModel:
    """Select, fit and calibrate a model on the rows of ``frame`` that have ``target``.

    ``profile_spec`` (default: ``feature_spec``) lists the columns of the drift reference
    profile, which may include audit-only indicators the model does not read.
    """
    with threadpool_limits(limits=config.openmp_threads, user_api="openmp"):
        return _train(frame, feature_spec, target, seed, config, profile_spec or feature_spec)


def _fit_loss_model(
    X: pd.DataFrame, oof: np.ndarray, y: np.ndarray, spec: FeatureSpec, config: SearchConfig, seed: int
) -> Pipeline:
    """Fit the direct-loss-estimation model: |out-of-fold error| from indicators and prediction."""
    loss_spec = FeatureSpec((*spec.numeric, PREDICTED), spec.categorical, spec.target_range)
    loss_model = build_pipeline("hist_gradient_boosting", LOSS_MODEL_PARAMS, loss_spec, n_rows=y.size,
                                config=config, seed=seed)
    return loss_model.fit(X.assign(**{PREDICTED: oof}), np.abs(y - oof))


def _train(
    frame: pd.DataFrame, feature_spec: FeatureSpec, target: str, seed: int, config: SearchConfig,
    profile_spec: FeatureSpec,
) -> TrainedModel:
    started = time.perf_counter()
    X, y = _training_rows(frame, target, feature_spec)
    if y.size < max(2 * config.cv, 20):
        raise ModelInputError(f"too few graded rows to train on: {y.size}")
    rng = np.random.default_rng(seed)
    search_index = (
        np.sort(rng.choice(y.size, size=config.search_rows, replace=False))
        if y.size > config.search_rows else np.arange(y.size)
    )
    X_search, y_search = X.iloc[search_index], y[search_index]
    family, params, oof, board = _search(X_search, y_search, feature_spec, config, seed)
    search_seconds = time.perf_counter() - started
    pipeline = build_pipeline(family, params, feature_spec, n_rows=y.size, config=config, seed=seed)
    pipeline.fit(X, y)
    residuals = np.sort(y_search - oof)
    errors = y_search - oof
    total = float(np.sum((y_search - y_search.mean()) ** 2))
    off_low, off_high = conformal_offsets(residuals, config.coverage)
    metrics = {
        "algorithm": family,
        "cv_mae": float(np.mean(np.abs(errors))),
        "cv_rmse": float(np.sqrt(np.mean(errors**2))),
        "cv_r2": float(1 - np.sum(errors**2) / total) if total > 0 else None,
        "interval_offsets": [off_low, off_high],
        "coverage_nominal": config.coverage,
        "n_train": int(y.size),
        "n_search": int(y_search.size),
        "cv_folds": config.cv,
        "search_seconds": round(search_seconds, 3),
        "train_seconds": round(time.perf_counter() - started, 3),
        "leaderboard": board[:10],
        # The spread of one student's absolute error: the label-free estimate's interval.
        "cv_abs_error_sd": float(np.std(np.abs(errors), ddof=1)),
        "baselines": baseline_errors(
            y_search,
            X_search[PREVIOUS].to_numpy(dtype="float64") if PREVIOUS in X_search.columns else None,
            _folds(config, seed).split(X_search), feature_spec.target_range,
        ),
    }
    return TrainedModel(
        pipeline=pipeline,
        feature_spec=feature_spec,
        target=target,
        algorithm=family,
        parameters=params,
        residuals=residuals,
        coverage=config.coverage,
        metrics=metrics,
        # The cleaning reference travels with the model, so that every path that scores with it
        # (the batch pipeline, POST /predict) imputes against the same training statistics.
        reference_profile={**build_profile(frame, profile_spec, seed=seed),
                           CLEANING_PROFILE_KEY: fit_reference(frame).to_dict()},
        trained_at=datetime.now(UTC).isoformat(),
        library_versions={"scikit-learn": sklearn.__version__, "numpy": np.__version__},
        loss_model=_fit_loss_model(X_search, oof, y_search, feature_spec, config, seed),
    )
