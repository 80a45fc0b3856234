"""CPU a real llmviz window uses in each state: drawing under input, playing the walkthrough,
idle, minimised, shrunk to one pixel. Runs the app in Xvfb with a window manager (openbox),
drives it with xdotool, and reads the process's CPU time from /proc.

    python bench/window_cpu.py [--seconds 4]

Needs Xvfb, xdotool, ImageMagick and openbox (as the tests do). Prints one row per state.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from xwindow import app_env, cpu_share, require, running_app, xdo, xvfb  # noqa: E402


def wiggle(env, stop: threading.Event) -> None:
    """Keep the mouse moving over the scene, as a user exploring does."""
    k = 0
    while not stop.is_set():
        xdo(env, "mousemove", str(600 + (k % 20) * 5), "420")
        k += 1
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="measuring time per state")
    args = parser.parse_args()
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as home, xvfb(1280, 800) as display:
        env = app_env(display, Path(home))
        del env["LLMVIZ_UI_MAP"]  # the tests' per-frame UI map would add its own CPU
        wm = subprocess.Popen(
            [require("openbox")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            time.sleep(1.0)
            with running_app(env) as (proc, window):
                xdo(env, "windowsize", "--sync", window, "1280", "800")
                stop = threading.Event()
                mover = threading.Thread(target=wiggle, args=(env, stop))
                mover.start()
                rows.append(("mouse moving over the scene", cpu_share(proc.pid, args.seconds)))
                stop.set()
                mover.join()
                xdo(env, "key", "space")  # play the walkthrough
                time.sleep(0.5)
                rows.append(("walkthrough playing", cpu_share(proc.pid, args.seconds)))
                xdo(env, "key", "space")
                time.sleep(2.5)  # past the pacer's quiet spell
                rows.append(("idle: no input, nothing moving", cpu_share(proc.pid, args.seconds)))
                xdo(env, "windowminimize", "--sync", window)
                time.sleep(0.5)
                rows.append(("minimised", cpu_share(proc.pid, args.seconds)))
                xdo(env, "windowactivate", "--sync", window)
                xdo(env, "windowsize", "--sync", window, "1", "1")
                time.sleep(2.5)
                rows.append(("shrunk to 1x1 px, idle", cpu_share(proc.pid, args.seconds)))
                alive = proc.poll() is None
        finally:
            wm.terminate()
            wm.wait(timeout=10)
    print(f"llmviz window CPU (share of one core, {args.seconds:g} s per state, Xvfb + llvmpipe)")
    print(f"{'state':<34} {'CPU':>6}")
    for name, share in rows:
        print(f"{name:<34} {share:>6.0%}")
    print(f"app still running at the end: {'yes' if alive else 'NO'}")
    return 0 if alive else 1


if __name__ == "__main__":
    sys.exit(main())
