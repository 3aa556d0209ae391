"""Room: workflows (deterministic, standard library only). Default service levels (SPEC 2).

The worker never reads these at workflow time: the starter builds a ResponsePolicy (these
defaults, or the service-levels file that warroom/levels.py loads over them) and puts it into
the workflow input, so a running incident keeps the numbers it started with. The shipped file
levels/service-levels.yaml says the same as this table (tests/warroom/test_levels.py).
"""

from __future__ import annotations

from workflows.contracts import EscalationTimers, PriorityPolicy, ResponsePolicy, UpgradeRules

MIN = 60
HOUR = 3600

# What every priority shares unless configured: two stakeholder intervals in a row without an
# engineer update escalate one level; the level being waited on is nudged at 80 % of the ack SLA.
SILENCE_INTERVALS = 2
NUDGE_PERCENT = 80
# P2-P4 escalate within the team: L1 on-duty, then L2 senior; never vendors or management.
TEAM_TOP_LEVEL = 2


def default_policy() -> ResponsePolicy:
    shared = {"silence_intervals": SILENCE_INTERVALS, "nudge_percent": NUDGE_PERCENT}
    ladder = [30 * MIN, HOUR, 2 * HOUR]  # no progress: L2 after 30 min, L3 after 1 h, vendor after 2 h

    def team() -> dict:  # fresh lists and dicts for each priority; tickets send no stakeholder updates
        return {"top_level": TEAM_TOP_LEVEL, "briefings": {}, "resolve_notify": [], "nudge_percent": NUDGE_PERCENT}

    p = {
        "P0": PriorityPolicy(
            "P0", ack_seconds=15 * MIN, update_seconds=15 * MIN, resolve_seconds=2 * HOUR,
            review_seconds=24 * HOUR, war_room=True,
            stakeholders=["oncall:L1", "technical_manager", "customer_success_manager"],
            no_progress_seconds=list(ladder), briefings={"management": 30 * MIN}, resolve_notify=["management"],
            **shared,
        ),
        "P1": PriorityPolicy(
            "P1", ack_seconds=30 * MIN, update_seconds=30 * MIN, resolve_seconds=4 * HOUR,
            review_seconds=48 * HOUR, war_room=False,
            stakeholders=["oncall:L1", "technical_lead"],
            no_progress_seconds=list(ladder), briefings={}, resolve_notify=["management"], **shared,
        ),
        "P2": PriorityPolicy(
            "P2", ack_seconds=2 * HOUR, update_seconds=2 * HOUR, resolve_seconds=8 * HOUR,
            stakeholders=["oncall:L1"], **team(),
        ),
        "P3": PriorityPolicy(
            "P3", ack_seconds=4 * HOUR, update_seconds=4 * HOUR, resolve_seconds=24 * HOUR,
            stakeholders=["oncall:L1"], **team(),
        ),
        "P4": PriorityPolicy(
            "P4", ack_seconds=8 * HOUR, update_seconds=24 * HOUR, resolve_seconds=48 * HOUR,
            stakeholders=["oncall:L1"], **team(),
        ),
    }
    return ResponsePolicy(priorities=p, escalation=EscalationTimers())


# The SPEC's P1 -> P0 triggers (section 3) beyond the alert's figures: the expected recovery
# limit and the terms that suggest a signal in an engineer update (warroom/upgrades.yaml says
# the same; docs/upgrades.md). English and Chinese, as the classification's lists.
DEFAULT_SUGGEST: dict[str, list[str]] = {
    "data_loss": ["data loss", "lost data", "data was lost", "data is lost", "data lost", "lost writes",
                  "lost orders", "数据丢失", "丢失数据", "丢数据", "数据被删"],
    "security_risk": ["breach", "breached", "security risk", "security incident", "compromised",
                      "intrusion", "unauthorized access", "credentials leaked", "data leak", "exfiltration",
                      "安全风险", "安全事件", "泄露", "入侵", "被攻击", "未授权访问"],
    "all_users": ["all users", "every user", "all customers", "every customer", "all regions",
                  "所有用户", "全部用户", "全体用户", "所有客户"],
    "business_down": ["business down", "business is down", "fully down", "completely down", "total outage",
                      "nothing works", "业务中断", "业务瘫痪", "全部宕机", "完全不可用"],
}


def default_upgrade_rules() -> UpgradeRules:
    return UpgradeRules(recovery_beyond_seconds=4 * HOUR,
                        suggest={k: list(v) for k, v in DEFAULT_SUGGEST.items()}, version="built-in")
