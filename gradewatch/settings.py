"""Every setting GradeWatch reads from the environment, in one place (SPEC section 4).

Nothing else in the code base reads ``os.environ`` for configuration: components receive a
:class:`Settings` instance, which keeps tests free to build their own without patching globals.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from gradewatch import schema
from gradewatch.schema import DEFAULT_USER_ID_PATTERN

# "full": the randomized model search of gradewatch.models.training; "quick": a small search for demos
# and tests on a laptop (same code, fewer candidates).
TRAINING_PROFILES = ("full", "quick")


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message names the variable."""


def _default_database_url(base: Path) -> str:
    return f"sqlite:///{(base / 'var' / 'gradewatch.db').as_posix()}"


@dataclass(frozen=True)
class Settings:
    database_url: str
    dagster_home: Path
    pass_mark: float = 60.0
    max_upload_mb: float = 100.0
    # How long an upload queues behind other uploads of the database before a 503 (retry).
    upload_wait_seconds: float = 120.0
    # POST /predict needs no token: its own, smaller limit keeps an anonymous client from
    # making the server hold a full upload's worth of memory per request.
    max_predict_mb: float = 10.0
    user_id_pattern: str = DEFAULT_USER_ID_PATTERN
    logstash_host: str | None = None
    logstash_port: int = 5959
    log_level: str = "INFO"
    alert_webhook_url: str | None = None
    alert_dedup_minutes: float = 60.0
    inbox_dir: Path | None = None
    inbox_keep_originals: bool = False
    inbox_rejected_retention_days: int = 14
    grades_grace_days: int = 14
    min_grade_coverage: float = 0.8
    accuracy_tolerance: float = 1.25
    # A model must beat the better naive baseline's cross-validated MAE by this share.
    baseline_min_gain: float = 0.02
    # Indicators kept for audits (fairness) but never model inputs: see README, "Why not gender".
    model_excluded_features: tuple[str, ...] = ("gender",)
    retrain_growth: float = 0.5
    fairness_max_gap: float = 0.10
    training_profile: str = "full"
    sensor_interval_seconds: int = 30
    environment: str = "local"
    secret_key: str | None = field(default=None, repr=False)
    # The web pages' session cookie carries the Secure flag unless this is off (plain-http dev).
    session_cookie_secure: bool = True
    # Indicators audited for fairness but never model inputs, never shown as a reason.
    # Probability of failing at or above which a student is high, then moderate risk.
    risk_tiers: tuple[float, float] = (0.5, 0.2)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_predict_bytes(self) -> int:
        return int(self.max_predict_mb * 1024 * 1024)

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)


def _number(env: Mapping[str, str], name: str, default: float, *, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from exc
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low:g} and {high:g}, got {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "0").strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"", "0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be 0 or 1, got {raw!r}")


