"""Whatever the bytes, ``bgassets validate`` answers 0 or 1 and ``bgassets plan`` 0, 1 or 2,
with located errors that name the file, and never a traceback.

The generated documents of every kind come from ``tests/support/fuzzdocs.py`` and are
judged by ``tests/support/fuzzcases.py``, as in ``benchmarks/fuzz.py`` (which runs ten
thousand of them).
"""

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.cli.main import main
from orchestrator.devserver.thread import serve_in_thread
from orchestrator.manifests import validate_catalog_bytes
from tests.support.fuzzcases import FILE_NAMES, Case, example_files, judge, make_case
from tests.support.fuzzcases import FUZZED as KINDS
from tests.support.fuzzdocs import GENERATORS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "manifests").rglob("*.yaml")) + sorted(
    (ROOT / "manifests").rglob("catalog.json"))
FUZZ = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def validate_in_process(capsys, files):
    """Write ``files`` {name: bytes} into a fresh folder and validate it through the CLI."""
    with tempfile.TemporaryDirectory() as folder:
        for name, data in files.items():
            (Path(folder) / name).write_bytes(data)
        code = main(["validate", folder])
    captured = capsys.readouterr()
    assert code in (0, 1)
    assert "Traceback" not in captured.out + captured.err
    return code, captured


def with_neighbours(example, data):
    """The mutated file next to the untouched files of its folder (app next to extension)."""
    files = {path.name: path.read_bytes() for path in example.parent.iterdir()
             if path.suffix in (".yaml", ".json")}
    files[example.name] = data
    return files


@st.composite
def mutations(draw):
    example = draw(st.sampled_from(EXAMPLES))
    data = bytearray(example.read_bytes())
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["truncate", "flip", "insert", "delete-line",
                                       "duplicate-line"]))
        if action == "truncate":
            del data[where:]
        elif action == "flip" and where < len(data):
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            garbage = draw(st.binary(max_size=8) | st.sampled_from(
                [b"\t", b": ", b"&a ", b"*a", b"---\n", b"{", b"]", b"\xff", b"\n  - ", b"'"]))
            data[where:where] = garbage
        else:
            lines = bytes(data).split(b"\n")
            index = min(where, len(lines) - 1)
            if action == "delete-line":
                del lines[index]
            else:
                lines.insert(index, lines[index])
            data = bytearray(b"\n".join(lines))
    return example, bytes(data)


@FUZZ
@given(mutations())
def test_mutated_examples_never_raise(capsys, mutated):
    example, data = mutated
    validate_in_process(capsys, with_neighbours(example, data))


@st.composite
def retyped_documents(draw):
    """A valid example with one node (or one key) replaced by an arbitrary JSON value."""
    example = draw(st.sampled_from([path for path in EXAMPLES if path.suffix == ".yaml"]))
    document = yaml.safe_load(example.read_text())
    node = document
    while isinstance(node, dict | list) and node and draw(st.booleans()):
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = draw(st.sampled_from(keys))
        if not isinstance(node[key], dict | list) or draw(st.booleans()):
            if draw(st.booleans()) and isinstance(node, dict):
                del node[key]
            else:
                node[key] = draw(json_values)
            break
        node = node[key]
    return example, yaml.safe_dump(document, allow_unicode=True).encode()


@FUZZ
@given(retyped_documents())
def test_documents_with_wrong_types_or_missing_keys_never_raise(capsys, retyped):
    example, data = retyped
    code, captured = validate_in_process(capsys, with_neighbours(example, data))
    assert code == 0 or captured.out.strip()


@FUZZ
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".yaml", ".json"]))
def test_arbitrary_bytes_never_raise(capsys, data, suffix):
    code, captured = validate_in_process(capsys, {f"any{suffix}": data})
    assert code == 1 or captured.out == ""


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300) | json_values.map(lambda value: yaml.safe_dump(value).encode()))
def test_catalog_bytes_never_raise(data):
    for problem in validate_catalog_bytes(data, "catalog.json"):
        assert problem.line >= 1 and problem.column >= 1


