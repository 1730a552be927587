"""The model registry: register, champion, promote, rollback and load (SQL in storage/registry).

Loading checks the artifact's sha256 against the one recorded at registration *before*
unpickling it. A corrupted champion is refused: an ``model_artifact_corrupt`` alert is raised
and the newest earlier champion whose artifact is intact is served instead (``fallback_from``
names the refused version). The registry itself is left as it is: changing the champion is the
ML engineer's decision (``gradewatch model rollback``).

The web app keeps a :class:`ChampionCache`: each request costs one indexed lookup of the
champion's name, and the model is reloaded only when that name changes, so a promotion or a
rollback takes effect without a restart.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from gradewatch.models.training import ArtifactError, TrainedModel, cleaning_reference_of
from gradewatch.monitoring.alerts import alert
from gradewatch.quality.reference import CleaningReference
from gradewatch.semesters import Period
from gradewatch.storage import registry as store
from gradewatch.storage.registry import (
    RegistryError,
    VersionRecord,
    champion_record,
    champion_version,
    get_version,
    list_versions,
)

__all__ = [
    "ArtifactCorruptError",
    "ChampionCache",
    "LoadedModel",
    "ModelUnavailableError",
    "RegistryError",
    "VersionRecord",
    "champion_record",
    "champion_version",
    "get_version",
    "list_versions",
    "load_champion",
    "load_version",
    "promote",
    "register_model",
    "rollback",
]


class ArtifactCorruptError(RegistryError):
    """A stored artifact whose bytes no longer match their sha256, or cannot be read."""


class ModelUnavailableError(RegistryError):
    """There is a champion, but neither it nor any earlier champion can be loaded."""


@dataclass(frozen=True)
class LoadedModel:
    version: str
    model: TrainedModel
    record: VersionRecord
    # The training statistics rows are cleaned against before this model scores them.
    cleaning_reference: CleaningReference | None = None
    fallback_from: str | None = None  # the corrupt champion this model stands in for

    def predict(self, frame: pd.DataFrame, pass_mark: float, **kwargs: Any) -> pd.DataFrame:
        return self.model.predict(frame, pass_mark, **kwargs)


def register_model(
    engine: Engine,
    trained: TrainedModel,
    training_semesters: Sequence[str | Period],
    status: str = "challenger",
) -> str:
    """Store ``trained`` with its artifact, sha256 and reference profile; returns the version."""
    return store.insert_version(
        engine,
        algorithm=trained.algorithm,
        parameters=trained.parameters,
        feature_spec=trained.feature_spec.to_dict(),
        training_semesters=[str(s) for s in training_semesters],
        metrics=trained.metrics,
        reference_profile=trained.reference_profile,
        artifact=trained.to_bytes(),
        status=status,
    )


def load_version(engine: Engine, version: str) -> LoadedModel:
    """Load one version; raises :class:`ArtifactCorruptError` if its bytes fail the check."""
    record = store.get_version(engine, version)
    if record is None:
        raise RegistryError(f"unknown model version {version!r}")
    data, expected = store.read_artifact(engine, version)
    if store.sha256_hex(data) != expected:
        raise ArtifactCorruptError(f"model {version}: artifact sha256 does not match the registry")
    try:
        model = TrainedModel.from_bytes(data)
    except ArtifactError as exc:
        raise ArtifactCorruptError(f"model {version}: {exc}") from exc
    profile = store.read_reference_profile(engine, version) or {}
    # The artifact leaves its reference profile out (it also describes audit-only indicators,
    # gender); the registry row has it, and the reasons' typical values come from it: without
    # it a loaded champion explained nobody.
    model.reference_profile = profile
    return LoadedModel(version, model, record, cleaning_reference_of(profile))


def load_champion(engine: Engine) -> LoadedModel | None:
    """The champion, or None when no model was ever promoted.

    A corrupt champion raises an alert and falls back to the newest earlier champion that
    loads; :class:`ModelUnavailableError` when there is none.
    """
    record = store.champion_record(engine)
    if record is None:
        return None
    try:
        return load_version(engine, record.version)
    except ArtifactCorruptError as exc:
        problem = str(exc)
    for earlier in store.previous_champions(engine, record.version):
        try:
            loaded = load_version(engine, earlier)
        except ArtifactCorruptError:
            continue
        alert(
            "model_artifact_corrupt", "error",
            f"champion {record.version} refused ({problem}); serving {earlier} instead",
            model_version=record.version, fallback_version=earlier,
        )
        return LoadedModel(loaded.version, loaded.model, loaded.record, loaded.cleaning_reference, record.version)
    alert(
        "model_artifact_corrupt", "error",
        f"champion {record.version} refused ({problem}) and no earlier champion is usable",
        model_version=record.version,
    )
    raise ModelUnavailableError(f"{problem}; no earlier champion can be loaded")


def promote(engine: Engine, version: str) -> None:
    """Make ``version`` the champion, atomically. Refuses a version whose artifact is corrupt."""
    load_version(engine, version)  # raises for unknown or corrupt versions
    store.set_champion(engine, version)


def rollback(engine: Engine) -> tuple[str, str]:
    """Restore the previous champion (skipping corrupt ones); returns (from, to)."""
    return store.rollback_champion(engine)


class ChampionCache:
    """The current champion for a long-running process, reloaded when the champion changes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._key: str | None = None
        self._loaded: LoadedModel | None = None

    def get(self) -> LoadedModel | None:
        current = champion_version(self._engine)
        if current is None:
            return None
        loaded = self._loaded
        if current == self._key and loaded is not None:
            return loaded
        with self._lock:
            if current != self._key or self._loaded is None:
                self._loaded = load_champion(self._engine)
                # Keyed by the champion's name even after a fallback, so a corrupt champion
                # is not re-read (and re-alerted) on every request.
                self._key = current
            return self._loaded
