"""Memory of opening a long training run for replay: N nano-sort checkpoints (hard links to the
shipped model, so the disk holds one copy), then open_replay and a few params_at calls, in a
fresh process each, reporting resident memory. Also a 64 MB one-line metrics.jsonl.

    python bench/bench_replay.py [--checkpoints 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from llmviz_desktop.resources import shipped_model_dir

PROBE = textwrap.dedent(
    """
    import resource, sys, time
    from llmviz_desktop.session.replay import open_replay

    def rss():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024

    before = rss()
    t = time.perf_counter()
    r = open_replay(sys.argv[1])
    opened = time.perf_counter() - t
    after_open = rss()
    n = len(r.steps)
    for s in (r.first, r.first + 0.5, r.steps[n // 2], r.steps[n // 2] + 0.25, r.last):
        r.params_at(s)
    r.metrics_at(r.last)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{n} {opened:.1f} {before:.1f} {after_open:.1f} {rss():.1f} {peak:.1f}")
    """
)


def make_run(root: Path, n: int) -> Path:
    src = shipped_model_dir("nano-sort")
    run = root / "run"
    run.mkdir()
    for i in range(1, n + 1):
        d = run / f"step-{i:06d}"
        d.mkdir()
        for name in ("config.json", "model.safetensors"):
            os.link(src / name, d / name)
    with open(run / "metrics.jsonl", "w") as f:
        f.write('{"step": 0, "loss": "')  # one 64 MB line, written in pieces: a child's
        for _ in range(64):  # peak memory starts from its parent's (Linux keeps it over exec)
            f.write("x" * (1 << 20))
        f.write('"}\n')
        for i in range(1, n + 1):
            f.write(json.dumps({"step": i, "loss": 1.0 / i}) + "\n")
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(Path(tmp), args.checkpoints)
        out = subprocess.run(
            [sys.executable, "-c", PROBE, str(run)], capture_output=True, text=True, check=True
        ).stdout.split()
    n, opened, before, after_open, after, peak = out
    print(f"checkpoints: {n}, metrics.jsonl with a 64 MB line and {n} rows")
    print(f"open_replay: {opened} s")
    print(f"resident memory: {before} MiB after imports, {after_open} MiB after open_replay,")
    print(f"  {after} MiB after 5 params_at calls; peak {peak} MiB")


if __name__ == "__main__":
    main()
