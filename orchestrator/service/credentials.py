"""Answering challenges from an Extension's ``spec.credentials``: secrets read where the
manifest says (environment variables, files, netrc), at the moment they are needed.

A secret is never kept beyond the engine's cache, never logged, never journaled; the
messages here name the variable or the file, not what is in it.
"""

from __future__ import annotations

import netrc
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from orchestrator.errors import CredentialUnavailable
from orchestrator.model.auth import AuthScheme, Challenge, Credential, CredentialSource


def read_netrc(path: Path, host: str) -> Credential | None:
    """The login and password for ``host`` in the netrc file ``path``, if it has them.

    Raises ``OSError`` or ``netrc.NetrcParseError`` for a file that cannot be read.
    """
    entry = netrc.netrc(str(path)).authenticators(host)
    if entry is None:
        return None
    login, _account, password = entry
    return Credential.basic(login or "", password or "")


def _variable(name: str | None, env: Mapping[str, str]) -> str:
    value = env.get(name or "")
    if not value:
        raise CredentialUnavailable(f"environment variable {name} is not set")
    return value


def read_secret_file(path: str | Path) -> str:
    """The text of a secret file, surrounding whitespace stripped; CredentialUnavailable
    says why it cannot be read (never what is in it)."""
    try:
        return Path(path).expanduser().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise CredentialUnavailable(f"cannot read {path}: {reason}") from None


def credential_from(source: CredentialSource, host: str,
                    env: Mapping[str, str]) -> Credential | None:
    """Read the secret ``source`` points at; None when a netrc has no entry for ``host``."""
    if source.netrc is not None:
        path = Path(source.netrc).expanduser() if source.netrc else Path.home() / ".netrc"
        try:
            return read_netrc(path, host)
        except (OSError, netrc.NetrcParseError) as error:
            raise CredentialUnavailable(f"cannot read netrc {path}: {error}") from None
    if source.scheme is AuthScheme.BEARER:
        token = (_variable(source.token_env, env) if source.token_env
                 else read_secret_file(source.token_file or ""))
        return Credential.bearer(token)
    if source.username_env:
        return Credential.basic(_variable(source.username_env, env),
                                _variable(source.password_env, env))
    return Credential.basic(read_secret_file(source.username_file or ""),
                            read_secret_file(source.password_file or ""))


def answer_from_manifest(sources: Sequence[CredentialSource], challenge: Challenge,
                         env: Mapping[str, str] | None = None) -> Credential | None:
    """The first source for the challenge's host and scheme that yields a credential.

    A source whose secret cannot be read is skipped, so that a later one may answer;
    when none does, the first such problem is raised as :class:`CredentialUnavailable`.
    """
    env = os.environ if env is None else env
    problem: CredentialUnavailable | None = None
    for source in sources:
        if not source.matches(challenge.host) or source.scheme is not challenge.scheme:
            continue
        try:
            credential = credential_from(source, challenge.host, env)
        except CredentialUnavailable as error:
            problem = problem or CredentialUnavailable(
                f"spec.credentials for {source.host} ({source.describe()}): {error}")
            continue
        if credential is not None:
            return credential
    if problem is not None:
        raise problem
    return None