CORE_TAGS = ["!!null", "!!bool", "!!int", "!!float", "!!str", "!!binary", "!!timestamp",
             "!!map", "!!seq", "!!set", "!!omap", "!!pairs", "!!merge", "!!value", "!!yaml",
             "!!python/object:os.system", "!", "!<tag:yaml.org,2002:int>",
             "!<tag:yaml.org,2002:timestamp>"]
tag_names = st.sampled_from(CORE_TAGS) | st.from_regex(r"!!?[a-z][a-z0-9:/.]{0,12}",
                                                        fullmatch=True)
scalars = st.sampled_from(["x", "maybe", "AAAA", "0x", "12.5", "1e400", "-0", ".nan", "",
                           "2001-99-99", "2001-01-01", "~", "{a: 1}", "[1]", "9" * 400])


@FUZZ
@given(tags=st.lists(st.tuples(st.sampled_from(["size", "id", "priority", "title"]),
                               tag_names, scalars), min_size=1, max_size=3))
def test_tagged_values_of_any_tag_are_problems_not_tracebacks(capsys, tags):
    fields = {"id": "a", "url": "a.bin", "size": "1"}
    for name, tag, value in tags:
        fields[name] = f"{tag} {value}"
    asset = "\n".join(f"    {name}: {value}" for name, value in fields.items())
    validate_in_process(capsys, {"catalog.yaml": f'version: "1"\nassets:\n  -{asset[3:]}\n'
                                 .encode()})


@pytest.fixture(scope="module")
def served_case(tmp_path_factory):
    """A folder for one case at a time, served on loopback for the cases whose plan
    fetches the catalog from manifestURL."""
    folder = tmp_path_factory.mktemp("fuzz") / "case"
    folder.mkdir()
    with serve_in_thread(folder) as server:
        yield folder, server.url


def judged(case, served=None):
    with tempfile.TemporaryDirectory() as scratch:
        folder, url = served or (Path(scratch) / "case", None)
        verdict = judge(case, folder, url)
    assert verdict.failure is None, f"{verdict.failure}\n" + "\n".join(verdict.output)
    return verdict


# The suite's share of `make fuzz` (10,000 generated documents, benchmarks/fuzz.py): the
# slowest test of the suite at 300 examples (22 s on a slow spell of the machine).
@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(kind=st.sampled_from(KINDS), generator=st.sampled_from(sorted(GENERATORS)),
       rng=st.randoms(use_true_random=False))
def test_generated_documents_get_located_errors_from_validate_and_plan(served_case, kind,
                                                                       generator, rng):
    judged(make_case(rng, kind, generator), served_case)


EXAMPLE = example_files("wwdc-sessions", Path(__file__).resolve().parents[2] / "manifests"
                        / "devices" / "default.yaml")


@pytest.mark.parametrize(("kind", "old", "new"), [
    ("catalog", '"id": "wwdc23-10108"', '"id": "\\ud800"'),
    ("catalog", '"size": 25165824', '"size": 1' + "0" * 400),
    ("catalog", '"priority": 100', '"priority": 1' + "0" * 400),
    ("catalog", '"size": 25165824', '"size": "1' + " \\t" * 40_000 + 'x"'),
    ("app", "size: 32MiB", "size: " + "9" * 400),
    ("app", "size: 32MiB", "size: !!timestamp x"),
    ("app", "size: 32MiB", "size: !!binary AAAA"),
    ("app", "size: 32MiB", "size: !!int 12.5"),
    ("app", 'version: "1.0"', "version: !!float x"),
    ("extension", "skipPresent: true", "skipPresent: !!bool maybe"),
    ("extension", "retries: 3", "retries: " + "9" * 5000),
    ("device", "dailyAllotmentSeconds: 600", "dailyAllotmentSeconds: 1" + "0" * 400),
    ("device", "name: default", 'name: "\\udfff"'),
])
@pytest.mark.parametrize("json_output", [False, True])
def test_earlier_findings_stay_located_errors(kind, old, new, json_output):
    files = dict(EXAMPLE)
    name = FILE_NAMES[kind]
    assert old.encode() in files[name]
    files[name] = files[name].replace(old.encode(), new.encode())
    verdict = judged(Case(kind, "fixed", files, name, json_output=json_output, batch=True))
    assert (verdict.validate_code, verdict.plan_code) == (1, 1)
