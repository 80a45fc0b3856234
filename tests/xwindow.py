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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


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
    """Settings and logs go under `home`, not to the user's folders."""
    return dict(
        os.environ,
        DISPLAY=display,
        LLMVIZ_CONFIG_DIR=str(home / "config"),
        LLMVIZ_STATE_DIR=str(home / "state"),
    )


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
            time.sleep(2.0)  # first frames: model, shaders, fonts
            return out.stdout.split()[0]
        time.sleep(0.2)
    pytest.fail("the llmviz window did not appear within 60 s")


def screenshot(env) -> np.ndarray:
    require("import")
    time.sleep(1.0)  # camera flights (0.6 s) finish; then a few frames at 60 fps
    png = subprocess.run(
        ["import", "-window", "root", "png:-"], env=env, capture_output=True, timeout=30
    ).stdout
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_share(pid: int, seconds: float) -> float:
    """The share of one core the process used over the next `seconds`."""
    before, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.monotonic() - start)


def read_map(path, after: int, timeout: float = 20.0) -> dict:
    """The UI map the app writes with LLMVIZ_UI_MAP set (ui/uimap.py), of a frame drawn at
    least 3 frames after frame `after`: the last input has been seen and the panels settled."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError):
            data = None
        if data is not None and data["frame"] >= after + 3:
            return data
        time.sleep(0.05)
    pytest.fail(f"the window drew no new frame within {timeout:.0f} s (after frame {after})")
