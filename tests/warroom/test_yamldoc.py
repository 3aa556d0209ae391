"""warroom/yamldoc.py reads a valid text with libyaml and the same text with the pure-Python
parser to the same data, lines and problems; a text libyaml refuses gets the pure-Python error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from warroom import yamldoc

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p for d in ("runbooks", "oncall", "tests/replay", "examples", "warroom") for p in (REPO / d).rglob("*.yaml"))


def _slow(text: str, loader: type) -> yamldoc.Doc:
    return yamldoc._parse(text, loader)


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(REPO)) for p in SHIPPED])
def test_every_shipped_yaml_file_reads_the_same_with_libyaml(path: Path) -> None:
    assert yamldoc._FAST, "PyYAML without libyaml: its wheels carry it"
    text = path.read_text(encoding="utf-8")
    for loader in (yaml.SafeLoader, yamldoc.TextTimesLoader):
        fast, slow = yamldoc._parse(text, yamldoc._FAST[loader]), _slow(text, loader)
        assert (fast.data, fast.lines, fast.starts, fast.problems) == (slow.data, slow.lines, slow.starts,
                                                                       slow.problems)


def test_on_call_times_stay_text_with_libyaml_too() -> None:
    doc = yamldoc.parse("from: 18:00\nstart: 2026-01-05T09:00\nn: 3\n", yamldoc.TextTimesLoader)
    assert doc.data == {"from": "18:00", "start": "2026-01-05T09:00", "n": 3}


def test_a_text_libyaml_refuses_gets_the_pure_python_error() -> None:
    with pytest.raises(yaml.YAMLError) as fast:
        yamldoc.parse("name: [")
    with pytest.raises(yaml.YAMLError) as slow:
        _slow("name: [", yaml.SafeLoader)
    assert str(fast.value) == str(slow.value)
