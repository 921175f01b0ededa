"""docs/errors.md lists every error code with the name the code carries."""

import re
from pathlib import Path

from orchestrator.errors import ErrorCode

PAGE = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
ROW = re.compile(r"^\| (\d+) \| `(\w+)` \| (.+) \|$", re.MULTILINE)


def test_every_code_is_documented_once_with_its_name():
    rows = ROW.findall(PAGE.read_text())
    documented = [(int(code), name) for code, name, _ in rows]
    assert sorted(documented) == sorted((int(code), code.title) for code in ErrorCode)
    assert len(documented) == len(set(documented))
    assert all(when.strip() for _, _, when in rows)
