"""What the control API answers: plain dicts built from the orchestrator's state."""

from __future__ import annotations

from typing import Any

from orchestrator.model.enums import DownloadState

RECENT = 50


def app_status(orchestrator: Any, app_id: str) -> dict[str, Any]:
    """One app: state, install progress, allowances, runtime today, next periodic run."""
    loaded = orchestrator.apps[app_id]
    app, record = loaded.app, orchestrator.journal.app(app_id)
    restricted = not loaded.launched
    restrictions = app.restrictions
    state = "launched" if loaded.launched else "launchable" if loaded.launchable \
        else "installing"
    spent, allotment = orchestrator.runtime_today(app_id)
    return {
        "app": app_id,
        "name": app.display_name,
        "version": app.version,
        "state": state,
        "progress": loaded.progress.fraction if loaded.progress else 1.0,
        "pending": orchestrator.queue.pending[app_id],
        "downloadAllowance": restrictions.download_allowance if restricted else None,
        "downloadBytesUsed": record.download_bytes_used if record else 0,
        "essentialDownloadAllowance":
            restrictions.essential_download_allowance if restricted else None,
        "essentialBytesUsed": record.essential_bytes_used if record else 0,
        "runtimeToday": spent,
        "runtimeAllotment": allotment,
        "nextPeriodicRun": orchestrator.next_periodic(app_id),
    }


def download_rows(orchestrator: Any, app_id: str | None = None) -> list[dict[str, Any]]:
    """Pending downloads, then the most recent ended ones of each app."""
    rows = []
    for tracked in orchestrator.queue.tracked.values():
        if app_id is not None and tracked.app_id != app_id:
            continue
        d = tracked.download
        rows.append({"app": tracked.app_id, "download": d.id, "essential": d.essential,
                     "priority": d.priority, "state": tracked.state.name.lower(),
                     "paused": tracked.paused, "foreground": tracked.foreground,
                     "bytes": tracked.bytes, "total": d.size, "speed": tracked.speed})
    ended = {DownloadState.FINISHED, DownloadState.FAILED}
    for app in ([app_id] if app_id else list(orchestrator.apps)):
        for record in orchestrator.journal.downloads(app, ended)[-RECENT:]:
            d = record.download
            rows.append({"app": app, "download": d.id, "essential": d.essential,
                         "priority": d.priority, "state": d.state.name.lower(),
                         "bytes": record.bytes_on_disk, "total": d.size,
                         "error": record.error_code, "message": record.error_message})
    return rows