def _optional(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip()
    return raw or None


def _feature_list(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None:
        return default
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    unknown = [n for n in names if n not in schema.FEATURES]
    if unknown:
        raise SettingsError(f"{name} names unknown indicators {', '.join(unknown)}; "
                            f"choose among {', '.join(schema.FEATURES)}")
    if len(names) == len(schema.FEATURES):
        raise SettingsError(f"{name} excludes every indicator: the model would have no input")
    return names


def _risk_tiers(env: Mapping[str, str]) -> tuple[float, float]:
    name = "GRADEWATCH_RISK_TIERS"
    raw = (env.get(name) or "").strip() or "0.5,0.2"
    parts = [p.strip() for p in raw.split(",")]
    try:
        high, moderate = (float(p) for p in parts)
    except ValueError as exc:
        raise SettingsError(f"{name} must be two probabilities 'high,moderate' such as 0.5,0.2, "
                            f"got {raw!r}") from exc
    if not 0 < moderate < high <= 1:
        raise SettingsError(f"{name} must be 'high,moderate' with 0 < moderate < high <= 1, got {raw!r}")
    return high, moderate
def _pattern(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        compiled = re.compile(raw)
    except re.error as exc:
        raise SettingsError(f"{name} is not a valid regular expression ({exc}), got {raw!r}") from exc
    if compiled.fullmatch(""):
        raise SettingsError(f"{name} must not accept an empty id, got {raw!r}")
    return raw


def load_settings(environ: Mapping[str, str] | None = None, *, base_dir: Path | None = None) -> Settings:
    """Build :class:`Settings` from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    base = Path.cwd() if base_dir is None else base_dir
    level = env.get("GRADEWATCH_LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise SettingsError(f"GRADEWATCH_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
    inbox = _optional(env, "GRADEWATCH_INBOX_DIR")
    profile = (_optional(env, "GRADEWATCH_TRAINING_PROFILE") or "full").lower()
    if profile not in TRAINING_PROFILES:
        raise SettingsError(f"GRADEWATCH_TRAINING_PROFILE must be one of {', '.join(TRAINING_PROFILES)}, "
                            f"got {profile!r}")
    return Settings(
        database_url=_optional(env, "GRADEWATCH_DATABASE_URL") or _default_database_url(base),
        dagster_home=Path(_optional(env, "DAGSTER_HOME") or base / "dagster_home").resolve(),
        pass_mark=_number(env, "GRADEWATCH_PASS_MARK", 60.0, low=0, high=100),
        max_upload_mb=_number(env, "GRADEWATCH_MAX_UPLOAD_MB", 100.0, low=0.001, high=10_000),
        upload_wait_seconds=_number(env, "GRADEWATCH_UPLOAD_WAIT_SECONDS", 120.0, low=1, high=86_400),
        max_predict_mb=_number(env, "GRADEWATCH_MAX_PREDICT_MB", 10.0, low=0.001, high=10_000),
        user_id_pattern=_pattern(env, "GRADEWATCH_USER_ID_PATTERN", DEFAULT_USER_ID_PATTERN),
        logstash_host=_optional(env, "LOGSTASH_HOST"),
        logstash_port=int(_number(env, "LOGSTASH_PORT", 5959, low=1, high=65535)),
        log_level=level,
        alert_webhook_url=_optional(env, "GRADEWATCH_ALERT_WEBHOOK_URL"),
        alert_dedup_minutes=_number(env, "GRADEWATCH_ALERT_DEDUP_MINUTES", 60.0, low=0, high=10**6),
        inbox_dir=Path(inbox).resolve() if inbox else None,
        inbox_keep_originals=_flag(env, "GRADEWATCH_INBOX_KEEP_ORIGINALS"),
        inbox_rejected_retention_days=int(_number(env, "GRADEWATCH_INBOX_REJECTED_RETENTION_DAYS", 14,
                                                  low=0, high=3650)),
        grades_grace_days=int(_number(env, "GRADEWATCH_GRADES_GRACE_DAYS", 14, low=0, high=3650)),
        min_grade_coverage=_number(env, "GRADEWATCH_MIN_GRADE_COVERAGE", 0.8, low=0, high=1),
        accuracy_tolerance=_number(env, "GRADEWATCH_ACCURACY_TOLERANCE", 1.25, low=1, high=100),
        baseline_min_gain=_number(env, "GRADEWATCH_BASELINE_MIN_GAIN", 0.02, low=0, high=0.9),
        model_excluded_features=_feature_list(env, "GRADEWATCH_MODEL_EXCLUDED_FEATURES", ("gender",)),
        retrain_growth=_number(env, "GRADEWATCH_RETRAIN_GROWTH", 0.5, low=0, high=1000),
        fairness_max_gap=_number(env, "GRADEWATCH_FAIRNESS_MAX_GAP", 0.10, low=0, high=1),
        training_profile=profile,
        sensor_interval_seconds=int(_number(env, "GRADEWATCH_SENSOR_INTERVAL_SECONDS", 30, low=1, high=86_400)),
        environment=_optional(env, "GRADEWATCH_ENVIRONMENT") or "local",
        secret_key=_optional(env, "GRADEWATCH_SECRET_KEY"),
        session_cookie_secure=(_flag(env, "GRADEWATCH_SESSION_COOKIE_SECURE")
                               if env.get("GRADEWATCH_SESSION_COOKIE_SECURE", "").strip() else True),
        risk_tiers=_risk_tiers(env),
    )
