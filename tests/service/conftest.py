import pytest

from tests.service.disk import small_tmpfs


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs at ``tmp_path/state``: a state dir whose disk really fills up."""
    with small_tmpfs(tmp_path / "state") as state:
        yield state
