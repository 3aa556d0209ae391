"""API docs offline (issue 12, part 4): /docs and /redoc name no external host, and every
asset they load is served by the app itself, so they render on a machine without internet."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import httpx
import pytest

from api.app import create_app
from warroom.settings import Settings


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_load_only_from_the_app(page: str, engine, tmp_path) -> None:
    app = create_app(Settings(data_dir=tmp_path), engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom") as http:
        r = await http.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert not re.search(r"(https?:)?//[a-z0-9]", r.text, re.IGNORECASE), "an external host in " + page
        assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        spec = re.findall(r"""(?:url: ?'|spec-url=")([^'"]+)""", r.text)
        assert len(assets) >= 2 and spec == ["/openapi.json"], r.text
        for url in [*assets, *spec]:
            got = await http.get(urljoin(page, url))
            assert got.status_code == 200 and got.content, url
        # the scripts are the real bundles, not stubs
        js = [a for a in assets if a.endswith(".js")]
        assert js
        for a in js:
            assert len((await http.get(a)).content) > 100_000, a
