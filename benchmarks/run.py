"""`make bench`: run every benchmark of the project, one after the other.

Each benchmark is a script in this folder that prints its own table; extra
arguments (e.g. ``--quick``) are passed to each. Exit code: the worst one.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["validate.py", "engine.py", "plan.py", "tui.py", "delegate.py", "packs.py", "scenario.py"]


def main() -> int:
    worst = 0
    print(f"bgassets benchmarks, {time.strftime('%Y-%m-%d %H:%M %Z')}", flush=True)
    for name in ORDER:
        script = HERE / name
        if not script.exists():
            continue
        print(f"\n== {name} ==", flush=True)
        code = subprocess.call([sys.executable, str(script), *sys.argv[1:]], cwd=HERE.parent)
        worst = max(worst, code)
    return worst


if __name__ == "__main__":
    sys.exit(main())
