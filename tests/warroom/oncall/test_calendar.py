"""On-call calendars as a calendar app meets them: the .ics feed of a team or a person, parsed
back with icalendar, says who is on call exactly as `warroom oncall now` does at every moment
(hand-overs, a DST change, business-hours windows, an override, a swap, on-demand layers); the
feed opens only with a token made for it, which its owner can revoke; the console's on-call
page hands out the subscription link."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from icalendar import Calendar
from typer.testing import CliRunner

from api.app import create_app
from tests.helpers import new_key
from tests.warroom.oncall.test_oncall import PEOPLE, SETUP, write
from warroom.cli.main import app as cli
from warroom.oncall import OnCallConfig
from warroom.oncall.rotation import handovers_between, window_edges
from warroom.settings import Settings



@pytest.fixture
def oncall_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "oncall"
    directory.mkdir()
    write(directory, "people.yaml", PEOPLE)
    write(directory, "setup.yaml", SETUP)
    return directory


def events(ics: bytes) -> list[tuple[str, str, datetime, datetime]]:
    """(schedule, person name, start, end) of every VEVENT, read back with icalendar."""
    out = []
    for ev in Calendar.from_ical(ics).walk("VEVENT"):
        m = re.fullmatch(r"On call: (.+) \((\S+?)(, .*)?\)", str(ev.get("summary")))
        assert m, ev.get("summary")
        out.append((m.group(2), m.group(1), ev.decoded("dtstart"), ev.decoded("dtend")))
    return out


def cli_now(directory: Path, at: datetime, team: str | None = None) -> list[tuple[str, str]]:
    args = ["oncall", "now", "--at", at.isoformat(), "--json"] + (["--team", team] if team else [])
    result = CliRunner().invoke(cli, args, env={"WARROOM_ONCALL_DIR": str(directory)})
    assert result.exit_code == 0, result.output
    return sorted((e["schedule"], e["person"]["name"]) for e in json.loads(result.stdout)["entries"] if e["person"])


# ---------------------------------------------------------------- the expansion (rrule)

def test_hand_overs_in_a_range_keep_nine_on_the_wall_across_dst() -> None:
    from zoneinfo import ZoneInfo
    berlin = ZoneInfo("Europe/Berlin")
    got = handovers_between(datetime(2026, 3, 2, 9, 0), "weekly", berlin,
                            datetime(2026, 3, 20, tzinfo=UTC), datetime(2026, 4, 10, tzinfo=UTC))
    assert got == [datetime(2026, 3, 23, 8, 0, tzinfo=UTC),  # CET
                   datetime(2026, 3, 30, 7, 0, tzinfo=UTC),  # CEST: still 09:00 on the wall
                   datetime(2026, 4, 6, 7, 0, tzinfo=UTC)]


def test_window_edges_of_business_hours_and_of_an_overnight_window() -> None:
    from zoneinfo import ZoneInfo
    shanghai = ZoneInfo("Asia/Shanghai")
    friday, monday = datetime(2026, 3, 13, tzinfo=UTC), datetime(2026, 3, 16, 12, tzinfo=UTC)
    assert window_edges(range(5), 9 * 60, 18 * 60, shanghai, friday, monday) == [
        datetime(2026, 3, 13, 1, 0, tzinfo=UTC), datetime(2026, 3, 13, 10, 0, tzinfo=UTC),  # Friday 09-18
        datetime(2026, 3, 16, 1, 0, tzinfo=UTC), datetime(2026, 3, 16, 10, 0, tzinfo=UTC)]  # Monday
    # Friday 18:00 to Saturday 09:00: the close falls on Saturday
    assert window_edges((4,), 18 * 60, 9 * 60, shanghai, friday, monday) == [
        datetime(2026, 3, 13, 10, 0, tzinfo=UTC), datetime(2026, 3, 14, 1, 0, tzinfo=UTC)]


def test_the_shifts_of_a_range_are_who_is_on_call_at_every_moment_in_it(oncall_dir: Path) -> None:
    config = OnCallConfig.load(oncall_dir)
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 5, tzinfo=UTC)  # DST, override, swap
    shifts = config.shifts_between(start, end)
    moments = [start + timedelta(minutes=random.Random(7).randrange(0, 35 * 1440)) for _ in range(400)]
    moments += [s.start for s in shifts] + [s.end - timedelta(seconds=1) for s in shifts]
    for at in moments:
        if not start <= at < end:
            continue
        want = sorted((e.schedule, e.person.id, e.source, e.swapped_from) for e in config.on_call(at) if e.person)
        got = sorted((s.schedule, s.person.id, s.source, s.swapped_from) for s in shifts if s.start <= at < s.end)
        assert got == want, at


# ---------------------------------------------------------------- the feeds over HTTP

@pytest.fixture
async def app_http(engine, oncall_dir: Path):
    app = create_app(Settings(oncall_dir=oncall_dir, public_url="https://warroom.example.com"), engine=engine,
                     client=object())  # type: ignore[arg-type]  # the feeds never reach Temporal
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom") as http:
        yield http


async def subscribe(http: httpx.AsyncClient, key: str, **body: str) -> dict:
    r = await http.post("/api/v1/oncall/feeds", json=body, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 201, r.text
    return r.json()


def local(url: str) -> str:
    """The path and query of a feed URL (the app is reached in-process, not at its public URL)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_a_team_feed_parses_back_into_the_shifts_oncall_now_reports(app_http, engine, oncall_dir) -> None:
    made = await subscribe(app_http, new_key(engine, "viewer"), team="sre")
    assert made["url"].startswith("https://warroom.example.com/api/v1/oncall/sre.ics?token=wf")
    assert made["webcal"] == "webcal://" + made["url"].removeprefix("https://")
    r = await app_http.get(local(made["url"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    found = events(r.content)
    assert found, "the feed has shifts"
    now = datetime.now(UTC)
    assert min(e[2] for e in found) <= now - timedelta(days=6) and max(e[3] for e in found) >= now + timedelta(days=50)
    # at the start of every event, in its middle and just before its end, the feed says what the CLI says
    for moment in sorted({m for _, _, s, e in found for m in (s, s + (e - s) / 2, e - timedelta(minutes=1))}):
        if not now - timedelta(days=6) < moment < now + timedelta(days=50):
            continue
        in_feed = sorted((sched, name) for sched, name, s, e in found if s <= moment < e)
        assert in_feed == cli_now(oncall_dir, moment, team="sre"), moment


async def test_a_person_feed_holds_only_their_shifts_and_its_token_opens_nothing_else(app_http, engine,
                                                                                      oncall_dir) -> None:
    responder = new_key(engine, "responder", person="alice")
    made = await subscribe(app_http, responder)  # no team or person: the key's own person
    assert made["feed"] == "person:alice" and "/api/v1/oncall/people/alice.ics?token=" in made["url"]
    r = await app_http.get(local(made["url"]))
    assert r.status_code == 200
    found = events(r.content)
    assert found and {name for _, name, _, _ in found} == {"Alice Wang"}
    for sched, _, start, end in found[:20]:
        assert (sched, "Alice Wang") in cli_now(oncall_dir, start + (end - start) / 2)
    token = made["url"].split("token=")[1]
    # the token opens this feed only: not a team's, not another person's, not the API
    assert (await app_http.get("/api/v1/oncall/sre.ics", params={"token": token})).status_code == 401
    assert (await app_http.get("/api/v1/oncall/people/bob.ics", params={"token": token})).status_code == 401
    assert (await app_http.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    # a responder makes no feed of someone else's shifts; an admin does
    r = await app_http.post("/api/v1/oncall/feeds", json={"person": "bob"},
                            headers={"Authorization": f"Bearer {responder}"})
    assert r.status_code == 403 and "belongs to alice" in r.json()["detail"]
    assert (await subscribe(app_http, new_key(engine, "admin"), person="bob"))["feed"] == "person:bob"
    # revoked by its owner, it stops opening the feed at once
    listed = (await app_http.get("/api/v1/oncall/feeds", headers={"Authorization": f"Bearer {responder}"})).json()
    assert [f["id"] for f in listed["feeds"]] == [made["id"]] and "token" not in json.dumps(listed)
    r = await app_http.delete(f"/api/v1/oncall/feeds/{made['id']}", headers={"Authorization": f"Bearer {responder}"})
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert (await app_http.get(local(made["url"]))).status_code == 401


async def test_a_feed_without_a_token_or_for_an_unknown_team_is_refused_clearly(app_http, engine) -> None:
    r = await app_http.get("/api/v1/oncall/sre.ics")
    assert r.status_code == 401 and "token" in r.json()["detail"]
    viewer = new_key(engine, "viewer")
    r = await app_http.get("/api/v1/oncall/sre.ics", headers={"Authorization": f"Bearer {viewer}"})
    assert r.status_code == 200 and events(r.content)  # a script may use a reader's key instead
    r = await app_http.post("/api/v1/oncall/feeds", json={"team": "nope"}, headers={"Authorization": f"Bearer {viewer}"})
    assert r.status_code == 404 and "no team 'nope'" in r.json()["detail"]
    r = await app_http.post("/api/v1/oncall/feeds", json={}, headers={"Authorization": f"Bearer {viewer}"})
    assert r.status_code == 404 and "give `person`" in r.json()["detail"]  # a key without an on-call person
