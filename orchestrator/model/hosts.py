"""Host allow lists (``domainAllowList``): which hosts a download may reach.

Entries are host names, IP literals or ``*.`` wildcards. A wildcard matches
subdomains only (``*.example.com`` matches ``cdn.example.com`` but not
``example.com``), as the original framework documents. Matching ignores case
and a trailing dot; IPv6 literals may be written with or without brackets.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def normalise_host(host: str) -> str:
    """Lower case, without a trailing dot or IPv6 brackets."""
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_host_name(host: str) -> bool:
    return 0 < len(host) <= 253 and all(_LABEL.fullmatch(label) for label in host.split("."))


def allow_entry_problem(entry: str) -> str | None:
    """Why ``entry`` is not a valid allow-list entry, or None when it is."""
    if not isinstance(entry, str) or not entry.strip():
        return "an allow-list entry must be a non-empty host name"
    if any(part in entry for part in ("://", "/", "@", " ")):
        return f"{entry!r} is not a host name: give the host only, without scheme, port or path"
    host = normalise_host(entry)
    if host.startswith("*."):
        rest = host[2:]
        if "*" in rest or not _is_host_name(rest) or "." not in rest:
            return f"{entry!r} is not a valid wildcard: use '*.' and a domain, e.g. *.example.com"
        return None
    if "*" in host:
        return f"{entry!r}: a wildcard is allowed only as a leading '*.'"
    if _is_ip(host) or _is_host_name(host):
        return None
    return f"{entry!r} is neither a host name nor an IP address"


def host_allowed(host: str, allow_list: Iterable[str] | None) -> bool:
    """Whether ``host`` may be reached under ``allow_list`` (None means no restriction)."""
    if allow_list is None:
        return True
    host = normalise_host(host)
    for entry in allow_list:
        pattern = normalise_host(entry)
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and not _is_ip(host):
                return True
        elif host == pattern:
            return True
    return False
