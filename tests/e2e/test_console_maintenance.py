"""The Maintenance page in a real browser (Chromium, the stack of tests/e2e/test_console.py: dev
server, worker, API on loopback): a responder makes a window in the form, an alert of its service
opens an incident that says it is held, and End now releases it; on a phone-sized screen too."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import expect

from tests.e2e.test_console import PHONE, Stack, fits_the_screen, keep, publish, stack  # noqa: F401 (fixture)
from tests.helpers import until


async def test_a_responder_makes_a_window_sees_an_incident_held_and_ends_it(stack: Stack):
    service = f"pay-{uuid.uuid4().hex[:6]}"
    ctx, page = await stack.signed_in("responder", viewport=PHONE)
    await page.get_by_role("link", name="Maintenance").click()
    await expect(page.get_by_role("heading", name="Maintenance windows")).to_be_visible()
    form = page.locator("#new-window")
    await form.get_by_label("Service").fill(service)
    await form.get_by_label("Duration").fill("2h")
    await form.get_by_label("Reason").fill("payments database upgrade")
    await form.get_by_role("button", name="Make window").click()
    await expect(page.get_by_role("status")).to_contain_text("Done: made mw-")
    wid = re.search(r"made (mw-[0-9a-f]+)", await page.get_by_role("status").inner_text()).group(1)
    row = page.locator(f"tr#{wid}")
    await expect(row).to_contain_text("active")
    await expect(row).to_contain_text(f"service={service}")
    await expect(row).to_contain_text(stack.person("responder"))
    await fits_the_screen(page)
    await page.screenshot(path=keep(stack, "console-maintenance.png"), full_page=True)
    publish(keep(stack, "console-maintenance.png"))

    iid = await stack.open_incident("P1", title="Payments failing", service=service)
    await until(lambda: stack.state(iid), "the incident held by the window",
                ok=lambda s: any(e["type"] == "maintenance.held" for e in s["timeline"]))
    await page.goto(f"/incidents/{iid}")
    banner = page.locator("#maintenance")
    await expect(banner).to_contain_text(f"Under maintenance window {wid}: payments database upgrade")
    await expect(banner).to_contain_text("nobody paged")

    await page.goto("/maintenance")
    await page.locator(f"tr#{wid}").get_by_role("button", name="End now").click()
    await expect(page.get_by_role("status")).to_contain_text(f"Done: ended {wid}")
    await expect(page.locator(f"li#{wid}")).to_contain_text(f"ended early by {stack.person('responder')}")
    s = await until(lambda: stack.state(iid), "the first pages once the window ended",
                    ok=lambda s: any(e["type"] == "notification.sent" for e in s["timeline"]))
    assert [e["type"] for e in s["timeline"]].index("maintenance.ended") < \
        [e["type"] for e in s["timeline"]].index("notification.sent")
    await page.goto(f"/incidents/{iid}")
    await expect(page.locator("#maintenance")).to_contain_text("paging started then")
    await stack.done(ctx)
