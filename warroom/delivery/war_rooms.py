"""War-room providers: open an incident's room, invite responders, post the brief and updates.

Room: delivery (warroom/delivery), the activities' I/O library (called from the sync war-room activity in its thread pool; no
workflow imports this). Three providers share one interface:

* `SlackWarRoom` — Slack Web API with a bot token, through slack-sdk's WebClient:
  conversations.create, conversations.invite, chat.postMessage (the brief, then every update,
  each with Acknowledge, Take command and Resolve buttons: `incident_actions`), pins.add (the
  brief). A button click comes back to the API (api/routes/slack.py).
* `WebhookWarRoom` — POSTs JSON events to one URL (a meeting bridge, an internal chat) with an
  `Idempotency-Key` header and, with a secret, warroom's HMAC signature.
* `LogWarRoom` — the default: logs the room and the brief, as the first war room did.

Idempotency (docs/war_rooms.md). Opening twice for one incident gives the same room: Slack's
`name_taken` leads to the existing channel, and every message is posted with Slack message
metadata carrying its idempotency key, so a retry first looks at the channel's recent history
and does not post a message that is already there (the brief is then pinned if it was not).
The webhook provider leaves deduplication to the receiver through `Idempotency-Key`.

Errors are `WarRoomError`: `retryable` says whether trying again may help (rate limits, 5xx,
timeouts; `retry_after` in seconds when the server said), `code` is Slack's error code or
`http_<status>`. No message or log line carries the token or the webhook URL's path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit


from warroom import secrets
from warroom.settings import Settings
from warroom.signatures import sign_warroom

# httpx is imported where a room is called, not with this module: it loads rich and pygments
# (its CLI), 8 MB and 0.1 s of every worker's start, where most war rooms are the log.
if TYPE_CHECKING:
    import httpx

log = logging.getLogger("warroom.war_rooms")

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_TIMEOUT_S = 10.0
# Slack message metadata marking warroom's own messages; the payload carries the key.
METADATA_EVENT = "warroom_delivery"
# How many recent messages a retry looks through for its idempotency key.
HISTORY_LIMIT = 100
_SLACK_RETRYABLE = {"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                    "request_timeout", "team_added_to_org"}


@dataclass
class Room:
    provider: str  # "slack" | "webhook" | "log"
    channel: str  # Slack channel id; webhook: the receiver's room id or the incident id; log: "#war-<slug>"
    url: str = ""  # the link people click
    bridge: str = ""  # meeting bridge URL, if any
    incident_id: str = ""  # so post/invite can name the incident to a webhook receiver


class WarRoomError(Exception):
    """A war-room call failed. str() is fit for the timeline; it never holds a secret."""

    def __init__(self, message: str, *, code: str = "", status: int | None = None,
                 retryable: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


class WarRoomProvider(Protocol):
    name: str

    def open(self, *, incident_id: str, title: str, priority: str, brief: str,
             responders: Sequence[str], link: str, idempotency_key: str) -> Room: ...

    def post(self, room: Room, *, text: str, idempotency_key: str) -> None: ...

    def invite(self, room: Room, responders: Sequence[str]) -> None: ...


def slack_channel_name(incident_id: str) -> str:
    """`inc-<slug>`: lowercase letters, digits, `-` and `_`, at most 80 characters (Slack's
    rules). The workflow ids' `incident-` prefix is dropped (`inc-` says it already); a slug cut
    short ends in a hash of the whole id, so two long ids sharing a prefix get two channels."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", incident_id.lower())
    slug = slug.removeprefix("incident-")
    slug = re.sub(r"-{2,}", "-", slug).strip("-_") or "incident"
    name = "inc-" + slug
    if len(name) > 80:
        digest = hashlib.sha256(incident_id.encode()).hexdigest()[:8]
        name = name[:71].rstrip("-_") + "-" + digest
    return name


def log_channel_name(incident_id: str) -> str:
    return "#war-" + re.sub(r"[^a-z0-9-]+", "-", incident_id.lower()).strip("-")[:60]


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After", "").strip()
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:  # an HTTP date: rare enough to let the retry policy decide
        return None


def _transport_error(what: str, err: httpx.HTTPError) -> WarRoomError:
    import httpx
    kind = "timed out" if isinstance(err, httpx.TimeoutException) else f"failed ({type(err).__name__})"
    return WarRoomError(f"{what} {kind}", code="transport", retryable=True)


def _escape(text: str) -> str:
    # Slack mrkdwn treats these three as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------- Slack: the client and the buttons

