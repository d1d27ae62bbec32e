"""Work over a whole dataset in a thread of its own, started once per key (data, model, what)
and shared by every session: the page draws its progress and polls it instead of waiting
behind a spinner, and a page reached later finds it done.

``work(report, stopped)`` gets a ``report(done, total, partial=None)`` callback (``partial``:
what is done so far, for the page to show meanwhile, say the predictions of the first
``done`` windows) and a ``stopped()`` test; it returns the result, or None when stopped.
Finished results are kept in a byte-bounded cache (:mod:`byte_cache`)."""

from __future__ import annotations

import atexit
import threading
import time

from byte_cache import MB, ByteLRU

RESULTS = ByteLRU(512 * MB)  # finished results: predictions, group sums
_RUNNING: dict = {}
_LOCK = threading.Lock()


class Job:
    """One piece of background work and how far it got."""

    def __init__(self, key, work, result=None):
        self.key, self.done, self.total, self.partial = key, 0, 0, None
        self.started, self.ended = time.monotonic(), None
        self.result, self.error = result, None
        self._stop, self._finished = threading.Event(), threading.Event()
        if result is not None:
            self._finished.set()
            return
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True,
                                        name="rbt-background")
        self._thread.start()

    def _run(self, work) -> None:
        try:
            self.result = work(self._report, self._stop.is_set)
            if self.result is not None:
                RESULTS.put(self.key, self.result)
        except Exception as err:  # noqa: BLE001 - shown by the page that asked
            self.error = err
        finally:
            with _LOCK:  # a failed job stays, so its error is shown, not retried each poll
                if self.error is None and _RUNNING.get(self.key) is self:
                    del _RUNNING[self.key]
            self.ended = time.monotonic()
            self._finished.set()

    def _report(self, done: int, total: int, partial=None) -> None:
        if partial is not None:
            self.partial = partial
        self.done, self.total = done, total

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def seconds_left(self) -> float | None:
        """Time left at the pace so far; None before the first step."""
        if not self.done or not self.total:
            return None
        return (time.monotonic() - self.started) / self.done * (self.total - self.done)


def job(key, work) -> Job:
    """The job of ``key``: finished (its kept result), running, or started now."""
    kept = RESULTS.get(key)
    if kept is not None:
        return Job(key, None, result=kept)
    with _LOCK:
        running = _RUNNING.get(key)
        if running is None or running.stopped:
            running = _RUNNING[key] = Job(key, work)
        return running


def finish(key, result) -> None:
    """Keep ``result`` as the job of ``key`` done (computed elsewhere), stopping a running one."""
    with _LOCK:
        running = _RUNNING.pop(key, None)
    if running is not None:
        running.stop()
    RESULTS.put(key, result)


def replace(key, work) -> Job:
    """Stop the running job of ``key`` (if any) and start ``work`` in its place."""
    with _LOCK:
        old = _RUNNING.pop(key, None)
        if old is not None:
            old.stop()
        new = _RUNNING[key] = Job(key, work)
        return new


def running(key) -> Job | None:
    """The job of ``key`` when one is running or finished, without starting one."""
    kept = RESULTS.get(key)
    if kept is not None:
        return Job(key, None, result=kept)
    with _LOCK:
        return _RUNNING.get(key)


@atexit.register
def stop_all(timeout: float = 30.0) -> None:
    """Stop every running job and wait for it (at exit: a thread left inside torch when
    the interpreter ends aborts the process)."""
    with _LOCK:
        jobs = list(_RUNNING.values())
    for j in jobs:
        j.stop()
    for j in jobs:
        j.wait(timeout)
