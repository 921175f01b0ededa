"""Generated hostile manifests and catalogs, and the judge of what validate and plan make of them.

Shared by ``benchmarks/fuzz.py`` (ten thousand documents in worker processes) and
``tests/manifests/test_fuzz.py`` (a few hundred under hypothesis). A case is one
mutated document next to the untouched files of its example folder; the judge
runs the real ``bgassets validate`` and ``bgassets plan`` commands on it, in this
process, and says whether their answers are the located errors (or the accepted
documents) that DESIGN promises, never a traceback.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.bundled import KINDS, manifests_dir

FOLDERS = ("wwdc-sessions", "level-packs", "offline-models")
FILE_NAMES = {"app": "app.yaml", "extension": "extension.yaml", "catalog": "catalog.json",
              "device": "device.yaml"}
EVENTS = ("install", "update", "periodic")
MARK = "FUZZMARK"
_MARKED = re.compile(rf"""["']?{MARK}(\d+)["']?""")


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


# ---------------------------------------------------------------- hostile values

def _digits(count: int, sign: str = "") -> str:
    return sign + "1" + "0" * (count - 1)


def _nested(depth: int, opener: str, closer: str, inner: str = "1") -> str:
    return opener * depth + inner + closer * depth


# Raw text put where one value was, in YAML and in JSON documents.
COMMON_VALUES = (
    _digits(400), _digits(400, "-"), _digits(5000), str(2**63), str(2**64), str(2**63 - 1),
    "-1", "0", "-0", "1e400", "-1e400", "1e308", "1e-400", "0.5", "-0.0", "1.0", "12345678.9",
    "null", "true", "false", "{}", "[]", "[1, 2]", '""', '"\\ud800"', '"a\\udfffb"',
    '"\\udc00\\ud800"', '"\\ud83d\\ude00"', '"\\u202e\\u200b\\ufeff"', '"\\u0000"',
    '"\\u2028\\u2029\\u0085"', '"e\\u0301\\u0301\\u0301"', '"\\uffff\\ufffe"',
    '"' + "x" * 100_000 + '"', '"' + "é" * 20_000 + '"', '"../../../../etc/passwd"',
    '"/dev/zero"', '"http://[::1"', '"http://[v1.x]/a"', '"%s%n{0}{id}"', '"{{}}{"',
    '"1e9999MiB"', '"99999999999999999999999TiB"', '"0.0000000001B"', '"1.5 GB "',
    _nested(70, "[", "]"), _nested(5000, "[", "]"), _nested(100_000, "[", "]"),
    _nested(3000, '{"a": ', "}"), _nested(900, "[", "]"), _nested(990, "[", "]"),
    '"1' + " \\t" * 40_000 + 'x"', '"' + " " * 80_000 + '1"',
)
YAML_VALUES = COMMON_VALUES + (
    "!!timestamp x", "!!timestamp 2001-99-99", "!!timestamp 2001-01-01", "!!bool maybe",
    "!!bool yes", "!!binary AAAA", "!!binary !!!", "!!float x", "!!float 1e400", "!!int 12.5",
    "!!int 0x", "!!int " + "9" * 5000, "!!int 0x" + "f" * 400, "!!null x", "!!str", "!!str 12",
    "!!set {a: null}", "!!omap [a: 1]", "!!pairs [a: 1]", "!!merge x", "!!value x", "!!yaml x",
    "!!python/object:os.system x", "!!python/name:os.system", "!custom x", "! 12",
    "!<tag:yaml.org,2002:int> 9", "!<tag:example.com,2000:x> 9", "!!map {a: 1}", "!!seq [1]",
    "!!str {a: 1}", "!!seq {a: 1}", "*undefined", "&anchor x", "&anchor [1, 2]", ".nan",
    ".inf", "-.inf", ".NaN", "NaN", "Infinity", "-Infinity", "0x" + "f" * 300, "0o777",
    "017", "1_000", "0b101", "1:30", "yes", "no", "on", "~", "|\n  text", ">-\n  folded",
    '"\\x85\\t\\a"', "'it''s'", "@reserved", "`tick", "%percent", "? complex", "- item",
    _nested(70, "{a: ", "}"), _nested(5000, "{a: ", "}"),
)
JSON_VALUES = COMMON_VALUES + (
    "NaN", "Infinity", "-Infinity", "-" + "9" * 5000, "1." + "0" * 5000, "01", "+1", ".5",
    "0x10", "'single'", "tru", '"\\x41"', '"\\u12"', '"\t"', "[1,]", '{"a": 1,}', "",
)
YAML_KEYS = ('"\\ud800"', "!!int 1", "!!binary AAAA", "&k a", "*k", '"a\\u0000"', "1",
             "null", "[a, b]", "{a: 1}", "? a", "!!str x", "!custom x", '"' + "k" * 100_000 + '"',
             "kind", "apiVersion", "x-extra", '"\\u202ekind"')
JSON_KEYS = ('"\\ud800"', '"\\udfff\\ud800"', '"' + "k" * 100_000 + '"', '"kind"', '"assets"',
             '"x-extra"', '""', "1", "null", '"\\u0000"')


def _billion_laughs(levels: int = 9, width: int = 10) -> bytes:
    lines = ['lol0: &lol0 "lol"']
    for level in range(1, levels):
        items = ", ".join(f"*lol{level - 1}" for _ in range(width))
        lines.append(f"lol{level}: &lol{level} [{items}]")
    lines.append(f"bomb: *lol{levels - 1}")
    return ("\n".join(lines) + "\n").encode()


# ---------------------------------------------------------------- documents as trees

def _parse(data: bytes) -> Any:
    return yaml.safe_load(data.decode("utf-8"))


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _paths(child, (*path, index))


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(9 if depth < 3 else 6)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.choice([0, -1, 1, 50, 100, 101, 2**31, 2**63, 2**64, -(2**63), 10**30])
    if choice == 3:
        return rng.choice([0.5, -0.0, 1e300, 1e-300, 2.0**63, 100.0])
    if choice == 4:
        return rng.choice(["", "x", "1.0", "600MiB", "1.5GB", "-1KiB", "com.example.app",
                           "https://host/a.bin", "*", "{id}", "sessions/{filename}",
                           "mod:Class", "catalog", "group.x", "reenqueue-nonessential"])
    if choice == 5:
        return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x80, 0x3000),
                                       rng.randrange(0x10000, 0x10FFFF)]))
                       for _ in range(rng.randrange(1, 12)))
    if choice == 6:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(["id", "url", "size", "kind", "spec", "x", "essential", "priority"]):
            _random_value(rng, depth + 1) for _ in range(rng.randrange(4))}


