"""``bgassets validate``: output formats, summary line and exit codes."""

import json
import subprocess
import sys
from pathlib import Path

from orchestrator.cli.main import main
from tests.manifests.bases import APP, EXTENSION, write_set

ROOT = Path(__file__).resolve().parents[2]


def broken_set(folder):
    """Three problems in two files: an unknown field, a bad size, a foreign extension team."""
    return write_set(folder, {
        "app.yaml": APP.replace("  maxInstallSize:", "  maxInstalSize:").replace(
            "size: 10MiB", "size: ten megs"),
        "device.yaml": "apiVersion: bgassets/v1\nkind: Device\nmetadata:\n  name: x\n"
                       "spec:\n  lowPowerMode: maybe\n",
    })


def test_text_format_prints_one_located_line_per_problem_and_a_summary(tmp_path, capsys):
    assert main(["validate", str(broken_set(tmp_path))]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"{tmp_path}/app.yaml:10:9: spec.size: 'ten megs' is not a size: "
        "write an integer number of bytes or a string like 600MiB or 1.5GB",
        f"{tmp_path}/app.yaml:11:3: spec: unknown field 'maxInstalSize' "
        "(did you mean 'maxInstallSize'?)",
        f"{tmp_path}/device.yaml:6:17: spec.lowPowerMode: 'maybe' is not a boolean: "
        "write true or false (yes, no, on and off are text in YAML 1.2)",
    ]
    assert captured.err == "3 problems in 2 files\n"


def test_json_format_lists_problems_with_their_fields(tmp_path, capsys):
    assert main(["validate", "--format", "json", str(broken_set(tmp_path))]) == 1
    problems = json.loads(capsys.readouterr().out)
    assert problems[2] == {"file": f"{tmp_path}/device.yaml", "line": 6, "column": 17,
                           "path": "spec.lowPowerMode",
                           "message": "spec.lowPowerMode: 'maybe' is not a boolean: write "
                                      "true or false (yes, no, on and off are text in YAML 1.2)"}


def test_valid_files_exit_zero_and_say_so(tmp_path, capsys):
    write_set(tmp_path)
    assert main(["validate", str(tmp_path / "app.yaml"), str(tmp_path / "device.yaml")]) == 0
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "2 files valid\n")


def test_an_app_given_alone_is_still_checked_against_its_extension(tmp_path, capsys):
    write_set(tmp_path, {"extension.yaml": (ROOT / "manifests/wwdc-sessions/extension.yaml")
                         .read_text()})
    assert main(["validate", str(tmp_path / "app.yaml")]) == 1
    assert "differs from the app id 'com.example.game'" in capsys.readouterr().out


def test_folder_walks_skip_json_that_is_not_ours(tmp_path, capsys):
    write_set(tmp_path)
    (tmp_path / "package.json").write_text('{"name": "web", "dependencies": {}}')
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "broken.yaml").write_text("a: [\n")
    assert main(["validate", str(tmp_path)]) == 0
    assert main(["validate", str(tmp_path / "package.json")]) == 1
    assert "missing 'kind'" in capsys.readouterr().out


def test_a_missing_path_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "orchestrator", "validate", "no/such.yaml"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2
    assert "no such file or folder: no/such.yaml" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_explains_the_command():
    result = subprocess.run([sys.executable, "-m", "orchestrator", "validate", "--help"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0
    assert "FILE:LINE:COL" in result.stdout and "--format" in result.stdout


def test_a_device_file_is_a_problem_not_a_hang(capsys):
    assert main(["validate", "/dev/zero"]) == 1
    assert capsys.readouterr().out == ("/dev/zero:1:1: not a regular file (a pipe, socket "
                                       "or device): not read\n")


def test_an_unreadable_extension_is_reported_once_where_it_is(tmp_path, capsys):
    extension = EXTENSION.replace("  rules:", "  skipPresent: !!bool yes\n  rules:")
    folder = write_set(tmp_path, {"extension.yaml": extension})
    assert main(["validate", str(folder)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{tmp_path}/extension.yaml:9:16: spec.skipPresent: 'yes' is not a YAML 1.2 bool "
        "(the booleans are true and false)"]


def test_one_hostile_file_in_a_batch_never_hides_the_problems_of_the_others(tmp_path):
    """Pipes, dangling links, folders, garbage and hostile values: each is its own problem."""
    import os

    from tests.manifests.bases import CATALOG

    hostile = {
        "surrogate.json": CATALOG.replace('"level-1"', '"\\ud800"'),
        "huge.json": CATALOG.replace("1024", "9" * 400),
        "nan.json": CATALOG.replace("1024", "NaN"),
        "tagged.yaml": 'version: "1"\nassets:\n  - {id: a, url: a, size: !!timestamp x}\n',
        "garbage.json": bytes(range(256)) * 4,
    }
    write_set(tmp_path, {"app.yaml": APP.replace("size: 10MiB", "size: ten megs"), **hostile})
    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (tmp_path / "folder.yaml").mkdir()
    (tmp_path / "folder.yaml" / "inside.yaml").write_text("kind: Ap\n")
    names = ["app.yaml", *hostile, "pipe.yaml", "dangling.yaml", "folder.yaml", "device.yaml"]
    result = subprocess.run([sys.executable, "-m", "orchestrator", "validate",
                             *(str(tmp_path / name) for name in names)],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    files = {line.split(":")[0].removeprefix(f"{tmp_path}/") for line in result.stdout.splitlines()}
    assert files == {"app.yaml", *hostile, "pipe.yaml", "dangling.yaml", "folder.yaml/inside.yaml"}
    assert f"{tmp_path}/app.yaml:10:9: spec.size: 'ten megs' is not a size" in result.stdout
    assert f"{tmp_path}/pipe.yaml:1:1: not a regular file (a pipe" in result.stdout
    assert f"{tmp_path}/dangling.yaml:1:1: a symbolic link to" in result.stdout
    assert result.stderr == "9 problems in 9 files\n"
