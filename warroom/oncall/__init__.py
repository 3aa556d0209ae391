"""On-call configuration: people, teams, schedules, escalation policies and who is on call.

Room: on-call (warroom/oncall), the domain rules of paging targets. The package's face.
"""

from warroom.oncall.model import (
    SCHEMA_PATH,
    ContactPoint,
    EscalationLevel,
    EscalationPolicy,
    OnCallConfig,
    OnCallEntry,
    OnCallError,
    OnCallSource,
    Person,
    Resolution,
    Schedule,
    Team,
    check_texts,
    default_oncall_dir,
    load_oncall,
    oncall_files,
    parse_at,
    remember,
    schema,
    validate_paths,
)

__all__ = ["SCHEMA_PATH", "ContactPoint", "EscalationLevel", "EscalationPolicy", "OnCallConfig", "OnCallEntry",
           "OnCallError", "OnCallSource", "Person", "Resolution", "Schedule", "Team", "check_texts",
           "default_oncall_dir", "load_oncall", "oncall_files", "parse_at", "remember", "schema", "validate_paths"]
