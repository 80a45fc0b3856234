"""A video export killed with SIGKILL leaves a `.partial` temp; the next export to the same
target removes it (issue 12, item 7), and an export still running keeps its own."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import numpy as np

from llmviz_desktop.export.video import export_frames

EXPORTER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np
    from llmviz_desktop.export.video import export_frames

    def frames():
        for i in range(3):
            yield np.full((16, 16, 3), i * 40, np.uint8)
        print("halfway", flush=True)
        time.sleep(60)  # killed here, mid-export

    export_frames(frames(), Path(sys.argv[1]), 10, "gif")
    """
)


def test_a_killed_exports_partial_is_removed_by_the_next_export(tmp_path):
    out = tmp_path / "clip.gif"
    p = subprocess.Popen([sys.executable, "-c", EXPORTER, str(out)], stdout=subprocess.PIPE)
    try:
        assert p.stdout.readline().strip() == b"halfway"
        p.send_signal(signal.SIGKILL)
        p.wait()
    finally:
        p.kill()
    left = [x.name for x in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".clip.gif.") and left[0].endswith(".partial")
    assert f".{p.pid}-" in left[0]  # the temp names its writer

    export_frames((np.zeros((16, 16, 3), np.uint8) for _ in range(2)), out, 10, "gif")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["clip.gif"]
