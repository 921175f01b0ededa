"""`bgassets plan` prints a catalog's control characters as escapes, not to the terminal.

Found by ``benchmarks/fuzz.py``: a catalog URL such as ``"a\\u001b[31m.bin"`` (the
schema's ``\\S+`` admits it) and a destination template with a newline reached the
plan's text output as they were: colours, bells and rows that were not rows.
"""

import json

from orchestrator.cli.main import main
from tests.manifests.bases import APP, CATALOG, EXTENSION


def test_control_characters_in_destinations_are_escaped(tmp_path, capsys):
    catalog = json.loads(CATALOG)
    catalog["assets"] = [{**catalog["assets"][0], "url": "packs/red\u001b[31m\u0007.bin"}]
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    (tmp_path / "app.yaml").write_text(APP)
    (tmp_path / "extension.yaml").write_text(EXTENSION.replace(
        "destination: packs/{filename}", 'destination: "packs/\\n  9  fake/{filename}"'))
    assert main(["plan", str(tmp_path / "app.yaml"), "--event", "install", "--launched",
                 "--catalog", str(tmp_path / "catalog.json")]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    rows = [line for line in out.splitlines() if line.lstrip().startswith("1  ")]
    assert len(rows) == 1
    assert rows[0].endswith("packs/\\n  9  fake/red\\x1b[31m\\x07.bin")
    assert "9  fake" not in out.replace(rows[0], "")
