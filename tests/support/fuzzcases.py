"""Cases of generated documents, and the judge of what validate and plan make of them.

Shared by ``benchmarks/fuzz.py`` (ten thousand documents in worker processes) and
``tests/manifests/test_fuzz.py`` (a few hundred under hypothesis). A case is one
generated document (``tests/support/fuzzdocs.py``) next to the untouched files of
its example folder; the judge runs the real ``bgassets validate`` and ``bgassets
plan`` commands on it, in this process, and says whether their answers are the
located errors (or the accepted documents) that DESIGN promises, never a traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import shutil
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.bundled import KINDS, manifests_dir
from tests.support.fuzzdocs import GENERATORS, random_bytes

FOLDERS = ("wwdc-sessions", "level-packs", "offline-models")
FILE_NAMES = {"app": "app.yaml", "extension": "extension.yaml", "catalog": "catalog.json",
              "device": "device.yaml"}
# The kinds with a document in every example folder (no example uses asset packs yet).
FUZZED = tuple(kind for kind in KINDS if kind in FILE_NAMES)
EVENTS = ("install", "update", "periodic")


@dataclass
class Case:
    """One generated document (``files[target]``) among the files ``validate`` and ``plan``
    read with it; the options pick the command lines' variants."""

    kind: str
    generator: str
    files: dict[str, bytes]
    target: str
    event: str = "install"
    json_output: bool = False
    launched: bool = False
    batch: bool = False
    fetch: bool = False


@dataclass
class Verdict:
    """What the two commands made of a case; ``failure`` says what went wrong, if anything."""

    validate_code: int | None = None
    plan_code: int | None = None
    failure: str | None = None
    output: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.validate_code == 0


# ---------------------------------------------------------------- cases

def example_files(folder: str, device: Path) -> dict[str, bytes]:
    """The files of one example folder under their kinds' file names, and a device profile."""
    root = manifests_dir() / folder
    return {"app.yaml": (root / "app.yaml").read_bytes(),
            "extension.yaml": (root / "extension.yaml").read_bytes(),
            "catalog.json": (root / "catalog.json").read_bytes(),
            "device.yaml": device.read_bytes()}


def make_case(rng: random.Random, kind: str, generator: str) -> Case:
    """One document of ``kind`` made by ``generator``, among its example folder's files."""
    devices = sorted((manifests_dir() / "devices").glob("*.yaml"))
    files = example_files(rng.choice(FOLDERS), rng.choice(devices))
    target = FILE_NAMES[kind]
    files[target] = GENERATORS[generator](rng, files[target])
    if rng.random() < 0.1:  # ids repeated across files, and a broken neighbour in the batch
        files["copy.yaml"] = files[rng.choice(["app.yaml", "extension.yaml", "device.yaml"])]
    if rng.random() < 0.1:
        files["other.yaml"] = random_bytes(rng, files[target])
    if rng.random() < 0.05:  # a file name that is not UTF-8, as os.fsdecode gives it
        files[os.fsdecode(rng.choice([b"\xff", b"caf\xe9", b"\xed\xa0\x80"]) + b".yaml")] = \
            files[rng.choice(["app.yaml", "extension.yaml", "device.yaml"])]
    return Case(kind, generator, files, target, event=rng.choice(EVENTS),
                json_output=rng.random() < 0.3, launched=rng.random() < 0.2,
                batch=rng.random() < 0.5, fetch=rng.random() < 0.15)


