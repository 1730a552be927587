"""The one partitioning of GradeWatch: a semester, keyed ``<start>_<end>`` in ISO dates."""

from __future__ import annotations

import dagster as dg

from gradewatch.semesters import Period

semester_partitions = dg.DynamicPartitionsDefinition(name="semester")

# Runs for one semester carry this tag; dagster.yaml runs at most one of them at a time, so a
# prediction run and an evaluation run never write the same semester's rows concurrently.
SEMESTER_TAG = "gradewatch/semester"
# Evaluation runs end with the retraining decision; one at a time keeps promotions ordered.
TRAINING_TAG = "gradewatch/training"


def period_of(context: dg.AssetExecutionContext) -> Period:
    return Period.from_key(context.partition_key)
