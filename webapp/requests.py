"""A request class that keeps uploaded files in memory.

Werkzeug spools multipart files larger than 500 KB to a temporary file on disk. An upload
holds identifying data (names, e-mails) until the PII columns are dropped, so the raw file
must never touch the disk: we keep it in memory, bounded by MAX_CONTENT_LENGTH.
"""

from __future__ import annotations

import io
from typing import IO

from flask import Request


class InMemoryRequest(Request):
    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return io.BytesIO()
