"""Authentication challenges: what a server asked for, the answer, and where answers live.

A 401 (``WWW-Authenticate``) or a proxy's 407 (``Proxy-Authenticate``) becomes a
:class:`Challenge`. Whoever handles the app's callbacks answers it with a
:class:`Credential`, with ``None`` (the framework's ``performDefaultHandling``: let the
next in line answer) or with :attr:`ChallengeDisposition.CANCEL` (fail the download).
An Extension's ``spec.credentials`` are :class:`CredentialSource` entries: where a
secret is read from, never the secret itself.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from orchestrator.model.hosts import host_allowed


class AuthScheme(StrEnum):
    """The HTTP authentication schemes bgassets answers."""

    BASIC = "basic"
    BEARER = "bearer"


class ChallengeDisposition(StrEnum):
    """What a challenge handler decided, as the framework's ``AuthChallengeDisposition``."""

    USE_CREDENTIAL = "useCredential"
    PERFORM_DEFAULT_HANDLING = "performDefaultHandling"
    CANCEL = "cancelAuthenticationChallenge"


@dataclass(frozen=True)
class Challenge:
    """One server's request for credentials.

    ``origin`` is ``scheme://host:port``; together with ``scheme``, ``realm`` and
    ``proxy`` it is the protection space, the unit answers are cached for. ``key`` is
    the download's engine key and ``scope`` the app whose download met the challenge.
    """

    url: str
    origin: str
    scheme: AuthScheme
    realm: str | None = None
    proxy: bool = False
    key: str | None = None
    scope: str | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.origin).hostname or ""

    @property
    def protection_space(self) -> tuple[str | None, str, AuthScheme, str | None, bool]:
        return (self.scope, self.origin, self.scheme, self.realm, self.proxy)

    def to_json(self) -> dict[str, Any]:
        """What a delegate or handler is told: no secret is in a challenge."""
        return {"url": self.url, "origin": self.origin, "host": self.host,
                "scheme": self.scheme.value, "realm": self.realm, "proxy": self.proxy}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Challenge:
        return cls(url=str(data.get("url", "")), origin=str(data.get("origin", "")),
                   scheme=AuthScheme(str(data.get("scheme", "basic"))),
                   realm=None if data.get("realm") is None else str(data["realm"]),
                   proxy=bool(data.get("proxy", False)))


@dataclass(frozen=True)
class Credential:
    """A user and password (Basic) or a token (Bearer). ``repr`` never shows the secret."""

    user: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)

    @classmethod
    def basic(cls, user: str, password: str) -> Credential:
        return cls(user=user, password=password)

    @classmethod
    def bearer(cls, token: str) -> Credential:
        return cls(token=token)

    @property
    def scheme(self) -> AuthScheme:
        return AuthScheme.BEARER if self.token else AuthScheme.BASIC

    def header(self) -> str:
        """The ``Authorization`` (or ``Proxy-Authorization``) header value."""
        if self.token:
            return f"Bearer {self.token}"
        pair = f"{self.user}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def to_json(self) -> dict[str, str]:
        """The wire form between processes of one user (handler pipe, app socket)."""
        if self.token:
            return {"token": self.token}
        return {"user": self.user, "password": self.password}

    @classmethod
    def from_json(cls, data: Any) -> Credential | None:
        """Read a credential from the wire; None when ``data`` is not one."""
        if not isinstance(data, Mapping):
            return None
        token = data.get("token")
        if isinstance(token, str) and token:
            return cls.bearer(token)
        user, password = data.get("user"), data.get("password")
        if isinstance(user, str) and isinstance(password, str):
            return cls.basic(user, password)
        return None


ChallengeAnswer = Credential | ChallengeDisposition | None
"""A credential, ``None`` (default handling) or :attr:`ChallengeDisposition.CANCEL`."""


@dataclass(frozen=True)
class CredentialSource:
    """One entry of an Extension's ``spec.credentials``: where the secret for ``host`` is.

    Exactly one of the forms is set: Basic from two environment variables or two
    files, Bearer from a variable or a file, or a netrc file (``netrc`` is the path,
    ``""`` for ``~/.netrc``). Files are relative to the extension manifest.
    """

    host: str
    scheme: AuthScheme
    username_env: str | None = None
    password_env: str | None = None
    username_file: str | None = None
    password_file: str | None = None
    token_env: str | None = None
    token_file: str | None = None
    netrc: str | None = None

    def matches(self, host: str) -> bool:
        return host_allowed(host, (self.host,))

    @classmethod
    def from_document(cls, data: Mapping[str, Any], base_path: str | None) -> CredentialSource:
        """Build from one schema-validated ``spec.credentials`` entry."""
        host = str(data["host"])
        if "bearer" in data:
            bearer = data["bearer"]
            return cls(host, AuthScheme.BEARER, token_env=bearer.get("tokenEnv"),
                       token_file=_relative(bearer.get("tokenFile"), base_path))
        if "netrc" in data:
            value = data["netrc"]
            path = "" if value is True else _relative(str(value), base_path)
            return cls(host, AuthScheme.BASIC, netrc=path)
        basic = data["basic"]
        return cls(host, AuthScheme.BASIC, username_env=basic.get("usernameEnv"),
                   password_env=basic.get("passwordEnv"),
                   username_file=_relative(basic.get("usernameFile"), base_path),
                   password_file=_relative(basic.get("passwordFile"), base_path))

    def describe(self) -> str:
        """Where the secret comes from, for messages (names, never values)."""
        if self.netrc is not None:
            return f"netrc {self.netrc or '~/.netrc'}"
        if self.scheme is AuthScheme.BEARER:
            return (f"environment variable {self.token_env}" if self.token_env
                    else f"file {self.token_file}")
        if self.username_env:
            return f"environment variables {self.username_env} and {self.password_env}"
        return f"files {self.username_file} and {self.password_file}"


def _relative(path: str | None, base_path: str | None) -> str | None:
    if path is None or base_path is None or path.startswith(("/", "~")):
        return path
    return f"{base_path.rstrip('/')}/{path}"
