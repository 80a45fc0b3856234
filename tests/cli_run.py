"""Running the `llmviz` command in a subprocess, as a user's shell would."""

from __future__ import annotations

import os
import subprocess
import sys


def llmviz(*args: str, env: dict | None = None, timeout: float = 120):
    """`llmviz ARGS` with stdout and stderr captured as text; `env` adds variables to this
    process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "llmviz_desktop.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, **(env or {})),
    )
