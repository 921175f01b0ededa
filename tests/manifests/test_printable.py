"""Control characters from a document never reach the terminal as they are.

Found by ``benchmarks/fuzz.py``: ``spec.extension: "a\\u2028b"`` made validate print a
problem that was not one ``FILE:LINE:COL: message`` line, and an escape sequence in
it would have been obeyed by the terminal.
"""

from orchestrator.cli.main import main
from orchestrator.manifests import validate_paths
from orchestrator.manifests.problems import printable
from tests.manifests.bases import APP, write_set


def test_printable_escapes_controls_and_line_separators_only():
    assert printable("sessions/é 🎬.mp4") == "sessions/é 🎬.mp4"
    assert printable("a\nb\tc\x1b[31m\x07\x85\u2028\x7f") == \
        "a\\nb\\tc\\x1b[31m\\x07\\x85\\u2028\\x7f"


def test_a_problem_naming_a_path_with_control_characters_is_one_escaped_line(tmp_path,
                                                                             capsys):
    app = APP.replace("extension: extension.yaml", 'extension: "a\\nb\\u2028c\\e[31m"')
    folder = write_set(tmp_path, {"app.yaml": app})
    assert main(["validate", str(folder / "app.yaml")]) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"{folder}/app.yaml:17:14: spec.extension: 'a\\nb\\u2028c\\x1b[31m' does not exist "
        f"(looked for {folder}/a\\nb\\u2028c\\x1b[31m)"]
    # The JSON form keeps the text as it is: JSON escapes it.
    [problem] = validate_paths([folder / "app.yaml"])
    assert "a\nb\u2028c\x1b[31m" in problem.message
