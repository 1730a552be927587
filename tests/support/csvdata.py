"""Small CSV files built by the tests themselves (never the shared data sets)."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence

HEADER = (
    "user_id", "gender", "attendance_rate", "study_hours_per_week", "previous_grade",
    "extracurricular_activities_count", "parental_support",
)
PERIOD = {"start_date_period": "2026-01-12", "end_date_period": "2026-06-30"}


def student_rows(n: int, *, seed: int = 1, prefix: str = "s") -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [
        {
            "user_id": f"{prefix}{i:06d}",
            "gender": rng.choice(["female", "male", "other"]),
            "attendance_rate": round(rng.uniform(50, 100), 1),
            "study_hours_per_week": round(rng.uniform(0, 30), 1),
            "previous_grade": round(rng.uniform(30, 100), 1),
            "extracurricular_activities_count": rng.randint(0, 4),
            "parental_support": rng.choice(["low", "medium", "high"]),
        }
        for i in range(n)
    ]


def to_csv(rows: Sequence[dict[str, object]], header: Sequence[str] | None = None,
           delimiter: str = ",") -> bytes:
    header = list(header or rows[0].keys())
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, delimiter=delimiter, lineterminator="\r\n",
                            extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def upload(client, token: str, content: bytes, period: dict[str, str] | None = None,
           filename: str = "export.csv"):
    data = {**(PERIOD if period is None else period), "file": (io.BytesIO(content), filename)}
    return client.post("/update-csv", data=data, content_type="multipart/form-data",
                       headers={"Authorization": f"Bearer {token}"})


# Identifying columns a careless export carries; none of these values may ever be stored or logged.
PII = {
    "Name": "Zelda Quintanilla-Obst",
    "Email": "zelda.quintanilla@example.org",
    "Phone": "+41 79 555 01 23",
    "Address": "17 Rue des Lilas, Lausanne",
    "DateOfBirth": "2009-04-17",
}
