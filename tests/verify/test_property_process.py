"""Property checks read no root, so a profile may run them in a process of their own beside the
file checks (property_checks.v1 `own_process`): the verdicts and evidence are the same as in
the verifying process, and a helper process that fails costs no verdict (they run inline)."""
from __future__ import annotations

import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

import pytest

from lume.verifiers import _runner, all_verifiers, default_root, run
from lume.verifiers._properties import scheduled

PROPERTY_CHECKS = ["lumf.codec.properties", "director.ownership.properties"]
THREE = [*PROPERTY_CHECKS, "safety.bodytruth.properties"]
FILE_CHECK = "labels.table"


def _evidence(result):
    return {c.id: (c.status, [(e.field, e.message) for e in c.evidence]) for c in result.checks}


@pytest.fixture
def inline(tmp_path):
    return _evidence(run(default_root(), only=[*PROPERTY_CHECKS, FILE_CHECK], cache_folder=tmp_path / "a"))


def test_property_checks_in_their_own_process_give_the_same_evidence(inline, tmp_path, monkeypatch):
    monkeypatch.setattr(_runner, "own_process", lambda: True)
    seen = []
    aside = run(default_root(), only=[*PROPERTY_CHECKS, FILE_CHECK], cache_folder=tmp_path / "b",
                progress=lambda v, r: seen.append((v.id, r is not None)))
    assert _evidence(aside) == inline
    # the report lists the checks in the order asked for, and progress saw each start and end
    assert [c.id for c in aside.checks] == [*PROPERTY_CHECKS, FILE_CHECK]
    assert sorted(seen) == sorted([(i, s) for i in [*PROPERTY_CHECKS, FILE_CHECK] for s in (False, True)])


def test_a_helper_process_that_fails_costs_no_verdict(inline, tmp_path, monkeypatch):
    monkeypatch.setattr(_runner, "own_process", lambda: True)
    monkeypatch.setattr(_runner, "prove", lambda ids: [])  # a lambda cannot reach a spawned process
    assert _evidence(run(default_root(), only=[*PROPERTY_CHECKS, FILE_CHECK],
                         cache_folder=tmp_path / "c")) == inline


def _helper_pool(monkeypatch, answer) -> None:
    """Property checks go to a helper pool whose n-th `submit` returns `answer(n)` (a Future)
    or raises what it raises."""
    class Pool:
        def __init__(self, *a, **k):
            self.calls = 0

        def submit(self, fn, ids):
            self.calls += 1
            return answer(self.calls)

        def shutdown(self, **k):
            pass

    monkeypatch.setattr(_runner, "own_process", lambda: True)
    monkeypatch.setattr(_runner, "ProcessPoolExecutor", Pool)


def _future(*, result=None, error: BaseException | None = None) -> Future:
    f = Future()
    if error is not None:
        f.set_exception(error)
    else:
        f.set_result(result)
    return f


def test_a_helper_pool_that_breaks_costs_no_verdict(inline, tmp_path, monkeypatch):
    """The helper dies on its first check and the pool refuses the next one (BrokenProcessPool):
    the check left for it, and the one it died on, run in this process."""
    def answer(n):
        if n > 1:
            raise BrokenProcessPool("a child process terminated abruptly")
        return _future(error=BrokenProcessPool("a child process terminated abruptly"))

    _helper_pool(monkeypatch, answer)
    assert _evidence(run(default_root(), only=[*PROPERTY_CHECKS, FILE_CHECK],
                         cache_folder=tmp_path / "f")) == inline


def test_a_helper_process_that_answers_for_other_checks_is_not_believed(inline, tmp_path, monkeypatch):
    _helper_pool(monkeypatch, lambda n: _future(result=[]))  # no result for the checks it was given
    assert _evidence(run(default_root(), only=[*PROPERTY_CHECKS, FILE_CHECK],
                         cache_folder=tmp_path / "d")) == inline


def test_the_report_profile_runs_them_aside_and_the_test_profile_inline(monkeypatch):
    from lume.verifiers._properties import own_process

    monkeypatch.setenv("LUME_PROPERTY_PROFILE", "report")
    assert own_process()
    monkeypatch.setenv("LUME_PROPERTY_PROFILE", "smoke")
    assert not own_process()


@pytest.fixture
def inline_three(tmp_path):
    return _evidence(run(default_root(), only=[*THREE, FILE_CHECK], cache_folder=tmp_path / "a3"))


def test_one_helper_and_this_process_share_the_property_checks(inline_three, tmp_path, held_helper):
    """The helper and this process (its file checks done) share the checks: each runs once,
    the evidence is the same, and no second helper is started."""
    checks, inline = THREE, inline_three
    assert _evidence(run(default_root(), only=[*checks, FILE_CHECK], cache_folder=tmp_path / "e")) == inline
    # the helper started with the first the profile lists; the others ran here
    assert held_helper.made == [1] and held_helper.asked == [scheduled(checks)[:1]]


def test_the_last_check_is_left_to_the_helper_until_this_process_has_run_one(held_helper):
    """The helper, its Hypothesis warm, is about to be free; this process would first pay for
    Hypothesis's start-up on top of the report it has yet to sign (a peak growing with the root)."""
    order = scheduled(PROPERTY_CHECKS)
    share = _runner._Shared(_runner.ProcessPoolExecutor(1), [all_verifiers()[i] for i in order])
    while not held_helper.asked:
        time.sleep(0.001)
    assert share.take() is None
    assert [v.id for v, future in share.handed() if future.result()] == order


def test_whichever_process_is_free_takes_the_longest_check_left(held_helper, monkeypatch):
    """Longest first in both processes: the shortest checks start last, so the two processes
    end close together (the one that freed up last does not start a long check)."""
    monkeypatch.setenv("LUME_PROPERTY_PROFILE", "smoke")
    order = scheduled([i for i, v in all_verifiers().items() if v.proof])
    share = _runner._Shared(_runner.ProcessPoolExecutor(1), [all_verifiers()[i] for i in order])
    while not held_helper.asked:  # the helper took its first check (it ends once we took the rest)
        time.sleep(0.001)
    taken = []
    while (v := share.take()) is not None:
        taken.append(v.id)
    assert held_helper.asked == [order[:1]] and taken == order[1:]
    assert [v.id for v, future in share.handed() if future.result()] == order[:1]


def test_checks_are_handed_out_in_the_order_the_profile_lists_them(monkeypatch):
    monkeypatch.setenv("LUME_PROPERTY_PROFILE", "report")  # airdeck, bodytruth, lumf, director
    assert scheduled(["director.ownership.properties", "no.such.check", "safety.airdeck.properties",
                      "lumf.codec.properties"]) == \
        ["safety.airdeck.properties", "lumf.codec.properties", "director.ownership.properties",
         "no.such.check"]
