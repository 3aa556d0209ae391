"""Channels and message templates: real deliveries through Apprise to receivers on 127.0.0.1."""

from __future__ import annotations

import logging
import re
import time
import tomllib
from pathlib import Path

import jinja2
import pytest
from apprise.plugins.slack import NotifySlack

from tests.receivers import Receiver, unused_port
from warroom.delivery import channels
from warroom.delivery import messages
from warroom.delivery.channels import ChannelError, Outcome, deliver, expand_secrets, redact

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def rx():
    with Receiver() as r:
        yield r


def send(url: str, **kw) -> Outcome:
    kw.setdefault("subject", "[P0] Checkout down — new incident")
    kw.setdefault("body", "P0 Checkout down\nservice: checkout")
    kw.setdefault("idempotency_key", "incident-abc:n1")
    return deliver(url, **kw)


# --- delivery ------------------------------------------------------------------------------

def test_json_delivery_carries_subject_body_and_idempotency_key(rx: Receiver) -> None:
    out = send(f"json://{rx.netloc}/hooks/pager", idempotency_key="incident-abc:n7")

    assert out == Outcome(ok=True)
    [req] = rx.requests
    assert (req.method, req.path) == ("POST", "/hooks/pager")
    assert req.header("Idempotency-Key") == "incident-abc:n7"
    assert req.json["title"] == "[P0] Checkout down — new incident"
    assert req.json["message"] == "P0 Checkout down\nservice: checkout"


@pytest.mark.parametrize("scheme", ["form", "xml"])
def test_form_and_xml_webhooks_carry_the_key_too(rx: Receiver, scheme: str) -> None:
    assert send(f"{scheme}://{rx.netloc}/in", idempotency_key="wf-1:n2").ok
    [req] = rx.requests
    assert req.header("Idempotency-Key") == "wf-1:n2"
    if scheme == "form":
        assert req.form["title"] == "[P0] Checkout down — new incident"
        assert req.form["message"] == "P0 Checkout down\nservice: checkout"
    else:
        assert "Checkout down" in req.body.decode()


def test_key_replaces_one_the_url_already_sets(rx: Receiver) -> None:
    assert send(f"json://{rx.netloc}/h?+idempotency-key=stale&+X-Team=payments", idempotency_key="k:1").ok
    [req] = rx.requests
    assert req.header("Idempotency-Key") == "k:1"
    assert req.header("X-Team") == "payments"


def test_receiver_failing_gives_a_reason_and_one_attempt(rx: Receiver) -> None:
    rx.program(always_fail=True)

    # ?retry=3 would make Apprise try 4 times; a delivery is exactly one attempt.
    out = send(f"json://{rx.netloc}/h?retry=3&wait=0")

    assert out.ok is False
    assert "500" in out.error and len(out.error) < 250
    assert len(rx.requests) == 1


def test_optional_flag_cannot_hide_a_failure(rx: Receiver) -> None:
    rx.program(always_fail=True)
    assert send(f"json://{rx.netloc}/h?optional=yes").ok is False


def test_fail_first_then_succeed(rx: Receiver) -> None:
    rx.program(fail_first=2)
    results = [send(f"json://{rx.netloc}/h").ok for _ in range(3)]
    assert results == [False, False, True]
    assert [r.status for r in rx.requests] == [500, 500, 200]
    assert len(rx.delivered) == 1


def test_unreachable_port_fails_fast() -> None:
    timeout = 2.0
    started = time.monotonic()
    out = send(f"json://127.0.0.1:{unused_port()}/h", timeout=timeout)
    assert out.ok is False and "onnection" in out.error
    assert time.monotonic() - started < timeout  # refused at once: it never waits the timeout out


def test_timeout_is_honoured_for_a_receiver_that_hangs(rx: Receiver) -> None:
    hang, timeout = 5.0, 0.5
    # beyond the timeout: the client's own work around its one attempt on a loaded machine;
    # far short of the hang it must not wait out
    slack = 1.5
    rx.program(delay=hang)
    started = time.monotonic()
    out = send(f"json://{rx.netloc}/h", timeout=timeout)
    elapsed = time.monotonic() - started
    assert out.ok is False and out.error
    assert elapsed < timeout + slack, elapsed  # one attempt, bounded by the timeout (no hidden retry)
    assert len(rx.requests) == 1


