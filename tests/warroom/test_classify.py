"""Classification rules (SPEC section 2): plain tests of pure functions.

The categories come from the shipped keyword lists (warroom/classification.yaml): realistic
alert titles per category in English and Chinese, the look-alikes that must not match
(database/data, 数据库/数据, 权限系统/权限, "slowly recovering", "author", "memory leak",
"configured"), which category wins when a title names several, and the titles of the real
payload corpus (../shared/payloads)."""

from __future__ import annotations

import json

import pytest

from warroom.classify import (
    CATEGORIES,
    Keywords,
    classify_category,
    classify_priority,
    fallback_dedup_key,
    incident_workflow_id,
    tokenize,
)
from warroom.keywords import load_keywords
from warroom.settings import Settings
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


SHIPPED = load_keywords(Settings.model_fields["classification_file"].default)


def category(title: str = "something happened", **kw) -> str:
    return classify_category(a(title=title, **kw), SHIPPED).category


# Titles as monitoring tools and people write them, per category, in both languages.
@pytest.mark.parametrize("title,expected", [
    ("Login fails for all users", "AUTHENTICATION_FAILURE"),
    ("Logins failing on web and mobile", "AUTHENTICATION_FAILURE"),
    ("SSO authentication errors above 5%", "AUTHENTICATION_FAILURE"),
    ("Users cannot log in", "AUTHENTICATION_FAILURE"),
    ("LDAPAuthFailed", "AUTHENTICATION_FAILURE"),
    ("用户登录失败", "AUTHENTICATION_FAILURE"),
    ("APP登陆异常", "AUTHENTICATION_FAILURE"),  # 登陆: the common variant of 登录
    ("Permission denied on bucket orders-archive", "AUTHORIZATION_ERROR"),
    ("Missing permissions for role billing-reader", "AUTHORIZATION_ERROR"),
    ("Access denied to admin API", "AUTHORIZATION_ERROR"),
    ("403 Forbidden from storage", "AUTHORIZATION_ERROR"),
    ("权限错误", "AUTHORIZATION_ERROR"),
    ("用户权限不足", "AUTHORIZATION_ERROR"),
    ("API latency 10x", "PERFORMANCE_DEGRADATION"),
    ("Checkout is slow", "PERFORMANCE_DEGRADATION"),
    ("Search slowness reported by customers", "PERFORMANCE_DEGRADATION"),
    ("Pages load slowly in EU", "PERFORMANCE_DEGRADATION"),
    ("HighRequestLatency", "PERFORMANCE_DEGRADATION"),
    ("Kafka consumer lag above 100k", "PERFORMANCE_DEGRADATION"),
    ("接口响应慢", "PERFORMANCE_DEGRADATION"),
    ("订单接口响应缓慢", "PERFORMANCE_DEGRADATION"),
    ("支付请求超时", "PERFORMANCE_DEGRADATION"),
    ("Service down", "SYSTEM_UNAVAILABLE"),
    ("Checkout unavailable in all regions", "SYSTEM_UNAVAILABLE"),
    ("KubePodCrashLooping", "SYSTEM_UNAVAILABLE"),
    ("服务宕机", "SYSTEM_UNAVAILABLE"),
    ("网站无法访问", "SYSTEM_UNAVAILABLE"),
    ("订单服务不可用", "SYSTEM_UNAVAILABLE"),
    ("Replication broken on orders", "DATA_INTEGRITY_ISSUE"),
    ("Data loss on orders after failover", "DATA_INTEGRITY_ISSUE"),
    ("Corrupted pages in ledger table", "DATA_INTEGRITY_ISSUE"),
    ("订单数据丢失", "DATA_INTEGRITY_ISSUE"),
    ("主从复制中断", "DATA_INTEGRITY_ISSUE"),
    ("Possible data leak via S3", "SECURITY_BREACH"),
    ("Security breach: admin credentials leaked", "SECURITY_BREACH"),
    ("Suspicious login from new country", "SECURITY_BREACH"),
    ("安全告警", "SECURITY_BREACH"),
    ("用户数据泄露", "SECURITY_BREACH"),
    ("Bad config pushed to edge", "CONFIGURATION_ERROR"),
    ("Configs out of sync on payment nodes", "CONFIGURATION_ERROR"),
    ("Nginx misconfigured after deploy", "CONFIGURATION_ERROR"),
    ("配置错误", "CONFIGURATION_ERROR"),
    ("网关配置变更失败", "CONFIGURATION_ERROR"),
    ("Third-party payment dependency failing", "EXTERNAL_DEPENDENCY_FAILURE"),
    ("SMS vendor returns errors", "EXTERNAL_DEPENDENCY_FAILURE"),
    ("External geocoding API errors", "EXTERNAL_DEPENDENCY_FAILURE"),
    ("第三方支付接口异常", "EXTERNAL_DEPENDENCY_FAILURE"),
    ("Error monitor", "SYSTEM_UNAVAILABLE"),  # no keyword: the fallback
])
def test_category(title, expected):
    assert category(title) == expected