def kind_and_generator(index: int) -> tuple[str, str]:
    """The kind and generator of document ``index`` of a run: every pair in turn."""
    return FUZZED[index % len(FUZZED)], list(GENERATORS)[index // len(FUZZED) % len(GENERATORS)]


def case_for(seed: int, index: int) -> Case:
    """Document ``index`` of the run seeded ``seed``."""
    return make_case(random.Random(f"{seed}:{index}"), *kind_and_generator(index))


# The examples' manifestURL, which names the bundled asset server's port.
_EXAMPLE_URL = re.compile(rb"http://127\.0\.0\.1:8470/[a-z-]+/catalog\.json")


def write_case(case: Case, folder: Path, catalog_url: str | None = None) -> dict[str, Path]:
    """The case's files written afresh into ``folder``; their paths by name.

    With ``catalog_url``, a case that fetches its catalog has its app's manifestURL
    (where the mutation left it) pointed there.
    """
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    paths = {}
    for name, data in case.files.items():
        if name == "app.yaml" and case.fetch and catalog_url:
            data = _EXAMPLE_URL.sub(catalog_url.encode(), data)
        paths[name] = folder / name
        paths[name].write_bytes(data)
    return paths


def command_lines(case: Case, paths: dict[str, Path], *, fetched: bool = False
                  ) -> tuple[list[str], list[str]]:
    """The ``validate`` and ``plan`` argument lists that the judge runs on a written case;
    ``fetched``: plan fetches the catalog from the app's manifestURL."""
    folder = paths["app.yaml"].parent
    targets = [str(path) for path in paths.values()] if case.batch else [str(folder)]
    validate = ["validate", *targets] + (["--format", "json"] if case.json_output else [])
    plan = ["plan", str(paths["app.yaml"]), "--event", case.event]
    plan += [] if fetched else ["--catalog", str(paths["catalog.json"])]
    plan += ["--device", str(paths["device.yaml"])]
    plan += ["--json"] * case.json_output + ["--launched"] * case.launched
    return validate, plan


# ---------------------------------------------------------------- the judge

@contextlib.contextmanager
def _terminal_streams() -> Iterator[tuple[io.BytesIO, io.BytesIO]]:
    """stdout and stderr as Python sets them up for a UTF-8 terminal: text that is no
    Unicode (a surrogate escape) fails on stdout and is backslash-escaped on stderr."""
    out, err = io.BytesIO(), io.BytesIO()
    streams = (io.TextIOWrapper(out, "utf-8", "strict", write_through=True),
               io.TextIOWrapper(err, "utf-8", "backslashreplace", write_through=True))
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = streams
    try:
        yield out, err
    finally:
        sys.stdout, sys.stderr = saved
        for stream in streams:
            stream.detach()  # so that closing the wrapper leaves the bytes readable


def _run(argv: list[str]) -> tuple[int | None, str, str, str | None]:
    """``bgassets ARGV`` in this process: exit code, stdout, stderr and any traceback."""
    from orchestrator.cli.main import main

    with _terminal_streams() as (out, err):
        try:
            code: int | None = main(argv)
            problem = None
        except BaseException:  # noqa: BLE001 - whatever escapes is what the fuzzer counts
            code, problem = None, traceback.format_exc()
    return code, out.getvalue().decode("utf-8", "surrogateescape"), \
        err.getvalue().decode("utf-8", "surrogateescape"), problem


_LOCATED = re.compile(r"^(.+?):(\d+):(\d+): \S")
# What must not reach a terminal from a document: controls (but the newline that ends
# a line) and Unicode's line separators.
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _names_a_file(file: str, known: set[str]) -> bool:
    return file in known or os.path.exists(file)


def _validate_failure(code: int | None, out: str, err: str, case: Case,
                      known: set[str]) -> str | None:
    if code not in (0, 1):
        return f"validate exited {code}"
    if code == 0:
        return None
    if case.json_output:
        try:
            problems = json.loads(out)
        except ValueError:
            return "validate --format json printed no JSON"
        located = [(p["file"], p["line"], p["column"]) for p in problems]
    else:
        matches = [_LOCATED.match(line) for line in out.splitlines()]
        if not all(matches):
            return "validate printed a line that is not FILE:LINE:COL: message"
        located = [(m.group(1), int(m.group(2)), int(m.group(3))) for m in matches if m]
    if not located:
        return f"validate exited 1 without a located problem: {err.strip()[:300]}"
    for file, line, column in located:
        if not _names_a_file(file, known) or line < 1 or column < 1:
            return f"validate located a problem at {file}:{line}:{column}"
    return None


def _plan_failure(code: int | None, out: str, err: str, case: Case,
                  known: set[str]) -> str | None:
    if code not in (0, 1, 2):
        return f"plan exited {code}"
    if code == 0:
        if case.json_output:
            try:
                json.loads(out)
            except ValueError:
                return "plan --json printed no JSON"
        return None
    if code == 1 and _refused_for_space(out):
        return None  # the plan does not fit the device's disk: not a manifest's fault
    shown = known | {name.encode("utf-8", "backslashreplace").decode() for name in known}
    if not any(name in err for name in shown):
        return f"plan's error names no file: {err.strip()[:300]}"
    return None


# The refusals with which a valid plan exits 1: it does not fit the device's disk.
SPACE_REFUSALS = ("notEnoughStorage", "installDoesNotFit")


def _refused_for_space(out: str) -> bool:
    return any(name in out for name in SPACE_REFUSALS)


def _manifest_url(app: Path) -> Any:
    """The app's manifestURL as PyYAML reads it, or None.

    A case fetches its catalog only when that is the loopback server's URL, never
    from wherever a mutation pointed it: nothing may leave the machine.
    """
    try:
        return yaml.safe_load(app.read_bytes())["spec"]["manifestURL"]
    except Exception:
        return None


def judge(case: Case, folder: Path, server_url: str | None = None) -> Verdict:
    """Run ``validate`` and ``plan`` on ``case`` (written into ``folder``) and judge them.

    ``server_url``: a loopback asset server serving ``folder``, from which the cases
    that fetch their catalog get it, as ``plan`` without ``--catalog`` does.
    """
    catalog_url = f"{server_url.rstrip('/')}/catalog.json" if server_url else None
    paths = write_case(case, folder, catalog_url)
    known = {str(path) for path in paths.values()} | {str(folder)}
    if catalog_url:
        known.add(catalog_url)
    fetched = case.fetch and catalog_url is not None and _manifest_url(
        paths["app.yaml"]) == catalog_url
    validate, plan = command_lines(case, paths, fetched=fetched)
    verdict = Verdict()
    for argv, check in ((validate, _validate_failure), (plan, _plan_failure)):
        code, out, err, problem = _run(argv)
        if argv is validate:
            verdict.validate_code = code
        else:
            verdict.plan_code = code
        verdict.output.append(f"$ bgassets {' '.join(argv)}\n[exit {code}]\n{out}{err}")
        failure = problem or check(code, out, err, case, known)
        if failure is None and _CONTROL.search(out + err):
            failure = f"printed a control character {_CONTROL.search(out + err).group()!r}"
        if failure is None and "Traceback (most recent call last)" in out + err:
            failure = "a traceback was printed"
        if failure is not None:
            verdict.failure = f"{argv[0]}: {failure}"
            break
    return verdict
