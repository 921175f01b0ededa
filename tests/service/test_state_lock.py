"""One orchestrator per state dir, across processes: the second is refused, cleanly."""

import subprocess
import sys

import pytest

from orchestrator.errors import BackgroundAssetsError
from orchestrator.service import Orchestrator
from tests.service.scenario import Asset, KiB, Scenario


async def test_a_second_orchestrator_on_the_same_state_dir_is_refused(tmp_path):
    state = tmp_path / "state"
    async with Orchestrator(state):
        with pytest.raises(BackgroundAssetsError, match="in use by another bgassets process"):
            async with Orchestrator(state):
                pass
        manifest = Scenario(tmp_path, [Asset("a", KiB)]).write_manifests("http://127.0.0.1:9/")
        other = subprocess.run(
            [sys.executable, "-m", "orchestrator", "--state-dir", str(state), "simulate",
             "install", str(manifest)], capture_output=True, text=True, timeout=60)
        assert other.returncode == 1 and "in use by another bgassets process" in other.stderr
        assert "Traceback" not in other.stderr
    async with Orchestrator(state) as again:
        assert again.apps == {}
