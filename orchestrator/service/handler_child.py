"""The handler process: one entry point call, JSON in on stdin, JSON lines out on stdout.

``python -m orchestrator.service.handler_child`` reads one request object,
writes ``{"status": "started", ...}`` once its own imports are done and its
memory limit is set (the parent measures the limit from that baseline), runs
the entry point, and writes one answer line. Whatever the handler prints goes
to stderr: file descriptor 1 is pointed at stderr before any user code runs,
so only this module can write on the protocol channel. docs/handlers.md
describes the protocol for handlers written in other languages.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import resource
import sys
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from orchestrator import sdk
from orchestrator.errors import BackgroundAssetsError, BadAnswer, ErrorCode
from orchestrator.model.auth import Challenge, ChallengeDisposition, Credential
from orchestrator.model.download import Download
from orchestrator.model.enums import ContentRequest
from orchestrator.model.pack import AssetPack, DownloadPolicy, InstallationEvent
from orchestrator.model.plan import AppExtensionInfo

PROTOCOL = 1
REQUIRED = ("entry", "handler", "appGroup")
OUR_PACKAGE = str(Path(__file__).resolve().parents[1])
MEMORY_ANSWER = (b'{"status":"error","kind":"memory limit","error":{"type":"MemoryError",'
                 b'"message":"the handler went past its memory limit"}}\n')


def encode_download(download: Download) -> dict[str, Any]:
    """The protocol form of a download (camelCase keys, as the manifests use)."""
    return {"id": download.id, "url": download.url, "appGroup": download.app_group,
            "essential": download.essential, "size": download.size,
            "sha256": download.sha256, "priority": download.priority,
            "destination": download.destination}


def encode_pack(pack: AssetPack) -> dict[str, Any]:
    return {"id": pack.id, "policy": pack.policy.value,
            "installationEventTypes": sorted(event.value for event in pack.events),
            "platforms": list(pack.platforms), "description": pack.description}


def decode_pack(data: Mapping[str, Any]) -> AssetPack:
    return AssetPack(str(data.get("id", "")), DownloadPolicy(str(data.get("policy"))),
                     frozenset(InstallationEvent(e) for e in data.get(
                         "installationEventTypes") or ()),
                     (), tuple(str(p) for p in data.get("platforms") or ()),
                     str(data.get("description") or ""))


def decode_download(data: Mapping[str, Any]) -> Download:
    """A download sent by the orchestrator (trusted: it was validated when scheduled)."""
    return Download(id=str(data["id"]), url=str(data["url"]), app_group=str(data["appGroup"]),
                    essential=bool(data.get("essential", False)), size=data.get("size"),
                    sha256=data.get("sha256"), priority=int(data.get("priority", 50)),
                    destination=str(data.get("destination", "")))


def _status_kib(field: str) -> int:
    """A ``/proc/self/status`` field in bytes (0 where /proc is missing)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def limit_memory(limit: int) -> dict[str, int]:
    """Cap private writable memory at today's footprint + ``limit``; return the baseline.

    RLIMIT_DATA (Linux >= 4.7) counts heap and private anonymous mappings but
    not reserved PROT_NONE ranges, so threads and malloc arenas keep working
    where RLIMIT_AS would fail them. The hard limit is lowered too, so the
    handler cannot lift it; shared mappings escape it, which is why the
    parent also watches the resident size.
    """
    data = _status_kib("VmData")
    if data and limit > 0:
        cap = data + limit
        resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    return {"baselineData": data,
            "baselineRss": _status_kib("RssAnon") + _status_kib("RssShmem")}


def load_handler(spec: str, base_dir: str | None) -> type:
    """Import ``module:Class``, looking in the extension manifest's folder first."""
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise BadAnswer(f"handler {spec!r} is not module:Class")
    if base_dir:
        sys.path.insert(0, base_dir)
    target: Any = importlib.import_module(module_name)
    for part in class_name.split("."):
        target = getattr(target, part)
    if not isinstance(target, type):
        raise BadAnswer(f"handler {spec!r} names {type(target).__name__}, not a class")
    return target


def _resolve(result: Any) -> Any:
    """Let entry points be ``async def`` as well."""
    if not inspect.isawaitable(result):
        return result

    async def awaited() -> Any:
        return await result

    return asyncio.run(awaited())


def _encode_all(result: Iterable[Download] | None, entry: str) -> list[dict[str, Any]]:
    if result is None:
        return []
    if isinstance(result, (str, bytes, Mapping)) or not isinstance(result, Iterable):
        raise BadAnswer(f"{entry}() returned {type(result).__name__}, not downloads")
    encoded = []
    for index, item in enumerate(result):
        if not isinstance(item, Download):
            raise BadAnswer(f"{entry}() item {index} is {type(item).__name__}, not a Download")
        encoded.append(encode_download(item))
    return encoded


