"""Group commit: items submitted by concurrently running tasks are written in shared transactions.

Each `health.report` task stays one message per report (the Pi contract, acks_late): the task
thread hands its report to this process's writer and waits until the transaction holding it
has committed, so the message is acknowledged only after its report is stored. While one
batch is being written the next gathers, so with a threads pool many reports cost one
commit and one round trip, with no added delay when the worker is idle.
"""
from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    """Runs `write(items) -> results` for batches of up to `max_batch` concurrently submitted items."""

    def __init__(self, write: Callable[[Sequence[Item]], Sequence[Result]], max_batch: int) -> None:
        self._write = write
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._queue: queue.SimpleQueue[tuple[Item, Future[Result]]] = queue.SimpleQueue()

    def submit(self, item: Item, timeout_s: float = 60.0) -> Result:
        """Return the item's result once its batch committed; raise what the write raised."""
        self._ensure_writer()
        future: Future[Result] = Future()
        self._queue.put((item, future))
        return future.result(timeout_s)

    def _ensure_writer(self) -> None:
        # A forked worker child inherits no running thread: start one per process.
        with self._lock:
            if self._pid != os.getpid():
                self._queue = queue.SimpleQueue()
                threading.Thread(target=self._run, args=(self._queue,), daemon=True,
                                 name="health-group-commit").start()
                self._pid = os.getpid()

    def _run(self, pending: queue.SimpleQueue[tuple[Item, Future[Result]]]) -> None:
        while True:
            batch = [pending.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(pending.get_nowait())
                except queue.Empty:
                    break
            self._flush(batch)

    def _flush(self, batch: list[tuple[Item, Future[Result]]]) -> None:
        # `write` sorts out items that fail alone (core.health.store.apply_reports_isolating);
        # what it raises concerns the whole batch, handed to every waiting task, which retries.
        try:
            results = self._write([item for item, _ in batch])
        except Exception as exc:  # noqa: BLE001 - handed to the waiting tasks
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)
