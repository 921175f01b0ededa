"""Generated hostile manifests and catalogs: the fuzzers' documents.

Each generator takes a random source and the bytes of a bundled example and
returns the bytes of a new document: noise, the example's bytes mutated, its
tree mutated or given hostile values, whole-file oddities, or edge values its
schema may accept. ``tests/support/fuzzcases.py`` puts them among their
example's files and judges what ``validate`` and ``plan`` make of them.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
import re
from collections.abc import Callable, Iterator
from typing import Any

import yaml

MARK = "FUZZMARK"
_MARKED = re.compile(rf"""["']?{MARK}(\d+)["']?""")


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
            # Copies: wrap and duplicate share nodes, so two different paths may hold one
            # object, and moving it under itself would make a cycle no document can have.
            parent[last], other_parent[other[-1]] = (copy.deepcopy(other_parent[other[-1]]),
                                                     copy.deepcopy(parent[last]))
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
        # A copy: a list put in the tree may have its own items replaced next, and the
        # table's list must not change (nor end up inside itself).
        return copy.deepcopy(rng.choice(PLAUSIBLE[field]))
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
