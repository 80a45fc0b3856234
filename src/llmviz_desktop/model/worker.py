"""One background worker for live training and the superposition demo: a daemon thread that
calls `tick(running)` over and over, while the UI thread keeps drawing.

tick returns how long to sleep before the next call (0: go on at once), or None when there is
nothing to do (the thread then waits for wake(), at most IDLE_WAIT_S). An exception in tick is
handed to `on_error` and pauses the worker instead of silently ending the thread.

While at least one worker runs, the interpreter's switch interval is shortened (here, once for
all workers) and restored when none runs: a numpy loop holding the GIL would otherwise keep the
UI thread waiting up to the default 5 ms at every switch, and frames would stutter.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

FAST_SWITCH_S = 0.0005  # while a worker runs; Python's default is 0.005
IDLE_WAIT_S = 0.1
ERROR_WAIT_S = 0.5

_switch_lock = threading.Lock()
_running: set[int] = set()  # ids of the workers that run now
_saved_interval: float | None = None


def _set_running(worker: BackgroundWorker, running: bool) -> None:
    global _saved_interval
    with _switch_lock:
        if running and not _running:
            _saved_interval = sys.getswitchinterval()
            sys.setswitchinterval(FAST_SWITCH_S)
        if running:
            _running.add(id(worker))
        else:
            _running.discard(id(worker))
        if not _running and _saved_interval is not None:
            sys.setswitchinterval(_saved_interval)
            _saved_interval = None


class BackgroundWorker:
    def __init__(
        self,
        name: str,
        tick: Callable[[bool], float | None],
        on_error: Callable[[Exception], None] = lambda e: None,
    ):
        self.name = name
        self._tick = tick
        self._on_error = on_error
        self._run = threading.Event()
        self._wake = threading.Event()
        self._quit = False
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._run.is_set()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def ensure_thread(self) -> None:
        """Start the thread if it is not there (it idles until start() or wake())."""
        if not self.alive:
            self._quit = False
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()

    def start(self) -> None:
        self._run.set()
        _set_running(self, True)
        self.ensure_thread()
        self._wake.set()

    def pause(self) -> None:
        self._run.clear()
        _set_running(self, False)

    def wake(self) -> None:
        """Have the thread call tick soon (new work while paused)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread (app exit); waits up to `timeout` for the tick in progress."""
        self._quit = True
        self.pause()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._quit:
            try:
                delay = self._tick(self._run.is_set())
            except Exception as e:  # reported, then paused: the app keeps going
                try:
                    self._on_error(e)  # first, so that whoever sees the pause sees why
                finally:
                    self.pause()
                self._wake.wait(ERROR_WAIT_S)
                self._wake.clear()
                continue
            if self._quit:
                break
            if delay is None:
                self._wake.wait(IDLE_WAIT_S)
                self._wake.clear()
            else:
                time.sleep(delay)  # 0 still lets the UI thread take the interpreter
