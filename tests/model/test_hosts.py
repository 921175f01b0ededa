"""domainAllowList matching: exact hosts, IP literals and ``*.`` wildcards."""

import pytest

from orchestrator.model.hosts import allow_entry_problem, host_allowed

ALLOW = ["127.0.0.1", "localhost", "*.cdn.example.com", "::1"]


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("LOCALHOST", True),
        ("localhost.", True),
        ("a.cdn.example.com", True),
        ("deep.a.cdn.example.com", True),
        ("cdn.example.com", False),
        ("evilcdn.example.com", False),
        ("example.com", False),
        ("[::1]", True),
        ("127.0.0.2", False),
    ],
)
def test_host_matching(host, allowed):
    assert host_allowed(host, ALLOW) is allowed


def test_no_list_means_no_restriction_and_empty_list_means_nothing():
    assert host_allowed("anything.example", None)
    assert not host_allowed("127.0.0.1", [])


@pytest.mark.parametrize(
    "entry", ["example.com", "*.example.com", "10.0.0.1", "::1", "[::1]", "a-b.c"]
)
def test_valid_entries(entry):
    assert allow_entry_problem(entry) is None


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("https://example.com", "without scheme"),
        ("example.com:8080/x", "without scheme"),
        ("*", "wildcard"),
        ("*.com", "wildcard"),
        ("a.*.example.com", "leading"),
        ("-bad-.example", "neither"),
        ("cdn\n.example.com", "neither"),
        ("", "non-empty"),
    ],
)
def test_invalid_entries_say_why(entry, fragment):
    problem = allow_entry_problem(entry)
    assert problem is not None and fragment in problem
