"""startup_imports: the collector is paused inside, what exists is frozen after, and its state comes back."""

from __future__ import annotations

import gc

import pytest

from chat_http.startup import startup_imports


def test_the_block_runs_without_the_collector_and_leaves_it_running() -> None:
    assert gc.isenabled()
    frozen_before = gc.get_freeze_count()
    with startup_imports():
        assert not gc.isenabled()
        built = [[index] for index in range(1000)]  # containers the collector tracks
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen_before + len(built)


def test_a_failing_import_still_resumes_the_collector() -> None:
    with pytest.raises(ImportError), startup_imports():
        raise ImportError("no such module")
    assert gc.isenabled()


def test_a_collector_paused_by_the_caller_stays_paused() -> None:
    gc.disable()
    try:
        with startup_imports():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
