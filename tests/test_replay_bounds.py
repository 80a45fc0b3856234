"""Replay of a training run under hostile or very long runs (issue 12, item 5): metrics rows of
the wrong type are skipped with a warning naming the file, and neither thousands of checkpoints
nor an oversized metrics.jsonl make memory grow with the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tracemalloc

import pytest

from llmviz_desktop.resources import shipped_model_dir
from llmviz_desktop.session import replay as replay_module
from llmviz_desktop.session.learning import Learning
from llmviz_desktop.session.loaded import load_model
from llmviz_desktop.session.replay import ReplayError, open_replay

NANO = shipped_model_dir("nano-sort")


def make_run(root, n: int, metrics_lines: list[str] | None = None):
    """n nano-sort checkpoints as hard links to the shipped one (one copy on disk; a test
    that damages one must unlink it first, never write through the link)."""
    run = root / "run"
    run.mkdir()
    for i in range(1, n + 1):
        d = run / f"step-{i:06d}"
        d.mkdir()
        for name in ("config.json", "model.safetensors"):
            os.link(NANO / name, d / name)
    if metrics_lines is not None:
        (run / "metrics.jsonl").write_text("\n".join(metrics_lines) + "\n")
    return run


BAD_ROWS = {
    2: '{"step": 2, "loss": "abc"}',
    3: '{"step": 3, "loss": [1, 2]}',
    4: '{"step": "4", "loss": 0.1}',
    5: '{"step": 5, "loss": true}',
    6: '{"step": 6, "loss": Infinity}',
    7: '{"step": 7, "loss": 1' + "0" * 400 + "}",
    8: '{"step": 8, "accuracy": {"a": 1}}',
    9: '{"step": 9.0, "loss": 0.2}',
}


def test_metrics_rows_of_a_wrong_type_are_skipped_with_one_warning_naming_the_file(tmp_path):
    lines = ['{"step": 1, "loss": 0.5, "accuracy": 0.25}', *BAD_ROWS.values()]
    lines.append('{"step": 10, "loss": 0.125, "sorted": 700}')
    run = make_run(tmp_path, 2, lines)
    r = open_replay(run)
    assert r.warnings == []
    for step in range(1, 10):  # no bad row is ever shown: the last good one before it is
        assert r.metrics_at(step) == {"step": 1, "loss": 0.5, "accuracy": 0.25}
    assert r.metrics_at(10) == {"step": 10, "loss": 0.125, "sorted": 700}
    assert r.metrics_at(0) is None
    assert [m["step"] for m in r.metrics] == [1, 10]
    (warning,) = r.metrics_warnings
    assert warning.startswith(str(run / "metrics.jsonl") + ": ")
    assert "skipped 8 rows with a wrong type" in warning and "line 2:" in warning
    assert '"loss" is a string' in warning and len(warning.splitlines()) == 1

    # the app: opening the run and playing it shows the good loss and the warning, no crash
    # (before, formatting "abc" as a loss raised ValueError in the frame loop)
    model = load_model("nano-sort")
    learning = Learning()
    learning.open(str(run), model)
    assert "metrics.jsonl: skipped 8 rows with a wrong type" in learning.message
    for step in (1.0, 1.5, 2.0):
        learning.replay_step = step
        shown = learning.update(now=step, dt=0.0)
        assert shown is not None and shown.label.endswith("loss 0.5000"), shown


def test_a_row_without_a_loss_is_shown_without_one(tmp_path):
    run = make_run(tmp_path, 2, ['{"step": 1}', '{"step": 2, "lr": 0.001}'])
    model = load_model("nano-sort")
    learning = Learning()
    learning.open(str(run), model)
    learning.replay_step = 2.0
    shown = learning.update(now=0.0, dt=0.0)  # before: KeyError 'loss'
    assert shown is not None and shown.label == "replay: step 2"
    assert learning.replay.metrics_at(2) == {"step": 2, "lr": 0.001}


def test_an_oversized_metrics_line_is_skipped_in_bounded_memory(tmp_path):
    run = make_run(tmp_path, 1)
    with open(run / "metrics.jsonl", "w") as f:
        f.write('{"step": 0, "loss": 0.75}\n{"step": 1, "note": "')
        for _ in range(32):  # a 32 MB line
            f.write("x" * (1 << 20))
        f.write('"}\n{"step": 1, "loss": 0.5}\n')
    tracemalloc.start()
    try:
        r = open_replay(run)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"peak {peak / 2**20:.1f} MiB reading a 32 MB line"
    assert r.metrics == [{"step": 0, "loss": 0.75}, {"step": 1, "loss": 0.5}]
    (warning,) = r.metrics_warnings
    assert warning == f"{run / 'metrics.jsonl'}: skipped 1 row too long (line 2: over 64 KB)"


def test_metrics_rows_kept_are_bounded_and_a_later_row_for_a_step_wins(tmp_path, monkeypatch):
    monkeypatch.setattr(replay_module, "MAX_METRIC_ROWS", 100)
    lines = [json.dumps({"step": s, "loss": s / 1000}) for s in range(1000)]
    lines.append(json.dumps({"step": 500, "loss": 9.0}))  # a resumed run rewrote step 500
    run = make_run(tmp_path, 1, lines)
    r = open_replay(run)
    rows = r.metrics
    assert len(rows) <= 100 and rows[0]["step"] == 0 and rows[-1]["step"] == 999
    for row in rows:  # every row kept is a true row of the file
        assert row["loss"] == (9.0 if row["step"] == 500 else row["step"] / 1000)
    for step in (0, 1.5, 250, 777.7, 5000):
        m = r.metrics_at(step)
        assert m["step"] <= step and m["step"] == max(x["step"] for x in rows if x["step"] <= step)
    assert any("every few are shown" in w for w in r.metrics_warnings)


PROBE = textwrap.dedent(
    """
    import sys
    from llmviz_desktop.session.replay import open_replay

    def rss():
        with open("/proc/self/status") as f:
            return next(int(x.split()[1]) for x in f if x.startswith("VmRSS")) / 1024

    before = rss()
    r = open_replay(sys.argv[1])
    for s in (r.first, r.first + 0.5, r.steps[len(r.steps) // 2] + 0.25, r.last):
        r.params_at(s)
    print(len(r.steps), rss() - before)
    """
)


def test_a_run_of_many_checkpoints_opens_in_bounded_memory(tmp_path):
    """400 checkpoints of 346 KB each: before, every one was copied into memory (+140 MiB);
    now none is kept, only the few being interpolated (5,000 measured in bench_replay.py)."""
    run = make_run(tmp_path, 400)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(run)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    n, grown = out.stdout.split()
    assert int(n) == 400
    assert float(grown) < 24, f"resident memory grew {grown} MiB opening 400 checkpoints"


def test_a_checkpoint_removed_after_opening_is_skipped_then_with_a_warning(tmp_path):
    run = make_run(tmp_path, 3)
    r = open_replay(run)
    first = r.params_at(1)
    (run / "step-000002" / "model.safetensors").unlink()
    broken = run / "step-000003" / "model.safetensors"
    broken.unlink()  # a hard link to the shipped model: never write through it
    broken.write_bytes(b"junk")
    at = r.params_at(2.5)  # step 2 is gone, step 3 broken: the first checkpoint, clamped
    assert r.steps == [1]
    assert all((at[k] == first[k]).all() for k in first)
    assert [w.split(":")[0] for w in r.warnings] == ["skipped step-000002", "skipped step-000003"]
    (run / "step-000001" / "model.safetensors").unlink()
    assert r.params_at(1) is not None  # still in the small cache of loaded checkpoints
    r._cache.clear()  # as if scrubbing elsewhere had pushed it out
    with pytest.raises(ReplayError, match="no usable checkpoint left"):
        r.params_at(1)
