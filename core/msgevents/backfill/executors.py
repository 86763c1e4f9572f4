"""Where the parts run: processes on this machine, or a Dask distributed cluster.

Both take the same :class:`~msgevents.backfill.task.PartTask` list and yield one
:class:`PartOutcome` per part as parts finish; both run a part again when it failed
(:class:`~msgevents.backfill.task.PartFailed`, an unexpected exception, or its worker
died), up to ``retries`` more times. Running a part again is always safe: it is an
ordinary backfill run, and the ledger and the claims (:mod:`msgevents.state.claims`)
deliver nothing twice.

- :class:`LocalExecutor` — :class:`concurrent.futures.ProcessPoolExecutor` (``spawn``:
  each worker imports msgevents afresh). A worker killed mid-task breaks the whole
  pool and the pool cannot tell whose worker it was, so at most ``workers`` tasks are
  submitted at once and each of them counts an attempt and runs again in a new pool.
- :class:`DaskExecutor` — ``distributed.Client(address).submit(run_part, task,
  retries=…)``: the scheduler retries a task that raised, and reschedules a task whose
  worker died (up to its ``allowed-failures``, then ``KilledWorker``). Workers need
  msgevents, the provider's plugin and the provider's and sink's settings in their
  environment; the tasks carry no secrets.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

from msgevents.backfill.plan import Part
from msgevents.backfill.task import PartFailed, PartTask, run_part
from msgevents.errors import ConfigError
from msgevents.redact import redact

__all__ = ["DaskExecutor", "Executor", "LocalExecutor", "PartOutcome", "make_executor"]

#: ``on_retry(part, reason)``: a part failed and runs again
RetryCallback = Callable[[Part, str], None]


@dataclass
class PartOutcome:
    """How a part ended: its last result (``None`` when its worker died) and, if it failed
    for good, why."""

    part: Part
    result: dict[str, Any] | None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


class Executor(Protocol):
    description: str

    def run(self, tasks: Sequence[PartTask], on_retry: RetryCallback) -> Iterator[PartOutcome]: ...


def _failure(exc: BaseException) -> tuple[dict[str, Any] | None, str]:
    if isinstance(exc, PartFailed):
        return exc.result, str(exc)
    if isinstance(exc, BrokenProcessPool):
        return None, "a worker process died"
    return None, redact(f"{type(exc).__name__}: {exc}")


class LocalExecutor:
    """Parts in ``workers`` processes on this machine."""

    def __init__(self, workers: int, retries: int) -> None:
        self.workers = workers
        self.retries = retries
        self.description = f"local, {workers} worker processes"

    def _pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))

    def run(self, tasks: Sequence[PartTask], on_retry: RetryCallback) -> Iterator[PartOutcome]:
        queue = deque(tasks)
        attempts: dict[int, int] = {}
        running: dict[Future[dict[str, Any]], PartTask] = {}
        pool = self._pool()
        try:
            while queue or running:
                while queue and len(running) < self.workers:
                    task = queue.popleft()
                    attempts[task.part.index] = attempts.get(task.part.index, 0) + 1
                    running[pool.submit(run_part, task)] = task
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    task = running.pop(future)
                    try:
                        yield PartOutcome(task.part, future.result())
                        continue
                    except Exception as exc:  # any failure of the task is the part's
                        broken = broken or isinstance(exc, BrokenProcessPool)
                        result, reason = _failure(exc)
                    if attempts[task.part.index] <= self.retries:
                        on_retry(task.part, reason)
                        queue.appendleft(task)
                    else:
                        yield PartOutcome(task.part, result, reason)
                if broken:  # the pool is unusable: its other tasks were killed with it
                    for future, task in list(running.items()):
                        wait([future])
                        running.pop(future)
                        if attempts[task.part.index] <= self.retries:
                            on_retry(task.part, "a worker process died")
                            queue.appendleft(task)
                        else:
                            yield PartOutcome(task.part, None, "a worker process died")
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = self._pool()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Parts as tasks on a Dask distributed cluster (``dask://HOST:PORT`` or ``tcp://…``)."""

    def __init__(self, address: str, retries: int) -> None:
        self.address = address
        self.retries = retries
        self.description = f"dask {address}"

    def _client(self) -> Any:
        try:
            from distributed import Client
        except ImportError:
            raise ConfigError("--executor dask://… needs Dask: pip install 'msgevents[dask]'") from None
        try:
            return Client(self.address, timeout="20s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(
                f"--executor: cannot reach the Dask scheduler at {self.address}: {exc}"
            ) from None

    def run(self, tasks: Sequence[PartTask], on_retry: RetryCallback) -> Iterator[PartOutcome]:
        from distributed import as_completed

        client = self._client()
        try:
            futures = {
                client.submit(
                    run_part,
                    task,
                    key=f"msgevents-backfill-{task.backfill_id}-{task.part.index}",
                    retries=self.retries,
                    pure=False,
                ): task
                for task in tasks
            }
            for future in as_completed(futures, loop=client.loop):
                task = futures[future]
                if future.status == "finished":
                    yield PartOutcome(task.part, future.result())
                else:
                    result, reason = _failure(future.exception())
                    yield PartOutcome(task.part, result, reason)
        finally:
            client.close()


def make_executor(spec: str, workers: int, retries: int) -> Executor:
    """``--executor local`` or ``--executor dask://HOST:PORT`` (``tcp://``/``tls://`` as well)."""
    if spec == "local":
        return LocalExecutor(workers, retries)
    scheme, sep, rest = spec.partition("://")
    if sep and scheme in ("dask", "tcp", "tls") and rest:
        return DaskExecutor(f"{'tcp' if scheme == 'dask' else scheme}://{rest}", retries)
    raise ConfigError(f"--executor {spec!r}: expected local or dask://HOST:PORT")
