"""One collection run as batches flowing one way through small stages.

Read :mod:`msgevents.run.collector` top to bottom: sources (:mod:`~msgevents.run.sources`,
:mod:`~msgevents.run.outbox`) → map (:mod:`~msgevents.run.mapping`) → check
(:mod:`~msgevents.run.checks`) → deduplicate (:mod:`~msgevents.run.dedupe`) → deliver
(:mod:`~msgevents.run.delivery`) → acknowledge (:mod:`~msgevents.run.acknowledge`).
"""

from msgevents.run.collector import GC_THRESHOLDS, Collector
from msgevents.run.options import CollectOptions, describe_validation_error

__all__ = ["GC_THRESHOLDS", "CollectOptions", "Collector", "describe_validation_error"]
