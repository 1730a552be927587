"""Run ``gradewatch serve`` with an audit hook that records every temporary file opened.

Used by the tests to prove that an upload never reaches the disk: on Linux a
``tempfile.TemporaryFile`` is unlinked at once, so looking at the folder afterwards proves
nothing; the audit events ``tempfile.mkstemp`` and ``open`` (with O_TMPFILE or a path in the
temporary folder) do.
"""

from __future__ import annotations

import os
import sys

LOG = os.environ["GRADEWATCH_TEST_TEMPFILE_LOG"]
O_TMPFILE = getattr(os, "O_TMPFILE", 0)
_writing = False


def _hook(event: str, args: tuple) -> None:
    # tempfile.mkstemp covers NamedTemporaryFile, mkstemp and a SpooledTemporaryFile's rollover;
    # an open with O_TMPFILE is TemporaryFile on Linux. Paths alone prove nothing: a checkout
    # may itself live under /tmp.
    global _writing
    temporary = event == "tempfile.mkstemp" or (
        event == "open" and O_TMPFILE and isinstance(args[2], int) and args[2] & O_TMPFILE == O_TMPFILE)
    if temporary and not _writing:
        _writing = True
        try:
            with open(LOG, "a") as log:
                log.write(f"{event} {args[0]}\n")
        finally:
            _writing = False


if __name__ == "__main__":
    sys.addaudithook(_hook)
    from gradewatch.cli import main

    sys.argv = ["gradewatch", *sys.argv[1:]]
    main()
