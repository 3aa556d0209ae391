"""`warroom console login`: the sign-in link it prints opens a console session for that key's
person (after a POST: opening the link alone signs no one in); a forged, expired or revoked
key's link is refused, and integration keys get none."""

from __future__ import annotations

import re
import time
import uuid

import httpx
from typer.testing import CliRunner

from api.app import create_app
from api.console.session import link_token
from tests.helpers import new_key
from warroom.cli.main import app as cli
from warroom.records import keys as auth
from warroom.settings import Settings

SECRET = "cli-console-secret-0123456789abcdef"


def run_cli(engine, tmp_path, *args: str):
    env = {"WARROOM_DATABASE_URL": engine.url.render_as_string(hide_password=False), "WARROOM_SECRET_KEY": SECRET,
           "WARROOM_PUBLIC_URL": "https://warroom.example.test", "WARROOM_DATA_DIR": str(tmp_path)}
    return CliRunner().invoke(cli, list(args), env=env)


def app_client(engine):
    app = create_app(Settings(secret_key=SECRET, task_queue=f"tq-{uuid.uuid4().hex[:8]}"), engine=engine)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://warroom.example.test")


async def test_the_printed_link_signs_the_person_in_after_a_post(engine, tmp_path):
    key = new_key(engine, "responder")
    name = auth.authenticate(engine, key).name
    out = run_cli(engine, tmp_path, "console", "login", "--name", name)
    assert out.exit_code == 0, out.output
    link = out.output.strip().splitlines()[-1]
    assert link.startswith("https://warroom.example.test/login/link?t=") and key not in out.output
    async with app_client(engine) as http:
        shown = await http.get(link)
        assert shown.status_code == 200 and f"Sign in as {name}" in shown.text
        assert (await http.get("/")).status_code == 303  # opening the link signed no one in
        csrf = re.search(r'name="csrf" value="([^"]+)"', shown.text).group(1)
        token = link.split("t=", 1)[1]
        r = await http.post("/login/link", data={"csrf": csrf, "t": token})
        assert r.status_code == 303 and "HttpOnly" in r.headers["set-cookie"]
        board = await http.get("/")
        assert board.status_code == 200 and f"{name} · responder" in board.text
        http.cookies.clear()
        # forged, expired, or the key revoked since: a clear refusal, no session
        expired = link_token(SECRET.encode(), auth.authenticate(engine, key).id, minutes=1, now=time.time() - 120)
        for bad in (token[:-2] + "00", expired, "nonsense"):
            r = await http.get(f"/login/link?t={bad}")
            assert r.status_code == 403 and "expired or not valid" in r.text
        auth.revoke(engine, name)
        r = await http.get(link)
        assert r.status_code == 403


def test_no_link_for_an_integration_or_an_unknown_key(engine, tmp_path):
    name = auth.authenticate(engine, new_key(engine, "integration")).name
    out = run_cli(engine, tmp_path, "console", "login", "--name", name)
    assert out.exit_code == 1 and "integration key" in out.output
    out = run_cli(engine, tmp_path, "console", "login", "--name", "nobody-here")
    assert out.exit_code == 1 and "no active key" in out.output


def test_without_a_public_url_the_link_is_where_the_api_listens(engine, tmp_path):
    """No WARROOM_PUBLIC_URL (a laptop's `warroom dev`): the link points at WARROOM_API_HOST and
    WARROOM_API_PORT, and a wildcard listen address at loopback, where a browser reaches it."""
    name = auth.authenticate(engine, new_key(engine, "viewer")).name
    base = {"WARROOM_DATABASE_URL": engine.url.render_as_string(hide_password=False), "WARROOM_SECRET_KEY": SECRET,
            "WARROOM_DATA_DIR": str(tmp_path), "WARROOM_API_PORT": "18123"}
    for host, shown in (("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("::", "[::1]")):
        out = CliRunner().invoke(cli, ["console", "login", "--name", name], env={**base, "WARROOM_API_HOST": host})
        assert out.exit_code == 0, out.output
        assert out.output.strip().splitlines()[-1].startswith(f"http://{shown}:18123/login/link?t="), out.output