def run_entry(handler: Any, request: Mapping[str, Any]) -> dict[str, Any]:
    """Call the entry point named by ``request["entry"]``; the answer's payload."""
    entry = request.get("entry")
    if entry == "downloads":
        info = request.get("info") or {}
        result = _resolve(handler.downloads(
            ContentRequest[str(request["request"]).upper()], Path(request["manifestPath"]),
            AppExtensionInfo(info.get("restrictedDownloadSizeRemaining"),
                             info.get("restrictedEssentialDownloadSizeRemaining"))))
        return {"downloads": _encode_all(result, "downloads")}
    if entry == "finished":
        _resolve(handler.finished(decode_download(request["download"]), Path(request["path"])))
        return {}
    if entry == "failed":
        error = request.get("error") or {}
        failure = BackgroundAssetsError(str(error.get("message", "")),
                                        ErrorCode(int(error.get("code", 0))))
        result = _resolve(handler.failed(decode_download(request["download"]), failure))
        return {"downloads": _encode_all(result, "failed")}
    if entry == "shouldDownload":
        decisions = []
        for data in request.get("packs") or []:
            decision = _resolve(handler.should_download(decode_pack(data)))
            if not isinstance(decision, bool):
                raise BadAnswer(f"should_download() returned {type(decision).__name__}, "
                                "not True or False")
            decisions.append(decision)
        return {"decisions": decisions}
    if entry == "challenge":
        challenge = Challenge.from_json(request.get("challenge") or {})
        return _challenge_answer(_resolve(handler.challenge(
            decode_download(request["download"]), challenge)))
    raise BadAnswer(f"unknown entry point {entry!r} (downloads, finished, failed, challenge, "
                    "shouldDownload)")


def _challenge_answer(result: Any) -> dict[str, Any]:
    """``challenge()``'s result on the wire: a credential, cancel, or default handling."""
    if result is None or result is ChallengeDisposition.PERFORM_DEFAULT_HANDLING:
        return {"credential": None}
    if result is ChallengeDisposition.CANCEL:
        return {"disposition": ChallengeDisposition.CANCEL.value}
    if not isinstance(result, Credential):
        raise BadAnswer(f"challenge() returned {type(result).__name__}, not a Credential, "
                        "None or ChallengeDisposition.CANCEL")
    return {"credential": result.to_json()}


def where(error: BaseException) -> str | None:
    """``file:line`` of the innermost frame outside bgassets, or of the innermost frame."""
    frames = traceback.extract_tb(error.__traceback__)
    outside = [f for f in frames if not f.filename.startswith(OUR_PACKAGE)]
    if not frames:
        return None
    frame = (outside or list(frames))[-1]
    return f"{frame.filename}:{frame.lineno}"


def error_answer(error: BaseException) -> dict[str, Any]:
    """An error answer: what was raised, where, and the traceback for the log."""
    kind = "bad answer" if isinstance(error, BadAnswer) else "raised"
    if isinstance(error, SystemExit):
        kind = "exited"
    return {"status": "error", "kind": kind,
            "error": {"type": type(error).__name__, "message": str(error), "where": where(error),
                      "traceback": "".join(traceback.format_exception(error))}}


def encode_line(answer: Mapping[str, Any]) -> bytes:
    """One protocol line; what JSON cannot carry is the handler's bad answer."""
    try:
        return json.dumps(answer, separators=(",", ":"), allow_nan=False).encode() + b"\n"
    except (TypeError, ValueError) as error:
        raise BadAnswer(f"the answer cannot be sent as JSON: {error}") from None


def write_line(channel: BinaryIO, line: bytes) -> None:
    channel.write(line)
    channel.flush()


def serve(request: Mapping[str, Any], channel: BinaryIO) -> None:
    """Set limits and context, announce the start, run the entry point, answer."""
    write_line(channel, encode_line({"status": "started", "protocol": PROTOCOL,
                                     **limit_memory(int(request.get("memoryLimit") or 0))}))
    context = sdk.HandlerContext(
        app_group=str(request["appGroup"]),
        container=Path(request["container"]) if request.get("container") else None,
        state_dir=Path(request["stateDir"]) if request.get("stateDir") else None,
        catalog_url=request.get("catalogURL"))
    sdk.set_context(context)
    try:
        handler = load_handler(str(request["handler"]), request.get("baseDir"))()
        payload = run_entry(handler, request)
        line = encode_line({"status": "ok", **payload,
                            "lockSeconds": round(context.lock_seconds, 6)})
    except MemoryError:
        line = MEMORY_ANSWER
    except BaseException as error:  # noqa: BLE001 - every failure becomes an answer
        line = encode_line({**error_answer(error), "lockSeconds": round(context.lock_seconds, 6)})
    write_line(channel, line)


def main() -> int:
    """Entry of ``python -m orchestrator.service.handler_child``."""
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        request = json.loads(sys.stdin.buffer.read())
        if not isinstance(request, dict) or request.get("protocol", PROTOCOL) != PROTOCOL:
            raise ValueError(f"expected a protocol {PROTOCOL} request object")
        missing = [key for key in REQUIRED if key not in request]
        if missing:
            raise ValueError(f"the request lacks {', '.join(missing)}")
    except ValueError as error:
        write_line(channel, encode_line({"status": "error", "kind": "bad request", "error": {
            "type": type(error).__name__, "message": str(error)}}))
        return 2
    serve(request, channel)
    return 0


if __name__ == "__main__":
    status = main()
    sys.stderr.flush()
    # Without waiting for threads the handler left running: the call is over.
    os._exit(status)
