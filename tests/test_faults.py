"""GL and window faults: no OpenGL 3.3 gives one clear line and exit 2, never a traceback; a
minimised window neither crashes nor spins."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest


def run(args, env=None, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "llmviz_desktop.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, **(env or {})),
    )


@pytest.mark.parametrize(
    "env",
    [
        {"MESA_GL_VERSION_OVERRIDE": "3.0"},  # the driver offers only OpenGL 3.0
        {"__EGL_VENDOR_LIBRARY_FILENAMES": "/nonexistent.json"},  # no EGL driver at all
    ],
)
def test_headless_without_opengl_3_3_exits_2_with_one_line(tmp_path, env):
    out = tmp_path / "x.png"
    result = run(["render", "--out", str(out)], env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "OpenGL 3.3" in lines[0]
    assert not out.exists()


def test_window_without_opengl_3_3_exits_2_with_one_line(tmp_path):
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.fail("Xvfb is not installed (apt-get install xvfb)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", "800x600x24"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        display = ":" + f.readline().strip()
    try:
        result = run(
            [],
            {
                "DISPLAY": display,
                "MESA_GL_VERSION_OVERRIDE": "3.0",
                "LLMVIZ_CONFIG_DIR": str(tmp_path / "c"),
                "LLMVIZ_STATE_DIR": str(tmp_path / "s"),
            },
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("llmviz:")]
    assert len(errors) == 1 and "OpenGL 3.3" in errors[0]


def test_minimised_window_draws_nothing_and_idles():
    """A 0x0 framebuffer: on_render returns without drawing and sleeps instead of spinning."""
    from llmviz_desktop.app import LlmvizWindow

    class Stub:
        def __init__(self):
            from llmviz_desktop.state import AppState, camera_preset, load_model

            m = load_model("nano-sort")
            self.state = AppState(
                m, camera_preset("overview", m.scene, 640, 360), width=0, height=0
            )

            class Input:
                def set_delta_time(self, dt):
                    pass

            self.input = Input()
            self._flight = None
            self.drawn = False

    stub = Stub()
    start = time.perf_counter()
    for _ in range(5):
        LlmvizWindow.on_render(stub, 0.0, 0.016)
    elapsed = time.perf_counter() - start
    assert elapsed >= 5 * 0.04  # it waited instead of spinning
