"""Real windows for the tests: an Xvfb display, the app in it, xdotool input, screenshots.

Needs Xvfb, xdotool and ImageMagick's `import` (.ci/run installs them, and openbox for the
tests that minimise); without them the tests fail rather than skip.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
from PIL import Image

T = TypeVar("T")


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed (apt-get install xvfb xdotool imagemagick openbox)")
    return path


@contextmanager
def xvfb(width: int, height: int) -> Iterator[str]:
    """A fresh X display (':N'), gone afterwards."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [
            require("Xvfb"),
            "-displayfd",
            str(write_fd),
            "-screen",
            "0",
            f"{width}x{height}x24",
            "-nolisten",
            "tcp",
        ],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        number = f.readline().strip()
    try:
        assert number, "Xvfb did not report a display"
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def running_app(env: dict, *args: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """`llmviz` in the display of env; (process, window id) once its first frames are drawn."""
    if env.get("LLMVIZ_UI_MAP"):  # a map left by an earlier app would count as its frames
        Path(env["LLMVIZ_UI_MAP"]).unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmviz_desktop.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc, wait_for_window(env, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def app_env(display: str, home) -> dict:
    """Settings and logs go under `home`, not to the user's folders; the UI map (ui/uimap.py)
    too, so that the helpers below can wait for frames instead of sleeping."""
    Path(home).mkdir(parents=True, exist_ok=True)
    return dict(
        os.environ,
        DISPLAY=display,
        LLMVIZ_CONFIG_DIR=str(home / "config"),
        LLMVIZ_STATE_DIR=str(home / "state"),
        LLMVIZ_UI_MAP=str(home / "ui.json"),
    )


def wait_until(
    predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll `predicate` until it returns something truthy (which is returned); fail the test
    after `timeout` seconds. The one place window tests wait: never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"waited {timeout:g} s for {what or getattr(predicate, '__name__', '?')}")
        time.sleep(interval)


def xdo(env, *args: str) -> str:
    out = subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def wait_for_window(env, proc) -> str:
    require("xdotool")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llmviz exited with {proc.returncode}: {proc.stdout.read()}")
        out = subprocess.run(
            ["xdotool", "search", "--name", "llmviz"], env=env, capture_output=True, text=True
        )
        if out.returncode == 0 and out.stdout.strip():
            if env.get("LLMVIZ_UI_MAP"):
                drawn(env)  # first frames: model, shaders, fonts
            else:
                time.sleep(2.0)
            return out.stdout.split()[0]
        time.sleep(0.2)
    pytest.fail("the llmviz window did not appear within 60 s")


def grab(env) -> np.ndarray:
    """The X screen now, as it is (no waiting)."""
    require("import")
    png = subprocess.run(
        ["import", "-window", "root", "png:-"], env=env, capture_output=True, timeout=30
    ).stdout
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def screenshot(env, timeout: float = 20.0) -> np.ndarray:
    """The screen once the app has seen the last input and the picture has settled: a few
    frames drawn since the call (the UI map's counter), then three grabs alike with frames
    drawn between them (camera flights and walkthrough animations have ended; the panel's
    frame-time readout may differ). A picture that never settles (the walkthrough playing)
    gives the last grab after `timeout`: use grab() and wait_until there."""
    if not env.get("LLMVIZ_UI_MAP"):
        time.sleep(1.0)
        return grab(env)
    drawn(env)
    img, alike = grab(env), 0
    deadline = time.monotonic() + timeout
    while alike < 2 and time.monotonic() < deadline:
        drawn(env, 2)
        again = grab(env)
        alike = alike + 1 if settled(img, again) else 0
        img = again
    return img


def settled(a: np.ndarray, b: np.ndarray, share: float = 0.001) -> bool:
    """Hardly a pixel changed between two grabs (the fps / ms readout may)."""
    return a.shape == b.shape and (np.abs(a - b).max(axis=-1) > 40).mean() < share


def frame_now(env) -> int:
    """The number of the last frame the app wrote to its UI map (0 before the first)."""
    try:
        return int(json.loads(Path(env["LLMVIZ_UI_MAP"]).read_text())["frame"])
    except (OSError, ValueError, KeyError):
        return 0


def drawn(env, frames: int = 3, timeout: float = 20.0) -> dict:
    """Wait until the app has drawn `frames` frames after this call; its UI map then."""
    return read_map(env["LLMVIZ_UI_MAP"], frame_now(env), timeout, frames)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_share(pid: int, seconds: float) -> float:
    """The share of one core the process used over the next `seconds`."""
    before, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.monotonic() - start)


def read_map(path, after: int, timeout: float = 20.0, frames: int = 3) -> dict:
    """The UI map the app writes with LLMVIZ_UI_MAP set (ui/uimap.py), of a frame drawn at
    least `frames` frames after frame `after`: the last input has been seen and the panels
    settled."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError):
            data = None
        if data is not None and data["frame"] >= after + frames:
            return data
        time.sleep(0.05)
    pytest.fail(f"the window drew no new frame within {timeout:.0f} s (after frame {after})")
