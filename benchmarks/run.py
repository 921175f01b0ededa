"""`make bench`: run every benchmark of the project, then print one table of them all.

Each benchmark is a script in this folder that prints its own details; extra arguments
(e.g. ``--quick``) are passed to each, with ``--figures FILE`` so that it also writes
its figures (see ``figures.py``). The table at the end puts every figure next to its
peer from the same run, with the ratio and the goal. Exit code: the worst one.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import figures  # noqa: E402

ORDER = ["validate.py", "engine.py", "plan.py", "tui.py", "delegate.py", "packs.py", "scenario.py"]


def main() -> int:
    worst = 0
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"bgassets benchmarks, {started}", flush=True)
    found: list[figures.Figure] = []
    with tempfile.TemporaryDirectory() as folder:
        for name in ORDER:
            script = HERE / name
            if not script.exists():
                continue
            print(f"\n== {name} ==", flush=True)
            out = Path(folder) / f"{script.stem}.json"
            code = subprocess.call([sys.executable, str(script), *sys.argv[1:],
                                    "--figures", str(out)], cwd=HERE.parent)
            worst = max(worst, code)
            found += figures.read(out)
    print(f"\n== all benchmarks: started {started}, ended "
          f"{time.strftime('%H:%M UTC', time.gmtime())}; {platform.system()} "
          f"{platform.machine()}, Python {platform.python_version()} ==\n")
    print(figures.table(found))
    missed = [figure for figure in found if figure.met is False]
    print(f"\n{len(found)} figures, {sum(f.met is True for f in found)} goals met, "
          f"{len(missed)} not met")
    return worst


if __name__ == "__main__":
    sys.exit(main())
