"""Fixture folders: each valid one has no problem, each invalid one exactly its expected.txt.

expected.txt lists the ``FILE:LINE:COL: message`` lines that ``bgassets validate``
prints for the folder, with file names relative to it.
"""

import re
from pathlib import Path

import pytest

from orchestrator.manifests import validate_paths

FIXTURES = Path(__file__).resolve().parent / "fixtures"
VALID = sorted((FIXTURES / "valid").iterdir())
INVALID = sorted((FIXTURES / "invalid").iterdir())


@pytest.mark.parametrize("folder", VALID, ids=[folder.name for folder in VALID])
def test_valid_fixture_has_no_problem(folder):
    assert validate_paths([folder]) == []


@pytest.mark.parametrize("folder", INVALID, ids=[folder.name for folder in INVALID])
def test_invalid_fixture_reports_exactly_what_is_expected(folder):
    shown = [str(problem).replace(f"{folder}/", "") for problem in validate_paths([folder])]
    assert shown == (folder / "expected.txt").read_text().splitlines()


@pytest.mark.parametrize("path", sorted(FIXTURES.rglob("*.yaml")),
                         ids=lambda path: str(path.relative_to(FIXTURES)))
def test_fixture_modelines_resolve(path):
    match = re.match(r"# yaml-language-server: \$schema=(\S+)\n", path.read_text())
    assert match and (path.parent / match.group(1)).resolve().is_file()
