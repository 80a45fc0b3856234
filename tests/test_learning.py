"""Watching it learn: checkpoint replay, live training in the app state, video export."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from functools import partial

import numpy as np
import pytest
from cli_run import llmviz as run_llmviz
from xwindow import wait_until

from llmviz_desktop.model.config import GPTConfig, preset
from llmviz_desktop.model.params import init_params
from llmviz_desktop.model.weights import save_checkpoint
from llmviz_desktop.scene.framing import camera_preset
from llmviz_desktop.session.learning import Learning
from llmviz_desktop.session.loaded import load_model
from llmviz_desktop.session.replay import ReplayError, open_replay
from llmviz_desktop.session.state import AppState


def gif_duration_ms(path) -> float:
    from PIL import Image

    im = Image.open(path)
    total = 0
    for i in range(im.n_frames):
        im.seek(i)
        total += im.info["duration"]
    return total


llmviz = partial(run_llmviz, timeout=300)  # training runs and video exports take longer


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    result = llmviz(
        "train", "--out", str(out), "--steps", "60", "--checkpoint-every", "20", "--seed", "2"
    )
    assert result.returncode == 0, result.stderr
    return out


def test_interpolation_at_each_checkpoint_equals_it(run_dir):
    replay = open_replay(run_dir)
    assert replay.steps == [20, 40, 60] and replay.warnings == []
    for ckpt in replay.checkpoints:
        at = replay.params_at(ckpt.step)
        for name, value in ckpt.params.items():
            np.testing.assert_array_equal(at[name], value)
    a, b = replay.checkpoints[0].params, replay.checkpoints[1].params
    mid = replay.params_at(30)
    for name in a:  # halfway is the mean, up to float32 rounding
        np.testing.assert_allclose(mid[name], (a[name] + b[name]) / 2, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(replay.params_at(0)["wte.weight"], a["wte.weight"])
    assert replay.metrics_at(45)["step"] == 45


def test_corrupt_and_foreign_checkpoints_are_skipped_by_name(run_dir, tmp_path):
    d = tmp_path / "mixed"
    shutil.copytree(run_dir, d)
    weights = d / "step-000040" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated
    other = GPTConfig(
        n_layer=1, n_head=2, n_embd=8, vocab_size=3, block_size=11, vocab=("A", "B", "C")
    )
    save_checkpoint(d / "step-000050", other, init_params(other, 0))
    (d / "step-000070").mkdir()  # empty: no files at all
    replay = open_replay(d)
    assert replay.steps == [20, 60]
    text = " ".join(replay.warnings)
    for name in ("step-000040", "step-000050", "step-000070"):
        assert name in text
    assert "different model" in text
    with pytest.raises(ReplayError) as e:
        open_replay(tmp_path / "nothing-here")
    assert "nothing-here" in str(e.value)


def test_live_training_steps_lower_the_loss_and_change_the_scene():
    model = load_model("nano-sort")
    learning = Learning()
    learning.start_training(model)
    learning.training.pause()  # drive it step by step in the test
    learning.training.reset(seed=4)
    shown = learning.update(now=0.0, dt=0.0)
    assert shown is not None
    before = shown.params["h.0.mlp.c_fc.weight"].copy()
    learning.training.step_now(40)
    shown = learning.update(now=1.0, dt=0.0)
    assert shown is not None
    h = learning.training.history
    assert len(h.loss) == 40 and h.loss[-1] < 0.5 * h.loss[0]
    after = shown.params["h.0.mlp.c_fc.weight"]
    assert not np.array_equal(before, after)  # the scene shows the new weights
    learning.view = "gradients"
    shown = learning.update(now=2.0, dt=0.0)
    assert shown is not None and shown.display is not None
    assert np.array_equal(
        shown.display["wte.weight"], learning.training.snapshot().grads["wte.weight"]
    )
    assert learning.update(now=2.0, dt=0.0) is None  # nothing new: the home model stays


def test_background_training_keeps_running_and_pauses():
    from llmviz_desktop.session.training import LiveTraining

    t = LiveTraining(preset("nano-sort"), seed=1)
    t.start()
    wait_until(lambda: t.snapshot().step > 5, timeout=60, what="training steps")
    t.pause()
    time.sleep(0.2)
    n = t.snapshot().step
    time.sleep(0.3)
    assert n > 5 and t.snapshot().step == n  # it ran, and paused means paused
    t.stop()


@pytest.mark.gl
def test_lossless_export_decodes_to_exactly_the_rendered_frames(run_dir, tmp_path):
    from llmviz_desktop.app.headless import HeadlessSession
    from llmviz_desktop.cli.export import checkpoint_step
    from llmviz_desktop.export.video import decode_video
    from llmviz_desktop.session.loaded import with_params

    out = tmp_path / "t.mkv"
    result = llmviz(
        "export-video",
        "--checkpoints",
        str(run_dir),
        "--out",
        str(out),
        "--fps",
        "4",
        "--seconds-per-checkpoint",
        "0.5",
        "--size",
        "320x180",
    )
    assert result.returncode == 0, result.stderr
    video = decode_video(out)
    assert video.shape == (3 * 0.5 * 4, 180, 320, 3)  # frames = duration x fps
    # the same frames rendered directly
    replay = open_replay(run_dir)
    base = load_model(str(replay.checkpoints[0].path))
    session = HeadlessSession(320, 180)
    state = AppState.create(
        base, camera_preset("overview", base.scene, 320, 180, panels=False), width=320, height=180
    )
    state.view.show_ui = False
    state.view.colors.normalise = "global"
    try:
        for f in (0, 3, 5):
            step = checkpoint_step(replay, f, 4.0, 0.5)
            model = state.home = with_params(base, replay.params_at(step))
            m = replay.metrics_at(step)
            state.view.hud = (
                f"training step {step:,.0f} · loss {m['loss']:.4f} · "
                f"{model.input_text} -> {model.output_text}"
            )
            frame = session.render(state)[:, :, :3]
            np.testing.assert_array_equal(video[f], frame, err_msg=f"frame {f}")
    finally:
        session.release()


@pytest.mark.gl
@pytest.mark.parametrize("codec, suffix", [("x264rgb", ".mkv"), ("gif", ".gif"), ("png", "")])
def test_export_codecs_frame_counts(run_dir, tmp_path, codec, suffix):
    out = tmp_path / f"out{suffix}"
    result = llmviz(
        "export-video",
        "--checkpoints",
        str(run_dir),
        "--out",
        str(out),
        "--fps",
        "2",
        "--size",
        "160x96",
        "--codec",
        codec,
    )
    assert result.returncode == 0, result.stderr
    expected = 3 * 1 * 2
    if codec == "png":
        assert len(list(out.glob("*.png"))) == expected
    elif codec == "gif":
        assert gif_duration_ms(out) == pytest.approx(expected / 2 * 1000, abs=10)
    else:
        from llmviz_desktop.export.video import probe_frame_count

        assert probe_frame_count(out) == expected


@pytest.mark.gl
def test_ctrl_c_during_export_leaves_nothing(run_dir, tmp_path):
    out = tmp_path / "long.mkv"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llmviz_desktop.cli",
            "export-video",
            "--checkpoints",
            str(run_dir),
            "--out",
            str(out),
            "--fps",
            "30",
            "--seconds-per-checkpoint",
            "20",
            "--size",
            "320x180",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def exporting() -> bool:  # frames reach the hidden temp file (or the export has ended)
        temps = tmp_path.glob(f".{out.name}.{proc.pid}-*")
        return proc.poll() is not None or any(p.stat().st_size > 0 for p in temps)

    wait_until(exporting, timeout=120, interval=0.1, what="the export to start writing")
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "Traceback" not in stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no temp litter either


@pytest.mark.gl
def test_walkthrough_export_of_one_chapter(tmp_path):
    out = tmp_path / "overview.gif"
    result = llmviz(
        "export-video",
        "--walkthrough",
        "--chapter",
        "overview",
        "--out",
        str(out),
        "--fps",
        "1",
        "--size",
        "320x180",
    )
    assert result.returncode == 0, result.stderr
    from PIL import Image

    from llmviz_desktop.walkthrough.chapters import load_chapters

    duration = load_chapters().by_id("overview").duration
    # Pillow merges identical consecutive frames into one longer one: the total time is exact
    assert gif_duration_ms(out) == pytest.approx(round(duration) * 1000, abs=10)
    assert Image.open(out).n_frames > 1


def test_export_needs_a_source(tmp_path):
    result = llmviz("export-video", "--out", str(tmp_path / "x.mkv"))
    assert result.returncode == 2 and "--checkpoints" in result.stderr
    result = llmviz(
        "export-video", "--checkpoints", str(tmp_path / "none"), "--out", str(tmp_path / "x.mkv")
    )
    assert result.returncode == 2 and "none" in result.stderr


def test_opened_folders_become_recent_latest_first(run_dir, tmp_path):
    """What the panel's 'recent' list and the settings keep: each folder opened, latest first,
    once; a folder that fails to open is not remembered."""
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    model = load_model("nano-sort")
    learning = Learning(recent=["/gone/earlier"])
    for folder in (run_dir, other, run_dir):
        learning.open(str(folder), model)
    assert learning.recent == [str(run_dir), str(other), "/gone/earlier"]
    learning.open(str(tmp_path / "missing"), model)
    assert learning.recent[0] == str(run_dir) and learning.message


def test_change_view_shows_the_weights_minus_those_at_the_start():
    """The default weight view while learning (issue 14): params - the weights at the start
    of training, so a learner sees what moves; the legend says what is shown."""
    model = load_model("nano-sort")
    learning = Learning()
    assert learning.view == "change"
    learning.start_training(model)
    t = learning.training
    t.pause()
    t.reset(seed=4)
    first = learning.update(now=0.0, dt=0.0)
    assert first is not None and first.display is None  # no step yet: the weights
    assert learning.legend(first) == "weights"
    start = {k: v.copy() for k, v in t.snapshot().params.items()}
    t.step_now(5)
    shown = learning.update(now=1.0, dt=0.0)
    assert shown is not None and shown.display is not None
    for name in ("wte.weight", "h.0.mlp.c_fc.weight"):
        np.testing.assert_allclose(shown.display[name], shown.params[name] - start[name])
    assert np.abs(shown.display["h.0.mlp.c_fc.weight"]).max() > 0
    assert learning.legend(shown) == "weight change since step 0"
    assert learning.legend(shown, short=True) == "change"
    assert learning.legend(model) == "weights"  # another model: its own weights
    learning.reset_training(seed=4)  # a fresh run: the change is measured from its start
    t.step_now(2)
    shown = learning.update(now=2.0, dt=0.0)
    fresh = learning.training.snapshot().params
    assert learning.origin is not None and learning.origin[1] == 0
    np.testing.assert_allclose(
        shown.display["wte.weight"], fresh["wte.weight"] - learning.origin[2]["wte.weight"]
    )
    t.stop()


def test_replay_change_is_measured_from_the_first_checkpoint(run_dir):
    learning = Learning()
    learning.open(str(run_dir), load_model("nano-sort"))
    learning.replay_step = 50.0
    shown = learning.update(now=0.0, dt=0.0)
    replay = learning.replay
    first = replay.checkpoints[0].params
    expected = replay.params_at(50.0)
    for name in ("wte.weight", "h.1.attn.c_attn.weight"):
        np.testing.assert_allclose(
            shown.display[name], expected[name] - first[name], rtol=1e-6, atol=1e-7
        )
    assert learning.legend(shown) == "weight change since step 20"


def test_loss_plot_keeps_a_zero_loss_on_its_floor():
    from llmviz_desktop.ui.training_panel import LOSS_FLOOR, loss_axis

    floor, shown = loss_axis(np.array([1.1, 0.3, 2e-3, 0.0]))
    assert LOSS_FLOOR <= floor < 2e-3 and shown[-1] == floor and shown[0] == 1.1
    floor, shown = loss_axis(np.array([0.0, 0.0]))  # all zero: on the floor, not blank
    assert floor == LOSS_FLOOR and (shown == LOSS_FLOOR).all()
    floor, _ = loss_axis(np.array([1e-9, 1.0]))  # tinier than the floor: clamped to it
    assert floor == LOSS_FLOOR
