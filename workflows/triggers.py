"""Room: workflows (deterministic). The SPEC's P1 -> P0 upgrade triggers in a running incident
(patch upgrade-triggers; docs/upgrades.md): impact reported by later alerts' labels and engineer
updates, suggestions from an update's words, cascades of incidents linked to a parent raised to
P0, and who is told of a downgrade. The rules are upgrades.py's (pure); this mixin applies them
to IncidentCore's state and records every automatic change with its reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows import calls, upgrades
    from workflows.contracts import OPEN_STATUSES, AlertInfo, PostUpdate, UpgradeRules
    from workflows.contracts_links import LinkChild, LinkParent, RelatedRequest, RelatedResult
    from workflows.patches import CASCADE_AFTER_PAGES, UPGRADE_TRIGGERS
    from workflows.policy import default_upgrade_rules
    from workflows.waits import WAKE_WAR_ROOM

if TYPE_CHECKING:
    from workflows.contracts import Bookkeeping, IncidentState, ResponsePolicy
    from workflows.waits import Waits


class UpgradeTriggers:
    """Mixed into IncidentCore, whose state, timeline and paging it uses."""

    s: IncidentState
    b: Bookkeeping
    policy: ResponsePolicy
    patches: Any
    waits: Waits
    _busy: int
    _finishing: bool

    if TYPE_CHECKING:
        def _event(self, type: str, actor: str = "system", **details: Any) -> Any: ...
        def _stakeholders(self) -> list[str]: ...
        def _change_priority(self, by: str, to: str, reason: str, **automatic: Any) -> None: ...
        def _ending_now(self) -> bool: ...
        def _on_priority_changed(self, old: str, new: str) -> None: ...

    def _told_of(self, targets: list[str], *, afresh: bool = False) -> None:
        """These targets now know the incident's priority: the first pages, a briefing, or (afresh:
        the list starts again) the pages of an upgrade or a downgrade. A downgrade is announced to
        them (SPEC 3: who was told of the upgrade hears of the downgrade)."""
        if UPGRADE_TRIGGERS in self.patches:
            told = [] if afresh else self.b.told_of_priority
            told.extend(t for t in targets if t not in told)
            self.b.told_of_priority = told

    def _announce_to(self, told: list[str]) -> list[str]:
        out = list(told)
        out.extend(t for t in self._stakeholders() if t not in out)
        return out

    # ------------------------------------------------------------------ upgrade triggers (upgrades.py)

    def _rules(self) -> UpgradeRules:
        return self.policy.upgrades or default_upgrade_rules()

    def _starting_impact(self, a: AlertInfo) -> None:
        """The starting alert's labels. Its signals already made it a P0 at the edge (classify's
        impact rules) unless the request named its priority; an expected recovery beyond the limit
        is judged here, against the rules in the input. Before any page: nobody was told the first
        priority, so the change pages no one (the first pages say the new one)."""
        impact = upgrades.from_labels(a.labels)
        if not impact:
            return
        self._record_impact(impact, a.source or "source", via="alert labels")
        found = upgrades.triggers(impact, self.s.priority, self._rules().recovery_beyond_seconds)
        if found:
            old = self.s.priority
            self.s.priority = "P0"
            self._event("priority.changed", actor="system", **{"from": old, "to": "P0", "direction": "upgrade"},
                        reason=self._why(found, a.source or "source", "alert labels"), sla=self.policy.sla("P0"),
                        automatic=True, triggers=[t.name for t in found], reported_by=a.source or "source")
            self._on_priority_changed(old, "P0")  # a ticket started by a caller that skipped the edge hands over

    def _record_impact(self, impact: upgrades.Impact, by: str, via: str) -> upgrades.Impact:
        """Record what is new in `impact` (`impact.reported`); returns the new part."""
        s = self.s
        new = tuple(n for n in impact.signals if n not in s.impact_signals)
        minutes = impact.recovery_minutes if impact.recovery_minutes != s.expected_recovery_minutes else None
        if not new and minutes is None:
            return upgrades.Impact()
        s.impact_signals.extend(new)
        if minutes is not None:
            s.expected_recovery_minutes = minutes
        self._event("impact.reported", actor=by, signals=list(new) or None, expected_recovery_minutes=minutes,
                    via=via)
        return upgrades.Impact(new, minutes)

    def _why(self, found: list[upgrades.Trigger], by: str, via: str) -> str:
        return f"{'; '.join(t.reason for t in found)} ({via}, {by})"

    def _report_impact(self, impact: upgrades.Impact, by: str, via: str) -> None:
        """Impact reported by a later alert or an engineer update: each trigger raises the open
        incident to P0 at once (SPEC 3), recorded as the system's change with its reason."""
        new = self._record_impact(impact, by, via)
        if not new or self.s.status not in OPEN_STATUSES:
            return
        found = upgrades.triggers(new, self.s.priority, self._rules().recovery_beyond_seconds)
        if found:
            self._change_priority("system", "P0", self._why(found, by, via), triggers=[t.name for t in found],
                                  reported_by=by)

    def _suggest(self, u: PostUpdate) -> None:
        """Terms in the update's text that report a signal nobody reported: a suggestion on the
        timeline (`upgrade.suggested`), never applied; a person confirms it (docs/upgrades.md)."""
        if self.s.priority == "P0" or self.s.status not in OPEN_STATUSES:
            return
        found = [(n, term) for n, term in upgrades.suggestions(u.message, self._rules().suggest)
                 if n not in self.s.impact_signals]
        if found:
            self._event("upgrade.suggested", actor="system", to="P0", signals=[n for n, _ in found],
                        terms=[term for _, term in found], by=u.by,
                        reason="; ".join(f"{upgrades.SAID[n]} ({term!r})" for n, term in found)
                        + f" in {u.by}'s update")

    # ------------------------------------------------------------------ cascades

    async def _cascade(self) -> None:
        """Once the first pages are out and the incident's row is recorded, look for the open
        incidents it cascades with (find_related: dependencies in the upgrades file, or several
        P0/P1 in the window) and link them: the earliest is the parent, raised to P0; each child shows its parent."""
        if UPGRADE_TRIGGERS not in self.patches or self.b.cascade_checked:
            return
        # Once the first pages are out (patch cascade-after-pages) and the incident's row is
        # recorded. Runs from before it waited for assess and the first records write only: assess
        # is a local activity, so a run could see its result together with the records write where
        # a replay saw it alone (the lookup before the first pages once, after them on replay).
        started = ((lambda: self.s.phase not in ("assess", "notify")) if CASCADE_AFTER_PAGES in self.patches
                   else (lambda: self.s.phase != "assess"))
        await self.waits.wait(lambda: (self.b.flushed > 0 and started() and not self._ending_now())
                              or self._finishing, WAKE_WAR_ROOM)
        if self._finishing:
            return  # the next run looks (cascade_checked is still False)
        self._busy += 1  # until the links are sent: a run that ends waits for them (core._quiet)
        try:
            await self._link(await self._related())
        finally:
            self._busy -= 1

    async def _related(self) -> RelatedResult:
        try:
            res = await calls.find_related(RelatedRequest(
                incident_id=self.s.incident_id, service=self.s.service, priority=self.s.priority,
                created_at=self.s.created_at))
        except ActivityError as err:
            self._event("cascade.failed", error=str(err.cause or err))
            res = RelatedResult()
        self.b.cascade_checked = True
        return res

    async def _link(self, res: RelatedResult) -> None:
        if res.parent is not None:
            self._link_parent(res.parent.incident_id, res.parent.reason)
            await self._tell(res.parent.workflow_id, "link_child",
                             LinkChild(child=self.s.incident_id, reason=res.parent.reason, service=self.s.service,
                                       title=self.s.title))
        parent = res.parent
        for c in res.children:
            if parent is None:
                self._add_child(c.incident_id, c.reason)
            else:
                await self._tell(parent.workflow_id, "link_child", LinkChild(child=c.incident_id, reason=c.reason))
            await self._tell(c.workflow_id, "link_parent",
                             LinkParent(parent=parent.incident_id if parent else self.s.incident_id, reason=c.reason))

    async def _tell(self, workflow_id: str, signal: str, arg: Any) -> None:
        try:
            await workflow.get_external_workflow_handle(workflow_id).signal(signal, arg)
        except Exception as err:  # noqa: BLE001 - the other incident closed meanwhile: nothing to link
            self._event("cascade.unreachable", workflow_id=workflow_id, signal=signal, error=str(err))

    def _link_parent(self, parent: str, reason: str) -> None:
        if self.s.parent_incident is None and parent != self.s.incident_id:
            self.s.parent_incident = parent
            self._event("cascade.linked", actor="system", parent=parent, reason=reason)

    def _add_child(self, child: str, reason: str, service: str = "") -> None:
        s = self.s
        if child in s.children or child == s.incident_id:
            return
        s.children.append(child)
        self._event("cascade.child", actor="system", child=child, service=service or None, reason=reason)
        if s.status in OPEN_STATUSES and s.priority != "P0":
            self._change_priority("system", "P0", f"cascading failure: {child} ({reason})",
                                  triggers=["cascade"], children=list(s.children))

    @workflow.signal(name="link_parent")
    def link_parent(self, sig: LinkParent) -> None:
        self._link_parent(sig.parent, sig.reason)

    @workflow.signal(name="link_child")
    def link_child(self, sig: LinkChild) -> None:
        self._add_child(sig.child, sig.reason, sig.service)
