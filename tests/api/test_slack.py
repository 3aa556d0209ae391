"""Slack as a responder meets it, against tests/fake_slack.py speaking Slack's wire format: the
war room's brief and a page sent to a Slack user carry Acknowledge, Take command and Resolve
buttons (Block Kit); pressing one sends the app a signed block_actions request, and the engine
acts as the on-call person that Slack user is (by user id, or by email through users.info);
the answer goes back through the click's response_url. Unsigned, stale or forged requests do
nothing, and a Slack user who is no on-call person is told so."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from tests.activities.test_notify import write_config
from tests.fake_slack import FakeSlack
from tests.helpers import get_state, new_key, running_worker, serving, start, until
from warroom.delivery.war_rooms import SlackWarRoom, slack_channel_name
from warroom.settings import Settings

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # the Slack app's signing secret (a test value)
BOT = "xoxb-test-token"


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch):
    with FakeSlack(token=BOT) as fake:
        monkeypatch.setenv("WARROOM_SLACK_SIGNING_SECRET", SECRET)
        monkeypatch.setenv("WARROOM_SLACK_API_URL", fake.api_url)  # pages reach the fake too
        monkeypatch.setenv("SLACK_BOT", BOT)  # what the on-call file's ${SLACK_BOT} stands for
        yield fake


def oncall(tmp_path: Path, slack: FakeSlack) -> tuple[Path, dict[str, str]]:
    users = {"alice": slack.add_user("alice@example.com", username="alice.w"),
             "bob": slack.add_user("bob@example.com", username="bob.l"),
             "mallory": slack.add_user("mallory@example.com", username="mallory")}
    write_config(tmp_path, {
        "people": [
            # alice's page goes to her Slack user through the bot; she is mapped by her user id
            {"id": "alice", "name": "Alice Wang", "timezone": "UTC", "chat_handles": {"slack": users["alice"]},
             "contacts": [{"kind": "chat", "url": f"slack://${{SLACK_BOT}}/{users['alice']}"}]},
            # bob is known to Slack by his email only: mapped through users.info
            {"id": "bob", "name": "Bob Li", "timezone": "UTC", "chat_handles": {"slack": "bob@example.com"},
             "contacts": [{"kind": "chat", "url": f"slack://${{SLACK_BOT}}/{users['bob']}"}]},
        ],
        "escalation_policies": [{"id": "default", "levels": [{"targets": ["person:alice"], "wait_minutes": 15}]}],
        "roles": {r: ["person:bob"] for r in ("technical_manager", "customer_success_manager", "senior_engineer",
                                              "technical_lead", "management")},
    })
    return tmp_path / "oncall", users


async def press(slack: FakeSlack, url: str, **kw: Any) -> httpx.Response:
    # the fake posts synchronously: off the event loop, where the API and the worker run
    return await asyncio.to_thread(slack.click, f"{url}/api/v1/slack/interactions", SECRET, **kw)


def buttons(message: dict) -> list[tuple[str, str]]:
    return [(e["action_id"], e["text"]["text"]) for b in message["blocks"] if b["type"] == "actions"
            for e in b["elements"]]


async def test_buttons_on_the_war_room_and_on_a_page_act_as_the_mapped_on_call_person(
        env, engine, task_queue, tmp_path, slack, monkeypatch) -> None:
    monkeypatch.setenv("WARROOM_SLACK_TOKEN", BOT)  # the API asks users.info for bob's email
    directory, users = oncall(tmp_path, slack)
    from warroom.oncall import load_oncall
    config = load_oncall(directory)
    app = create_app(Settings(task_queue=task_queue, oncall_dir=directory, slack_api_url=slack.api_url),
                     client=env.client, engine=engine)
    room = SlackWarRoom(BOT, api_url=slack.api_url)
    async with running_worker(env.client, task_queue, engine, oncall=lambda: config, war_room=room,
                              retry_delay=0.01), serving(app) as url:
        handle = await start(env.client, task_queue, priority="P0", title="Checkout down")
        iid = (await get_state(handle)).incident_id
        await until(lambda: get_state(handle), "the war room", ok=lambda s: bool(s.war_room))
        channel = slack.channels[slack_channel_name(iid)]
        [brief] = channel.messages
        assert buttons(brief) == [("warroom.acknowledge", "Acknowledge"), ("warroom.take_command", "Take command"),
                                  ("warroom.resolve", "Resolve")]
        # alice's page, in her DM with the bot, carries the same buttons
        await until(lambda: slack.dm(users["alice"]).messages, "alice's page on Slack")
        [page] = slack.dm(users["alice"]).messages
        assert "Checkout down" in page["text"] and buttons(page) == buttons(brief)

        # a forged or stale click does nothing
        r = await press(slack, url, user=users["alice"], message=brief, action="warroom.acknowledge",
                        channel=channel.id, signature="v0=" + "0" * 64)
        assert r.status_code == 401 and "signing secret" in r.json()["detail"]
        r = await press(slack, url, user=users["alice"], message=brief, action="warroom.acknowledge",
                        channel=channel.id, timestamp=1_500_000_000)
        assert r.status_code == 401
        # a Slack user who is no on-call person is told so, only them
        r = await press(slack, url, user=users["mallory"], message=brief, action="warroom.acknowledge",
                        channel=channel.id)
        assert r.status_code == 200
        assert slack.responses[-1]["response_type"] == "ephemeral"
        assert "is not an on-call person" in slack.responses[-1]["text"]
        assert (await get_state(handle)).status == "triggered"

        # alice acknowledges from her page: the timeline says alice, the conversation sees it
        r = await press(slack, url, user=users["alice"], message=page, action="warroom.acknowledge",
                        channel=slack.dm(users["alice"]).id)
        assert r.status_code == 200
        state = await get_state(handle)
        assert state.status == "acknowledged" and state.acknowledged_by == "alice"
        assert slack.responses[-1] == {"text": f"Alice Wang acknowledged {iid}.", "response_type": "in_channel",
                                       "replace_original": False}
        # bob (mapped by the email Slack gives for his user) takes command from the war room
        await press(slack, url, user=users["bob"], message=brief, action="warroom.take_command", channel=channel.id)
        assert (await get_state(handle)).commander == "bob"
        assert [c.args["user"] for c in slack.calls_of("users.info")] == [users["mallory"], users["bob"]]
        # and resolves: verification runs first
        await press(slack, url, user=users["bob"], message=brief, action="warroom.resolve", channel=channel.id)
        state = await until(lambda: get_state(handle), "the resolve", ok=lambda s: s.status in ("resolved", "closed")
                            or s.phase == "verify")
        resolved = [e for e in state.timeline if e.type == "resolve.requested" or e.type == "resolved"]
        assert resolved and resolved[0].actor == "bob", [e.type for e in state.timeline]
        # a second acknowledge is refused by the engine, and said only to the clicker
        await press(slack, url, user=users["alice"], message=brief, action="warroom.acknowledge", channel=channel.id)
        assert slack.responses[-1]["response_type"] == "ephemeral" and slack.responses[-1]["text"].startswith("Refused")


async def test_without_a_signing_secret_interactions_are_refused_not_guessed(engine, monkeypatch) -> None:
    monkeypatch.delenv("WARROOM_SLACK_SIGNING_SECRET", raising=False)
    app = create_app(Settings(), engine=engine, client=object())  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom") as http:
        r = await http.post("/api/v1/slack/interactions", content=b"payload=%7B%7D",
                            headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 404 and "WARROOM_SLACK_SIGNING_SECRET" in r.json()["detail"]
    monkeypatch.setenv("WARROOM_SLACK_SIGNING_SECRET", SECRET)
    from slack_sdk.signature import SignatureVerifier
    import time
    ts, body = str(int(time.time())), "payload=not-json"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom") as http:
        r = await http.post("/api/v1/slack/interactions", content=body, headers={
            "content-type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)})
    assert r.status_code == 400 and "payload" in r.json()["detail"]
    assert new_key  # the route needs no key (its signature is the proof)
