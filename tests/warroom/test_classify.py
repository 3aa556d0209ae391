"""Classification rules (SPEC section 2): plain tests of pure functions."""

from __future__ import annotations

import pytest

from warroom.classify import classify_category, classify_priority, fallback_dedup_key, incident_workflow_id
from workflows.contracts import AlertInfo


def a(**kw) -> AlertInfo:
    kw.setdefault("title", "something happened")
    return AlertInfo(**kw)


@pytest.mark.parametrize("alert,expected", [
    (a(priority="p2", severity="critical", affected_users=5000), "P2"),  # explicit wins
    (a(severity="critical"), "P1"),
    (a(severity="critical", service="payments"), "P1"),
    (a(severity="warning"), "P2"),
    (a(severity="info"), "P4"),
    (a(severity="major"), "P1"),
    (a(severity="Disaster"), "P1"),
    (a(severity="error"), "P2"),
    (a(severity="blackhole"), "P3"),  # unknown word, no impact: the default
    (a(affected_users=1001), "P0"),
    (a(affected_users=1000), "P1"),
    (a(affected_users=101), "P1"),
    (a(affected_users=11), "P2"),
    (a(affected_users=10), "P3"),
    (a(business_impact="critical"), "P0"),
    (a(business_impact="HIGH"), "P1"),
    (a(business_impact="medium"), "P2"),
    (a(availability=49.9), "P0"),
    (a(availability=79), "P1"),
    (a(availability=94), "P2"),
    (a(availability=99.9), "P3"),
    (a(severity="critical", affected_users=5000), "P0"),  # impact raises a critical alert
    (a(severity="warning", affected_users=5000), "P0"),
    (a(severity="info", affected_users=50), "P2"),
])
def test_priority(alert, expected):
    assert classify_priority(alert)[0] == expected


def test_critical_on_a_tier1_service_is_p0():
    assert classify_priority(a(severity="critical", service="payments"), tier1_services=["payments"]) == (
        "P0", "severity critical on a tier-1 service")


@pytest.mark.parametrize("title,expected", [
    ("Login fails for all users", "AUTHENTICATION_FAILURE"),
    ("SSO authentication errors", "AUTHENTICATION_FAILURE"),
    ("Permission denied on bucket", "AUTHORIZATION_ERROR"),
    ("API latency 10x", "PERFORMANCE_DEGRADATION"),
    ("Checkout is slow", "PERFORMANCE_DEGRADATION"),
    ("Service down", "SYSTEM_UNAVAILABLE"),
    ("Replication broken on orders", "DATA_INTEGRITY_ISSUE"),
    ("Possible data leak via S3", "SECURITY_BREACH"),
    ("Bad config pushed to edge", "CONFIGURATION_ERROR"),
    ("Third-party payment dependency failing", "EXTERNAL_DEPENDENCY_FAILURE"),
    ("Database connections exhausted", "SYSTEM_UNAVAILABLE"),  # 'database' is not 'data'
    ("Download page broken", "SYSTEM_UNAVAILABLE"),  # fallback; 'download' is not 'down'
    ("服务宕机", "SYSTEM_UNAVAILABLE"),
    ("网站无法访问", "SYSTEM_UNAVAILABLE"),
    ("订单数据丢失", "DATA_INTEGRITY_ISSUE"),
    ("安全告警", "SECURITY_BREACH"),
    ("用户登录失败", "AUTHENTICATION_FAILURE"),
    ("权限错误", "AUTHORIZATION_ERROR"),
    ("接口响应慢", "PERFORMANCE_DEGRADATION"),
    ("配置错误", "CONFIGURATION_ERROR"),
])
def test_category(title, expected):
    assert classify_category(a(title=title)) == expected


def test_category_label_wins():
    assert classify_category(a(title="Service down", labels={"category": "security_breach"})) == "SECURITY_BREACH"


def test_workflow_id_is_stable_and_safe():
    assert incident_workflow_id("srv01.mysql:disk") == "incident-srv01.mysql:disk"
    slash = incident_workflow_id("srv01/mysql")  # "/" would split the API's path segment
    assert slash.startswith("incident-h") and "/" not in slash
    weird = incident_workflow_id("{}:{alertname=\"x\"} ünïcode")
    assert weird == incident_workflow_id("{}:{alertname=\"x\"} ünïcode")
    assert weird.startswith("incident-h") and len(weird) == len("incident-h") + 32
    k1 = fallback_dedup_key(a(title="x", service="s", labels={"b": "2", "a": "1"}))
    k2 = fallback_dedup_key(a(title="x", service="s", labels={"a": "1", "b": "2"}))
    assert k1 == k2 and k1 != fallback_dedup_key(a(title="y", service="s"))
