"""The newcomer's path, as the README writes it: `./scripts/dev` (which is `warroom dev` once
set up), then the tour's commands in a second terminal, copied from the README's tour blocks
and run by bash one after another in a fresh directory laid out like a checkout (its `.venv`, no
`.warroom/` yet, no on-call files): post an alert with curl, list it, print a sign-in link; then,
in a real browser (Debian's Chromium through Playwright), open the link, sign in, see the
incident on the board, open it and press Acknowledge; then the tour's last command shows it
acknowledged. Every step must succeed: this is what a first-time user does (issue 15).

The only change to the README's text is the port: `warroom dev` listens on a free port here
(WARROOM_API_PORT, which the CLI follows), so the curl line's 127.0.0.1:8000 is rewritten."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import httpx
import pytest
from playwright.async_api import async_playwright, expect

from tests.e2e.test_console import CHROMIUM, WAIT
from tests.e2e.test_dev_stack import free_port, stop, wait_ready
from tests.helpers import until

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
MARKER = "<!-- tour"
INCIDENT = "incident-tour-checkout-500"
pytestmark = pytest.mark.devserver


def tour_blocks(text: str) -> list[list[str]]:
    """The README's tour: each ```bash block right after a `<!-- tour` marker, as commands
    (continuation lines joined; comments kept, bash drops them)."""
    blocks = []
    for found in re.finditer(r"^<!-- tour[^\n]*-->\n```bash\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        commands, pending = [], ""
        for line in found.group(1).replace("\\\n", " ").splitlines():
            pending = f"{pending}\n{line}" if pending else line
            try:
                shlex.split(pending, comments=True)
            except ValueError:  # a quoted string goes on on the next line
                continue
            if pending.strip():
                commands.append(pending)
            pending = ""
        assert not pending, f"an unclosed quote in the README's tour: {pending}"
        blocks.append(commands)
    return blocks


def test_the_readme_has_the_tour_and_scripts_dev_runs_warroom_dev() -> None:
    blocks = tour_blocks(README.read_text())
    assert len(blocks) == 2 and len(blocks[0]) == 4 and blocks[0][1].startswith("curl "), blocks
    assert README.read_text().index("./scripts/dev") < README.read_text().index(MARKER)
    # the README's first command is setup + `warroom dev` (what this test starts)
    script = (REPO / "scripts" / "dev").read_text().splitlines()
    assert "scripts/setup" in script and script[-1] == 'exec .venv/bin/warroom dev "$@"'


async def test_the_readme_tour_runs_without_a_failing_step(tmp_path: Path) -> None:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's `chromium` (apt-get install -y chromium), "
                    "or set WARROOM_TEST_CHROMIUM")
    home = tmp_path / "checkout"  # a checkout's root, as the newcomer's shell sees it
    home.mkdir()
    (home / ".venv").symlink_to(REPO / ".venv")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
    env.update(WARROOM_API_PORT=str(port), WARROOM_TEMPORAL_PORT=str(free_port()),
               WARROOM_TEMPORAL_UI_PORT=str(free_port()), WARROOM_TASK_QUEUE=f"tour-{port}")
    api = f"http://127.0.0.1:{port}"
    [first, last] = [[c.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for c in block]
                     for block in tour_blocks(README.read_text())]

    def shell(commands: list[str]) -> subprocess.CompletedProcess[str]:
        """The commands in one bash, as typed in one terminal; the first failing one stops it."""
        script = "set -euo pipefail\n" + "\n".join(commands) + "\n"
        done = subprocess.run(["bash", "-c", script], cwd=home, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, f"$ {shlex.join(['bash', '-c', script])}\n{done.stdout}{done.stderr}"
        return done

    log = tmp_path / "dev.log"
    dev = subprocess.Popen([str(home / ".venv" / "bin" / "warroom"), "dev"], cwd=home, env=env,
                           stdout=open(log, "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115
    try:
        await wait_ready(api, dev, log)
        banner = log.read_text()
        assert "admin key:   in .warroom/admin.key" in banner and "on call:     no on-call files in oncall/" in banner

        # block 1, command by command, as typed: export, curl, list, console login
        setup = first[0]
        posted = shell([setup, first[1]])
        assert f'"id":"{INCIDENT}"' in posted.stdout.replace(" ", "") and '"priority":"P1"' in posted.stdout, \
            posted.stdout
        listed = await until(lambda: shell([setup, first[2]]), f"{INCIDENT} in `warroom incidents list`",
                             ok=lambda done: INCIDENT in done.stdout)
        assert re.search(rf"{INCIDENT}.*P1.*triggered", listed.stdout.replace("\n", " ")), listed.stdout
        # "its pages are in the log of `warroom dev`"
        await until(lambda: [line for line in log.read_text().splitlines() if "PAGE " in line and
                             "-> oncall:L1 [INITIAL] [P1] Checkout returns HTTP 500 for 30% of requests" in line],
                    "the first page in the log of warroom dev")
        login = shell([setup, first[3]])
        link = re.search(rf"^({re.escape(api)}/login/link\?t=\S+)$", login.stdout, re.MULTILINE)
        assert link, login.stdout

        # the console, in a browser: the link, Sign in, the board, the incident, Acknowledge
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM)
            try:
                page = await browser.new_page()
                page.set_default_timeout(WAIT)
                await page.goto(link.group(1))
                await page.get_by_role("button", name="Sign in").click()
                row = page.locator(f'tr[data-incident="{INCIDENT}"]')
                await expect(row).to_be_visible()
                await expect(row).to_contain_text("P1")
                # the board's script ticks the countdown every second, exact to the second under an hour
                await expect(row.locator(".countdown")).to_have_text(re.compile(r"^in \d+m \d\ds$"))
                await row.get_by_role("link").first.click()
                await expect(page).to_have_url(re.compile(rf"/incidents/{INCIDENT}$"))
                await page.get_by_role("button", name="Acknowledge").click()
                await expect(page.locator("#status")).to_have_text("acknowledged")
                await expect(page.locator("#acknowledged-by")).to_have_text("dev-admin")
            finally:
                await browser.close()

        # block 2: the CLI shows it acknowledged, with the person who pressed the button
        shown = shell([setup, *last])
        assert re.search(r"status:\s+acknowledged", shown.stdout) and re.search(r"commander:\s+dev-admin", shown.stdout), \
            shown.stdout
        async with httpx.AsyncClient(base_url=api) as http:  # nothing refused along the way
            key = (home / ".warroom" / "admin.key").read_text().strip()
            state = (await http.get(f"/api/v1/incidents/{INCIDENT}", headers={"Authorization": f"Bearer {key}"})).json()
        types = [e["type"] for e in state["timeline"]]
        assert {"triggered", "acknowledged"} <= set(types) and state["status"] == "acknowledged", types
    finally:
        code = stop(dev)
    assert code == 0, log.read_text()


def test_every_path_the_readme_and_docs_name_exists() -> None:
    """A newcomer follows the paths the README and docs/ name (examples/mappings/zabbix.yaml was
    named before it existed): each one is in the repository (globs match something)."""
    pattern = re.compile(r"(?<![\w/.-])((?:examples|runbooks|oncall|docs|levels|scripts|warroom|api|tests|activities|"
                         r"workflows|benchmarks|deploy)/[A-Za-z0-9_./*-]*[A-Za-z0-9_*])")
    missing = []
    for doc in [README, *sorted((REPO / "docs").glob("*.md"))]:
        for path in pattern.findall(doc.read_text()):
            if not any(any(base.glob(path)) if "*" in path else (base / path).exists() for base in (REPO, doc.parent)):
                missing.append(f"{doc.relative_to(REPO)}: {path}")
    assert missing == []
