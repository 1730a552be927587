"""The model registry on SQLite and PostgreSQL: artifacts, champions, corruption, concurrency."""

from __future__ import annotations

import logging
import threading

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gradewatch.models import registry
from gradewatch.models.explain import explain_model, typical_values
from gradewatch.models.training import SearchConfig, TrainedModel, train_model
from gradewatch.semesters import Period
from gradewatch.storage import make_engine
from gradewatch.storage.tables import model_versions
from tests.support.gradegen import make_semester

FAST = SearchConfig(families=("ridge", "hist_gradient_boosting"), n_iter=1, cv=3)


@pytest.fixture(scope="module")
def models() -> list[TrainedModel]:
    return [train_model(make_semester(300, seed=s), seed=s, config=FAST) for s in (11, 12, 13)]


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return make_semester(200, seed=99)


def corrupt(engine: Engine, version: str) -> None:
    """Flip one byte of a stored artifact, as a bad disk or a bad restore would."""
    with engine.begin() as conn:
        data = conn.execute(
            sa.select(model_versions.c.artifact).where(model_versions.c.version == version)
        ).scalar_one()
        broken = bytearray(data)
        broken[len(broken) // 2] ^= 0xFF
        conn.execute(
            model_versions.update()
            .where(model_versions.c.version == version)
            .values(artifact=bytes(broken))
        )


def champions(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(
            sa.select(model_versions.c.version).where(model_versions.c.status == "champion")
        ).scalars())


def test_a_loaded_model_explains_its_predictions(engine: Engine, models, rows) -> None:
    """The reasons' typical values come from the training data's profile, which the artifact
    leaves out: a loaded champion must get it back from the registry, or nobody has a reason."""
    registry.promote(engine, registry.register_model(engine, models[0], ["2025-01-06_2025-06-27"]))
    loaded = registry.load_champion(engine)
    assert typical_values(loaded.model.reference_profile, loaded.model.feature_spec, ("gender",))
    students = rows.assign(attendance_rate=35.0)
    reasons = explain_model(loaded.model, students, excluded=("gender",)).as_lists()
    assert all(r and r[0]["feature"] == "attendance_rate" for r in reasons)


def test_register_load_predict_round_trip(engine: Engine, models, rows) -> None:
    semesters = [Period.from_key("2025-01-06_2025-06-27"), "2025-09-01_2026-01-30"]
    version = registry.register_model(engine, models[0], semesters)
    assert version == "v1"
    assert registry.load_champion(engine) is None  # registered as a challenger
    loaded = registry.load_version(engine, version)
    pd.testing.assert_frame_equal(loaded.predict(rows, 60), models[0].predict(rows, 60), check_exact=True)
    record = registry.get_version(engine, version)
    assert record.status == "challenger"
    assert record.training_semesters == ["2025-01-06_2025-06-27", "2025-09-01_2026-01-30"]
    assert record.metrics["cv_mae"] == pytest.approx(models[0].metrics["cv_mae"])
    assert record.feature_spec["numeric"] == list(models[0].feature_spec.numeric)
    with engine.connect() as conn:
        profile = conn.execute(sa.select(model_versions.c.reference_profile)).scalar_one()
    assert profile["features"]["attendance_rate"]["n"] == 300


def test_promote_and_champion_version(engine: Engine, models, rows) -> None:
    v1 = registry.register_model(engine, models[0], [], status="champion")
    v2 = registry.register_model(engine, models[1], [])
    assert registry.champion_version(engine) == v1
    registry.promote(engine, v2)
    assert champions(engine) == [v2]
    assert registry.get_version(engine, v1).status == "retired"
    loaded = registry.load_champion(engine)
    assert loaded.version == v2 and loaded.fallback_from is None
    pd.testing.assert_frame_equal(loaded.predict(rows, 60), models[1].predict(rows, 60))
    registry.promote(engine, v2)  # promoting the champion again changes nothing
    assert champions(engine) == [v2]


def test_unknown_version_is_refused(engine: Engine) -> None:
    with pytest.raises(registry.RegistryError, match="unknown model version 'v42'"):
        registry.promote(engine, "v42")


def test_corrupt_champion_falls_back_to_previous_good_version_and_alerts(
    engine: Engine, models, rows, caplog: pytest.LogCaptureFixture
) -> None:
    v1 = registry.register_model(engine, models[0], [], status="champion")
    v2 = registry.register_model(engine, models[1], [])
    registry.promote(engine, v2)
    corrupt(engine, v2)
    with pytest.raises(registry.ArtifactCorruptError, match="sha256"):
        registry.load_version(engine, v2)
    with caplog.at_level(logging.ERROR, logger="gradewatch.monitoring.alerts"):
        loaded = registry.load_champion(engine)
    assert loaded.version == v1 and loaded.fallback_from == v2
    pd.testing.assert_frame_equal(loaded.predict(rows, 60), models[0].predict(rows, 60))
    alerts = [r for r in caplog.records if "alert" in getattr(r, "tags", [])]
    assert [r.alert_kind for r in alerts] == ["model_artifact_corrupt"]
    assert v2 in alerts[0].getMessage() and v1 in alerts[0].getMessage()
    assert champions(engine) == [v2]  # the registry is the engineer's to change


def test_corrupt_champion_without_any_earlier_one_is_unavailable(engine: Engine, models) -> None:
    version = registry.register_model(engine, models[0], [], status="champion")
    corrupt(engine, version)
    with pytest.raises(registry.ModelUnavailableError):
        registry.load_champion(engine)


def test_a_corrupt_version_cannot_be_promoted(engine: Engine, models) -> None:
    v1 = registry.register_model(engine, models[0], [], status="champion")
    v2 = registry.register_model(engine, models[1], [])
    corrupt(engine, v2)
    with pytest.raises(registry.ArtifactCorruptError):
        registry.promote(engine, v2)
    assert champions(engine) == [v1]


def test_rollback_walks_back_the_champion_history_skipping_corrupt_ones(engine: Engine, models) -> None:
    v1 = registry.register_model(engine, models[0], [], status="champion")
    v2 = registry.register_model(engine, models[1], [])
    v3 = registry.register_model(engine, models[2], [])
    registry.promote(engine, v2)
    registry.promote(engine, v3)
    assert registry.rollback(engine) == (v3, v2)
    assert champions(engine) == [v2]
    assert registry.rollback(engine) == (v2, v1)  # further back, not back to v3
    with pytest.raises(registry.RegistryError, match="no earlier champion"):
        registry.rollback(engine)
    assert champions(engine) == [v1]
    registry.promote(engine, v2)
    registry.promote(engine, v3)
    corrupt(engine, v2)
    assert registry.rollback(engine) == (v3, v1)


def test_rollback_without_champion_is_refused(engine: Engine) -> None:
    with pytest.raises(registry.RegistryError, match="no champion"):
        registry.rollback(engine)


def test_champion_cache_reloads_when_the_champion_changes(engine: Engine, models, rows) -> None:
    cache = registry.ChampionCache(engine)
    assert cache.get() is None
    v1 = registry.register_model(engine, models[0], [], status="champion")
    first = cache.get()
    assert first.version == v1 and cache.get() is first  # no reload while unchanged
    v2 = registry.register_model(engine, models[1], [])
    registry.promote(engine, v2)
    second = cache.get()
    assert second.version == v2
    pd.testing.assert_frame_equal(second.predict(rows, 60), models[1].predict(rows, 60))


def test_list_versions_in_registration_order(engine: Engine, models) -> None:
    names = [registry.register_model(engine, m, []) for m in models]
    assert [v.version for v in registry.list_versions(engine)] == names
    assert registry.champion_record(engine) is None


def test_eight_concurrent_promotions_leave_exactly_one_champion(postgres_url: str, models) -> None:
    engine = make_engine(postgres_url, pool_size=10)
    with engine.begin() as conn:
        conn.execute(model_versions.delete())
    versions = [registry.register_model(engine, models[i % 3], []) for i in range(8)]
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []
    seen_counts: list[int] = []

    def promote(version: str) -> None:
        try:
            barrier.wait()
            registry.promote(engine, version)
            seen_counts.append(len(champions(engine)))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=promote, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert seen_counts == [1] * 8  # every reader in between saw exactly one champion
    final = champions(engine)
    assert len(final) == 1 and final[0] in versions
    statuses = [v.status for v in registry.list_versions(engine)]
    assert statuses.count("champion") == 1 and statuses.count("retired") == 7
    engine.dispose()
