"""The storage layer: every SQL statement of GradeWatch lives in this package."""

from gradewatch.storage.db import make_engine, run_in_transaction, utcnow
from gradewatch.storage.tables import metadata

__all__ = ["make_engine", "metadata", "run_in_transaction", "utcnow"]
