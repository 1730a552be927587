"""Intake: how a school's CSV export becomes stored rows.

The reader (``reader/``) decodes and parses a file under the PII rule; ``ingest`` is the one
ingestion path shared by the API, the upload page and the inbox; ``inbox`` watches a folder;
``rejected_rows`` gives the registrar back the rows to fix; ``csv_safety`` makes every CSV we
write formula-safe.
"""
