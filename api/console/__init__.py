"""Room: api (HTTP edge) — the web console's templates and static files (every asset vendored
here: no page names an external host). Pages are server-rendered from the same state the JSON
API returns; their routes live in api/routes/ and render through `templates` below.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