# The buttons on every page and war-room post, by action_id; api/routes/slack.py answers a click.
ACTIONS = {"warroom.acknowledge": "Acknowledge", "warroom.take_command": "Take command",
           "warroom.resolve": "Resolve"}
_SECTION_MAX = 3000  # Slack's limit on a section's text


class SlackApi:
    """Slack's Web API with one token, through slack-sdk's WebClient (no retry handlers of its
    own: Temporal retries the activity). str()/repr() never show the token."""

    def __init__(self, token: str, *, api_url: str = DEFAULT_SLACK_API_URL,
                 timeout: float = DEFAULT_TIMEOUT_S) -> None:
        from slack_sdk import WebClient

        self._client = WebClient(token=token, base_url=api_url.rstrip("/") + "/",
                                 timeout=max(1, round(timeout)), retry_handlers=[])

    def __repr__(self) -> str:
        return "SlackApi()"

    def call(self, method: str, args: Mapping[str, Any], *, read: bool = False) -> dict[str, Any]:
        """One Web API call: reads form-encoded (Slack ignores JSON bodies there), writes as JSON.
        Slack's errors become WarRoomError."""
        from slack_sdk.errors import SlackApiError, SlackClientError

        try:
            if read:
                answer = self._client.api_call(method, params=dict(args))
            else:
                answer = self._client.api_call(method, json=dict(args))
        except SlackApiError as err:
            raise _slack_error(method, err.response) from None
        except (SlackClientError, OSError) as err:  # urllib's URLError, timeouts, refused connections
            kind = "timed out" if isinstance(err, TimeoutError) or "timed out" in str(err) else \
                f"failed ({type(err).__name__})"
            raise WarRoomError(f"Slack {method} {kind}", code="transport", retryable=True) from None
        return dict(answer.data) if isinstance(answer.data, dict) else {}




def incident_blocks(text: str, value: str) -> list[dict[str, Any]]:
    """Block Kit for a message about an incident: its text, then the three buttons. `value`
    says which incident a click is about: `incident:<id>` (a war-room post) or
    `page:<delivery key>` (a page; the delivery record names the incident)."""
    from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ConfirmObject, SectionBlock

    shown = text if len(text) <= _SECTION_MAX else text[: _SECTION_MAX - 1] + "…"
    confirm = ConfirmObject(title="Resolve the incident?", text="Verification runs first, then the review.",
                            confirm="Resolve", deny="Cancel")
    buttons = [ButtonElement(text=label, action_id=action, value=value,
                             style="primary" if action == "warroom.acknowledge" else None,
                             confirm=confirm if action == "warroom.resolve" else None)
               for action, label in ACTIONS.items()]
    return [SectionBlock(text=shown).to_dict(), ActionsBlock(block_id="warroom_actions", elements=buttons).to_dict()]


def slack_page_target(url: str) -> tuple[str, str] | None:
    """(bot token, channel or user) of an Apprise `slack://xoxb-…/<target>` URL with one target;
    None for any other URL (an incoming webhook, several targets: Apprise sends those)."""
    if not url.lower().startswith("slack://"):
        return None
    parts = [p for p in url[len("slack://"):].split("?")[0].split("/") if p]
    if len(parts) != 2 or not parts[0].startswith(("xoxb-", "xoxp-")):
        return None
    return parts[0], parts[1].lstrip("@")


