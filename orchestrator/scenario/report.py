"""How scenario results are told: a timeline for people, JSON lines, a JUnit file."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from orchestrator.bundled.editor import write_file
from orchestrator.model.scenario import Scenario, format_duration
from orchestrator.scenario.runner import Line, Result


class TimelinePrinter:
    """``  0d 00:05:00.0  expect     com.example.app   ok`` for each line, as it comes."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def begin(self, scenario: Scenario) -> None:
        about = f": {scenario.description}" if scenario.description else ""
        print(f"scenario {scenario.name}{about}", file=self.out, flush=True)

    def __call__(self, line: Line) -> None:
        mark = "  " if line.ok else "✗ "
        subject = f"{line.subject:<32} " if line.subject else ""
        print(f"{mark}{format_duration(line.at):>15}  {line.what:<20} {subject}{line.outcome}",
              file=self.out, flush=True)

    def end(self, result: Result) -> None:
        verdict = "PASS" if result.passed else "FAIL"
        print(f"{verdict} {result.scenario.name}: {summary(result)}", file=self.out)
        for failure in result.failures:
            print(f"  {failure.step} at {format_duration(failure.at)}:", file=self.out)
            for message in failure.messages:
                print(f"    {message}", file=self.out)
        print(file=self.out, flush=True)


class JsonPrinter:
    """One JSON object per timeline line, then one per scenario with its verdict."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.name = ""

    def begin(self, scenario: Scenario) -> None:
        self.name = scenario.name

    def __call__(self, line: Line) -> None:
        print(json.dumps({"scenario": self.name, **line.as_dict()}), file=self.out)

    def end(self, result: Result) -> None:
        print(json.dumps(verdict(result)), file=self.out, flush=True)


def verdict(result: Result) -> dict[str, object]:
    return {"scenario": result.scenario.name, "file": str(result.scenario.file),
            "passed": result.passed, "realSeconds": round(result.real_seconds, 3),
            "virtualSeconds": round(result.virtual_seconds, 3),
            "failures": [{"step": f.step, "at": round(f.at, 3), "messages": list(f.messages)}
                         for f in result.failures]}


def summary(result: Result) -> str:
    """``14d 00:00:00.0 of virtual time in 3.2 s (378,000 × real time)``."""
    speed = result.virtual_seconds / result.real_seconds if result.real_seconds else 0.0
    return (f"{format_duration(result.virtual_seconds)} of virtual time in "
            f"{result.real_seconds:.1f} s ({speed:,.0f} × real time)")


def write_junit(path: Path, results: Sequence[Result],
                errors: Sequence[tuple[Path, str]] = ()) -> None:
    """A JUnit XML file with one test case per scenario; a failure names its step, what
    was expected and what was found; a scenario that could not be played (``errors``:
    its file and why) is an error. Written whole or not at all."""
    suite = ET.Element("testsuite", name="bgassets scenarios",
                       tests=str(len(results) + len(errors)),
                       failures=str(sum(not r.passed for r in results)),
                       errors=str(len(errors)),
                       time=f"{sum(r.real_seconds for r in results):.3f}")
    for file, message in errors:
        case = ET.SubElement(suite, "testcase", classname="bgassets.scenario",
                             name=file.stem, file=str(file), time="0")
        ET.SubElement(case, "error", type="ScenarioError", message=message).text = message
    for result in results:
        case = ET.SubElement(suite, "testcase", classname="bgassets.scenario",
                             name=result.scenario.name, file=str(result.scenario.file),
                             time=f"{result.real_seconds:.3f}")
        if result.failures:
            first = result.failures[0]
            failure = ET.SubElement(case, "failure", type="ExpectationFailed",
                                    message=f"{first.step} at {format_duration(first.at)}: "
                                            f"{first.messages[0]}")
            failure.text = "\n".join(
                f"{f.step} at {format_duration(f.at)}: {message}"
                for f in result.failures for message in f.messages)
        out = ET.SubElement(case, "system-out")
        out.text = "\n".join(f"{format_duration(line.at)}  {line.what}  {line.subject}  "
                             f"{line.outcome}" for line in result.lines)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    write_file(path, ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n")
