"""File names that are not UTF-8, and terminals that cannot show every character.

On a UTF-8 terminal ``bgassets validate FOLDER`` died with UnicodeEncodeError when the
folder held a file whose name is not UTF-8 (Python reads it as surrogate escapes, which
a UTF-8 stdout refuses); ``benchmarks/fuzz.py`` now puts such names in its batches.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def validate(*paths, encoding="utf-8"):
    # PYTHONIOENCODING makes stdout what a terminal in a UTF-8 (or ASCII) locale gives.
    env = {**os.environ, "PYTHONIOENCODING": f"{encoding}:strict"}
    return subprocess.run([sys.executable, "-m", "orchestrator", "validate", *paths],
                          capture_output=True, cwd=ROOT, env=env, timeout=60)


def test_a_file_name_that_is_not_utf8_is_printed_as_its_bytes(tmp_path):
    folder = os.fsencode(tmp_path)
    with open(folder + b"/caf\xe9.yaml", "w") as file:
        file.write("kind: App\n")
    with open(folder + b"/\xff.json", "w") as file:
        file.write('{"version": "1", "assets": 1}')
    result = validate(str(tmp_path))
    assert result.returncode == 1, result.stderr
    assert b"Traceback" not in result.stderr
    assert result.stdout.splitlines() == [
        folder + b"/caf\xe9.yaml:1:1: missing 'apiVersion': add apiVersion: bgassets/v1",
        folder + b"/\xff.json:1:28: assets: 1 is an integer, expected a list",
    ]


def test_a_message_the_terminal_cannot_encode_is_escaped(tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text("apiVersion: bgassets/v1\nkind: Äpp\n", encoding="utf-8")
    result = validate(str(manifest), encoding="ascii")
    assert result.returncode == 1, result.stderr
    assert b"Traceback" not in result.stderr
    assert result.stdout.startswith(f"{manifest}:2:7: kind: unknown kind '\\xc4pp'".encode())
