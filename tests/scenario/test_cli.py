"""`bgassets scenario new|run` as a user runs them: a real subprocess in a fresh folder,
with an app from `bgassets init` served on a free loopback port."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.ports import free_port

APP = "game/app.yaml"


def scenario_text(name: str, steps: str) -> str:
    """A scenario of the app ``game/`` with these ``steps`` (YAML list lines)."""
    return f"""\
apiVersion: bgassets/v1
kind: Scenario
metadata: {{name: {name}}}
spec:
  app: ../game/app.yaml
  steps:
{steps}"""


PASSING = scenario_text("installs", """\
    - {at: 0s, install: {}}
    - {at: 0s, wait: all}
    - at: 1h
      expect: {launchable: true, finished: 1, failed: 0}
""")
FAILING = scenario_text("too-many", """\
    - {at: 0s, install: {}}
    - {at: 0s, wait: all}
    - at: 1h
      expect: {finished: 99}
""")
BAD = scenario_text("bad", """\
    - {at: 0s, install: {}}
    - at: 1h
      expect: {finished: lots}
""")


def bgassets(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator", *arguments], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with ``game/``, an app from ``bgassets init`` whose manifestURL names a
    free port (the scenario's server binds it), and an empty ``scenarios/``."""
    url = f"http://127.0.0.1:{free_port()}/game/catalog.json"
    made = bgassets("init", "game", "--manifest-url", url, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    (tmp_path / "scenarios").mkdir()
    return tmp_path


def write(project: Path, name: str, text: str) -> str:
    (project / "scenarios" / name).write_text(text)
    return f"scenarios/{name}"


def test_a_new_scenario_validates_and_passes(project):
    made = bgassets("scenario", "new", "scenarios/first-week.yaml", "--app", APP, cwd=project)
    assert made.returncode == 0, made.stderr
    assert "scenario run scenarios/first-week.yaml" in made.stdout
    text = (project / "scenarios" / "first-week.yaml").read_text()
    assert "kind: Scenario" in text and "app: ../game/app.yaml" in text

    validated = bgassets("validate", "scenarios/first-week.yaml", cwd=project)
    assert validated.returncode == 0, validated.stdout + validated.stderr

    played = bgassets("scenario", "run", "scenarios/first-week.yaml", cwd=project)
    assert played.returncode == 0, played.stdout + played.stderr
    assert "PASS first-week" in played.stdout
    assert "Traceback" not in played.stderr


def test_new_refuses_to_replace_a_file_unless_forced(project):
    target = write(project, "mine.yaml", "# my own\n")
    again = bgassets("scenario", "new", target, "--app", APP, cwd=project)
    assert again.returncode == 2 and "exists already" in again.stderr
    assert (project / target).read_text() == "# my own\n"
    forced = bgassets("scenario", "new", target, "--app", APP, "--force", cwd=project)
    assert forced.returncode == 0, forced.stderr
    assert "kind: Scenario" in (project / target).read_text()


def test_a_failed_expectation_exits_1_and_its_junit_failure_names_the_step(project):
    scenario = write(project, "too-many.yaml", FAILING)
    played = bgassets("scenario", "run", scenario, "--junit", "out.xml", cwd=project)
    assert played.returncode == 1, played.stdout + played.stderr
    assert "FAIL too-many" in played.stdout
    assert "Traceback" not in played.stderr

    suite = ET.parse(project / "out.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "1", "0")
    [case] = suite.findall("testcase")
    assert case.get("name") == "too-many"
    [failure] = case.findall("failure")
    message = failure.get("message", "")
    assert message.startswith("spec.steps[2] at 01:00:00.0: ")
    assert "finished: expected 99 downloads, found 1" in message
    assert "spec.steps[2]" in (failure.text or "")


@pytest.mark.parametrize("text, passed", [(PASSING, True), (FAILING, False)],
                         ids=["passing", "failing"])
def test_json_lines_parse_and_the_last_says_whether_it_passed(project, text, passed):
    scenario = write(project, "played.yaml", text)
    played = bgassets("scenario", "run", scenario, "--json", "--keep", "kept", cwd=project)
    assert played.returncode == (0 if passed else 1), played.stdout + played.stderr
    lines = [json.loads(line) for line in played.stdout.splitlines()]
    *timeline, last = lines
    assert last["passed"] is passed
    assert last["file"].endswith("played.yaml") and last["virtualSeconds"] >= 3600
    assert timeline and all({"at", "what", "ok"} <= set(line) for line in timeline)
    assert [line["step"] for line in timeline if "step" in line] == [
        "spec.steps[0]", "spec.steps[1]", "spec.steps[2]"]
    if not passed:
        [failure] = last["failures"]
        assert failure["step"] == "spec.steps[2]"
        assert failure["messages"] == ["finished: expected 99 downloads, found 1 (welcome)"]
    name = timeline[0]["scenario"]
    assert (project / "kept" / name / "state" / "journal.sqlite").is_file()


def test_a_missing_file_is_a_usage_error(project):
    played = bgassets("scenario", "run", "scenarios/nowhere.yaml", cwd=project)
    assert played.returncode == 2
    assert "scenarios/nowhere.yaml: no such file or folder" in played.stderr
    assert len(played.stderr.splitlines()) == 1 and "Traceback" not in played.stderr


def test_a_scenario_off_its_schema_exits_1_with_file_line_and_column(project):
    scenario = write(project, "bad.yaml", BAD)
    line = next(number for number, text in enumerate(BAD.splitlines(), 1) if "lots" in text)
    column = BAD.splitlines()[line - 1].index("lots") + 1
    played = bgassets("scenario", "run", scenario, "--junit", "out.xml", cwd=project)
    assert played.returncode == 1
    assert f"scenarios/bad.yaml:{line}:{column}: spec.steps[1].expect.finished" \
        in played.stderr
    assert "Traceback" not in played.stderr
    [error] = ET.parse(project / "out.xml").getroot().iter("error")
    assert f"bad.yaml:{line}:{column}" in error.get("message", "")


def test_each_scenario_of_a_folder_is_played_and_counted(project):
    write(project, "a-passing.yaml", PASSING)
    write(project, "b-failing.yaml", FAILING)
    played = bgassets("scenario", "run", "scenarios", cwd=project)
    assert played.returncode == 1, played.stdout + played.stderr
    assert "PASS installs" in played.stdout and "FAIL too-many" in played.stdout
    assert "1 of 2 scenarios passed" in played.stdout


def test_a_taken_port_exits_1_and_says_what_holds_it_up(project):
    scenario = write(project, "installs.yaml", PASSING)
    url = re.search(r"manifestURL: (\S+)", (project / APP).read_text())
    assert url is not None
    port = int(url.group(1).split(":")[2].split("/")[0])
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        played = bgassets("scenario", "run", scenario, cwd=project)
    assert played.returncode == 1
    assert f"cannot serve the apps' content on 127.0.0.1:{port}" in played.stderr
    assert "Traceback" not in played.stderr


@pytest.mark.parametrize("arguments", [
    ("run", "scenarios/ok.yaml", "--junit", "blocker/report.xml"),
    ("run", "scenarios/ok.yaml", "--keep", "blocker/kept"),
    ("new", "blocker/new.yaml", "--app", APP),
], ids=["junit", "keep", "new"])
def test_a_place_that_cannot_be_written_is_a_usage_error_named_before_anything_runs(
        project, arguments):
    (project / "scenarios" / "ok.yaml").write_text(PASSING)
    (project / "blocker").write_text("a file, where a folder would go\n")
    result = bgassets("scenario", *arguments, cwd=project)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "blocker" in result.stderr and result.stdout == ""
