"""The records database: tables (models), incidents and their timeline, communications.

Room: records (warroom/records). The package's face: callers write `records.record_events(...)`;
API keys are `warroom.records.keys`, reports and SLA figures `warroom.records.reports`.
"""

from warroom.records.communications import *  # noqa: F403
from warroom.records.communications import __all__ as _communications
from warroom.records.incidents import *  # noqa: F403
from warroom.records.incidents import __all__ as _incidents
from warroom.records.models import *  # noqa: F403
from warroom.records.models import __all__ as _models

__all__ = [*_models, *_incidents, *_communications]
