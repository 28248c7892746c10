"""`held_helper` stands in for the property-check helper process where a test needs the sharing
to be deterministic."""
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field

import pytest

from lume.verifiers import _runner


@dataclass
class HeldHelper:
    """What the stand-in helper process was asked: pool sizes made, check ids submitted."""

    made: list[int] = field(default_factory=list)
    asked: list[list[str]] = field(default_factory=list)


@pytest.fixture
def held_helper(monkeypatch) -> HeldHelper:
    """Property checks shared with a helper (`own_process`), where the helper's first check
    finishes only once this process has taken all the others: the sharing is deterministic."""
    seen, taken_all = HeldHelper(), threading.Event()

    class Holding:
        def __init__(self, workers, **k):
            seen.made.append(workers)

        def submit(self, fn, ids):
            seen.asked.append(ids)
            f = Future()
            f.set_running_or_notify_cancel()
            threading.Thread(target=lambda: (taken_all.wait(), f.set_result(fn(ids)))).start()
            return f

        def shutdown(self, **k):
            pass

    take = _runner._Shared.take

    def take_then_release(self):
        v = take(self)
        if v is None:
            taken_all.set()
        return v

    monkeypatch.setattr(_runner, "own_process", lambda: True)
    monkeypatch.setattr(_runner, "ProcessPoolExecutor", Holding)
    monkeypatch.setattr(_runner._Shared, "take", take_then_release)
    return seen
