"""The Heartbeats page in Debian's Chromium (the stack of tests/e2e/test_console.py: dev server,
worker, API on loopback): a viewer follows the nav to it, sees a down heartbeat first with a link
to the incident its missed ping opened, an up one with its countdown, and the page fits a phone."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import expect

from tests.e2e.test_console import PHONE, fits_the_screen, keep, stack  # noqa: F401 - stack is a fixture
from tests.helpers import new_key, until
from warroom.records import heartbeats as monitors

pytestmark = pytest.mark.devserver


async def test_a_viewer_sees_heartbeats_and_reaches_a_missed_pings_incident(stack):  # noqa: F811
    down = monitors.create_monitor(stack.engine, name=f"etl-{uuid.uuid4().hex[:6]}", interval="2s", priority="P1",
                                   service=f"etl-{uuid.uuid4().hex[:6]}")
    up = monitors.create_monitor(stack.engine, name=f"backup-{uuid.uuid4().hex[:6]}", interval="1h",
                                 service="backups")
    r = await stack.http.post(f"/api/v1/heartbeats/{down.name}",
                              headers={"Authorization": f"Bearer {stack.keys['sender']}"})
    assert r.status_code == 202, r.text
    r = await stack.http.post(f"/api/v1/heartbeats/{up.name}",
                              headers={"Authorization": f"Bearer {stack.keys['sender']}"})
    assert r.status_code == 202, r.text
    missed = await until(lambda: monitors.find(stack.engine, down.name), "the 2 s heartbeat to miss",
                         ok=lambda m: m.state == "down" and m.incident_id)
    await until(lambda: monitors.find(stack.engine, up.name), "the other one up", ok=lambda m: m.state == "up")

    ctx, page = await stack.signed_in("viewer", viewport=PHONE)
    await page.get_by_role("link", name="Heartbeats").click()
    await expect(page.get_by_role("heading", name="Heartbeats")).to_be_visible()
    order = await page.locator("#heartbeats tbody tr").evaluate_all("rows => rows.map(r => r.dataset.heartbeat)")
    assert order.index(down.name) < order.index(up.name), order  # the down ones first
    down_row = page.locator(f'tr[data-heartbeat="{down.name}"]')
    await expect(down_row.locator('td[data-label="State"]')).to_contain_text("down")
    up_row = page.locator(f'tr[data-heartbeat="{up.name}"]')
    await expect(up_row.locator('td[data-label="State"]')).to_have_text("up")
    await expect(up_row.locator('td[data-label="Next due"]')).to_contain_text("in 59m")
    await expect(up_row.locator('td[data-label="Last ping"]')).to_contain_text("ago")
    await fits_the_screen(page)
    await page.screenshot(path=keep(stack, "console-heartbeats.png"), full_page=True)

    await down_row.get_by_role("link", name=missed.incident_id).click()
    await expect(page.locator("#heartbeat")).to_contain_text(f"a missed ping of {down.name}")
    await stack.done(ctx)
    admin = {"Authorization": f"Bearer {new_key(stack.engine, 'admin')}"}
    for m in (down, up):  # their workflows end
        assert (await stack.http.delete(f"/api/v1/heartbeats/{m.name}", headers=admin)).status_code == 200
