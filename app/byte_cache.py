"""Caches bounded in bytes, not entries: a trial's attention is 1 MB on the demo and 150 MB on
SEED, so a count of entries bounds nothing. :class:`ByteLRU` keeps the most recently used
values while their sizes (:func:`nbytes_of`) add up to at most its budget, shares them between
sessions without copying (arrays are made read-only), and computes each value once: a second
caller asking for a value being computed waits for it."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import pandas as pd

MB = 1 << 20


def nbytes_of(value) -> int:
    """The bytes a value holds: arrays, frames, objects with ``nbytes`` (or an ``X`` array and
    a ``table``, like a FeatureSet), and tuples or lists of them."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, pd.DataFrame | pd.Series):
        return int(value.memory_usage(deep=False, index=True).sum())
    if isinstance(value, tuple | list):
        return sum(nbytes_of(v) for v in value)
    if hasattr(value, "nbytes"):
        return int(value.nbytes)
    if hasattr(value, "X"):
        return nbytes_of(value.X) + nbytes_of(getattr(value, "table", None))
    return 0


def _read_only(value):
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, tuple | list):
        for v in value:
            _read_only(v)
    return value


class ByteLRU:
    """Least recently used values, at most ``budget`` bytes together. A value larger than
    the budget is returned but not kept."""

    def __init__(self, budget: int):
        self.budget = int(budget)
        self._items: OrderedDict = OrderedDict()  # key -> (value, bytes)
        self._lock = threading.Lock()
        self._computing: dict = {}  # key -> lock held while its value is computed

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(n for _, n in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key) -> bool:
        return key in self._items

    def get(self, key, default=None):
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key][0]

    def put(self, key, value):
        """Keep ``value`` (read-only), evicting the least recently used values until the
        rest fit in the budget."""
        size = nbytes_of(value)
        value = _read_only(value)
        with self._lock:
            self._items.pop(key, None)
            if size <= self.budget:
                self._items[key] = (value, size)
                total = sum(n for _, n in self._items.values())
                while total > self.budget:
                    _, (_, n) = self._items.popitem(last=False)
                    total -= n
        return value

    def pop(self, key) -> None:
        with self._lock:
            self._items.pop(key, None)

    def get_or_compute(self, key, compute):
        """The kept value of ``key``, else ``compute()`` once (other callers of the same key
        wait for it), kept."""
        missing = object()
        found = self.get(key, missing)
        if found is not missing:
            return found
        with self._lock:
            lock = self._computing.setdefault(key, threading.Lock())
        with lock:
            found = self.get(key, missing)
            if found is not missing:
                return found
            try:
                return self.put(key, compute())
            finally:
                with self._lock:
                    self._computing.pop(key, None)
