"""Room: api (HTTP edge) — on-call: read the configuration, ask who is on call or who a target
reaches, and replace one file of the on-call directory.

The files are the same ones the notify activity and `warroom oncall` read: settings.oncall_dir,
which create_app puts on app.state and routes reach through OnCallDirDep (api/deps.py);
warroom.oncall re-reads them when a file changes. A PUT is validated together with every
other file, as the directory would be after the write, and only then written (atomically: a
reader sees the old file or the new one, never half of it). Auth is added by the app when it
includes this router (admin only).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from api.body import BadJson, JsonRoute, read_json
from api.deps import Admin, OnCallDirDep, RecordsDep
from api.routes.audit import audited_async
from warroom.oncall import (
    OnCallConfig,
    OnCallError,
    check_texts,
    load_oncall,
    oncall_files,
    parse_at,
    remember,
)
from warroom.yamldoc import ValidationProblem

router = APIRouter(route_class=JsonRoute, prefix="/api/v1/oncall", tags=["oncall"])

MAX_FILE_BYTES = 256 * 1024
FILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_writing = threading.Lock()  # one PUT at a time: each validates against what the last one wrote


def get_oncall(directory: OnCallDirDep) -> OnCallConfig:
    try:
        return load_oncall(directory)
    except OnCallError as err:
        raise HTTPException(503, f"the on-call configuration on the server is invalid; fix it with PUT or "
                                 f"`warroom oncall validate`: {err}") from None


OnCallDep = Annotated[OnCallConfig, Depends(get_oncall)]
AtQuery = Annotated[str | None, Query(description="ISO date-time with offset (default: now)")]


def _moment(at: str | None) -> Any:
    try:
        return parse_at(at)
    except ValueError as err:
        raise HTTPException(422, f"at: {err}") from None


@router.get("", summary="The whole on-call configuration: people, teams, schedules, policies, roles")
def show_oncall(config: OnCallDep) -> dict[str, Any]:
    return config.as_dict()


@router.get("/now", summary="Who is on call at a moment (default now), per schedule",
            responses={404: {"description": "unknown team"}, 422: {"description": "bad `at`"}})
def now(config: OnCallDep, team: Annotated[str | None, Query(description="only this team's schedules")] = None,
        at: AtQuery = None) -> dict[str, Any]:
    moment = _moment(at)
    if team is not None and team not in config.teams:
        raise HTTPException(404, f"no team {team!r}")
    return {"at": moment.isoformat(), "entries": [e.as_dict() for e in config.on_call(moment, team=team)]}


@router.get("/resolve", summary="Who a page target reaches (oncall:L<n>, person:, team:, schedule:, a role)",
            responses={422: {"description": "missing target or bad `at`"}})
def resolve(config: OnCallDep, target: Annotated[str, Query(min_length=1)],
            service: Annotated[str, Query(description="the incident's service")] = "",
            priority: Annotated[str, Query(description="the incident's priority")] = "P1",
            at: AtQuery = None) -> dict[str, Any]:
    moment = _moment(at)
    r = config.resolve(target, service=service, priority=priority.upper(), at=moment)
    return {"target": r.target, "via": r.via, "at": moment.isoformat(), "chat": list(r.chat),
            "people": [{"id": p.id, "name": p.name, "timezone": p.timezone, "language": p.language,
                        "contacts": [{"kind": c.kind, "url": c.url} for c in p.contacts]} for p in r.people]}


@router.put("/{name}", summary="Replace (or add) one on-call file, stored as <name>.yaml",
            openapi_extra={"requestBody": {"required": True, "content": {
                "application/yaml": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}}}}},
            responses={413: {"description": "the file is too large"},
                       422: {"description": "invalid (with every other file): errors with file, line, path, message; "
                                            "nothing was written"}})
async def put_file(name: str, request: Request, directory: OnCallDirDep, db: RecordsDep,
                   principal: Admin) -> Response:
    if not FILE_NAME.match(name):
        return _invalid([ValidationProblem(f"{name}.yaml", 1, "", "a file name is lowercase letters, digits, "
                                                                  "- and _ (at most 64), like payments-team")])
    raw = await request.body()
    if len(raw) > MAX_FILE_BYTES:
        raise HTTPException(413, f"an on-call file is at most {MAX_FILE_BYTES} bytes")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    text, problem = _text(raw, ctype)
    if problem:
        return _invalid([ValidationProblem(f"{name}.yaml", 1, "", problem)])
    # file I/O and validation off the event loop, one writer at a time
    answer = await run_in_threadpool(_validate_and_write, directory, name, text)
    # the edit and the refused attempt alike (nothing is written then), with the file's size
    await audited_async(db, principal, "oncall.file_written", f"{name}.yaml", written=answer.status_code == 200,
                        bytes=len(raw))
    return answer


def _text(raw: bytes, ctype: str) -> tuple[str, str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "", "the body is not UTF-8 text"
    if not text.strip():
        return "", "the body is empty: send the YAML (or JSON) of the file"
    if ctype.endswith("json"):
        # stored as pretty JSON (which is YAML), so error lines point into what is stored
        try:
            text = json.dumps(read_json(raw), indent=2, ensure_ascii=False) + "\n"
            text.encode("utf-8")
        except BadJson as err:
            return "", str(err)
        except UnicodeEncodeError:
            return "", "the body holds text that is not valid Unicode"
    return text, ""


def _validate_and_write(directory: Path, name: str, text: str) -> Response:
    with _writing:
        existing = oncall_files(directory)
        # an existing <name>.yml is the same file: it is replaced in place
        target = next((p for p in existing if p.stem == name), directory / f"{name}.yaml")
        sources: list[tuple[str, str | None]] = []
        for path in existing:
            if path != target:
                try:
                    sources.append((path.name, path.read_text(encoding="utf-8")))
                except (OSError, UnicodeDecodeError):
                    sources.append((path.name, None))
        sources.append((target.name, text))  # last: a clash with a file on disk is reported in the new one
        config, problems = check_texts(sources)
        if problems or config is None:
            return _invalid(problems)
        _atomic_write(target, text)
        remember(directory, config)
    return JSONResponse({"valid": True, "file": target.name, "counts": {
        "people": len(config.people), "teams": len(config.teams), "schedules": len(config.schedules),
        "escalation_policies": len(config.policies), "roles": len(config.roles)}})


def _atomic_write(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _invalid(problems: list[ValidationProblem]) -> Response:
    errors = [{"file": Path(p.file).name, "line": p.line, "path": p.path, "message": p.message} for p in problems]
    # escaped: the errors echo posted text, which may hold lone surrogates UTF-8 cannot encode
    return Response(json.dumps({"valid": False, "errors": errors}, ensure_ascii=True), status_code=422,
                    media_type="application/json")


__all__ = ["router", "get_oncall"]