# Words that contain a keyword, or phrases around one, that do not say what the keyword says.
@pytest.mark.parametrize("title,expected", [
    ("Database down", "SYSTEM_UNAVAILABLE"),  # the issue: it was DATA_INTEGRITY_ISSUE, then read-only
    ("数据库宕机", "SYSTEM_UNAVAILABLE"),
    ("Database connections exhausted", "SYSTEM_UNAVAILABLE"),
    ("Elasticsearch data node down", "SYSTEM_UNAVAILABLE"),  # "data" alone is no keyword
    ("大数据平台宕机", "SYSTEM_UNAVAILABLE"),
    ("权限系统宕机", "SYSTEM_UNAVAILABLE"),  # the permission system is down, not a permission error
    ("Permission service unreachable", "SYSTEM_UNAVAILABLE"),
    ("配置中心宕机", "SYSTEM_UNAVAILABLE"),
    ("Config server unreachable", "SYSTEM_UNAVAILABLE"),
    ("Service slowly recovering after outage", "SYSTEM_UNAVAILABLE"),
    ("服务正在慢慢恢复", "SYSTEM_UNAVAILABLE"),
    ("Author page returns errors", "SYSTEM_UNAVAILABLE"),  # "auth" is not "author"
    ("Certificate authority unreachable", "SYSTEM_UNAVAILABLE"),
    ("Memory leak in checkout workers", "PERFORMANCE_DEGRADATION"),  # not a breach: no quarantine
    ("Connection leak on payments DB pool", "PERFORMANCE_DEGRADATION"),
    ("Checkout pods leaking memory", "PERFORMANCE_DEGRADATION"),
    ("API key leaked on a public repository", "SECURITY_BREACH"),
    ("订单服务内存泄漏", "PERFORMANCE_DEGRADATION"),
    ("Newly configured replicas down", "SYSTEM_UNAVAILABLE"),  # "configured" says nothing is wrong
    ("Security group misconfigured", "CONFIGURATION_ERROR"),  # a firewall rule, not a breach
    ("安全组规则错误", "CONFIGURATION_ERROR"),
    ("HDFS进入安全模式", "SYSTEM_UNAVAILABLE"),  # safe mode, not 安全 (security)
    ("Download page broken", "SYSTEM_UNAVAILABLE"),  # "download" is not "down" (the fallback)
])
def test_look_alikes(title, expected):
    assert category(title) == expected


# When a title names several categories, the lists' order decides (docs/classification.md).
@pytest.mark.parametrize("title,expected", [
    ("Login slow", "PERFORMANCE_DEGRADATION"),  # logins work, slowly
    ("Login down", "AUTHENTICATION_FAILURE"),  # nobody can log in: the auth-outage runbook
    ("登录缓慢", "PERFORMANCE_DEGRADATION"),
    ("登录服务宕机", "AUTHENTICATION_FAILURE"),
    ("Third-party SSO down", "EXTERNAL_DEPENDENCY_FAILURE"),  # the vendor is the cause
    ("Third-party payment API slow", "EXTERNAL_DEPENDENCY_FAILURE"),
    ("Data leak after login bypass", "SECURITY_BREACH"),  # a breach outranks everything
    ("数据库宕机导致数据丢失", "DATA_INTEGRITY_ISSUE"),  # lost data: stop the writes first
    ("Settings page slow", "PERFORMANCE_DEGRADATION"),
    ("Config rollout broke login", "CONFIGURATION_ERROR"),
    ("Replication lag 45s on orders replica", "PERFORMANCE_DEGRADATION"),  # lag, not divergence
    ("PostgreSQLReplicationLag", "PERFORMANCE_DEGRADATION"),
])
def test_precedence(title, expected):
    assert category(title) == expected


def test_the_title_decides_before_the_description_and_the_alertname():
    assert category("Checkout errors", description="Payment provider returns 503") == "EXTERNAL_DEPENDENCY_FAILURE"
    assert category("Login slow", description="possible data leak") == "PERFORMANCE_DEGRADATION"
    assert category("Checkout errors", labels={"alertname": "CheckoutLatencyHigh"}) == "PERFORMANCE_DEGRADATION"
    assert category("Checkout errors", description="see https://grafana.example/d/latency-board") == "SYSTEM_UNAVAILABLE"


