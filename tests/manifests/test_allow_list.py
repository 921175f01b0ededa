"""domainAllowList entries: the schema's pattern (what an editor flags) and validate agree.

The engine matches hosts with ``orchestrator.model.hosts``; the schema's pattern
accepts a subset of what that module does (no surrounding whitespace, no IPv6
zone, one trailing dot at most), so every entry that passes the schema is one
the engine understands, and validate refuses exactly what the pattern refuses.
"""

import ipaddress
import json
from pathlib import Path

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.manifests import validate_paths
from orchestrator.model.hosts import allow_entry_problem
from tests.manifests.bases import APP, write_set

ROOT = Path(__file__).resolve().parents[2]
ENTRY = json.loads((ROOT / "schemas" / "app.schema.json").read_text())["properties"]["spec"][
    "properties"]["initialDownloadRestrictions"]["properties"]["domainAllowList"]["items"]
PATTERN = jsonschema_rs.validator_for({"type": "string", "pattern": ENTRY["pattern"]})


def engine_accepts(entry):
    return allow_entry_problem(entry) is None


TABLE = [
    ("cdn.example.com", True),
    ("CDN.Example.COM.", True),
    ("localhost", True),
    ("127.0.0.1", True),
    ("::1", True),
    ("[::1]", True),
    ("::ffff:192.0.2.1", True),
    ("2001:db8::8a2e:370:7334", True),
    ("*.example.com", True),
    ("*.com", False),
    ("cdn.*.example.com", False),
    ("http://x.com/path", False),
    ("https://cdn.example.com/", False),
    ("x.com:8080", False),
    ("user@x.com", False),
    ("-x.com", False),
    ("x-.com", False),
    ("a..b", False),
    ("a" * 64 + ".com", False),
    ("1:2:3:4:5:6:7:8:9", False),
    ("", False),
    ("cdn example com", False),
]


@pytest.mark.parametrize(("entry", "allowed"), TABLE, ids=[entry or "empty" for entry, _ in TABLE])
def test_pattern_engine_and_validate_agree_on_the_table(tmp_path, entry, allowed):
    assert PATTERN.is_valid(entry) is allowed
    assert engine_accepts(entry) is allowed
    app = APP.replace('domainAllowList: ["cdn.example.com", ',
                      f'domainAllowList: ["cdn.example.com", {json.dumps(entry)}, ')
    problems = validate_paths([write_set(tmp_path, {"app.yaml": app})])
    where = "spec.initialDownloadRestrictions.domainAllowList[1]"
    flagged = [problem for problem in problems if problem.path == where]
    assert (flagged == []) is allowed, problems
    if not allowed:
        assert (flagged[0].line, flagged[0].column) == (16, 42)
        assert "is not a host: write a host name (cdn.example.com)" in flagged[0].message


@settings(max_examples=2000, deadline=None)
@given(st.text(max_size=40) | st.text(alphabet="ab09fF-.:*[]/@ ", max_size=40))
def test_what_the_pattern_accepts_the_engine_accepts(entry):
    if PATTERN.is_valid(entry):
        assert engine_accepts(entry), entry


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="ab09fF-.:*", max_size=30))
def test_the_pattern_refuses_only_what_the_engine_also_refuses_or_spells_oddly(entry):
    """Beyond the pattern the engine takes only several trailing dots, or one after an IPv6."""
    odd = entry.endswith("..") or (":" in entry and entry.endswith("."))
    if not odd:
        assert PATTERN.is_valid(entry) == engine_accepts(entry), entry


@settings(max_examples=500, deadline=None)
@given(st.ip_addresses(v=6))
def test_every_ipv6_form_is_accepted(address):
    for text in {str(address), address.exploded, str(address).upper(), f"[{address}]"}:
        assert PATTERN.is_valid(text), text
        assert engine_accepts(text), text


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789abcdefABCDEF:.", min_size=1, max_size=45))
def test_ipv6_like_text_is_accepted_exactly_when_it_is_an_ipv6_address(text):
    try:
        ipaddress.IPv6Address(text)
        address = True
    except ValueError:
        address = False
    if ":" in text and not text.endswith("."):
        assert PATTERN.is_valid(text) == address, text
