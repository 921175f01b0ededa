"""Where the state dir is when nobody says: the one every command and client agrees on."""

from __future__ import annotations

import os


def default_state_dir() -> str:
    """``BGASSETS_STATE_DIR`` if set, else the platform's user state folder."""
    env = os.environ.get("BGASSETS_STATE_DIR")
    if env:
        return env
    import platformdirs

    return platformdirs.user_state_dir("bgassets")