def test_the_service_and_other_labels_never_classify():
    """They say where, not what: a scanner that crashes is not a breach."""
    assert category("Pod restarts", service="security-scanner", labels={"team": "auth", "job": "slow-jobs"}) == \
        "SYSTEM_UNAVAILABLE"


def test_category_label_wins():
    assert category("Service down", labels={"category": "security_breach"}) == "SECURITY_BREACH"
    result = classify_category(a(title="Service down", labels={"category": "bogus"}), SHIPPED)
    assert result.category == "SYSTEM_UNAVAILABLE" and result.terms == ("down",)


def test_the_reason_names_the_terms_the_field_and_the_lists():
    result = classify_category(a(title="数据库宕机导致数据丢失"), SHIPPED)
    assert (result.category, result.field, result.terms) == ("DATA_INTEGRITY_ISSUE", "title", ("数据丢失",))
    assert result.reason == f"'数据丢失' in the title; keyword lists {SHIPPED.version} (sha256 {SHIPPED.digest})"
    fallback = classify_category(a(title="Error monitor"), SHIPPED)
    assert fallback.reason.startswith("no keyword in the title, description or alertname: the fallback; keyword lists")
    labelled = classify_category(a(title="x", labels={"category": "CONFIGURATION_ERROR"}), SHIPPED)
    assert labelled.reason == "the alert's category label"


def test_words_and_characters():
    assert tokenize("PostgreSQLDown on db-01: see https://x.example/latency") == ["postgre", "sql", "down", "on", "db",
                                                                                 "01", "see"]
    assert tokenize("MySQL主库宕机") == ["my", "sql", "主", "库", "宕", "机"]
    assert tokenize("ＬＯＧＩＮ　ＳＬＯＷ") == ["login", "slow"]  # full-width, as Chinese keyboards type it
    assert category("ＬＯＧＩＮ失败") == "AUTHENTICATION_FAILURE"


def test_a_term_matches_in_every_case_it_is_written():
    keywords = Keywords.build("t", [("SYSTEM_UNAVAILABLE", ["MySQL down"]), ("SECURITY_BREACH", ["leak"])],
                              look_alikes=["DataNode leak"])
    for title in ("MySQL down", "mysql DOWN", "MYSQL down", "MysqlDown"):
        assert classify_category(a(title=title), keywords).category == "SYSTEM_UNAVAILABLE", title
    assert classify_category(a(title="datanode leak"), keywords).category == "SYSTEM_UNAVAILABLE"  # fallback
    assert classify_category(a(title="DataNode leak"), keywords).category == "SYSTEM_UNAVAILABLE"


# Real alerts (../shared/payloads, read in place): what each one's title, description and
# alertname make of it.
CORPUS = {
    "alertmanager/am-oncall-demo-firing-2-alerts.json": ("alertmanager", "SYSTEM_UNAVAILABLE", ("down",)),
    "alertmanager/am-prometheusalert-log-capture-level-label.json": ("alertmanager", "SYSTEM_UNAVAILABLE", ("down",)),
    # was CONFIGURATION_ERROR: the description names the container config-reloader
    "alertmanager/am-prom2teams-k8s-resolved-common-items.json": ("alertmanager", "PERFORMANCE_DEGRADATION",
                                                                  ("throttling",)),
    "alertmanager/am-msteams-no-alert-status-no-fingerprint.json": ("alertmanager", "SYSTEM_UNAVAILABLE", ()),
    "datadog/dd-keep-triggered-p2-unauthorized-access.json": ("datadog", "AUTHORIZATION_ERROR", ("unauthorized",)),
    "datadog/dd-keep-triggered-database-scope.json": ("datadog", "SYSTEM_UNAVAILABLE", ()),
    "pagerduty-v2/pd-apischema-trigger-srv01-mysql.json": ("pagerduty", "SYSTEM_UNAVAILABLE", ()),
    "grafana-legacy/gfl-alerta-grafana6-tags-severity.json": ("grafana", "SYSTEM_UNAVAILABLE", ()),
}


@pytest.mark.parametrize("rel", sorted(CORPUS))
def test_real_payloads(payloads_dir, rel):
    from api.sources.registry import PARSERS

    source, expected, terms = CORPUS[rel]
    alert = PARSERS[source](json.loads((payloads_dir / rel).read_text())).events[0].alert
    result = classify_category(alert, SHIPPED)
    assert (result.category, result.terms) == (expected, terms), result.reason


def test_categories_are_the_specs():
    assert set(SHIPPED.order) == set(CATEGORIES) and len(CATEGORIES) == 8


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
