"""Room: api (HTTP edge) — Slack interactivity: the Acknowledge, Take command and Resolve buttons
on pages and war-room posts (warroom/delivery/war_rooms.py puts them there) come back here.

Slack POSTs `payload=<block_actions JSON>` to the app's Request URL,
`https://<warroom>/api/v1/slack/interactions`, signed with the app's signing secret; slack-sdk's
SignatureVerifier checks the signature and that the request is under five minutes old
(WARROOM_SLACK_SIGNING_SECRET, a secret: warroom/secrets.py). No API key: the signature is the
caller's proof, as PagerDuty's and incident.io's Slack apps work.

Who acts is the on-call person whose `chat_handles.slack` is the clicking Slack user: their
user id (`U…`), their username, or (when the API has the bot token, WARROOM_SLACK_TOKEN, to ask
users.info) their email. A Slack user who is no on-call person is told so and nothing is done.
The action is the engine's own (warroom.client.act, as the JSON API's): acknowledge; take
command (the clicker becomes the commander); resolve (verification runs first). The answer goes
back through the click's `response_url`: in the conversation for what was done, only to the
clicker for a refusal.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.body import JsonRoute, read_json
from api.deps import OnCallDirDep, RecordsDep, SettingsDep, TemporalDep
from api.schemas import Problem
from warroom import client as temporal
from warroom import records, secrets
from warroom.delivery.war_rooms import ACTIONS, DEFAULT_SLACK_API_URL, SlackApi, WarRoomError
from warroom.oncall import OnCallConfig, OnCallError, Person, load_oncall

router = APIRouter(route_class=JsonRoute)
log = logging.getLogger("warroom.slack")

SIGNING_SECRET = "WARROOM_SLACK_SIGNING_SECRET"
BOT_TOKEN = "WARROOM_SLACK_TOKEN"
DONE = {"warroom.acknowledge": "acknowledged", "warroom.take_command": "took command of",
        "warroom.resolve": "resolved (verification runs first)"}


def _payload(body: bytes) -> dict[str, Any]:
    try:
        found = read_json(parse_qs(body.decode("utf-8"))["payload"][0].encode())
    except (KeyError, IndexError, ValueError, UnicodeDecodeError):
        raise HTTPException(400, "not a Slack interaction: expected a form field `payload` holding JSON") from None
    if not isinstance(found, dict):
        raise HTTPException(400, "payload: must be a JSON object")
    return found


def incident_of(db: Any, value: str) -> str | None:
    """The incident a button names: `incident:<id>` (a war-room post) or `page:<delivery key>`."""
    kind, _, rest = value.partition(":")
    if kind == "incident":
        return rest or None
    if kind == "page":
        row = records.delivery(db, key=rest)
        return row.incident_id if row is not None else None
    return None


def slack_person(config: OnCallConfig, user: dict[str, Any], api_url: str) -> Person | None:
    """The on-call person a Slack user is (see the module docstring)."""
    found = config.person_by_chat("slack", str(user.get("id") or ""), str(user.get("username") or ""),
                                  str(user.get("name") or ""))
    token = secrets.read(BOT_TOKEN)
    if found is not None or not token or not user.get("id"):
        return found
    try:
        answer = SlackApi(token, api_url=api_url).call("users.info", {"user": user["id"]}, read=True)
    except WarRoomError as err:
        log.warning("Slack users.info for %s failed: %s", user.get("id"), err)
        return None
    return config.person_by_chat("slack", str(((answer.get("user") or {}).get("profile") or {}).get("email") or ""))


def reply(response_url: str, text: str, *, public: bool) -> None:
    """Answer a click through its response_url (in the conversation, or only to the clicker)."""
    if not response_url:
        return
    from slack_sdk.webhook import WebhookClient

    try:
        WebhookClient(response_url, timeout=10).send(text=text, response_type="in_channel" if public else "ephemeral",
                                                     replace_original=False)
    except Exception as err:  # the action stands; Slack just does not show the answer
        log.warning("answering a Slack click failed: %s", type(err).__name__)


@router.post("/api/v1/slack/interactions", summary="Slack interactivity: the buttons on pages and war-room posts",
             responses={400: {"model": Problem, "description": "not a Slack interaction"},
                        401: {"model": Problem, "description": "not signed with the Slack app's signing secret, "
                                                               "or older than five minutes"},
                        404: {"model": Problem, "description": "Slack interactivity is off: "
                                                               "WARROOM_SLACK_SIGNING_SECRET is not set"}})
async def interactions(request: Request, client: TemporalDep, db: RecordsDep, directory: OnCallDirDep,
                       settings: SettingsDep) -> Response:
    from slack_sdk.signature import SignatureVerifier

    secret = secrets.read(SIGNING_SECRET)
    if not secret:
        raise HTTPException(404, f"Slack interactivity is not set up: {SIGNING_SECRET} (the Slack app's signing "
                                 "secret) is not in the API's environment")
    body = await request.body()
    if not SignatureVerifier(secret).is_valid_request(body, dict(request.headers)):
        raise HTTPException(401, "not signed with the Slack app's signing secret (X-Slack-Signature), or older than "
                                 "five minutes (X-Slack-Request-Timestamp)")
    payload = _payload(body)
    actions = payload.get("actions") if payload.get("type") == "block_actions" else None
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    if action.get("action_id") not in ACTIONS:
        return Response(status_code=200)  # another app's button, or an interaction warroom does not offer
    response_url = str(payload.get("response_url") or "")
    user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
    incident_id = await run_in_threadpool(incident_of, db, str(action.get("value") or ""))
    try:
        config = await run_in_threadpool(load_oncall, directory)
    except OnCallError:
        config = OnCallConfig.empty()
    person = await run_in_threadpool(slack_person, config, user, settings.slack_api_url or DEFAULT_SLACK_API_URL)
    text, public = await _act(client, action["action_id"], incident_id, person, user)
    await run_in_threadpool(reply, response_url, text, public=public)
    return Response(status_code=200)


async def _act(client: Any, action_id: str, incident_id: str | None, person: Person | None,
               user: dict[str, Any]) -> tuple[str, bool]:
    """Do what the button says; the answer to show and whether the conversation sees it."""
    if incident_id is None:
        return "This button's incident is not known here (the page's record is gone).", False
    if person is None:
        return (f"<@{user.get('id', '')}> is not an on-call person here: add `chat_handles: {{slack: "
                f"{user.get('id', 'U…')}}}` to your entry in the on-call files, then press again."), False
    by = person.id
    command = {"warroom.acknowledge": ("acknowledge", {"by": by, "note": "from Slack"}),
               "warroom.take_command": ("assign_commander", {"by": by, "commander": by}),
               "warroom.resolve": ("resolve", {"by": by, "resolution": "resolved from Slack"})}[action_id]
    try:
        await temporal.act(client, incident_id, *command)
    except temporal.UnknownIncident:
        return f"Incident {incident_id} is not known (closed long ago?).", False
    except temporal.ActionRefused as err:
        return f"Refused: {err}", False
    return f"{person.name} {DONE[action_id]} {incident_id}.", True
