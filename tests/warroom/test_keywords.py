"""The keyword lists file (warroom/keywords.py): the shipped lists hold the SPEC's keywords,
and a broken file is refused with `file:line: field.path: message` for each problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from warroom.classify import CATEGORIES, classify_category
from warroom.keywords import KeywordsError, load_keywords, validate_paths, validate_text
from warroom.settings import Settings
from workflows.contracts import AlertInfo

SHIPPED = Settings.model_fields["classification_file"].default

# SPEC section 2, word for word. "data" is the one exception, on purpose: alone it names a
# subject (data node, data service, "No data") and the data-integrity runbook stops writes, so
# the shipped lists match it in the phrases that say data is damaged (docs/classification.md).
SPEC = {
    "AUTHENTICATION_FAILURE": ["login", "auth", "登录"],
    "AUTHORIZATION_ERROR": ["permission", "access denied", "权限"],
    "PERFORMANCE_DEGRADATION": ["slow", "latency", "performance", "慢"],
    "SYSTEM_UNAVAILABLE": ["down", "unavailable", "宕机", "无法访问"],
    "DATA_INTEGRITY_ISSUE": ["data loss", "integrity", "replication", "数据丢失"],
    "SECURITY_BREACH": ["security", "breach", "leak", "安全"],
    "CONFIGURATION_ERROR": ["config", "setting", "配置"],
    "EXTERNAL_DEPENDENCY_FAILURE": ["external", "dependency", "third-party"],
}


def problems(text: str) -> list[str]:
    keywords, found = validate_text(text, file="c.yaml")
    assert (keywords is None) == bool(found)
    return [str(p) for p in found]


def test_the_shipped_lists_hold_every_spec_keyword():
    keywords = load_keywords(SHIPPED)
    assert set(keywords.order) == set(CATEGORIES) == set(SPEC)
    for category, words in SPEC.items():
        for word in words:
            result = classify_category(AlertInfo(title=f"orders {word}"), keywords)
            assert (result.category, result.field) == (category, "title"), word
    assert classify_category(AlertInfo(title="orders data"), keywords).field == ""


def test_a_valid_file():
    keywords, found = validate_text('version: 3\ncategories:\n  - category: SYSTEM_UNAVAILABLE\n    en: [down]\n'
                                    '    zh: [宕机]\nlook_alikes:\n  en: [count down]\n')
    assert found == [] and keywords is not None
    assert (keywords.version, keywords.order, len(keywords.digest)) == ("3", ("SYSTEM_UNAVAILABLE",), 12)
    assert keywords.find("count down, then down, 宕机") == [("", "count down"), ("SYSTEM_UNAVAILABLE", "down"),
                                                          ("SYSTEM_UNAVAILABLE", "宕机")]


@pytest.mark.parametrize("text,expected", [
    ("categories:\n  - category: SYSTEM_UNAVAILABLE\n", ["c.yaml:1: version: required"]),
    ('version: "1"\ncategories:\n  - category: SYSTEM_UNAVAILABLE\n    en: [down]\ncolour: red\n',
     ["c.yaml:5: colour: unknown field (expected one of: categories, look_alikes, version)"]),
    ('version: "1"\ncategories:\n  - category: SYSTEM_DOWN\n',
     ["c.yaml:3: categories[0].category: 'SYSTEM_DOWN' is not one of " + ", ".join(
         ["AUTHENTICATION_FAILURE", "AUTHORIZATION_ERROR", "PERFORMANCE_DEGRADATION", "SYSTEM_UNAVAILABLE",
          "DATA_INTEGRITY_ISSUE", "SECURITY_BREACH", "CONFIGURATION_ERROR", "EXTERNAL_DEPENDENCY_FAILURE"])]),
    ('version: "1"\ncategories:\n  - category: SYSTEM_UNAVAILABLE\n    en: [down, on]\n',  # YAML 1.1: on is true
     ["c.yaml:4: categories[0].en[1]: expected a string, got true/false"]),
    ('version: "1"\ncategories:\n  - category: SYSTEM_UNAVAILABLE\n    fr: [en panne]\n',
     ["c.yaml:4: categories[0].fr: unknown field (expected one of: category, en, zh)"]),
    ('version: "1"\ncategories:\n  - category: SYSTEM_UNAVAILABLE\n    en: [down]\n'
     '  - category: SYSTEM_UNAVAILABLE\n    en: [outage]\n',
     ["c.yaml:5: categories[1].category: SYSTEM_UNAVAILABLE is already listed at line 3; list each category "
      "once, in the order it wins"]),
    ('version: "1"\ncategories:\n  - category: SYSTEM_UNAVAILABLE\n    en: [down, "--"]\n',
     ["c.yaml:4: categories[0].en[1]: '--' has no letter or digit: it can never match"]),
    ('version: "1"\ncategories:\n  - category: AUTHENTICATION_FAILURE\n    en: [log in]\n'
     '  - category: SECURITY_BREACH\n    en: [breach]\nlook_alikes:\n  en: [Log-In]\n',
     ["c.yaml:8: look_alikes.en[0]: 'Log-In' matches the same words as 'log in' at line 4 "
      "(AUTHENTICATION_FAILURE)"]),
    ('version: "1"\ncategories: [\n', None),  # not YAML
    ("", ["c.yaml:1: (document): the file is empty: it needs a version and the categories"]),
])
def test_problems_name_the_line_and_field(text, expected):
    found = problems(text)
    if expected is None:
        assert len(found) == 1 and found[0].startswith("c.yaml:3: not valid YAML")
    else:
        assert found == expected


def test_load_refuses_a_broken_file_and_rereads_an_edited_one(tmp_path: Path):
    path = tmp_path / "classification.yaml"
    path.write_text('version: "1"\ncategories:\n  - category: SYSTEM_UNAVAILABLE\n    en: [down]\n')
    first = load_keywords(path)
    assert load_keywords(path) is first  # read once while the file is unchanged
    path.write_text('version: "2"\ncategories:\n  - category: SYSTEM_UNAVAILABLE\n    en: [down, outage]\n')
    second = load_keywords(path)
    assert (second.version, first.version) == ("2", "1") and second.digest != first.digest
    path.write_text('version: "3"\ncategories:\n  - category: NOPE\n')
    with pytest.raises(KeywordsError) as info:
        load_keywords(path)
    assert f"{path}:3: categories[0].category: 'NOPE' is not one of" in str(info.value)
    assert [p.line for p in info.value.problems] == [3]


def test_validate_paths_reports_missing_files(tmp_path: Path):
    assert validate_paths([SHIPPED]) == []
    assert [str(p) for p in validate_paths([tmp_path / "nope.yaml"])] == [f"{tmp_path / 'nope.yaml'}:1: no such file"]
