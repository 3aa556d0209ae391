"""What a maintenance window matches and how its times are settled (warroom/maintenance.py,
pure), and which window holds a new incident (warroom.windows.holding)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from warroom.maintenance import Window, WindowError, parse_matcher, plan
from warroom.windows import holding
from workflows.contracts import AlertInfo

NOW = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize("matcher,labels,expected", [
    ("team=db", {"team": "db"}, True),
    ("team=db", {"team": "dba"}, False),
    ("team!=db", {"team": "web"}, True),
    ("team!=db", {}, True),  # a missing label reads as ""
    ("team=", {}, True),
    ("region=~eu-.*", {"region": "eu-west-1"}, True),
    ("region=~eu-.*", {"region": "xeu-west-1"}, False),  # anchored at both ends, as Alertmanager anchors
    ("region=~eu", {"region": "eu-west-1"}, False),
    ("region!~eu-.*", {"region": "us-east-1"}, True),
    ("region!~eu-.*", {"region": "eu-west-1"}, False),
    ('alertname="Disk full"', {"alertname": "Disk full"}, True),
    ("  env = prod  ", {"env": "prod"}, True),
])
def test_matchers_read_as_alertmanager_reads_them(matcher, labels, expected):
    assert parse_matcher(matcher).matches(labels) is expected


@pytest.mark.parametrize("bad,says", [("team", "not a label matcher"), ("=db", "not a label matcher"),
                                      ("1team=db", "not a label matcher"), ("team=~(", "invalid regex")])
def test_a_bad_matcher_is_named(bad, says):
    with pytest.raises(WindowError, match=says):
        parse_matcher(bad)


def window(**kw) -> Window:
    kw.setdefault("starts_at", NOW - timedelta(minutes=5))
    kw.setdefault("ends_at", NOW + timedelta(hours=1))
    return Window(id=kw.pop("id", "mw-1"), reason="upgrade", **kw)


def test_every_criterion_must_hold():
    w = window(service="orders", matchers=["team=db"], integration="prom")
    assert w.matches(service="orders", labels={"team": "db"}, integration="prom")
    assert not w.matches(service="orders", labels={"team": "db"}, integration="other")
    assert not w.matches(service="billing", labels={"team": "db"}, integration="prom")
    assert not w.matches(service="orders", labels={"team": "web"}, integration="prom")
    assert w.scope() == "service=orders, team=db, integration=prom"


def test_status_follows_the_clock_and_an_early_end():
    w = window(starts_at=NOW + timedelta(hours=1), ends_at=NOW + timedelta(hours=2))
    assert [w.status(NOW), w.status(NOW + timedelta(hours=1)), w.status(NOW + timedelta(hours=2))] == \
        ["scheduled", "active", "ended"]
    w.ended_at = NOW + timedelta(hours=1, minutes=10)
    assert w.status(NOW + timedelta(hours=1, minutes=20)) == "ended"


def test_plan_settles_the_times():
    p = plan(now=NOW, starts_at=None, ends_at=None, duration="1h30m", reason=" upgrade ", service="orders",
             matchers=["team = db", " "])
    assert p["starts_at"] == NOW and p["ends_at"] == NOW + timedelta(minutes=90)
    assert p["reason"] == "upgrade" and p["matchers"] == ["team=db"]
    later = NOW + timedelta(days=1)
    p = plan(now=NOW, starts_at=later, ends_at=later + timedelta(hours=2), duration=None, reason="x", service="a")
    assert p["ends_at"] - p["starts_at"] == timedelta(hours=2)


@pytest.mark.parametrize("kw,says", [
    ({"service": ""}, "needs a service, a label matcher or an integration"),
    ({"reason": " "}, "reason"),
    ({"duration": None}, "either ends_at or duration"),
    ({"ends_at": NOW + timedelta(hours=1)}, "either ends_at or duration"),
    ({"duration": "0s"}, "longer than zero"),
    ({"duration": "a while"}, "duration:"),
    ({"duration": None, "ends_at": NOW - timedelta(minutes=1)}, "ends_at: must be after starts_at"),
    ({"duration": "91d"}, "longer than 90 days"),
    ({"starts_at": datetime(2026, 12, 8, 1, 0)}, "time zone"),
    ({"starts_at": NOW - timedelta(hours=3), "duration": "1h"}, "already past"),
])
def test_plan_refuses_naming_the_field(kw, says):
    args = {"now": NOW, "starts_at": None, "ends_at": None, "duration": "1h", "reason": "x", "service": "a", **kw}
    with pytest.raises(WindowError, match=says):
        plan(**args)


def test_the_active_window_ending_last_holds_an_alert():
    a = AlertInfo(title="x", service="orders", labels={"team": "db"}, integration="prom")
    short = window(id="mw-short", service="orders")
    long = window(id="mw-long", matchers=["team=db"], ends_at=NOW + timedelta(hours=3))
    later = window(id="mw-later", service="orders", starts_at=NOW + timedelta(hours=1), ends_at=NOW + timedelta(hours=9))
    other = window(id="mw-other", service="billing", ends_at=NOW + timedelta(hours=9))
    assert holding([short, long, later, other], a, NOW).id == "mw-long"
    assert holding([later, other], a, NOW) is None


async def test_intake_never_waits_on_records_that_do_not_answer(tmp_path):
    """Holds (what intake asks) with records that refuse connections: no window, no error, fast;
    with windows read before, it keeps them."""
    import socket
    import time as clock

    from warroom import records
    from warroom.records import maintenance as stored
    from warroom.windows import READ_WITHIN, Holds

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    down = records.make_engine(f"postgresql://postgres@127.0.0.1:{port}/nothing")
    good = records.make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    records.create_schema(good)
    now = datetime.now(UTC)
    stored.create_window(good, starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=1),
                         reason="upgrade", created_by="alice", service="orders")
    a = AlertInfo(title="x", service="orders")
    engine = {"now": good}
    holds = Holds(lambda: engine["now"])
    assert (await holds(a)).reason == "upgrade"
    engine["now"] = down
    holds.forget()
    started = clock.monotonic()
    assert (await holds(a)).reason == "upgrade"  # the last windows read
    assert clock.monotonic() - started < READ_WITHIN + 2
    fresh = Holds(lambda: down)
    assert await fresh(a) is None  # none read yet: the alert pages
    down.dispose()
    good.dispose()
