"""``msgevents backfill``: a backfill split into parts, each an ordinary run, run as tasks.

- :mod:`~msgevents.backfill.plan`: a time range into windows of ``--partition``, or
  ``--input`` files and objects into one part each;
- :mod:`~msgevents.backfill.task`: one part as an ordinary backfill run of the
  :class:`~msgevents.run.Collector`, its report returned as plain data;
- :mod:`~msgevents.backfill.executors`: where the tasks run — processes on this
  machine (``local``) or a Dask distributed cluster (``dask://HOST:PORT``), each
  retrying a failed task;
- :mod:`~msgevents.backfill.aggregate`: one summary and report from the parts' reports.

Parts of one account run at the same time: each locks only its own part, and every
run claims the events it sends (:mod:`msgevents.state.claims`), so overlapping parts
and a task re-run after its worker died deliver nothing twice. ``docs/scale-out.md``
gives the argument.
"""

from msgevents.backfill.aggregate import BackfillReport
from msgevents.backfill.executors import DaskExecutor, LocalExecutor, PartOutcome, make_executor
from msgevents.backfill.plan import Part, parse_partition, plan_input_parts, plan_window_parts
from msgevents.backfill.task import PartFailed, PartTask, run_part

__all__ = [
    "BackfillReport",
    "DaskExecutor",
    "LocalExecutor",
    "Part",
    "PartFailed",
    "PartOutcome",
    "PartTask",
    "make_executor",
    "parse_partition",
    "plan_input_parts",
    "plan_window_parts",
    "run_part",
]