def test_slack_webhook_pointed_at_loopback(rx: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    # Apprise has no custom host for slack://: the webhook base is a class attribute
    # (https://hooks.slack.com/services). Point it at the receiver to see the real payload.
    monkeypatch.setattr(NotifySlack, "webhook_url", f"{rx.url}/services")
    rx.program(reply=(200, "ok"))  # what Slack's incoming webhooks answer

    out = send("slack://T000AAAA/B000BBBB/${SLACK_HOOK_SECRET}/#ops",
               env={"SLACK_HOOK_SECRET": "XXXXsecretXXXX"})

    assert out == Outcome(ok=True)
    [req] = rx.requests
    assert req.path == "/services/T000AAAA/B000BBBB/XXXXsecretXXXX"
    assert req.json["channel"] == "#ops"
    assert "Checkout down" in str(req.json)
    assert req.header("Idempotency-Key") is None  # Slack cannot carry it
    assert not channels.carries_idempotency_key("slack://a/b/c")

    rx.program(always_fail=True)
    failed = send("slack://T000AAAA/B000BBBB/${SLACK_HOOK_SECRET}", env={"SLACK_HOOK_SECRET": "XXXXsecretXXXX"})
    assert failed.ok is False and "XXXXsecretXXXX" not in failed.error


# --- secrets -------------------------------------------------------------------------------

def test_secrets_expand_from_the_environment(rx: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_TEST_HOOK_TOKEN", "tok-0123456789abcdef")
    monkeypatch.setenv("WARROOM_TEST_AUTH", "Bearer sekret-auth-value")
    assert send(f"json://{rx.netloc}/hooks/${{WARROOM_TEST_HOOK_TOKEN}}?+Authorization=${{WARROOM_TEST_AUTH}}").ok
    [req] = rx.requests
    assert req.path == "/hooks/tok-0123456789abcdef"
    assert req.header("Authorization") == "Bearer sekret-auth-value"
    assert expand_secrets("json://h/${A}/${B}", {"A": "1", "B": "two"}) == "json://h/1/two"


def test_missing_secret_names_the_variable_not_a_value() -> None:
    with pytest.raises(ChannelError) as err:
        send("json://127.0.0.1/${PRESENT}/${MISSING_ONE}", env={"PRESENT": "value-should-not-show"})
    assert "MISSING_ONE" in str(err.value)
    assert "PRESENT" not in str(err.value) and "value-should-not-show" not in str(err.value)


def test_configuration_problems_raise_channel_errors() -> None:
    for url in ("nosuchscheme://host/x", "not a url", "slack://only-one-token-part"):
        with pytest.raises(ChannelError):
            send(url)


def test_secrets_stay_out_of_logs(rx: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    secret = "hooksecret-9f8e7d6c5b4a"
    rx.program(always_fail=True)
    with caplog.at_level(logging.DEBUG):  # stricter than INFO: Apprise and urllib3 debug lines too
        out = send(f"json://user:${{PW}}@{rx.netloc}/in/${{TOK}}", env={"TOK": secret, "PW": "pw-4242-secret"})
        send(f"json://127.0.0.1:{unused_port()}/in/${{TOK}}", env={"TOK": secret})
    assert not out.ok
    assert rx.requests[0].path == f"/in/{secret}"  # it was really used...
    assert caplog.records  # ...and logging really happened
    for text in (caplog.text, out.error):
        assert secret not in text and "pw-4242-secret" not in text


def test_redact_hides_tokens_and_passwords() -> None:
    cases = {
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7/#ops": ["TIiajkdnlazkcOXrIdevi7"],
        "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7": ["TIiajkdnlazkcOXrIdevi7"],
        "json://ops:hunter2pass@alerts.example.com/hooks/abcdef0123456789ab?+Authorization=Bearer%20xyz123":
            ["hunter2pass", "abcdef0123456789ab", "xyz123"],
        "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123": ["AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"],
        "mailtos://pager:mailpass99@smtp.example.com?to=oncall@example.com": ["mailpass99"],
        "dingtalk://signsecret77@dingtoken1234567890/": ["signsecret77", "dingtoken1234567890"],
        "wecombot://wecomkey-0123456789abcdef": ["wecomkey-0123456789abcdef"],
        "https://example.com/webhook/verysecrettoken0001?key=apikey42": ["verysecrettoken0001", "apikey42"],
        "nosuchscheme://user:pw123456@host/tokentokentoken12345": ["pw123456", "tokentokentoken12345"],
    }
    for url, secrets in cases.items():
        shown = redact(url)
        for s in secrets:
            assert s not in shown, (url, shown)
    assert "wf-1" in redact("json://h/x?+Idempotency-Key=wf-1")  # not a secret
    # placeholders name a secret; they are not one
    assert "${SLACK_TOKEN}" in redact("slack://${SLACK_TOKEN}/#ops")


# --- templates -----------------------------------------------------------------------------

CONTEXT = dict(
    incident_id="INC-7", title="Checkout API 5xx", priority="P0", service="checkout",
    category="availability", status="OPEN", phase="mitigate", level="L2", commander="bob",
    subject="[P0] Checkout API 5xx — escalated to L2", message="Escalated (no acknowledgement).\nP0 Checkout API 5xx",
    link="http://localhost:8000/api/v1/incidents/INC-7", person_name="Alice", via=["L2", "payments-l2", "Alice"],
    ack_link="http://localhost:8000/ack/eyJ2IjoxfQ.c2ln", paged_as="L2 on-call", target_level="L2",
    description="", links=[],
)
ZH_MARKERS = {
    "page": "【P0】新事件：", "update": "状态更新", "reminder": "提醒", "escalation": "已升级至 L2",
    "resolution": "已解决", "review_request": "请提交事后复盘", "follow_up": "跟进",
}


INCIDENT_KINDS = [k for k in messages.KINDS if k != "handover"]  # the hand-over is about a shift, not an incident


@pytest.mark.parametrize("kind", INCIDENT_KINDS)
def test_every_kind_renders_in_english_and_chinese(kind: str) -> None:
    en_subject, en_body = messages.render(kind, "en", CONTEXT)
    zh_subject, zh_body = messages.render(kind, "zh", CONTEXT)

    for subject, body in ((en_subject, en_body), (zh_subject, zh_body)):
        assert subject and "\n" not in subject and "P0" in subject
        assert CONTEXT["message"] in body  # the engine's text is kept as given
        assert "INC-7" in body and CONTEXT["link"] in body
    assert ZH_MARKERS[kind] in zh_subject
    assert re.search(r"[\u4e00-\u9fff]", zh_body)
    assert not re.search(r"[\u4e00-\u9fff]", en_subject + en_body)


def test_the_handover_says_the_record_as_given_in_both_languages() -> None:
    ctx = {**CONTEXT, "subject": "On-call hand-over: SRE primary — 1 open incident(s)",
           "message": "Bob hands SRE primary over to Alice.\n\nOpen incidents (1):\n- INC-7 P0 triggered"}
    en_subject, en_body = messages.render("handover", "en", ctx)
    zh_subject, zh_body = messages.render("handover", "zh", ctx)
    assert en_subject == ctx["subject"] and en_body == ctx["message"]
    assert zh_subject == f"【值班交接】{ctx['subject']}" and zh_body.startswith("值班交接记录") and ctx["message"] in zh_body


def test_language_fallback_and_variants() -> None:
    assert messages.render("page", "fr", CONTEXT) == messages.render("page", "en", CONTEXT)
    assert messages.render("page", "zh-CN", CONTEXT) == messages.render("page", "zh", CONTEXT)
    assert messages.render("page", "", CONTEXT)[0].startswith("[P0] New incident:")


def test_optional_values_may_be_empty() -> None:
    ctx = {**CONTEXT, "commander": None, "link": "", "person_name": "", "via": ""}
    subject, body = messages.render("page", "en", ctx)
    assert "Commander: unassigned" in body and "Link:" not in body and body.startswith("You are paged")
    assert "未指派" in messages.render("page", "zh", ctx)[1]


@pytest.mark.parametrize("kind", messages.KINDS)
def test_what_asks_to_act_carries_the_acknowledge_link(kind: str) -> None:
    for lang in messages.LANGUAGES:
        body = messages.render(kind, lang, CONTEXT)[1]
        # near the top, where a phone's notification preview shows it; never in what only informs
        assert any(CONTEXT["ack_link"] in line for line in body.splitlines()[:4]) == (kind in messages.ASKS_TO_ACT)
        assert (CONTEXT["ack_link"] in body) == (kind in messages.ASKS_TO_ACT)
        assert CONTEXT["ack_link"] not in messages.render(kind, lang, {**CONTEXT, "ack_link": ""})[1]


def test_missing_context_key_is_an_error() -> None:
    ctx = dict(CONTEXT)
    del ctx["target_level"]
    with pytest.raises(jinja2.UndefinedError):
        messages.render("escalation", "zh", ctx)
    with pytest.raises(ValueError):
        messages.render("no_such_kind", "en", CONTEXT)


def test_pages_that_bring_a_person_in_carry_the_alert_and_its_links() -> None:
    ctx = {**CONTEXT, "description": "5xx on /pay above 50 % for 5 minutes",
           "links": messages.link_labels(["https://rb.example.com/pay", "https://pd.example.com/x"],
                                         {"https://rb.example.com/pay": "runbook",
                                          "https://pd.example.com/x": "View in Promgen"}, "en")}
    for kind in ("page", "escalation"):
        body = messages.render(kind, "en", ctx)[1]
        assert "\n5xx on /pay above 50 % for 5 minutes\n" in body
        assert "Runbook: https://rb.example.com/pay\nView in Promgen: https://pd.example.com/x" in body
    zh = {**ctx, "links": messages.link_labels(["https://rb.example.com/pay"], {"https://rb.example.com/pay": "runbook"}, "zh")}
    assert "运行手册：https://rb.example.com/pay" in messages.render("page", "zh", zh)[1]
    assert "Runbook" not in messages.render("update", "en", ctx)[1]  # an update informs; no links


def test_an_escalation_to_a_role_names_the_role_not_a_level() -> None:
    ctx = {**CONTEXT, "target_level": "", "paged_as": "technical manager", "status": "resolved",
           "subject": "[P0] Checkout API 5xx — post-incident review overdue"}
    subject, body = messages.render("escalation", "en", ctx)
    assert subject == ctx["subject"] and "L2" not in subject
    assert body.startswith("Alice, you are paged as technical manager about this P0 incident: "
                           "[P0] Checkout API 5xx — post-incident review overdue")
    level = messages.render("escalation", "en", {**CONTEXT, "status": "triggered"})
    assert level[0] == "[P0] Escalated to L2: Checkout API 5xx"
    assert level[1].splitlines()[:2] == [
        "Alice, this P0 incident has been escalated to L2 and needs you now (you are paged as L2 on-call). "
        "Please acknowledge.", f"Acknowledge: {CONTEXT['ack_link']}"]
    zh = messages.render("escalation", "zh", {**CONTEXT, "status": "triggered"})[1].splitlines()
    assert zh[0].endswith("请确认。") and zh[1] == f"一键确认：{CONTEXT['ack_link']}"
    assert "作为技术经理" in messages.render("escalation", "zh", {**ctx, "paged_as": "技术经理"})[1].splitlines()[0]


def test_engine_kinds_map_to_templates() -> None:
    assert [messages.kind_for(k, "oncall:L1") for k in
            ("INITIAL", "UPDATE", "REMINDER", "ESCALATION", "RESOLUTION", "FOLLOW_UP", "SOMETHING_NEW")] == \
        ["page", "update", "reminder", "escalation", "resolution", "follow_up", "follow_up"]


def test_templates_are_shipped_with_the_package() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["warroom"]
    assert "delivery/templates/*/*.j2" in patterns
    files = sorted(messages.TEMPLATE_DIR.rglob("*.j2"))
    assert files and all(len(f.relative_to(messages.TEMPLATE_DIR).parts) == 2 for f in files)
    for lang in messages.LANGUAGES:
        for kind in messages.KINDS:
            assert (messages.TEMPLATE_DIR / lang / f"{kind}.j2").is_file()


@pytest.mark.parametrize(("targets", "language", "said"), [
    (["oncall:L1"], "en", "L1 on-call"),
    (["oncall:L1", "technical_manager"], "en", "L1 on-call and technical manager"),
    (["technical_manager", "customer_success_manager", "team:payments"], "en",
     "technical manager, customer success manager and team payments"),
    (["person:ann"], "en", ""),
    (["release_captain"], "en", "release captain"),
    (["oncall:L2", "management"], "zh", "L2 值班和管理层"),
])
def test_a_page_says_what_the_person_is_paged_as(targets, language, said):
    assert messages.paged_as(targets, language) == said
    _, body = messages.render("page", language, {**CONTEXT, "paged_as": said})
    assert (said in body) if said else ("paged as" not in body and "作为" not in body)
