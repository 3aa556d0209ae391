"""What the code reads from files beside it ships with the package: a non-editable install
(the Docker image's `pip install ./src`) has no repository around it."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from jsonschema import Draft202012Validator

from warroom import keywords, oncall, runbooks
from warroom.delivery import messages
from warroom.settings import Settings

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "warroom"


def shipped() -> set[Path]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["warroom"]
    return {p.resolve() for g in globs for p in PACKAGE.glob(g)}


def test_schemas_and_templates_are_package_data() -> None:
    files = shipped()
    # the keyword lists are not examples: classification needs them in every install
    for path in (runbooks.SCHEMA_PATH, oncall.SCHEMA_PATH, keywords.SCHEMA_PATH,
                 Settings.model_fields["classification_file"].default):
        assert path.resolve().is_relative_to(PACKAGE) and path.resolve() in files, path
    templates = {p.resolve() for p in messages.TEMPLATE_DIR.glob("*/*.j2")}
    assert templates and templates <= files


def test_the_published_schema_paths_are_the_packaged_files() -> None:
    assert (REPO / "runbooks" / "schema.json").resolve() == runbooks.SCHEMA_PATH.resolve()
    assert (REPO / "oncall" / "schema.json").resolve() == oncall.SCHEMA_PATH.resolve()


def test_every_shipped_schema_is_a_valid_json_schema() -> None:
    schemas = sorted((PACKAGE / "schemas").glob("*.json"))
    assert schemas
    for path in schemas:
        Draft202012Validator.check_schema(json.loads(path.read_text(encoding="utf-8")))


def test_an_editable_install_prints_no_setuptools_warning(tmp_path: Path) -> None:
    """`scripts/setup` installs the project editable: setuptools' own build (isolated, the
    version pyproject.toml asks for) must not print its layout or data warnings."""
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(tmp_path / "venv" / "bin" / "python"), "install",
         "--no-deps", "--no-input", "--quiet", "-e", str(REPO)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    output = (done.stdout + done.stderr).splitlines()
    # pip's own notes about the machine's index configuration are not the project's
    noise = [line for line in output if "Warning" in line or "!!" in line or "setuptools" in line.lower()]
    assert noise == [], "\n".join(output)
