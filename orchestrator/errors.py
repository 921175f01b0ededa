"""One exception tree for bgassets, carrying the original framework's error codes.

Codes below 1000 keep the numbers and names of Apple's ``BAErrorCode`` so that
people porting real apps recognise them; codes from 1000 up are bgassets' own.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    """Error codes: the framework's own, then bgassets' (1000 and up)."""

    DOWNLOAD_INVALID = 0
    CALL_FROM_EXTENSION_NOT_ALLOWED = 50
    CALL_FROM_INACTIVE_PROCESS_NOT_ALLOWED = 51
    DOWNLOAD_ALREADY_SCHEDULED = 100
    DOWNLOAD_NOT_SCHEDULED = 101
    DOWNLOAD_FAILED_TO_START = 102
    DOWNLOAD_ALREADY_FAILED = 103
    DOWNLOAD_ESSENTIAL_DOWNLOAD_NOT_PERMITTED = 109
    DOWNLOAD_BACKGROUND_ACTIVITY_PROHIBITED = 111
    DOWNLOAD_WOULD_EXCEED_ALLOWANCE = 112
    DOWNLOAD_DOES_NOT_EXIST = 113
    SESSION_DOWNLOAD_DISALLOWED_BY_DOMAIN = 202
    SESSION_DOWNLOAD_DISALLOWED_BY_ALLOWANCE = 203
    SESSION_DOWNLOAD_ALLOWANCE_EXCEEDED = 204
    SESSION_DOWNLOAD_NOT_PERMITTED_BEFORE_APP_LAUNCH = 206

    # bgassets' own codes.
    MANIFEST_INVALID = 1001
    SIZE_MISMATCH = 1010
    CHECKSUM_MISMATCH = 1011
    PATH_OUTSIDE_CONTAINER = 1012
    DESTINATION_CONFLICT = 1013
    CATALOG_TOO_LARGE = 1014
    HTTP_ERROR = 1020
    NETWORK_ERROR = 1021
    RANGE_NOT_HONOURED = 1022
    TOO_MANY_REDIRECTS = 1023
    INSECURE_REDIRECT = 1024
    AUTHENTICATION_FAILED = 1025
    BAD_SERVER_ANSWER = 1026
    PORT_UNAVAILABLE = 1027
    DISK_ERROR = 1030
    NOT_ENOUGH_STORAGE = 1031
    INSTALL_DOES_NOT_FIT = 1032
    CANCELLED = 1040
    INSTALL_NOT_IN_PROGRESS = 1041
    INSTALL_PAUSED = 1042
    INSTALL_NOT_PAUSED = 1043
    UPDATE_NOT_CANCELLABLE = 1044
    APP_NOT_LAUNCHABLE = 1050
    APP_NOT_INSTALLED = 1051
    LOCK_TIMEOUT = 1052
    EXTENSION_FAILED = 1060
    STATE_DIR_UNUSABLE = 1070
    STATE_DIR_BUSY = 1071
    DAEMON_NOT_RUNNING = 1072
    REQUEST_INVALID = 1073
    CONTROL_SOCKET_UNTRUSTED = 1074

    @property
    def title(self) -> str:
        """The camelCase name the original framework uses, e.g. ``downloadInvalid``."""
        return _TITLES[self.value]


def _camel_case(name: str) -> str:
    head, *rest = name.lower().split("_")
    return head + "".join(word.capitalize() for word in rest)


# Computed once per code: a plan of a big catalog prints one title per rejection.
_TITLES = {code.value: _camel_case(code.name) for code in ErrorCode}


class BackgroundAssetsError(Exception):
    """Base of every error bgassets raises on purpose.

    ``code`` is an :class:`ErrorCode`; ``str(error)`` is a message for people that
    says what happened, where, and what to do next.
    """

    code: ErrorCode = ErrorCode.DOWNLOAD_INVALID

    def __init__(self, message: str, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def as_dict(self) -> dict[str, object]:
        return {"code": int(self.code), "name": self.code.title, "message": self.message}


class CredentialUnavailable(Exception):
    """An Extension's ``spec.credentials`` entry matches a challenge but its secret cannot
    be read: the message names the variable or file, never a value. The challenge then
    fails with 1025 ``authenticationFailed`` carrying that message."""


class UsageError(BackgroundAssetsError):
    """A command was called with arguments that cannot work (exit code 2)."""


class StateDirUnusable(UsageError):
    """The state dir cannot be made or used: a file in its path, a read-only or virtual
    file system, no permission (exit code 2, like any argument that cannot work)."""

    code = ErrorCode.STATE_DIR_UNUSABLE


class StateDirBusy(BackgroundAssetsError):
    """Another bgassets process (a daemon, run or simulate) holds the state dir."""

    code = ErrorCode.STATE_DIR_BUSY

    def __init__(self, state_dir: object) -> None:
        super().__init__(
            f"{state_dir} is in use by another bgassets process (a daemon, run or simulate); "
            "stop it, talk to it with status/downloads, or use another --state-dir")


class ManifestError(BackgroundAssetsError):
    """A manifest or catalog could not be read or is invalid."""

    code = ErrorCode.MANIFEST_INVALID


class LocatedError(ManifestError):
    """A problem that stops reading a file (bad bytes, bad YAML) at a 1-based line and
    column, under the dotted ``path`` of the value it concerns."""

    def __init__(self, message: str, line: int = 1, column: int = 1, path: str = "") -> None:
        super().__init__(message)
        self.line, self.column, self.path = line, column, path


class DownloadError(BackgroundAssetsError):
    """A download ended without a verified file.

    ``transient`` says whether trying again later may succeed (a reset, a
    timeout, a 5xx) or not (a 404, a size or checksum mismatch). ``unreachable``
    says the server could not be connected to at all (refused, no route, no such
    host): other files from the same server will likely fail the same way.
    """

    def __init__(self, message: str, code: ErrorCode, *, transient: bool = False,
                 retry_after: float | None = None, unreachable: bool = False) -> None:
        super().__init__(message, code)
        self.transient = transient
        self.retry_after = retry_after
        self.unreachable = unreachable


class DiskFullError(DownloadError):
    """A DISK_ERROR for ENOSPC or EDQUOT: trying again is worth it once space is freed,
    not before (so the engine does not retry it at once)."""


class EndlessBody(DownloadError):
    """More bytes than expected: cut off at the expected size (the endless-data defence).

    The bytes up to the size are kept when a pinned sha256 can verify them on the next
    attempt; otherwise this is a size mismatch.
    """

    def __init__(self, url: str, size: int) -> None:
        super().__init__(f"{url} sent more than the expected {size} bytes; cut off",
                         ErrorCode.SIZE_MISMATCH, transient=True, retry_after=0)


class BodyTooLarge(DownloadError):
    """A body of unknown size longer than the request's ``max_size``: refused, or cut off
    there (never written beyond it). Not retried: the next answer would be as long."""

    def __init__(self, url: str, limit: int, declared: int | None = None) -> None:
        what = (f"declares {declared} bytes, more than the maximum of {limit}; refused"
                if declared is not None else f"sent more than the maximum of {limit} bytes; "
                "cut off")
        super().__init__(f"{url} {what}", ErrorCode.CATALOG_TOO_LARGE)
        self.limit = limit


class JournalError(BackgroundAssetsError):
    """The journal cannot be opened or is from a newer bgassets."""

    code = ErrorCode.DISK_ERROR


def disk_full(error: BaseException) -> bool:
    """Whether ``error`` is a full disk (a file's ENOSPC/EDQUOT, or a journal that cannot
    be written): worth trying again once space is back, not before."""
    return isinstance(error, DiskFullError) or (
        isinstance(error, JournalError) and error.code == ErrorCode.DISK_ERROR)


class DaemonUnavailable(BackgroundAssetsError):
    """No daemon listens on the state dir's control socket, or it stopped answering."""

    code = ErrorCode.DAEMON_NOT_RUNNING


class UntrustedSocket(BackgroundAssetsError):
    """A control socket or its folder that another user could have made or can reach."""

    code = ErrorCode.CONTROL_SOCKET_UNTRUSTED


class LockTimeout(BackgroundAssetsError):
    """Exclusive control was not obtained before the deadline."""

    code = ErrorCode.LOCK_TIMEOUT


class HandlerAnswerError(BackgroundAssetsError):
    """A handler answered ``ok`` with downloads that are not valid (``extensionFailed``)."""

    code = ErrorCode.EXTENSION_FAILED


class BadAnswer(BackgroundAssetsError):
    """An entry point returned something that is not what the protocol carries."""

    code = ErrorCode.EXTENSION_FAILED


class PhaseError(RuntimeError):
    """A move the table does not allow: a bug in the engine, never a download failure."""


# Signals inside one subsystem, caught there: never seen outside it, so not exported.

class WentOffline(Exception):
    """The device went offline while a catalog was being fetched: the fetch was stopped."""


class Unsatisfiable(Exception):
    """The Range header asks for bytes the file does not have: the dev server answers 416."""
