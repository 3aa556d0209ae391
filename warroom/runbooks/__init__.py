"""Runbooks: the files SREs write (loader, schema) and the python recovery actions they name.

Room: runbooks (warroom/runbooks), extension content for the engine. The package's face.
"""

from warroom.runbooks.loader import (
    ACTION_KINDS,
    CHECK_KINDS,
    SCHEMA_PATH,
    RunbookEntry,
    RunbookError,
    RunbookLibrary,
    load_runbook,
    runbook_files,
    schema,
    summary,
    validate_data,
    validate_text,
)

__all__ = ["ACTION_KINDS", "CHECK_KINDS", "SCHEMA_PATH", "RunbookEntry", "RunbookError", "RunbookLibrary",
           "load_runbook", "runbook_files", "schema", "summary", "validate_data", "validate_text"]
