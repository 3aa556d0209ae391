"""Room: on-call (warroom/oncall), the package's face: people, teams, schedules, escalation policies, who is on call.

The rooms inside, each importing only the ones before it:
  rotation.py  shift math: hand-overs across DST, which shift holds a moment, weekly windows
  model.py     the frozen dataclasses (people, teams, layers, schedules, policies, entries)
  files.py     YAML files to checked model objects, or every `file:line: field.path: message`
  resolve.py   OnCallConfig: who is on call at a moment, who a page target reaches
  source.py    a directory's configuration, re-read when a file changes (the worker, the API)
Other code imports from here, never from the rooms.
"""

from warroom.oncall.files import (
    SCHEMA_PATH,
    OnCallError,
    oncall_files,
    schema,
    validate_paths,
)
from warroom.oncall.model import (
    ContactPoint,
    EscalationLevel,
    EscalationPolicy,
    OnCallEntry,
    Person,
    Resolution,
    Schedule,
    Team,
)
from warroom.oncall.resolve import OnCallConfig, check_texts, parse_at
from warroom.oncall.source import OnCallSource, load_oncall, remember

__all__ = ["SCHEMA_PATH", "ContactPoint", "EscalationLevel", "EscalationPolicy", "OnCallConfig", "OnCallEntry",
           "OnCallError", "OnCallSource", "Person", "Resolution", "Schedule", "Team", "check_texts",
           "load_oncall", "oncall_files", "parse_at", "remember", "schema", "validate_paths"]
