"""The states a download reports follow the one table in ``engine/phases.py``."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from orchestrator.devserver import DevServer
from orchestrator.engine import Engine
from orchestrator.engine.phases import MOVES, check_move
from orchestrator.errors import PhaseError
from orchestrator.model.enums import DownloadState
from tests.engine.conftest import FAST_RETRY, make_asset, request_for, sha256_of

MIB = 1 << 20


def _moves(states: list[DownloadState]) -> list[str]:
    """The states a download went through, as progress output labels them."""
    return [state.label for state, _ in itertools.groupby(states)]


async def _wait_for(condition, timeout: float = 20) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(poll(), timeout)


async def test_pause_resume_finish_and_cancel_report_their_states_in_order(served, out):
    kept = make_asset(served, "kept.bin", 3 * MIB, seed=51)
    dropped = make_asset(served, "dropped.bin", 3 * MIB, seed=52)
    seen: dict[str, list[DownloadState]] = {"kept.bin": [], "dropped.bin": []}
    async with DevServer(served, rate_per_connection=2 * MIB) as server, \
            Engine(retry=FAST_RETRY) as engine:
        handles = {asset.name: engine.start(
            request_for(server, asset, out, connections=1),
            on_progress=lambda p, name=asset.name: seen[name].append(p.state))
            for asset in (kept, dropped)}
        await _wait_for(lambda: all(h.progress.bytes > 0 for h in handles.values()))
        handles["kept.bin"].pause()
        await _wait_for(lambda: handles["kept.bin"].state is DownloadState.PAUSED)
        handles["kept.bin"].resume()
        handles["dropped.bin"].cancel()
        server.rate_per_connection = None
        results = {name: await handle.wait() for name, handle in handles.items()}
        requests = server.stats.requests
        handles["kept.bin"].resume()  # a finished download stays finished
        await asyncio.sleep(0.05)
        assert handles["kept.bin"].state is DownloadState.FINISHED
        assert server.stats.requests == requests
    assert results["kept.bin"].ok and sha256_of(out / "kept.bin") == kept.sha256
    assert results["dropped.bin"].error.code == 1040
    assert _moves(seen["kept.bin"]) == ["waiting", "downloading", "paused", "waiting",
                                        "downloading", "finished"]
    assert _moves(seen["dropped.bin"]) == ["waiting", "downloading", "failed"]
    for states in seen.values():
        for before, after in itertools.pairwise(_moves(states)):
            assert DownloadState.from_label(after) in MOVES[DownloadState.from_label(before)], \
                (before, after)


def test_an_ended_download_has_no_move_out_and_a_forbidden_move_raises():
    for ended in (DownloadState.FINISHED, DownloadState.FAILED):
        assert ended.ended and not MOVES[ended]
        for state in DownloadState:
            with pytest.raises(PhaseError, match=f"from {ended.label} to {state.label}$"):
                check_move(ended, state)
    with pytest.raises(PhaseError):
        check_move(DownloadState.PAUSED, DownloadState.DOWNLOADING)  # a resume waits first
    assert check_move(DownloadState.PAUSED, DownloadState.WAITING) is DownloadState.WAITING


def test_the_engine_moves_between_its_states_and_never_through_created():
    assert set(MOVES) == set(DownloadState) - {DownloadState.CREATED}
    assert all(DownloadState.CREATED not in moves for moves in MOVES.values())
    with pytest.raises(PhaseError, match="from created to waiting"):
        check_move(DownloadState.CREATED, DownloadState.WAITING)
