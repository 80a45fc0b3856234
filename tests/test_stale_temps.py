"""Killed writes leave nothing behind for long (issue 12, item 7): the temp file of a writer
killed with SIGKILL is removed by the next writer to the same place, and the temp file of a
writer still running is never touched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from llmviz_desktop.model.atomic import LEGACY_STALE_S, atomic_write, make_temp, sweep_stale

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from llmviz_desktop.model.atomic import atomic_write

    def write(tmp):
        Path(tmp).write_bytes(b"half of a report")
        print(tmp, flush=True)
        time.sleep(60)  # killed (or stopped) here, mid-write

    atomic_write(Path(sys.argv[1]), write)
    """
)


def start_writer(target: Path) -> tuple[subprocess.Popen, Path]:
    """A process inside atomic_write(target), stopped halfway; returns it and its temp file."""
    p = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True
    )
    line = p.stdout.readline().strip()
    assert line, "the writer did not start"
    return p, Path(line)


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_killed_writers_temp_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "report.json"
    p, temp = start_writer(target)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert temp.exists() and temp.parent == tmp_path and temp.name.startswith(".report.json.")
    assert f".{p.pid}-" in temp.name  # the temp names its writer

    atomic_write(target, lambda t: Path(t).write_text("{}"))
    assert sorted(x.name for x in tmp_path.iterdir()) == ["report.json"]
    assert target.read_text() == "{}"


def test_a_running_writers_temp_is_kept(tmp_path):
    target = tmp_path / "settings.json"
    p, temp = start_writer(target)
    try:
        atomic_write(target, lambda t: Path(t).write_text("{}"))  # a second writer, at once
        assert temp.exists() and temp.read_bytes() == b"half of a report"
        assert sweep_stale(tmp_path) == [] and temp.exists()
    finally:
        p.kill()
        p.wait()
    assert sweep_stale(tmp_path) == [temp] and not temp.exists()


def test_sweep_removes_exactly_the_stale_checkpoint_and_export_temps(tmp_path):
    """The names save_checkpoint (a folder, `.step-N.….tmp`) and video export
    (`.NAME.….partial`, a file or a PNG folder) use, by writers dead, alive, or of unknown
    liveness (no process id: older versions), next to files that only look similar."""
    dead, live = dead_pid(), os.getpid()
    old = time.time() - LEGACY_STALE_S - 60

    def folder(name: str, mtime: float | None = None) -> Path:
        p = tmp_path / name
        p.mkdir()
        (p / "model.safetensors").write_bytes(b"x" * 100)
        if mtime is not None:
            os.utime(p, (mtime, mtime))
        return p

    def file(name: str, mtime: float | None = None) -> Path:
        p = tmp_path / name
        p.write_bytes(b"x")
        if mtime is not None:
            os.utime(p, (mtime, mtime))
        return p

    stale = [
        folder(f".step-000050.{dead}-k2j_4h5g.tmp"),  # killed checkpoint save
        file(f".run.mkv.{dead}-0a1b2c3d.partial"),  # killed video export
        folder(f".frames.{dead}-0a1b2c3d.partial"),  # killed PNG export
        folder(".step-000100.k2j4h5g6.tmp", old),  # older version, an hour ago
        file(".run.gif.deadbeef.partial", old),
    ]
    kept = [
        folder(f".step-000150.{live}-abcdefgh.tmp"),  # a save in progress (this process)
        file(f".run.mkv.{live}-0a1b2c3d.partial"),
        folder(".step-000200.k2j4h5g6.tmp"),  # older version, just now: may be running
        folder(".step-000050.old"),  # a previous checkpoint moved aside: never swept
        folder(f".frames.{dead}-0a1b2c3d.old"),
        file("notes.tmp", old),  # not hidden temp names
        file(f".notes.{dead}.tmp", old),
        file(f"step-000050.{dead}-k2j_4h5g.tmp", old),
        folder("step-000050"),
        file("metrics.jsonl"),
    ]
    removed = sweep_stale(tmp_path)
    assert sorted(removed) == sorted(stale)
    assert sorted(tmp_path.iterdir()) == sorted(kept)
    assert sweep_stale(tmp_path / "no-such-folder") == []


def test_a_reused_pid_does_not_keep_a_stale_temp(tmp_path):
    """The writer died and its process id now belongs to a process started after the temp
    was last written: that process is not the writer."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        t = tmp_path / f".out.mp4.{p.pid}-0a1b2c3d.partial"
        t.write_bytes(b"x")
        os.utime(t, (time.time() - 3600, time.time() - 3600))
        assert sweep_stale(tmp_path) == [t]
    finally:
        p.kill()
        p.wait()


@pytest.mark.parametrize("folder", [False, True])
def test_make_temp_names_its_process_and_target(tmp_path, folder):
    t = make_temp(tmp_path / "out.mkv", ".partial", folder=folder)
    assert t.parent == tmp_path and t.is_dir() == folder
    assert t.name.startswith(f".out.mkv.{os.getpid()}-") and t.name.endswith(".partial")
    assert sweep_stale(tmp_path) == []  # its writer (this process) is alive
