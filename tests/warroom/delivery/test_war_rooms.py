"""War-room providers against real HTTP on loopback: the Slack provider against FakeSlack, the
webhook provider against a small recording receiver, and provider_for."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from warroom.settings import Settings
from warroom.signatures import SignatureError, verify_warroom
from tests.fake_slack import FakeSlack
from warroom.delivery.war_rooms import (LogWarRoom, Room, SlackWarRoom, WarRoomError, WebhookWarRoom,
                               provider_for, slack_channel_name)

INCIDENT = "incident-checkout-5xx-eu"
LINK = "https://warroom.example/incidents/incident-checkout-5xx-eu"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def open_room(provider: SlackWarRoom, responders: list[str], key: str = "wf:war_room") -> Room:
    return provider.open(incident_id=INCIDENT, title="Checkout 5xx in eu", priority="P0",
                         brief="Error rate 12% on checkout since 14:02 UTC. Runbook: http-5xx.",
                         responders=responders, link=LINK, idempotency_key=key)


def test_slack_open_creates_invites_posts_and_pins(slack: FakeSlack) -> None:
    alice = slack.add_user("alice@example.com")
    bob = slack.add_user("bob@example.com")
    provider = SlackWarRoom(slack.token, api_url=slack.api_url, workspace_url="https://acme.slack.com/")

    room = open_room(provider, [alice, "bob@example.com"])

    channel = slack.channels["inc-checkout-5xx-eu"]
    assert room == Room(provider="slack", channel=channel.id,
                        url=f"https://acme.slack.com/archives/{channel.id}", incident_id=INCIDENT)
    assert set(channel.members) == {slack.bot_user_id, alice, bob}
    [brief] = channel.texts()
    assert "*[P0] Checkout 5xx in eu*" in brief and "Error rate 12%" in brief
    assert f"<{LINK}|{INCIDENT}>" in brief
    assert channel.pinned_texts() == [brief]
    for call in slack.calls:
        assert call.headers["authorization"] == f"Bearer {slack.token}"
    # Writes as JSON, reads form-encoded (slack-sdk's way: Slack ignores JSON bodies on read methods).
    lookup = slack.calls_of("users.lookupByEmail")[0]
    assert lookup.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert lookup.args["email"] == "bob@example.com"
    assert slack.calls_of("chat.postMessage")[0].headers["content-type"].startswith("application/json")


def test_slack_open_again_reuses_the_channel_and_posts_the_brief_once(slack: FakeSlack) -> None:
    alice = slack.add_user("alice@example.com")
    provider = SlackWarRoom(slack.token, api_url=slack.api_url)
    first = open_room(provider, [alice])

    again = open_room(provider, [alice])  # an activity retry, or a worker restarted mid-way

    assert again == first
    assert [c.args["name"] for c in slack.calls_of("conversations.create")] == [slack_channel_name(INCIDENT)] * 2
    assert len(slack.calls_of("conversations.list")) == 1
    channel = slack.channels[slack_channel_name(INCIDENT)]
    assert len(channel.texts()) == 1 and len(channel.pins) == 1
    assert len(slack.calls_of("chat.postMessage")) == 1
    assert first.url == f"https://slack.com/app_redirect?channel={channel.id}"


def test_slack_open_after_the_brief_failed_posts_and_pins_it_on_retry(slack: FakeSlack) -> None:
    provider = SlackWarRoom(slack.token, api_url=slack.api_url)
    slack.fail("pins.add", error="internal_error")
    with pytest.raises(WarRoomError) as err:
        open_room(provider, [])
    assert err.value.retryable and err.value.code == "internal_error"

    open_room(provider, [])

    channel = slack.channels[slack_channel_name(INCIDENT)]
    assert len(channel.texts()) == 1  # the brief posted before the failure is found, not repeated
    assert channel.pinned_texts() == channel.texts()


def test_slack_post_adds_a_message_once_per_key(slack: FakeSlack) -> None:
    provider = SlackWarRoom(slack.token, api_url=slack.api_url)
    room = open_room(provider, [])

    provider.post(room, text="Update 14:17: mitigation <rollback> applied & error rate 3%",
                  idempotency_key="wf:update:1")
    provider.post(room, text="Update 14:17: mitigation <rollback> applied & error rate 3%",
                  idempotency_key="wf:update:1")  # retried
    provider.post(room, text="Resolved", idempotency_key="wf:resolved")

    texts = slack.channels[slack_channel_name(INCIDENT)].texts()
    assert texts[1:] == ["Update 14:17: mitigation &lt;rollback&gt; applied &amp; error rate 3%", "Resolved"]


def test_slack_invite_later_and_unknown_responders(slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    alice = slack.add_user("alice@example.com")
    carol = slack.add_user("carol@example.com")
    provider = SlackWarRoom(slack.token, api_url=slack.api_url)
    with caplog.at_level(logging.WARNING, logger="warroom.war_rooms"):
        room = open_room(provider, [alice, "nobody@example.com", "@dave"])  # opens anyway
    assert "nobody@example.com, @dave" in caplog.text

    provider.invite(room, [alice, carol])  # alice already in: fine

    assert set(slack.channels[slack_channel_name(INCIDENT)].members) == {slack.bot_user_id, alice, carol}
    with pytest.raises(WarRoomError) as err:
        provider.invite(room, ["UNOSUCHUSER"])
    assert err.value.code == "not_invited" and not err.value.retryable


def test_slack_reuses_a_channel_made_by_hand_by_joining_it(slack: FakeSlack) -> None:
    made = slack.add_channel(slack_channel_name(INCIDENT))
    provider = SlackWarRoom(slack.token, api_url=slack.api_url)

    room = open_room(provider, [])

    assert room.channel == made.id
    assert slack.bot_user_id in made.members and len(made.texts()) == 1


def test_slack_invalid_token_names_the_error_without_the_token(slack: FakeSlack) -> None:
    secret = "xoxb-wrong-and-secret"
    provider = SlackWarRoom(secret, api_url=slack.api_url)
    with pytest.raises(WarRoomError) as err:
        open_room(provider, [])
    assert err.value.code == "invalid_auth" and not err.value.retryable
    assert "invalid_auth" in str(err.value)
    assert secret not in str(err.value) and secret not in repr(err.value) and secret not in repr(provider)
    assert slack.channels == {}


def test_slack_rate_limit_is_retryable_with_retry_after(slack: FakeSlack) -> None:
    provider = SlackWarRoom(slack.token, api_url=slack.api_url)
    room = open_room(provider, [])
    slack.rate_limit("chat.postMessage", retry_after=7)

    with pytest.raises(WarRoomError) as err:
        provider.post(room, text="update", idempotency_key="wf:update:1")
    assert err.value.retryable and err.value.code == "ratelimited"
    assert err.value.status == 429 and err.value.retry_after == 7

    provider.post(room, text="update", idempotency_key="wf:update:1")
    assert slack.channels[slack_channel_name(INCIDENT)].texts()[1:] == ["update"]


def test_slack_errors_are_named(slack: FakeSlack) -> None:
    provider = SlackWarRoom(slack.token, api_url=slack.api_url)
    with pytest.raises(WarRoomError) as err:
        provider.post(Room(provider="slack", channel="CNOSUCH"), text="x", idempotency_key="k")
    assert err.value.code == "channel_not_found" and not err.value.retryable
    slack.fail("conversations.create", error="ratelimited")  # Slack's HTTP 200 form of it
    with pytest.raises(WarRoomError) as err:
        open_room(provider, [])
    assert err.value.retryable


def test_slack_channel_names() -> None:
    assert slack_channel_name("incident-Checkout 5xx/EU") == "inc-checkout-5xx-eu"
    assert slack_channel_name("INC 42") == "inc-inc-42"
    long_a, long_b = "x" * 100 + "a", "x" * 100 + "b"
    assert len(slack_channel_name(long_a)) == 80
    assert slack_channel_name(long_a) != slack_channel_name(long_b)


# -- webhook -----------------------------------------------------------------------------

@dataclass
class Receiver:
    """Records every POST; answers with the queued statuses first, then 200 and `answer`."""
    answer: dict[str, Any] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            rec.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = rec.statuses.pop(0) if rec.statuses else 200
            data = json.dumps(rec.answer if status == 200 else {"error": "nope"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/war-room/s3cr3t-path"
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_open_post_invite_bodies_headers_and_signature(receiver: Receiver) -> None:
    receiver.answer = {"room": "bridge-42", "url": "https://chat.example/r/42", "bridge": "https://meet.example/42"}
    provider = WebhookWarRoom(receiver.url, secret="hook-secret")

    room = provider.open(incident_id=INCIDENT, title="Checkout 5xx in eu", priority="P0", brief="the brief",
                         responders=["alice", "bob"], link=LINK, idempotency_key="wf:war_room")
    provider.post(room, text="Update: mitigated", idempotency_key="wf:update:1")
    provider.invite(room, ["carol"])

    assert room == Room(provider="webhook", channel="bridge-42", url="https://chat.example/r/42",
                        bridge="https://meet.example/42", incident_id=INCIDENT)
    opened, posted, invited = receiver.bodies()
    assert opened == {"event": "war_room.open", "incident_id": INCIDENT, "title": "Checkout 5xx in eu",
                      "priority": "P0", "brief": "the brief", "responders": ["alice", "bob"], "link": LINK,
                      "idempotency_key": "wf:war_room"}
    assert posted == {"event": "war_room.post", "incident_id": INCIDENT, "room": "bridge-42",
                      "text": "Update: mitigated", "idempotency_key": "wf:update:1"}
    assert invited["event"] == "war_room.invite" and invited["responders"] == ["carol"]
    assert invited["room"] == "bridge-42" and invited["idempotency_key"].startswith("invite:")
    headers = [h for h, _ in receiver.requests]
    assert [h["idempotency-key"] for h in headers] == ["wf:war_room", "wf:update:1", invited["idempotency_key"]]
    for h, body in receiver.requests:
        assert h["content-type"] == "application/json"
        verify_warroom("hook-secret", body, h, now=time.time())  # raises if it does not verify
    h, body = receiver.requests[0]
    with pytest.raises(SignatureError):
        verify_warroom("other-secret", body, h, now=time.time())


def test_webhook_without_answer_or_secret(receiver: Receiver) -> None:
    provider = WebhookWarRoom(receiver.url)
    room = provider.open(incident_id=INCIDENT, title="t", priority="P2", brief="b", responders=[],
                         link="", idempotency_key="k")
    assert room == Room(provider="webhook", channel=INCIDENT, incident_id=INCIDENT)
    assert "x-warroom-signature" not in receiver.requests[0][0]


def test_webhook_non_2xx_is_an_error_with_the_status(receiver: Receiver) -> None:
    provider = WebhookWarRoom(receiver.url, secret="hook-secret")
    room = Room(provider="webhook", channel="r1", incident_id=INCIDENT)
    receiver.statuses = [400, 503]
    with pytest.raises(WarRoomError) as err:
        provider.post(room, text="x", idempotency_key="k1")
    assert err.value.status == 400 and not err.value.retryable and "400" in str(err.value)
    assert "s3cr3t-path" not in str(err.value)
    with pytest.raises(WarRoomError) as err:
        provider.post(room, text="x", idempotency_key="k1")
    assert err.value.status == 503 and err.value.retryable


def test_webhook_unreachable_is_retryable() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens there now
    provider = WebhookWarRoom(f"http://127.0.0.1:{port}/hook", timeout=2)
    with pytest.raises(WarRoomError) as err:
        provider.post(Room(provider="webhook", channel="r"), text="x", idempotency_key="k")
    assert err.value.retryable and err.value.code == "transport"


# -- provider_for ------------------------------------------------------------------------

def test_provider_for_picks_each_provider(slack: FakeSlack) -> None:
    assert isinstance(provider_for(Settings(), {}), LogWarRoom)
    assert isinstance(provider_for(Settings(war_room="log"), {}), LogWarRoom)

    provider = provider_for(Settings(war_room="slack", slack_api_url=slack.api_url,
                                     slack_workspace_url="https://acme.slack.com"),
                            {"WARROOM_SLACK_TOKEN": slack.token})
    assert isinstance(provider, SlackWarRoom) and provider.name == "slack"
    room = open_room(provider, [])
    assert room.url.startswith("https://acme.slack.com/archives/C")

    hook = provider_for(Settings(war_room="webhook"), {"WARROOM_WAR_ROOM_WEBHOOK_URL": "http://127.0.0.1:9/hook"})
    assert isinstance(hook, WebhookWarRoom) and hook.name == "webhook"

    with pytest.raises(WarRoomError, match="WARROOM_SLACK_TOKEN"):
        provider_for(Settings(war_room="slack"), {})
    with pytest.raises(WarRoomError, match="WARROOM_WAR_ROOM_WEBHOOK_URL"):
        provider_for(Settings(war_room="webhook"), {})
    with pytest.raises(WarRoomError, match="slack, webhook or log"):
        provider_for(Settings(war_room="teams"), {})


def test_log_provider_matches_the_first_war_room(caplog: pytest.LogCaptureFixture) -> None:
    provider = LogWarRoom()
    with caplog.at_level(logging.WARNING, logger="warroom.war_rooms"):
        room = provider.open(incident_id="Incident-ABC/1", title="t", priority="P1", brief="the brief",
                             responders=["alice"], link=LINK, idempotency_key="k")
        provider.post(room, text="update one", idempotency_key="k2")
    assert room == Room(provider="log", channel="#war-incident-abc-1", incident_id="Incident-ABC/1")
    assert "the brief" in caplog.text and "update one" in caplog.text
