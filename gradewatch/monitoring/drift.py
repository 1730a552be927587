"""Data drift between a reference (what the model was trained on) and a current semester.

Per feature, chosen by type and sample size:

* numeric: two-sample Kolmogorov-Smirnov test (scipy picks the exact distribution for small
  samples, the asymptotic one for large); effect size = Wasserstein distance divided by the
  reference standard deviation (0.5 means "moved by half a standard deviation");
* categorical: chi-square test of homogeneity on the category counts, with categories whose
  expected count is below 5 pooled together so the test stays valid at small n; effect size =
  total variation distance (0.15 means "15 points of the students moved between categories");
* fewer than ``min_rows`` values on either side: no test (method ``insufficient_data``).

A feature drifts when BOTH its p-value is below ``alpha / number of features`` (Bonferroni, so
the dataset-level false-alarm rate stays below ``alpha`` at small n, where effect sizes are
noisy) AND its effect size reaches the threshold (so that at large n, where every p-value is
tiny, a difference too small to matter raises no alarm: the known failure of plain KS).
The dataset drifts when any feature drifts.

PSI (population stability index) is reported for every feature with the usual bands
(< 0.1 stable, 0.1 to 0.25 moderate, >= 0.25 major). It is informative only: PSI is biased
upwards at small n (about bins/n), so it does not take part in the decision.

The reference is a JSON-serialisable *profile* (a seeded sample of each numeric feature, its
decile bins and shares, the category counts), stored with each model version, so drift is
measured against what the champion was trained on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from gradewatch.models.features import DEFAULT_FEATURE_SPEC, FeatureSpec
from gradewatch.plain import plain

PROFILE_FORMAT = 1
PSI_FLOOR = 1e-4  # share given to an empty bin so that PSI stays finite


class DriftInputError(ValueError):
    """The current data cannot be compared with the reference; the message says why."""


@dataclass(frozen=True)
class DriftConfig:
    # Family-wise level over the features. Bonferroni at 0.05 lands the false-alarm rate right
    # at 5% (about 1 - (1 - 0.05/6)^6) at small n; 0.04 keeps it under the 5% target.
    alpha: float = 0.04
    numeric_effect_threshold: float = 0.1  # Wasserstein distance / reference std
    categorical_effect_threshold: float = 0.05  # total variation distance (share of mass moved)
    min_rows: int = 30
    sample_size: int = 5000  # numeric values kept per feature in a profile
    psi_bins: int = 10


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    method: str
    statistic: float | None  # the effect size compared with ``threshold``
    p_value: float | None
    psi: float | None
    psi_band: str | None
    threshold: float | None
    drifted: bool
    n_reference: int
    n_current: int


@dataclass(frozen=True)
class DriftReport:
    dataset_drift: bool
    features: list[FeatureDrift]
    alpha_per_feature: float

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    def feature_rows(self) -> list[dict[str, Any]]:
        """One row of ``drift_metrics`` per feature."""
        return [asdict(f) for f in self.features]

    def to_json_dict(self) -> dict[str, Any]:
        """The shape of SPEC section 7 (``gradewatch drift --json``)."""
        keys = ("feature", "method", "statistic", "p_value", "psi", "drifted")
        return {
            "dataset_drift": self.dataset_drift,
            "features": [{k: plain(asdict(f)[k]) for k in keys} for f in self.features],
        }


def psi_band(psi: float) -> str:
    if psi < 0.1:
        return "stable"
    return "moderate" if psi < 0.25 else "major"


def _numeric_values(frame: pd.DataFrame, name: str) -> np.ndarray:
    values = pd.to_numeric(frame[name], errors="coerce").astype("float64").to_numpy()
    return values[np.isfinite(values)]


def _category_counts(frame: pd.DataFrame, name: str) -> dict[str, int]:
    column = frame[name]
    counts = column[column.notna()].astype(str).value_counts(sort=False)
    return {str(k): int(v) for k, v in counts.items()}


def build_profile(
    frame: pd.DataFrame,
    spec: FeatureSpec = DEFAULT_FEATURE_SPEC,
    *,
    config: DriftConfig = DriftConfig(),
    seed: int = 0,
) -> dict[str, Any]:
    """A JSON-serialisable summary of ``frame`` that :func:`compare` accepts as reference."""
    _require_columns(frame, spec)
    rng = np.random.default_rng(seed)
    features: dict[str, Any] = {}
    for name in spec.numeric:
        values = _numeric_values(frame, name)
        if values.size > config.sample_size:
            sample = rng.choice(values, size=config.sample_size, replace=False)
        else:
            sample = values
        quantiles = np.linspace(0, 1, config.psi_bins + 1)[1:-1]
        edges = np.unique(np.quantile(values, quantiles)) if values.size else np.array([])
        shares = _bin_shares(values, edges)
        features[name] = {
            "type": "numeric",
            "n": int(values.size),
            "mean": float(values.mean()) if values.size else None,
            "std": float(values.std(ddof=1)) if values.size > 1 else None,
            "sample": np.sort(sample).tolist(),
            "psi_edges": edges.tolist(),
            "psi_shares": shares.tolist(),
        }
    for name in spec.categorical:
        counts = _category_counts(frame, name)
        features[name] = {"type": "categorical", "n": sum(counts.values()), "counts": counts}
    return {"format": PROFILE_FORMAT, "n_rows": len(frame), "features": features}


def _bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=edges.size + 1)
    return counts / max(values.size, 1)


def _psi(reference: np.ndarray, current: np.ndarray) -> float:
    ref = np.maximum(reference, PSI_FLOOR)
    cur = np.maximum(current, PSI_FLOOR)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _require_columns(frame: pd.DataFrame, spec: FeatureSpec) -> None:
    missing = [c for c in spec.columns if c not in frame.columns]
    if missing:
        raise DriftInputError(f"missing feature columns: {', '.join(missing)}")


def compare(
    profile: Mapping[str, Any], current: pd.DataFrame, config: DriftConfig = DriftConfig()
) -> DriftReport:
    """Drift of ``current`` against a reference ``profile`` from :func:`build_profile`."""
    if profile.get("format") != PROFILE_FORMAT:
        raise DriftInputError(f"unsupported reference profile format {profile.get('format')!r}")
    reference = profile["features"]
    missing = [name for name in reference if name not in current.columns]
    if missing:
        raise DriftInputError(f"missing feature columns: {', '.join(missing)}")
    alpha = config.alpha / max(len(reference), 1)
    results = []
    for name, ref in reference.items():
        if ref["type"] == "numeric":
            results.append(_numeric_drift(name, ref, _numeric_values(current, name), alpha, config))
        else:
            counts = _category_counts(current, name)
            results.append(_categorical_drift(name, ref, counts, alpha, config))
    return DriftReport(any(r.drifted for r in results), results, alpha)


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    spec: FeatureSpec = DEFAULT_FEATURE_SPEC,
    config: DriftConfig = DriftConfig(),
) -> DriftReport:
    """Drift between two frames (``gradewatch drift``): profiles ``reference``, then compares."""
    _require_columns(current, spec)
    return compare(build_profile(reference, spec, config=config), current, config)


def _numeric_drift(
    name: str, ref: Mapping[str, Any], values: np.ndarray, alpha: float, config: DriftConfig
) -> FeatureDrift:
    sample = np.asarray(ref["sample"], dtype="float64")
    n_ref, n_cur = int(ref["n"]), int(values.size)
    edges = np.asarray(ref["psi_edges"], dtype="float64")
    psi = _psi(np.asarray(ref["psi_shares"]), _bin_shares(values, edges)) if n_cur else None
    if min(sample.size, n_cur) < config.min_rows:
        return FeatureDrift(name, "insufficient_data", None, None, psi,
                            None if psi is None else psi_band(psi), None, False, n_ref, n_cur)
    p_value = float(stats.ks_2samp(sample, values).pvalue)
    scale = ref["std"] or 0.0
    distance = float(stats.wasserstein_distance(sample, values))
    # A constant reference feature: any movement at all is a change of scale "infinity".
    effect = distance / scale if scale > 0 else (math.inf if distance > 0 else 0.0)
    threshold = config.numeric_effect_threshold
    drifted = p_value < alpha and effect >= threshold
    return FeatureDrift(name, "ks", effect, p_value, psi, psi_band(psi), threshold, drifted,
                        n_ref, n_cur)


def _categorical_drift(
    name: str, ref: Mapping[str, Any], counts: Mapping[str, int], alpha: float, config: DriftConfig
) -> FeatureDrift:
    categories = sorted(set(ref["counts"]) | set(counts))
    ref_counts = np.array([ref["counts"].get(c, 0) for c in categories], dtype="float64")
    cur_counts = np.array([counts.get(c, 0) for c in categories], dtype="float64")
    n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
    if n_cur == 0:
        return FeatureDrift(name, "insufficient_data", None, None, None, None, None, False,
                            n_ref, 0)
    ref_share, cur_share = ref_counts / max(n_ref, 1), cur_counts / n_cur
    psi = _psi(ref_share, cur_share)
    if min(n_ref, n_cur) < config.min_rows:
        return FeatureDrift(name, "insufficient_data", None, None, psi, psi_band(psi), None,
                            False, n_ref, n_cur)
    effect = float(0.5 * np.abs(ref_share - cur_share).sum())
    p_value = _chi2_p_value(ref_counts, cur_counts)
    threshold = config.categorical_effect_threshold
    drifted = p_value < alpha and effect >= threshold
    return FeatureDrift(name, "chi2", effect, p_value, psi, psi_band(psi), threshold, drifted,
                        n_ref, n_cur)


def _chi2_p_value(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Chi-square homogeneity test; categories with expected counts below 5 are pooled (the
    smallest first, until the pool reaches 5), because the chi-square approximation
    overstates significance for them."""
    table = np.vstack([ref_counts, cur_counts])
    table = table[:, table.sum(axis=0) > 0]
    smaller = table.sum(axis=1).min()
    expected = table.sum(axis=0) * smaller / table.sum()  # expected count in the smaller sample
    order = np.argsort(expected, kind="stable")
    pooled = np.zeros(2)
    taken = 0
    while taken < order.size and (expected[order[taken]] < 5 or 0 < pooled.sum() * smaller / table.sum() < 5):
        pooled += table[:, order[taken]]
        taken += 1
    rest = table[:, order[taken:]]
    if pooled.sum() > 0:
        rest = np.hstack([rest, pooled[:, None]])
    if rest.shape[1] < 2:
        return 1.0  # everything in one bin: nothing can have moved
    return float(stats.chi2_contingency(rest, correction=False).pvalue)
