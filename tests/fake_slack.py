"""A Slack-compatible fake Web API on 127.0.0.1 for tests.

Room: tests. A plain http.server in a background thread, so it serves sync and async tests
alike (the war-room activity calls it from a worker thread either way):

    with FakeSlack() as slack:                      # token "xoxb-test-token"
        alice = slack.add_user("alice@example.com")  # -> "U…"
        provider = SlackWarRoom(slack.token, api_url=slack.api_url)
        ...
        slack.channels["inc-x"].members, .messages, .pins, .texts()
        slack.calls                                  # [Call(method, args, headers, http_method)]
        slack.fail("chat.postMessage", times=2)      # the next 2 answer ok:false internal_error
        slack.rate_limit("chat.postMessage", retry_after=3)   # HTTP 429 + Retry-After
        slack.dm(alice).messages                     # a page posted to a user id (a DM from the bot)
        slack.click(url, secret, user=alice, message=m, action="warroom.acknowledge")
                                                     # a button press, as Slack POSTs it to the app
        slack.responses                              # what the app posted to the click's response_url

Like Slack: the Bearer token (or a `token` argument) must match, else `not_authed` /
`invalid_auth`; every error is HTTP 200 `{"ok": false, "error": ...}` except rate limits (429)
and unknown methods (404). Write methods read JSON, form or query arguments; read methods
(conversations.list, conversations.history, users.lookupByEmail, auth.test) read only the query
string and form bodies, as Slack ignores JSON for them. A message keeps its `blocks`; posting to
a user id opens the bot's DM with them. Interactivity as Slack does it: `click` POSTs
`payload=<block_actions JSON>` form-encoded, signed with the app's signing secret (v0 HMAC,
X-Slack-Signature and X-Slack-Request-Timestamp), with a `response_url` on this fake that
records what the app sends back. Errors mirrored: `name_taken`,
`invalid_name_*`, `channel_not_found`, `not_in_channel`, `already_in_channel`,
`cant_invite_self`, `user_not_found`, `users_not_found`, `message_not_found`,
`already_pinned`, `no_text`, `is_archived`.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

READ_METHODS = {"conversations.list", "conversations.history", "users.lookupByEmail", "users.info", "auth.test"}


@dataclass
class Call:
    method: str  # Slack method, e.g. "chat.postMessage"
    args: dict[str, Any]  # the arguments as the fake understood them
    headers: dict[str, str]  # lower-case names
    http_method: str = "POST"


@dataclass
class FakeChannel:
    id: str
    name: str
    creator: str
    members: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    pins: list[str] = field(default_factory=list)  # message ts
    archived: bool = False

    def texts(self) -> list[str]:
        return [m["text"] for m in self.messages]

    def pinned_texts(self) -> list[str]:
        return [m["text"] for m in self.messages if m["ts"] in self.pins]


class SlackError(Exception):
    def __init__(self, error: str, status: int = 200, headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers or {}


class FakeSlack:
    def __init__(self, token: str = "xoxb-test-token", *, team: str = "T0FAKE",
                 bot_user_id: str = "UBOTFAKE") -> None:
        self.token = token
        self.team = team
        self.bot_user_id = bot_user_id
        self.channels: dict[str, FakeChannel] = {}  # by name
        self.users: dict[str, str] = {}  # email -> user id
        self.usernames: dict[str, str] = {}  # user id -> username (the handle people @-mention)
        self.calls: list[Call] = []
        self.responses: list[dict[str, Any]] = []  # bodies the app POSTed to a click's response_url
        self._failures: dict[str, list[tuple[str, int, dict[str, str]]]] = {}
        self._ids = itertools.count(1)
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="fake-slack", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeSlack:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        assert self._server is not None, "FakeSlack is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    # -- setup and inspection --------------------------------------------------------------

    def add_user(self, email: str, user_id: str | None = None, username: str = "") -> str:
        with self._lock:
            uid = user_id or f"U{next(self._ids):08d}"
            self.users[email] = uid
            self.usernames[uid] = username or email.split("@")[0]
            return uid

    def dm(self, user_id: str) -> FakeChannel:
        """The bot's direct-message conversation with a user (made on first use)."""
        with self._lock:
            return self._dm(user_id)

    def _dm(self, user_id: str) -> FakeChannel:
        name = f"dm-{user_id}"
        if name not in self.channels:
            self.channels[name] = FakeChannel(id=f"D{next(self._ids):08d}", name=name, creator=self.bot_user_id,
                                              members=[self.bot_user_id, user_id])
        return self.channels[name]

    def click(self, app_url: str, signing_secret: str, *, user: str, message: dict[str, Any], action: str,
              channel: str = "", timestamp: int | None = None, signature: str | None = None) -> Any:
        """Press the button `action` of `message` as `user`: the block_actions request Slack
        sends to the app's Request URL. Returns the app's httpx.Response."""
        import httpx
        from slack_sdk.signature import SignatureVerifier

        button = next(e for b in message.get("blocks") or [] if b.get("type") == "actions"
                      for e in b["elements"] if e.get("action_id") == action)
        payload = {
            "type": "block_actions", "team": {"id": self.team, "domain": "fake"},
            "user": {"id": user, "username": self.usernames.get(user, ""), "name": self.usernames.get(user, ""),
                     "team_id": self.team},
            "api_app_id": "AFAKE", "token": "legacy-verification-token", "trigger_id": "1.2.3",
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel},
            "channel": {"id": channel}, "message": message,
            "response_url": f"{self.api_url.removesuffix('/api/')}/actions/{next(self._ids)}",
            "actions": [{"type": "button", "action_id": action, "block_id": "warroom_actions",
                         "value": button["value"], "text": button["text"],
                         "action_ts": f"{time.time():.6f}"}],
        }
        body = urlencode({"payload": json.dumps(payload)})
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sig = signature or SignatureVerifier(signing_secret).generate_signature(timestamp=ts, body=body)
        return httpx.post(app_url, content=body, timeout=30, headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sig})

    def add_channel(self, name: str, *, member: bool = False, archived: bool = False) -> FakeChannel:
        """A channel someone made by hand (the bot is not in it unless `member`)."""
        with self._lock:
            ch = FakeChannel(id=f"C{next(self._ids):08d}", name=name, creator="UHUMAN",
                             members=["UHUMAN"] + ([self.bot_user_id] if member else []), archived=archived)
            self.channels[name] = ch
            return ch

    def fail(self, method: str, times: int = 1, error: str = "internal_error", *, status: int = 200,
             headers: dict[str, str] | None = None) -> None:
        """The next `times` calls of `method` answer `{"ok": false, "error": error}` with `status`."""
        with self._lock:
            self._failures.setdefault(method, []).extend([(error, status, headers or {})] * times)

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """The next `times` calls of `method` answer HTTP 429 `ratelimited` with Retry-After."""
        self.fail(method, times, "ratelimited", status=429, headers={"Retry-After": str(retry_after)})

    def calls_of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def channel_by_id(self, channel_id: str) -> FakeChannel | None:
        return next((c for c in self.channels.values() if c.id == channel_id), None)

    # -- HTTP ------------------------------------------------------------------------------

    def _handle(self, req: BaseHTTPRequestHandler, http_method: str) -> None:
        url = urlsplit(req.path)
        method = url.path.rsplit("/", 1)[-1]
        headers = {k.lower(): v for k, v in req.headers.items()}
        length = int(headers.get("content-length") or 0)
        raw = req.rfile.read(length) if length else b""
        args: dict[str, Any] = dict(parse_qsl(url.query))
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/x-www-form-urlencoded":
            args.update(parse_qsl(raw.decode()))
        elif ctype == "application/json" and raw and method not in READ_METHODS:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if isinstance(body, dict):
                args.update(body)
        extra: dict[str, str] = {}
        if url.path.startswith("/actions/"):  # a click's response_url: the app's answer to it
            with self._lock:
                self.responses.append(json.loads(raw or b"{}"))
            req.send_response(200)
            req.send_header("Content-Length", "2")
            req.end_headers()
            req.wfile.write(b"ok")
            return
        with self._lock:
            self.calls.append(Call(method, args, headers, http_method))
            try:
                if not url.path.startswith("/api/") or not hasattr(self, "_m_" + method.replace(".", "_")):
                    raise SlackError("unknown_method", 404)
                self._auth(headers, args)
                queued = self._failures.get(method)
                if queued:
                    error, status, extra = queued.pop(0)
                    raise SlackError(error, status, extra)
                answer = {"ok": True, **getattr(self, "_m_" + method.replace(".", "_"))(args)}
                status = 200
            except SlackError as err:
                answer, status, extra = {"ok": False, "error": err.error}, err.status, err.headers
        data = json.dumps(answer).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json; charset=utf-8")
        req.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            req.send_header(name, value)
        req.end_headers()
        req.wfile.write(data)

    def _auth(self, headers: dict[str, str], args: dict[str, Any]) -> None:
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else args.get("token", "")
        if not token:
            raise SlackError("not_authed")
        if token != self.token:
            raise SlackError("invalid_auth")

    # -- methods (called with the lock held) -----------------------------------------------

    def _channel(self, args: dict[str, Any]) -> FakeChannel:
        ref = str(args.get("channel") or "")
        if ref in self.usernames:  # a user id: the bot's DM with them, as Slack opens it
            return self._dm(ref)
        ch = self.channel_by_id(ref) or (self.channels.get(ref[1:]) if ref.startswith("#") else None)
        if ch is None:
            raise SlackError("channel_not_found")
        return ch

    def _member_channel(self, args: dict[str, Any]) -> FakeChannel:
        ch = self._channel(args)
        if ch.archived:
            raise SlackError("is_archived")
        if self.bot_user_id not in ch.members:
            raise SlackError("not_in_channel")
        return ch

    def _describe(self, ch: FakeChannel) -> dict[str, Any]:
        return {"id": ch.id, "name": ch.name, "is_channel": True, "is_private": False,
                "is_archived": ch.archived, "is_member": self.bot_user_id in ch.members,
                "creator": ch.creator, "num_members": len(ch.members)}

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"team_id": self.team, "user_id": self.bot_user_id, "url": "https://fake.slack.com/"}

    def _m_conversations_create(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("name") or "")
        if not name:
            raise SlackError("invalid_name_required")
        if len(name) > 80:
            raise SlackError("invalid_name_maxlength")
        if not re.fullmatch(r"[a-z0-9_-]+", name):
            raise SlackError("invalid_name_specials")
        if name in self.channels:
            raise SlackError("name_taken")
        ch = FakeChannel(id=f"C{next(self._ids):08d}", name=name, creator=self.bot_user_id,
                         members=[self.bot_user_id])
        self.channels[name] = ch
        return {"channel": self._describe(ch)}

    def _m_conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        exclude_archived = str(args.get("exclude_archived", "false")).lower() in ("true", "1")
        chans = [c for c in self.channels.values() if not (exclude_archived and c.archived)]
        limit = max(1, min(int(args.get("limit") or 100), 999))
        start = int(args.get("cursor") or 0)
        page = chans[start:start + limit]
        next_cursor = str(start + limit) if start + limit < len(chans) else ""
        return {"channels": [self._describe(c) for c in page],
                "response_metadata": {"next_cursor": next_cursor}}

    def _m_conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args)
        if ch.archived:
            raise SlackError("is_archived")
        if self.bot_user_id not in ch.members:
            ch.members.append(self.bot_user_id)
        return {"channel": self._describe(ch)}

    def _m_conversations_invite(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._member_channel(args)
        users = args.get("users")
        ids = users if isinstance(users, list) else [u.strip() for u in str(users or "").split(",") if u.strip()]
        if not ids:
            raise SlackError("no_user")
        known = set(self.users.values())
        for uid in ids:  # Slack without `force`: the first bad user fails the whole call
            if uid == self.bot_user_id:
                raise SlackError("cant_invite_self")
            if uid not in known:
                raise SlackError("user_not_found")
            if uid in ch.members:
                raise SlackError("already_in_channel")
        ch.members.extend(ids)
        return {"channel": self._describe(ch)}

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._member_channel(args)
        limit = max(1, min(int(args.get("limit") or 100), 999))
        newest_first = list(reversed(ch.messages))[:limit]
        return {"messages": [dict(m) for m in newest_first], "has_more": len(ch.messages) > limit}

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._member_channel(args)
        text = str(args.get("text") or "")
        if not text and not args.get("blocks"):
            raise SlackError("no_text")
        metadata = args.get("metadata")
        if isinstance(metadata, str):  # form-encoded callers send it as a JSON string
            metadata = json.loads(metadata)
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        message = {"type": "message", "user": self.bot_user_id, "text": text, "ts": ts}
        if metadata:
            message["metadata"] = metadata
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if blocks:
            message["blocks"] = blocks
        ch.messages.append(message)
        return {"channel": ch.id, "ts": ts, "message": dict(message)}

    def _m_pins_add(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._member_channel(args)
        ts = str(args.get("timestamp") or "")
        if not any(m["ts"] == ts for m in ch.messages):
            raise SlackError("message_not_found")
        if ts in ch.pins:
            raise SlackError("already_pinned")
        ch.pins.append(ts)
        return {}

    def _m_users_lookupByEmail(self, args: dict[str, Any]) -> dict[str, Any]:
        uid = self.users.get(str(args.get("email") or ""))
        if uid is None:
            raise SlackError("users_not_found")
        return {"user": {"id": uid, "team_id": self.team, "profile": {"email": args["email"]}}}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        uid = str(args.get("user") or "")
        email = next((e for e, u in self.users.items() if u == uid), None)
        if email is None:
            raise SlackError("user_not_found")
        return {"user": {"id": uid, "team_id": self.team, "name": self.usernames.get(uid, ""),
                         "profile": {"email": email}}}
