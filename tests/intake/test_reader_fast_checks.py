"""The reader's whole-column shortcuts decide exactly as the checks they skip.

* ``row_widths``: a file without quotes whose lines end in LF or CRLF has its row widths counted
  in one pass (``_has_short_unquoted_rows``); any other file by the general count, which also
  handles quotes and lone CRs. On every file the shortcut may take, both must agree.
* ``cells``: under the default GRADEWATCH_USER_ID_PATTERN, a column of plain ids is checked with
  one search over its joined text (``_plain_default_ids``); every id is otherwise checked one by
  one (``_convert_each_user_id``). Both must give the same ids, the same invalid cells and the
  same messages, and the shortcut must really be taken for a plain column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from gradewatch import schema
from gradewatch.intake.reader import file_layout
from gradewatch.intake.reader.cells import _convert_each_user_id, _convert_user_id, _plain_default_ids
from gradewatch.intake.reader.layout import id_pattern
from gradewatch.intake.reader.row_widths import (
    _has_short_rows_any_quoting,
    _has_short_unquoted_rows,
    has_short_rows,
)

HEADER = ["user_id", "gender", "attendance_rate", "study_hours_per_week", "previous_grade",
          "extracurricular_activities_count", "parental_support"]
CELLS = ["s0001", "female", "85", "", " ", "12.5", "high"]


@st.composite
def unquoted_files(draw) -> bytes:
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    line_end = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [delimiter.join(HEADER)]
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["full", "full", "short", "long", "blank", "spaces"]))
        if kind == "blank":
            lines.append("")
        elif kind == "spaces":
            lines.append(" " * draw(st.integers(1, 3)))
        else:
            width = {"full": len(HEADER), "short": draw(st.integers(1, len(HEADER) - 1)),
                     "long": draw(st.integers(len(HEADER) + 1, len(HEADER) + 3))}[kind]
            lines.append(delimiter.join(draw(st.sampled_from(CELLS)) for _ in range(width)))
    text = line_end.join(lines) + draw(st.sampled_from(["", line_end, line_end * 2]))
    return text.encode()


@settings(max_examples=300, deadline=None)
@given(unquoted_files())
def test_the_one_pass_width_count_agrees_with_the_general_one(raw: bytes) -> None:
    layout = file_layout(raw, schema.DEFAULT_USER_ID_PATTERN)
    data = np.frombuffer(raw, dtype=np.uint8)
    assert _has_short_unquoted_rows(raw, data, layout) == _has_short_rows_any_quoting(raw, data, layout)


def test_a_short_row_is_found_and_a_trailing_blank_line_is_not() -> None:
    full = ",".join(CELLS)
    for raw, short in ((f"{','.join(HEADER)}\n{full}\n\n", False),
                       (f"{','.join(HEADER)}\r\n{full}\r\ns0002,male\r\n{full}\r\n", True),
                       (f"{','.join(HEADER)}\n{full}\n   \n", False)):
        layout = file_layout(raw.encode(), schema.DEFAULT_USER_ID_PATTERN)
        assert has_short_rows(raw.encode(), layout) is short


IDS = ["s0001", "2024-00123", "ab12cd", "jean.dupont@uni.example", "1234.0", "1234.50", "é1234",
       "S1", "NA", "none", "null", "", " s0002 ", "s 3", "s,4", 's"5', "s\u202e6", "x" * 64, "x" * 65,
       "\u00a0s0007", "s0008\t"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(IDS), min_size=1, max_size=30))
def test_the_whole_column_id_check_agrees_with_the_check_of_each_id(ids: list[str]) -> None:
    values = pd.Series(ids, dtype=object)
    fast, slow = _convert_user_id(values, id_pattern()), _convert_each_user_id(values, id_pattern())
    pd.testing.assert_series_equal(fast[0], slow[0])
    assert fast[1].tolist() == slow[1].tolist()
    assert fast[2][fast[1]].tolist() == slow[2][slow[1]].tolist()


def test_a_column_of_plain_ids_takes_the_whole_column_check() -> None:
    values = pd.Series([f"u{i:08d}" for i in range(1000)] + ["2024-00123", "é1234"], dtype=object)
    plain = _plain_default_ids(values)
    assert plain is not None and not plain[1].any()
    assert plain[0].tolist() == values.tolist()
    # Anything the one-by-one check would change or refuse sends the column there instead.
    for odd in ("NA", "1234.0", " s0002 ", "s 3", "x" * 65, "s\u202e6"):
        assert _plain_default_ids(pd.Series([*values.tolist(), odd], dtype=object)) is None
