"""Room: api (HTTP edge) — runbooks: list and show the loaded ones, validate a draft before shipping.

The library is built once by create_app (app.state.runbooks, reached through RunbooksDep) from
the same files the worker loads, so an invalid runbook stops the API at start; validation is
the same code as `warroom runbooks validate`. Auth is added by the app when it includes this
router (dependencies=[...]).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from api.body import BadJson, JsonRoute, read_json
from api.deps import Reader, RecordsDep, RunbooksDep
from api.routes.audit import audited_async
from warroom.runbooks import RunbookError, summary, validate_data, validate_text

router = APIRouter(route_class=JsonRoute, prefix="/api/v1/runbooks", tags=["runbooks"])

MAX_RUNBOOK_BYTES = 256 * 1024


def runbook_view(entry: Any) -> dict[str, Any]:
    return {**summary(entry), "spec": dataclasses.asdict(entry.spec)}


@router.get("", summary="The loaded runbooks: name, version, description, match, file")
def list_runbooks(runbooks: RunbooksDep) -> list[dict[str, Any]]:
    return runbooks.summaries()


@router.get("/{name}", summary="One runbook as the engine runs it", responses={404: {"description": "unknown"}})
def show_runbook(name: str, runbooks: RunbooksDep) -> dict[str, Any]:
    entry = runbooks.entries.get(name)  # by name only: never a path on the server
    if entry is None:
        raise HTTPException(404, f"no runbook named {name!r}")
    return runbook_view(entry)


@router.post("/validate", summary="Validate a runbook (YAML text, or JSON) without loading it",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/yaml": {"schema": {"type": "string"}},
                 "text/plain": {"schema": {"type": "string"}},
                 "application/json": {"schema": {"type": "object"}}}}},
             responses={422: {"description": "the runbook is invalid: errors with line, path, message"}})
async def validate_runbook(request: Request, db: RecordsDep, principal: Reader) -> JSONResponse:
    answer = await _validate(request)
    # who tried which runbook, and whether it passed (not its text: it may hold URLs and approvers)
    name = json.loads(answer.body).get("runbook", {}).get("name", "") if answer.status_code == 200 else ""
    await audited_async(db, principal, "runbook.validated", name, valid=answer.status_code == 200,
                        bytes=len(await request.body()))
    return answer


async def _validate(request: Request) -> JSONResponse:
    raw = await request.body()
    if len(raw) > MAX_RUNBOOK_BYTES:
        raise HTTPException(413, f"a runbook is at most {MAX_RUNBOOK_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _invalid([{"line": 1, "path": "", "message": "the body is not UTF-8 text"}])
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    entry, problems = validate_text(text, file="<request>")
    if ctype.endswith("json") and problems and problems[0].message.startswith("not valid YAML"):
        # JSON is YAML except for a few corners (tabs, some escapes): fall back to a JSON parse
        try:
            data = read_json(raw)
        except BadJson as err:
            return _invalid([{"line": 1, "path": "", "message": str(err)}])
        entry, problems = validate_data(data, file="<request>")
    if problems or entry is None:
        return _invalid([{"line": p.line, "path": p.path, "message": p.message} for p in problems])
    return _AsciiJSON({"valid": True, "runbook": runbook_view(entry)})


class _AsciiJSON(JSONResponse):
    """JSON with non-ASCII escaped: a posted runbook may hold lone surrogates (invalid UTF-16
    halves that JSON can carry), which the errors echo back and UTF-8 cannot encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _invalid(errors: list[dict[str, Any]]) -> JSONResponse:
    return _AsciiJSON({"valid": False, "errors": errors}, status_code=422)


__all__ = ["router", "RunbookError"]
