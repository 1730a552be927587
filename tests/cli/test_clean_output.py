"""``gradewatch clean --output`` writes CSV a spreadsheet cannot execute (issue 13, item 15)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from click.testing import CliRunner

from gradewatch.cli import cli

HEADER = "user_id,gender,attendance_rate,study_hours_per_week,previous_grade," \
         "extracurricular_activities_count,parental_support,final_grade\n"
FORMULAS = ["=1+2", "@SUM(A1:A9)", "+41795550123", "-2+3"]


def test_clean_output_makes_formula_cells_inert(tmp_path: Path) -> None:
    rows = [f"{user_id},F,90,10,80,1,High,70" for user_id in FORMULAS] + ["S5,M,80,5,70,0,Low,60"]
    source = tmp_path / "2026-01-12_2026-06-30.csv"
    source.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    output = tmp_path / "clean.csv"
    result = CliRunner().invoke(cli, ["clean", "--input", str(source), "--output", str(output)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    written = list(csv.DictReader(io.StringIO(output.read_text(encoding="utf-8"))))
    ids = [row["user_id"] for row in written]
    assert sorted(ids) == sorted(["'" + f for f in FORMULAS] + ["S5"])
    for row in written:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "@")), cell
    # Numbers stay numbers: only text cells are touched.
    assert {row["attendance_rate"] for row in written} == {"90.0", "80.0"}