def send_slack_page(url: str, *, subject: str, body: str, idempotency_key: str, api_url: str = "",
                    timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """A page to one Slack user or channel through the bot (chat.postMessage), with the buttons.
    `url` is the expanded `slack://xoxb-…/<user id or channel>`; raises WarRoomError."""
    token, target = slack_page_target(url) or ("", "")
    if not token:
        raise WarRoomError("not a Slack bot URL (slack://xoxb-…/<user id>)", code="config")
    text = f"*{_escape(subject)}*\n{_escape(body)}" if subject else _escape(body)
    SlackApi(token, api_url=api_url or DEFAULT_SLACK_API_URL, timeout=timeout).call("chat.postMessage", {"channel": target, "text": text, "unfurl_links": False,
                                      "blocks": incident_blocks(text, f"page:{idempotency_key}"),
                                      "metadata": {"event_type": METADATA_EVENT,
                                                   "event_payload": {"idempotency_key": idempotency_key}}})


class LogWarRoom:
    """The default: a named channel in the worker's log. Repeats are left to the caller's
    delivery record (activities/war_room.py claims the communication first)."""

    name = "log"

    def open(self, *, incident_id: str, title: str, priority: str, brief: str,
             responders: Sequence[str], link: str, idempotency_key: str) -> Room:
        channel = log_channel_name(incident_id)
        log.warning("WAR ROOM %s opened for %s [%s] %s; responders %s\n%s%s", channel, incident_id,
                    priority, title, ", ".join(responders) or "-", brief, f"\n{link}" if link else "")
        return Room(provider=self.name, channel=channel, incident_id=incident_id)

    def post(self, room: Room, *, text: str, idempotency_key: str) -> None:
        log.warning("WAR ROOM %s: %s", room.channel, text)

    def invite(self, room: Room, responders: Sequence[str]) -> None:
        if responders:
            log.warning("WAR ROOM %s: inviting %s", room.channel, ", ".join(responders))


class SlackWarRoom:
    """A public Slack channel per incident, driven by a bot token (scopes in docs/war_rooms.md).

    Responders are Slack user ids (`U…`/`W…`) or email addresses (users.lookupByEmail); anything
    else cannot be invited and is reported. Calls go through SlackApi (slack-sdk)."""

    name = "slack"

    def __init__(self, token: str, *, api_url: str = DEFAULT_SLACK_API_URL, workspace_url: str = "",
                 bridge_url: str = "", timeout: float = DEFAULT_TIMEOUT_S) -> None:
        if not token:
            raise WarRoomError("no Slack bot token (WARROOM_SLACK_TOKEN)", code="config")
        self.api_url = api_url.rstrip("/") + "/"
        self.workspace_url = workspace_url.rstrip("/")
        self.bridge_url = bridge_url
        self._call = SlackApi(token, api_url=self.api_url, timeout=timeout).call

    def __repr__(self) -> str:  # never the token
        return f"SlackWarRoom(api_url={self.api_url!r})"

    def close(self) -> None:
        pass  # slack-sdk's WebClient opens a connection per call

    # -- the interface ---------------------------------------------------------------------

    def open(self, *, incident_id: str, title: str, priority: str, brief: str,
             responders: Sequence[str], link: str, idempotency_key: str) -> Room:
        name = slack_channel_name(incident_id)
        try:
            channel = self._call("conversations.create", {"name": name, "is_private": False})["channel"]
            fresh = True
        except WarRoomError as err:
            if err.code != "name_taken":
                raise
            channel = self._find_channel(name)  # a retry, or a channel people made by hand
            fresh = False
        if channel.get("is_archived"):
            raise WarRoomError(f"Slack channel #{name} exists but is archived; unarchive or rename it",
                               code="is_archived")
        if not fresh and not channel.get("is_member", True):
            self._call("conversations.join", {"channel": channel["id"]})
        room = Room(provider=self.name, channel=channel["id"], url=self._channel_url(channel["id"]),
                    bridge=self.bridge_url, incident_id=incident_id)
        try:
            self.invite(room, responders)
        except WarRoomError as err:
            if err.code != "not_invited":
                raise
            # An unknown responder must not keep the room from opening; they are paged anyway.
            log.warning("war room %s: %s", name, err)
        # A new channel is empty, so only a reused one needs its history read.
        ts = None if fresh else self._posted(room.channel, idempotency_key)
        if ts is None:
            ts = self._post_message(room.channel, self._brief_text(incident_id, title, priority, brief,
                                                                   link), idempotency_key, incident_id)
        try:
            self._call("pins.add", {"channel": room.channel, "timestamp": ts})
        except WarRoomError as err:
            if err.code != "already_pinned":
                raise
        return room

    def post(self, room: Room, *, text: str, idempotency_key: str) -> None:
        if self._posted(room.channel, idempotency_key) is None:
            self._post_message(room.channel, _escape(text), idempotency_key, room.incident_id)

    def invite(self, room: Room, responders: Sequence[str]) -> None:
        """Invite each responder in turn (one call each, so one bad id does not stop the rest);
        then raise a non-retryable WarRoomError (code `not_invited`) naming those who could
        not be invited."""
        missing: list[str] = []
        for responder in dict.fromkeys(r.strip() for r in responders if r and r.strip()):
            user = self._user_id(responder)
            if user is None:
                missing.append(responder)
                continue
            try:
                self._call("conversations.invite", {"channel": room.channel, "users": user})
            except WarRoomError as err:
                if err.code in ("already_in_channel", "cant_invite_self"):
                    continue
                if err.code in ("user_not_found", "user_is_restricted", "user_is_ultra_restricted",
                                "user_disabled", "cant_invite"):
                    missing.append(responder)
                    continue
                raise
        if missing:
            raise WarRoomError(f"could not invite to the Slack channel: {', '.join(missing)}",
                               code="not_invited")

    # -- helpers ---------------------------------------------------------------------------

    def _brief_text(self, incident_id: str, title: str, priority: str, brief: str, link: str) -> str:
        lines = [f"*[{_escape(priority)}] {_escape(title)}*", _escape(brief)]
        if link:
            lines.append(f"Incident: <{link}|{_escape(incident_id)}>")
        if self.bridge_url:
            lines.append(f"Bridge: {self.bridge_url}")
        return "\n\n".join(line for line in lines if line)

    def _channel_url(self, channel_id: str) -> str:
        if self.workspace_url:
            return f"{self.workspace_url}/archives/{channel_id}"
        return f"https://slack.com/app_redirect?channel={channel_id}"

    def _post_message(self, channel: str, text: str, key: str, incident_id: str) -> str:
        metadata = {"event_type": METADATA_EVENT,
                    "event_payload": {"idempotency_key": key, "incident_id": incident_id}}
        args: dict[str, Any] = {"channel": channel, "text": text, "metadata": metadata, "unfurl_links": False}
        if incident_id:
            args["blocks"] = incident_blocks(text, f"incident:{incident_id}")
        return self._call("chat.postMessage", args)["ts"]

    def _posted(self, channel: str, key: str) -> str | None:
        """The ts of a recent warroom message carrying this key, or None."""
        try:
            answer = self._call("conversations.history", {"channel": channel, "limit": HISTORY_LIMIT,
                                                          "include_all_metadata": "true"}, read=True)
        except WarRoomError as err:
            if err.code != "missing_scope":
                raise
            # Without channels:history we cannot tell: post (at least once beats never).
            log.warning("Slack token lacks channels:history; a retried message may appear twice")
            return None
        for message in answer.get("messages", []):
            meta = message.get("metadata") or {}
            if (meta.get("event_type") == METADATA_EVENT
                    and (meta.get("event_payload") or {}).get("idempotency_key") == key):
                return message["ts"]
        return None

    def _find_channel(self, name: str) -> dict[str, Any]:
        cursor = ""
        while True:
            params: dict[str, Any] = {"types": "public_channel", "exclude_archived": "false", "limit": 200}
            if cursor:
                params["cursor"] = cursor
            answer = self._call("conversations.list", params, read=True)
            for channel in answer.get("channels", []):
                if channel.get("name") == name:
                    return channel
            cursor = (answer.get("response_metadata") or {}).get("next_cursor", "")
            if not cursor:
                raise WarRoomError(f"Slack says #{name} is taken but does not list it "
                                   "(a private channel?)", code="name_taken")

    def _user_id(self, responder: str) -> str | None:
        if re.fullmatch(r"[UW][A-Z0-9]{2,}", responder):
            return responder
        if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", responder):
            try:
                return self._call("users.lookupByEmail", {"email": responder}, read=True)["user"]["id"]
            except WarRoomError as err:
                if err.code == "users_not_found":
                    return None
                raise
        return None


def _slack_error(method: str, response: Any) -> WarRoomError:
    """A SlackApiError's answer as a WarRoomError: 429 and 5xx retryable, else Slack's code."""
    status = response.status_code
    headers = {k.lower(): v for k, v in (response.headers or {}).items()}
    raw = headers.get("retry-after")
    raw = raw[0] if isinstance(raw, list) else raw
    try:
        wait = max(0.0, float(raw)) if raw else None
    except ValueError:  # an HTTP date: rare enough to let the retry policy decide
        wait = None
    if status == 429:
        return WarRoomError(f"Slack {method} rate limited" + (f"; retry after {wait:g} s" if wait else ""),
                            code="ratelimited", status=429, retryable=True, retry_after=wait)
    if status >= 500:
        return WarRoomError(f"Slack {method} answered HTTP {status}", code=f"http_{status}", status=status,
                            retryable=True)
    data = response.data if isinstance(response.data, dict) else None
    if data is None:
        return WarRoomError(f"Slack {method} answered HTTP {status} without a JSON object",
                            code=f"http_{status}", status=status)
    code = str(data.get("error") or "unknown_error")
    retryable = code in _SLACK_RETRYABLE
    return WarRoomError(f"Slack {method} failed: {code}", code=code, status=status, retryable=retryable,
                        retry_after=wait if retryable else None)


class WebhookWarRoom:
    """POST `war_room.open|post|invite` events to one URL. The receiver may answer the open with
    `{"room", "url", "bridge"}`; it should drop a repeated `Idempotency-Key`."""

    name = "webhook"

    def __init__(self, url: str, *, secret: str = "", timeout: float = DEFAULT_TIMEOUT_S,
                 http: httpx.Client | None = None) -> None:
        if not url:
            raise WarRoomError("no war-room webhook URL (WARROOM_WAR_ROOM_WEBHOOK_URL)", code="config")
        self._url = url
        self._secret = secret
        import httpx

        self._http = http or httpx.Client(timeout=timeout, follow_redirects=False)
        # A webhook URL often holds a token in its path: only the host goes into messages.
        self._where = urlsplit(url).netloc or "the war-room webhook"

    def __repr__(self) -> str:
        return f"WebhookWarRoom(host={self._where!r})"

    def close(self) -> None:
        self._http.close()

    def open(self, *, incident_id: str, title: str, priority: str, brief: str,
             responders: Sequence[str], link: str, idempotency_key: str) -> Room:
        answer = self._send({"event": "war_room.open", "incident_id": incident_id, "title": title,
                             "priority": priority, "brief": brief, "responders": list(responders),
                             "link": link, "idempotency_key": idempotency_key}, idempotency_key)

        def text(field: str) -> str:
            value = answer.get(field)
            return value if isinstance(value, str) else ""

        return Room(provider=self.name, channel=text("room") or incident_id, url=text("url"),
                    bridge=text("bridge"), incident_id=incident_id)

    def post(self, room: Room, *, text: str, idempotency_key: str) -> None:
        self._send({"event": "war_room.post", "incident_id": room.incident_id, "room": room.channel,
                    "text": text, "idempotency_key": idempotency_key}, idempotency_key)

    def invite(self, room: Room, responders: Sequence[str]) -> None:
        # Inviting has no natural event key: the room and the sorted names make one, so the
        # same invitation retried is recognisably the same.
        key = "invite:" + hashlib.sha256(
            "\n".join([room.channel, *sorted(responders)]).encode()).hexdigest()[:32]
        self._send({"event": "war_room.invite", "incident_id": room.incident_id, "room": room.channel,
                    "responders": list(responders), "idempotency_key": key}, key)

    def _send(self, event: dict[str, Any], key: str) -> dict[str, Any]:
        import httpx
        body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        if self._secret:
            headers.update(sign_warroom(self._secret, body, now=time.time()))
        what = f"war-room webhook {event['event']} to {self._where}"
        try:
            response = self._http.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as err:
            raise _transport_error(what, err) from None
        status = response.status_code
        if not 200 <= status < 300:
            retryable = status in (408, 425, 429) or status >= 500
            raise WarRoomError(f"{what} answered HTTP {status}", code=f"http_{status}", status=status,
                               retryable=retryable, retry_after=_retry_after(response) if retryable else None)
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            answer = {}
        return answer if isinstance(answer, dict) else {}


def provider_for(settings: Settings, env: Mapping[str, str] | None = None) -> WarRoomProvider:
    """The provider Settings.war_room names (slack | webhook | log; default log). Its tokens and
    the webhook's URL and signing secret are secrets (warroom.secrets: the worker's environment,
    WARROOM_SLACK_TOKEN, WARROOM_WAR_ROOM_WEBHOOK_URL, WARROOM_WAR_ROOM_WEBHOOK_SECRET). Built
    in the worker (a composition root), not at import."""
    kind = (settings.war_room or "log").strip().lower()
    timeout = settings.war_room_timeout or DEFAULT_TIMEOUT_S
    if kind == "log":
        return LogWarRoom()
    if kind == "slack":
        return SlackWarRoom(secrets.read("WARROOM_SLACK_TOKEN", env),
                            api_url=settings.slack_api_url or DEFAULT_SLACK_API_URL,
                            workspace_url=settings.slack_workspace_url,
                            bridge_url=settings.war_room_bridge_url, timeout=timeout)
    if kind == "webhook":
        return WebhookWarRoom(secrets.read("WARROOM_WAR_ROOM_WEBHOOK_URL", env),
                              secret=secrets.read("WARROOM_WAR_ROOM_WEBHOOK_SECRET", env), timeout=timeout)
    raise WarRoomError(f"WARROOM_WAR_ROOM must be slack, webhook or log, not {kind!r}", code="config")