class _Marks:
    """Raw text to put in place of marker values (or keys) once the tree is written out."""

    def __init__(self) -> None:
        self.raw: list[str] = []

    def add(self, text: str) -> str:
        self.raw.append(text)
        return f"{MARK}{len(self.raw) - 1}"

    def apply(self, text: str) -> str:
        return _MARKED.sub(lambda match: self.raw[int(match.group(1))], text)


def _mutate_tree(rng: random.Random, tree: Any, marks: _Marks, as_json: bool) -> Any:
    """One structural change (or hostile value) somewhere in ``tree``; returns the new tree."""
    paths = list(_paths(tree))
    path = rng.choice(paths)
    parent_path, last = path[:-1], path[-1] if path else None
    operation = rng.choice(["drop", "retype", "swap", "rename", "wrap", "unknown", "duplicate",
                            "hostile", "hostile", "hostile-key", "empty"])
    if not path:
        return marks.add(rng.choice(JSON_VALUES if as_json else YAML_VALUES)) \
            if operation.startswith("hostile") else _random_value(rng)
    parent = _get(tree, parent_path)
    if operation == "drop":
        del parent[last]
    elif operation == "retype":
        parent[last] = _random_value(rng)
    elif operation == "swap":
        other = rng.choice(paths)
        if other and not (other[: len(path)] == path or path[: len(other)] == other):
            other_parent = _get(tree, other[:-1])
            parent[last], other_parent[other[-1]] = other_parent[other[-1]], parent[last]
    elif operation == "rename" and isinstance(parent, dict):
        parent[rng.choice(["id", "Id", "kind", "metadata", "x-" + str(last), str(last) + "s"])] \
            = parent.pop(last)
    elif operation == "wrap":
        parent[last] = rng.choice([[parent[last]], {"value": parent[last]},
                                   [parent[last]] * rng.randrange(2, 2000)])
    elif operation == "unknown" and isinstance(parent, dict):
        parent[rng.choice(["extra", "x-extra", "Spec", "ids", "apiVersion"])] = _random_value(rng)
    elif operation == "duplicate" and isinstance(parent, list):
        parent.extend([parent[last]] * rng.choice([1, 2, 100, 5000]))
    elif operation == "hostile-key" and isinstance(parent, dict):
        parent[marks.add(rng.choice(JSON_KEYS if as_json else YAML_KEYS))] = parent.pop(last)
    elif operation == "empty":
        parent[last] = rng.choice([None, "", [], {}])
    else:
        parent[last] = marks.add(rng.choice(JSON_VALUES if as_json else YAML_VALUES))
    return tree


