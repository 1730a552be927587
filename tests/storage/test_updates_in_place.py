"""PostgreSQL updates a semester's reports in place (migration 0005, ``REPORTS_FILLFACTOR``).

A re-upload that changes every row and a prediction run rewrite each student's row. With no
index on a column they change and room left on every page, PostgreSQL keeps each new version
on its row's page with no new index entry (a heap-only tuple, "HOT" update): measured at 1M
students, 2.3 s instead of 8.5 s for the re-upload's update. PostgreSQL only: SQLite has no
such notion; what the merge stores is tested on both backends in ``test_reports_merge``.

Each test writes ONE new version of each row into a freshly loaded semester: half of a page
holds it whatever else the server is doing. A further version needs an old one pruned first,
which PostgreSQL does only once no transaction of the whole server, in any database, is older
than that version. Another xdist worker's tests hold such transactions often (the first version
of this file asserted on three rounds of updates and failed whenever one was open: 4,011 HOT
updates of 6,000), so only the first new version of each row is held to being HOT here.
"""

from __future__ import annotations

import time
from datetime import date

import numpy as np
import pytest
import sqlalchemy as sa

from gradewatch.semesters import Period
from gradewatch.storage.partitions import partition_name
from gradewatch.storage.predictions import record_predictions
from gradewatch.storage.tables import student_reports
from tests.support.report_runs import FIRST, predictions
from tests.support.semesters import semester_frame, upload

POSTGRES_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
STUDENTS = 2_000
# A semester of its own: the counters belong to its partition, which no other test writes.
TERM = Period(date(2031, 1, 6), date(2031, 6, 27))
OTHER_TERM = Period(date(2031, 8, 25), date(2031, 12, 19))


def row_updates(engine: sa.Engine, period: Period, at_least: int) -> tuple[int, int]:
    """(rows updated, of which HOT) in the semester's partition since it was created.

    A session adds its counts to the shared statistics when it ends: the writers' sessions are
    closed first, then the counters are read until they show ``at_least`` updates.
    """
    engine.dispose()
    deadline = time.monotonic() + 30
    while True:
        with engine.connect() as conn:
            updated, hot = conn.exec_driver_sql(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = %(name)s",
                {"name": partition_name(student_reports, period)}).one()
        if updated >= at_least or time.monotonic() > deadline:
            return updated, hot
        time.sleep(0.1)


@POSTGRES_ONLY
def test_a_changed_reupload_updates_each_row_on_its_page(engine) -> None:
    frame = semester_frame(TERM, STUDENTS)
    upload(engine, TERM, frame, grades=False)
    changed = frame.assign(study_hours_per_week=np.where(frame["study_hours_per_week"] < 29,
                                                         frame["study_hours_per_week"] + 1, 1.0))
    assert upload(engine, TERM, changed, grades=False).updated == STUDENTS
    assert row_updates(engine, TERM, STUDENTS) == (STUDENTS, STUDENTS)


@POSTGRES_ONLY
def test_a_prediction_run_updates_nearly_every_row_on_its_page(engine) -> None:
    frame = semester_frame(OTHER_TERM, STUDENTS)
    upload(engine, OTHER_TERM, frame, grades=False)
    ids = frame["user_id"].tolist()
    record_predictions(engine, OTHER_TERM, predictions(ids, [0.1] * STUDENTS), "v1", FIRST)
    updated, hot = row_updates(engine, OTHER_TERM, STUDENTS)
    # The run fills the prediction columns: the new versions are longer, and a few pages of
    # the test's small rows run out of room.
    assert updated == STUDENTS and hot >= 0.9 * updated, (updated, hot)
