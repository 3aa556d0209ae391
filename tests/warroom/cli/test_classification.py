"""`warroom classification validate` and `explain`: what an SRE runs before shipping a change
to the keyword lists, and to see what an alert will be classified as, and why."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from warroom.cli.main import app as cli
from warroom.settings import Settings

SHIPPED = Settings.model_fields["classification_file"].default


def run(*args: str, file: Path | None = None):
    env = {"WARROOM_CLASSIFICATION_FILE": str(file)} if file else {}
    return CliRunner().invoke(cli, ["classification", *args], env=env)


def test_validate_the_configured_lists(tmp_path: Path):
    result = run("validate")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{SHIPPED}: valid, 8 categories, ") and "keyword lists 1 (sha256 " in result.stdout
    bad = tmp_path / "classification.yaml"
    bad.write_text('version: "2"\ncategories:\n  - category: SYSTEM_UNAVAILABLE\n    en: [down]\n'
                   '  - category: PERFORMANCE_DEGRADATION\n    en: [slow, Down]\n')
    result = run("validate", file=bad)  # WARROOM_CLASSIFICATION_FILE
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [f"{bad}:6: categories[1].en[1]: 'Down' matches the same words as 'down' "
                                          f"at line 4 (SYSTEM_UNAVAILABLE)"]
    assert "1 problem(s) in 1 file(s)" in result.stderr
    result = run("validate", str(SHIPPED), str(tmp_path / "missing.yaml"))
    assert result.exit_code == 2 and f"{tmp_path / 'missing.yaml'}:1: no such file" in result.stdout


def test_explain_says_the_category_and_why(tmp_path: Path):
    result = run("explain", "数据库宕机")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("SYSTEM_UNAVAILABLE: '宕机' in the title; keyword lists 1 (sha256 ")
    result = run("explain", "Checkout errors", "--description", "payment provider times out", "--json")
    assert json.loads(result.stdout)["category"] == "EXTERNAL_DEPENDENCY_FAILURE"
    assert json.loads(result.stdout)["terms"] == ["provider"] and json.loads(result.stdout)["field"] == "description"
    result = run("explain", "x", "--alertname", "HighRequestLatency")
    assert result.stdout.startswith("PERFORMANCE_DEGRADATION: 'latency' in the alertname")
    result = run("explain", "Database down", "--file", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2 and "cannot read the keyword lists" in result.stderr
