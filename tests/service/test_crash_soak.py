"""kill -9 a dozen times during an install from a throttled nginx, then let it finish.

Every file arrives intact at its final path, nothing is left in staging, every download
the killed runs announced as finished is still there, and each kill made the engine fetch
again at most ``RESUME_BOUND_PER_CONNECTION`` (+ socket slack) per connection that was
transferring the file when it died, as nginx's access log counts it, and never threw a
file's bytes away to start it over.
"""

from __future__ import annotations

import pytest

from tests.support.nginx import AccessRecord
from tests.support.soak import MiB, SoakReport, layout, make_files, soak_against_nginx
from tests.support.soak_report import Run, SoakFile, kill_costs, overlap

pytestmark = pytest.mark.integration

KILLS = 12
TOTAL = 64 * MiB
# Per connection: 64 MiB then take about 10 s over the engine's connections, long enough
# for a dozen kills spread over the transfer.
RATE = "512k"
SEED = 20


@pytest.fixture(scope="module")
def soaked(tmp_path_factory) -> SoakReport:
    content = tmp_path_factory.mktemp("content")
    files = make_files(content, layout(TOTAL), seed=SEED)
    return soak_against_nginx(tmp_path_factory.mktemp("soak"), content, files, rate=RATE,
                              kills=KILLS, seed=SEED)


def test_kill_9_loses_no_file_and_no_finished_download(soaked):
    figures = soaked.format()
    assert soaked.failed_final is None, figures
    assert (soaked.wrong, soaked.missing, soaked.leftovers) == ([], [], []), figures
    assert soaked.lost_finished == [], figures
    # The soak proved something only if most kills hit transfers.
    assert soaked.kills >= KILLS * 2 // 3, figures
    assert len(soaked.per_connection()) >= KILLS // 2, figures


def test_kill_9_fetches_again_at_most_the_bound_per_connection(soaked):
    assert soaked.over_bound == [], soaked.format()
    assert soaked.started_over == [], soaked.format()


def record(run_start: float, ended: float, port: int, sent: int, uri: str, byte_range: str,
           status: int = 206) -> AccessRecord:
    return AccessRecord(ended, ended - run_start, port, port, status, sent, uri, byte_range)


def test_bytes_sent_again_are_charged_once_to_the_run_last_sent_them():
    size = 10 * MiB
    file = SoakFile("a", size, "0" * 64, essential=False, priority=50)
    runs = [Run(0, 100.0, killed=101.0), Run(1, 110.0, killed=111.0), Run(2, 120.0)]
    records = [
        # run 0: two connections cut by the kill, at 3 MiB and 7 MiB
        record(100.2, 101.001, 1, 3 * MiB, file.uri, "bytes=0-4194303"),
        record(100.2, 101.001, 2, 2 * MiB, file.uri, f"bytes={5 * MiB}-"),
        # run 1 resumes the first segment 512 KiB early, and is killed at 3.5 MiB
        record(110.2, 111.001, 3, MiB, file.uri, f"bytes={5 * MiB // 2}-4194303"),
        # run 2 resumes the first 256 KiB early and the second 512 KiB early (run 0's bytes)
        record(120.2, 121.0, 4, 3 * MiB // 4, file.uri, f"bytes={13 * MiB // 4}-4194303"),
        record(120.2, 121.0, 5, 7 * MiB // 2, file.uri, f"bytes={13 * MiB // 2}-"),
    ]
    costs = {cost.kill: cost for cost in kill_costs([file], runs, records)}
    assert (costs[0].alive, costs[0].again) == (2, MiB)
    assert (costs[1].alive, costs[1].again) == (1, MiB // 4)
    assert overlap([(0, 10), (20, 30)], [(5, 25)]) == 10