def _write_tree(rng: random.Random, tree: Any, as_json: bool) -> str:
    if as_json:
        return json.dumps(tree, indent=rng.choice([None, 2]), ensure_ascii=rng.random() < 0.5)
    if rng.random() < 0.15:
        return json.dumps(tree)  # JSON is YAML too
    return yaml.safe_dump(tree, allow_unicode=True, sort_keys=False, width=10**6)


def _duplicate_key(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    keyed = [index for index, line in enumerate(lines) if re.match(r"\s*[\w-]+:", line)]
    if not keyed:
        return text
    index = rng.choice(keyed)
    lines.insert(index + 1, lines[index])
    return "\n".join(lines)


# ---------------------------------------------------------------- the generators

def random_bytes(rng: random.Random, original: bytes) -> bytes:
    """Bytes with no intent: noise, YAML punctuation soup, or random code points."""
    size = rng.choice([0, 1, 2, 8, 64, 512, 4096])
    style = rng.randrange(4)
    if style == 0:
        return rng.randbytes(size)
    if style == 1:
        tokens = [":", " ", "-", "\n", "  ", "[", "]", "{", "}", ",", "&a", "*a", "!!", "!",
                  "|", ">", "'", '"', "#", "?", "%", "@", "---", "...", "kind", "App", "\t",
                  "assets", "id", "1", "\\u", "\xff"]
        return "".join(rng.choice(tokens) for _ in range(size)).encode("utf-8", "surrogatepass")
    if style == 2:
        return "".join(chr(rng.randrange(0x110000)) for _ in range(size)).encode(
            "utf-8", "surrogatepass")
    return original[: rng.randrange(len(original) + 1)] + rng.randbytes(size)


def byte_mutation(rng: random.Random, original: bytes) -> bytes:
    """The example with a few bytes flipped, inserted, cut, or lines deleted and repeated."""
    data = bytearray(original)
    for _ in range(rng.randrange(1, 4)):
        where = rng.randrange(len(data) + 1)
        action = rng.choice(["truncate", "flip", "insert", "delete-line", "duplicate-line",
                             "indent"])
        if action == "truncate":
            del data[where:]
        elif action == "flip" and where < len(data):
            data[where] ^= 1 << rng.randrange(8)
        elif action == "insert":
            data[where:where] = rng.choice([b"\t", b": ", b"&a ", b"*a", b"---\n", b"{", b"]",
                                            b"\xff", b"\n  - ", b"'", b'"', b"\\ud800", b"!!",
                                            b"\x00", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\r"])
        else:
            lines = bytes(data).split(b"\n")
            index = min(where, len(lines) - 1)
            if action == "delete-line":
                del lines[index]
            elif action == "duplicate-line":
                lines.insert(index, lines[index])
            else:
                lines[index] = b"   " + lines[index]
            data = bytearray(b"\n".join(lines))
    return bytes(data)


def structural(rng: random.Random, original: bytes, *, hostile: bool = False) -> bytes:
    """The example parsed, changed in its structure (keys dropped, retyped, swapped, renamed,
    lists repeated) or given hostile values and keys, and written out again."""
    as_json = original.lstrip().startswith(b"{")
    tree = _parse(original)
    marks = _Marks()
    for _ in range(rng.randrange(0 if hostile else 1, 3)):
        tree = _mutate_tree(rng, tree, marks, as_json)
    paths = [path for path in _paths(tree) if path]
    if hostile and paths:
        path = rng.choice(paths)
        parent = _get(tree, path[:-1])
        if isinstance(parent, dict) and rng.random() < 0.2:
            parent[marks.add(rng.choice(JSON_KEYS if as_json else YAML_KEYS))] = \
                parent.pop(path[-1])
        else:
            parent[path[-1]] = marks.add(rng.choice(JSON_VALUES if as_json else YAML_VALUES))
    text = _write_tree(rng, tree, as_json)
    if not as_json and rng.random() < 0.2:
        text = _duplicate_key(text, rng)
    return marks.apply(text).encode("utf-8", "surrogatepass")


def hostile_value(rng: random.Random, original: bytes) -> bytes:
    """The example with hostile values: huge numbers, tags, surrogates, deep nesting, ..."""
    return structural(rng, original, hostile=True)


def whole_file(rng: random.Random, original: bytes) -> bytes:
    """Whole-file oddities: empty, BOMs, other encodings, several documents, alias bombs."""
    text = original.decode("utf-8")
    return rng.choice([
        lambda: b"",
        lambda: b"\xef\xbb\xbf",
        lambda: b"\xef\xbb\xbf" + original,
        lambda: b"\xef\xbb\xbf\xef\xbb\xbf" + original,
        lambda: text.encode("utf-16"),
        lambda: text.encode("utf-32"),
        lambda: text.encode("utf-16-le"),
        lambda: text.replace("e", "\xe9").encode("latin-1"),
        lambda: original.replace(b"\n", b"\r\n"),
        lambda: original.replace(b"\n", b"\r"),
        lambda: original.replace(b"  ", b"\t"),
        lambda: original + b"\n---\n" + original,
        lambda: b"---\n" + original + b"\n...\n",
        lambda: b"%YAML 1.1\n---\n" + original,
        lambda: b"%YAML 9.9\n---\n" + original,
        lambda: b"%TAG ! tag:example.com,2000:\n---\n" + original,
        lambda: b"# only a comment\n",
        lambda: b"---\n",
        lambda: b"...\n",
        lambda: b"\x00" * 64,
        lambda: original + b"\x00",
        lambda: original.replace(b"a", b"\xed\xa0\x80", 1),
        lambda: original.replace(b"e", b"\xc3\x28", 1),
        lambda: original[:-2] + b"\xf0\x9f",
        lambda: _billion_laughs(),
        lambda: _billion_laughs(4, 4) + original,
        lambda: b"a: &a [*a]\n",
        lambda: _nested(100_000, "[", "]").encode(),
        lambda: _nested(100_000, "{", "}", "").encode(),
        lambda: _nested(20_000, "- ", "", "x").encode(),
        lambda: ("\n".join("  " * depth + f"k{depth}:" for depth in range(2000)) + " 1\n")
        .encode(),
        lambda: original * 200,
        lambda: ('{"version": "1", "assets": [], "x": ['
                 + ", ".join(["9" * 3999] * 2000 + ["9" * 4400]) + "]}").encode(),
        lambda: original + b"\n" + b"# " + b"x" * 1_000_000 + b"\n",
    ])()


# Values each field's schema may well accept, chosen to trouble what comes after it:
# the cross-document checks, the planner and the plan's printing.
PLAUSIBLE: dict[str, tuple[Any, ...]] = {
    "id": ("a", "A" * 5000, "a..b", "a.", "0", "level-1", "tutorial", "x-" + "9" * 400),
    "url": ("a.bin", "sessions/", "?", "#frag", "%2e%2e/%2e%2e/etc/passwd", "a%2f..%2f..%2fx",
            "%00", "x%2F", "a/..", "http://127.0.0.1:99999/a", "https://[::1]/a",
            "http://[::1]:8470/a", "http://h/%zz", "a.bin?x=%", "//evil.example/a",
            "HTTP://127.0.0.1/a", "https://127.0.0.1:0/a", "x" * 10000, "../../../x", "./",
            ".", "..", "/", "/abs/a.bin", "file:///etc/passwd", "a b", "red\x1b[31m.bin",
            "bell\x07.bin", "nel\x85.bin"),
    "destination": ("{filename}", "{id}{ext}", "", ".", "./", "a/", "../{id}", "/abs/{id}",
                    "C:{id}", "{id}/..", "{ext}", "a\\..\\b", "{id}/{id}", "{unknown}", "{",
                    "}", "{{id}}", "x" * 5000 + "{id}", "sub//{id}", "a/./{filename}", "same",
                    "{id:>99999999}", "{id!r}", "{0}", "{}", "~/{id}", "a\x00b",
                    "a\nb/{filename}", "\x1b]0;title\x07{id}", "a\u2028{id}"),
    "match.id": ("*", "[", "[!]", "[]]", "**", "*" * 300, "*a" * 60 + "b", "?", "level-[0-9]*",
                 "", "\\", "[a-"),
    "size": (0, "0", "0B", "1 B", "8EiB", 2**63 - 1, "9223372036854775807", "1.5GB", "0.5B",
             "7.99999999TiB", "8388608TiB", "8388607.99999999TiB", " 1 KiB ", "\t1\tMB\t",
             "1." + "9" * 5000 + "MiB", 1e18, 2.0**62, "0" * 30 + "1KiB"),
    "priority": (0, 100, 50, 99, "catalog"),
    "sha256": ("0" * 64, "F" * 64, "a" * 64),
    "version": ("", "0", "1" * 1000),
    "manifestURL": ("http://127.0.0.1:8470/x.json", "http://localhost/", "https://[::1]/c.json",
                    "http://127.0.0.1:99999/c", "http://xn--nxasmq6b/c", "http://127.0.0.1/?#",
                    "https://user:pw@127.0.0.1/c", "http://[::1/c.json", "http://a]b/c",
                    "http://127.0.0.1:x/c", "http://[127.0.0.1]/c", "http://[v7.x]/c"),
    "domainAllowList": (["*"], ["*.*"], [], ["127.0.0.1"], ["::1"], ["[::1]"], ["*.0.0.1"],
                        ["localhost."], ["*." + "a." * 100 + "com"]),
    "retries": (0, 100),
    "extension": ("", ".", "..", "../extension.yaml", "/etc/hostname", "/dev/zero", "app.yaml",
                  "catalog.json", "device.yaml", "missing.yaml", "a" * 5000,
                  "x/" * 2000 + "e.yaml", "\x00", "extension.yaml/", "a\nb", "a\u2028b",
                  "\x1b[31m.yaml", "extension.yaml\x00"),
    "handler": ("os:system", "a:B", "orchestrator.sdk:Extension"),
    "dailyAllotmentSeconds": (0, 2**63 - 1, 86400 * 365),
    "essential": (True, False, "catalog", "always", "never", "fail", "reenqueue-nonessential"),
}
for _name in ("maxInstallSize", "essentialMaxInstallSize", "downloadAllowance",
              "essentialDownloadAllowance", "memory", "capacity", "reserve", "used"):
    PLAUSIBLE[_name] = PLAUSIBLE["size"]


def _plausible(rng: random.Random, path: tuple[Any, ...], value: Any) -> Any:
    names = [part for part in path if isinstance(part, str)]
    field = "match.id" if names[-2:] == ["match", "id"] else names[-1] if names else ""
    if field in PLAUSIBLE:
        return rng.choice(PLAUSIBLE[field])
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return rng.choice([0, 1, 100, 2**63 - 1, 2**53 + 1])
    return rng.choice(["", "x", "*", "\u00e9", "a" * 5000, "1.0"])


def plausible_values(rng: random.Random, original: bytes) -> bytes:
    """The example with a few values (and lists) changed to ones its schema may accept:
    edge sizes, odd URLs, destinations and globs, many assets, empty lists."""
    as_json = original.lstrip().startswith(b"{")
    tree = _parse(original)
    leaves = [path for path in _paths(tree) if path and not isinstance(
        _get(tree, path), dict) and not (isinstance(_get(tree, path), list) and path[-1] not in
                                         PLAUSIBLE)]
    for path in rng.sample(leaves, min(len(leaves), rng.randrange(1, 5))):
        with contextlib.suppress(LookupError, TypeError):  # inside a list replaced before
            _get(tree, path[:-1])[path[-1]] = _plausible(rng, path, _get(tree, path))
    for _ in range(rng.randrange(2)):
        lists = [path for path in _paths(tree) if isinstance(_get(tree, path), list)
                 and _get(tree, path) and isinstance(_get(tree, path)[0], dict)]
        if not lists:
            break
        items = _get(tree, rng.choice(lists))
        action = rng.choice(["many", "reverse", "clear", "repeat"])
        if action == "many":
            template = items[0]
            # At most about 2 MB more: large enough for the bulk paths, small enough that
            # the run's ten thousand documents take minutes.
            count = min(rng.choice([10, 1000, 20000]), (2 << 20) // len(json.dumps(template)))
            items.extend({**template, **({"id": f"{template['id']}-{n}"} if "id" in template
                                         else {})} for n in range(count))
        elif action == "reverse":
            items.reverse()
        elif action == "clear":
            items.clear()
        else:
            items.extend(items * rng.choice([1, 50]))
    return _write_tree(rng, tree, as_json).encode("utf-8", "surrogatepass")


GENERATORS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    "random-bytes": random_bytes,
    "byte-mutation": byte_mutation,
    "structural": structural,
    "hostile-value": hostile_value,
    "whole-file": whole_file,
    "plausible-values": plausible_values,
}


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
    return KINDS[index % len(KINDS)], list(GENERATORS)[index // len(KINDS) % len(GENERATORS)]


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
    shown = known | {name.encode("utf-8", "backslashreplace").decode() for name in known}
    if not any(name in err for name in shown):
        return f"plan's error names no file: {err.strip()[:300]}"
    return None


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
