"""Per-process caches for what every request reads and rarely changes: the org tree, a subject's grants.

What they hold is defined beside its own code (the org snapshot: service/org_units.py).

Both are cleared at once when this process changes what they hold, when another instance on the same
PostgreSQL database does (its notice: service/cache_signal.py), and when a new day begins (org changes dated
that day then take effect: service/api/deps.py keep_org_current). They also expire after a configured number
of seconds, which bounds how stale they can be while notices cannot arrive (SQLite has none to send; a lost
listening connection).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class TtlCache(Generic[T]):
    def __init__(self, seconds: float, *, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[Hashable, tuple[T, float]] = {}
        self._lock = threading.Lock()

    def peek(self, key: Hashable) -> T | None:
        """The cached value, or None when absent or expired (the caller then loads and puts it)."""
        if self.seconds <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
        return entry[0] if entry is not None and self._clock() < entry[1] else None

    def put(self, key: Hashable, value: T) -> None:
        if self.seconds <= 0:
            return
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = (value, self._clock() + self.seconds)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
