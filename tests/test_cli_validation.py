"""Hostile command-line options (issue 12, items 3 and 8a): every refusal is one stderr line,
exit 2, naming the option and the accepted range, before any work, progress bar or file; tiny or
huge temperatures give finite distributions and strict JSON; a diverging training run stops and
keeps what was good; `infer` reads Hugging Face GPT-2 folders and reports render's own logits."""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_run import llmviz
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cli import assert_usage_error
from test_gpt2_checkpoint import write_checkpoint

from llmviz_desktop.cli.main import WINDOW_BACKENDS, installed_window_backends
from llmviz_desktop.model.train import logits_finite
from llmviz_desktop.model.weights import load_checkpoint, resolve_model, save_checkpoint
from llmviz_desktop.session.loaded import load_model

DEEP = '{"target": [[[[[0]]]], 0, 0]}'


def strict_json(text: str):
    """json.loads that refuses NaN, Infinity and -Infinity (not JSON, though Python writes them)."""

    def bad(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=bad)


# ---- render ----------------------------------------------------------------------------------

RENDER_REFUSALS = {
    "frames over 10,000": (["--frames", "10001"], "--frames", "1 to 10,000"),
    "frames 0": (["--frames", "0"], "--frames", "1 to 10,000"),
    "camera text of 5,000 characters": (["--camera", "{" + " " * 4999], "--camera", "4096"),
    "camera preset name of 5,000 characters": (["--camera", "x" * 5000], "--camera", "4096"),
    "camera JSON nested 5 deep": (["--camera", DEEP], "--camera", "at most 4"),
    "camera JSON nested 4,000 deep": (["--camera", "[" * 4000], "--camera", "at most 4"),
    "camera distance 1e308": (
        ["--camera", '{"distance": 1e308}'],
        "--camera",
        "distance 1e+308",
        "0.01 to",
        "1000 x the model's extent",
    ),
    "camera distance 1e-300": (["--camera", '{"distance": 1e-300}'], "--camera", "0.01 to"),
    "camera distance overflowing to inf": (["--camera", '{"distance": 1e400}'], "distance"),
    "camera distance NaN": (["--camera", '{"distance": NaN}'], "--camera", "distance"),
    "camera target far away": (
        ["--camera", '{"target": [0, 1e300, 0]}'],
        "--camera",
        "target",
        "100 x its extent",
    ),
    "camera yaw 1e300": (["--camera", '{"yaw": 1e300}'], "--camera", "yaw", "-360 to 360"),
    "camera pitch -1000": (["--camera", '{"pitch": -1000}'], "--camera", "pitch", "-90 to 90"),
    "camera fov 1e308": (["--camera", '{"fov": 1e308}'], "--camera", "fov", "1 and 170"),
    "camera unknown preset": (["--camera", "sideways"], "--camera", "overview, front"),
    "camera JSON array": (["--camera", "[1, 2]"], "--camera", "JSON object"),
    "empty input": (["--input", ""], "--input", "empty"),
}


@pytest.mark.parametrize("name", list(RENDER_REFUSALS))
def test_render_refuses_before_drawing_or_writing(tmp_path, name):
    args, *fragments = RENDER_REFUSALS[name]
    out = tmp_path / "shot.png"
    result = llmviz("render", "--out", str(out), "--size", "64x64", *args, timeout=60)
    assert_usage_error(result, "llmviz render", *fragments)
    assert "Warning" not in result.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.gl
def test_render_accepts_a_camera_the_presets_could_give(tmp_path):
    """The ranges leave room for every preset: the overview camera of a tall narrow image is
    ~190 model extents away, its target ~11 extents off the model."""
    cam = json.dumps({"target": [0, -1200, 0], "distance": 2.6e5, "yaw": -350, "pitch": 89.5})
    out = tmp_path / "far.png"
    result = llmviz("render", "--out", str(out), "--size", "64x64", "--camera", cam)
    assert result.returncode == 0, result.stderr
    assert out.is_file() and result.stderr == ""


# ---- infer -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", ["-1", str(2**128), "1.5", "1" * 5000])
def test_infer_and_train_refuse_seeds_outside_numpys_range(tmp_path, seed):
    result = llmviz("infer", "--input", "CBA", "--temperature", "1", "--seed", seed)
    assert_usage_error(result, "llmviz infer", "--seed", "0 to 2**128-1")
    out = tmp_path / "run"
    result = llmviz("train", "--out", str(out), "--steps", "1", "--seed", seed)
    assert_usage_error(result, "llmviz train", "--seed", "0 to 2**128-1")
    assert not out.exists()


def test_infer_accepts_the_largest_seed():
    result = llmviz("infer", "--input", "CBA", "--temperature", "1", "--seed", str(2**128 - 1))
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip()) == 6


@pytest.mark.parametrize("temperature", ["5e-324", "1e-300", "1e-30", "1e30", "1.7e308"])
@pytest.mark.parametrize("top_k", [None, "2"])
def test_infer_extreme_temperatures_give_strict_json_and_no_nan(temperature, top_k):
    args = ["infer", "--input", "CBABBC", "--json", "--temperature", temperature, "--seed", "3"]
    result = llmviz(*args, *(["--top-k", top_k] if top_k else []))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no RuntimeWarning from an overflowing division
    report = strict_json(result.stdout)
    for step in report["steps"]:
        probs = np.array(step["probs"])
        assert np.isfinite(probs).all() and abs(probs.sum() - 1) < 1e-12
        if float(temperature) < 1e-20:  # as cold as it gets: the argmax with certainty
            assert probs.max() == 1.0
        elif float(temperature) > 1e20:  # as hot as it gets: uniform over the kept tokens
            kept = probs[probs > 0]
            assert len(kept) == (int(top_k) if top_k else 3) and np.ptp(kept) < 1e-12
    if float(temperature) < 1e-20:
        assert report["output"] == "ABBBCC"  # the greedy answer


def test_infer_refuses_weights_that_overflow_instead_of_printing_nan(tmp_path):
    cfg, params = resolve_model("nano-sort")
    params = {k: np.array(v) for k, v in params.items()}
    params["lm_head.weight"] *= np.float32(3e37)  # finite, but the logits overflow float32
    save_checkpoint(tmp_path / "huge", cfg, params)
    for extra in ([], ["--json"]):
        result = llmviz("infer", "--model", str(tmp_path / "huge"), "--input", "CBA", *extra)
        assert_usage_error(result, "llmviz infer", "--model", "NaN or inf")
        assert result.stdout == ""


@pytest.fixture(scope="module")
def gpt2_folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("hf")
    write_checkpoint(base / "tokenizer-json", "json")
    write_checkpoint(base / "vocab-merges", "vocab+merges")
    return base / "tokenizer-json", base / "vocab-merges"


@pytest.mark.parametrize("which", [0, 1], ids=["tokenizer.json", "vocab.json+merges.txt"])
def test_infer_on_a_hugging_face_gpt2_folder_reports_renders_logits(gpt2_folders, which):
    folder, text = gpt2_folders[which], "the quick brown fox"
    plain = llmviz("infer", "--model", str(folder), "--input", text)
    assert plain.returncode == 0, plain.stderr
    result = llmviz("infer", "--model", str(folder), "--input", text, "--json")
    assert result.returncode == 0, result.stderr
    report = strict_json(result.stdout)
    shown = load_model(str(folder), text)  # what render and the app trace and draw
    n = len(report["logits"])
    assert n == len(shown.tokenizer.encode(text))
    assert np.array_equal(np.array(report["logits"]), shown.trace.logits[0, :n])
    assert report["output"] == shown.output_text == plain.stdout.rstrip("\n")
    assert len(report["steps"]) == 4  # as many new tokens as the app generates
    assert all(len(s["probs"]) == shown.config.vocab_size for s in report["steps"])


# ---- train -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--lr", "nan"], ["--lr", "> 0"]),
        (["--lr", "inf"], ["--lr", "> 0"]),
        (["--lr", "-1"], ["--lr", "> 0"]),
        (["--batch-size", str(10**12)], ["--batch-size", "expected 1 to", "memory"]),
    ],
)
def test_train_refusals_leave_out_as_it_was(tmp_path, args, fragments):
    out = tmp_path / "new" / "run"
    result = llmviz("train", "--out", str(out), "--steps", "1", *args)
    assert_usage_error(result, "llmviz train", *fragments)
    assert os.listdir(tmp_path) == []


def test_train_batch_size_bound_follows_the_memory_limit(tmp_path):
    """Under `ulimit -v` the bound shrinks and the message says where it comes from."""
    out = tmp_path / "run"
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30)); "
        "from llmviz_desktop.cli.main import main; sys.exit(main(sys.argv[1:]))"
    )
    args = ["train", "--out", str(out), "--steps", "1", "--batch-size", "100000"]
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert_usage_error(r, "--batch-size 100,000", "ulimit -v")
    limit = int(r.stderr.split("expected 1 to ")[1].split(" ")[0].replace(",", ""))
    assert 100 < limit < 10_000  # 3 GiB minus the interpreter, ~300 KiB a sequence
    assert not out.exists()


def _stderr_lines(result) -> list[str]:
    """stderr without the progress bar's redraws (tqdm separates them with carriage returns)."""
    text = result.stderr.replace("\r", "\n")
    return [ln for ln in text.splitlines() if ln.strip() and "training nano-sort" not in ln]


def test_train_with_a_huge_lr_stops_at_the_first_nan_and_can_be_rerun(tmp_path):
    out = tmp_path / "a" / "run"
    result = llmviz("train", "--out", str(out), "--steps", "500", "--lr", "1e30")
    assert result.returncode == 1, result.stderr
    lines = _stderr_lines(result)
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("llmviz train: stopped: the loss became nan at step 2")
    assert "--lr 1e+30" in lines[0] and "left as it was" in lines[0]
    assert os.listdir(tmp_path) == []  # nothing kept, so nothing written
    again = llmviz("train", "--out", str(out), "--steps", "2", "--lr", "1e-3")
    assert again.returncode == 0, again.stderr
    assert sorted(os.listdir(out)) == ["metrics.jsonl", "step-000002"]


def test_train_that_diverges_later_keeps_its_last_good_checkpoint(tmp_path):
    out = tmp_path / "run"
    args = ["--steps", "300", "--lr", "100", "--checkpoint-every", "2"]
    result = llmviz("train", "--out", str(out), *args)
    assert result.returncode == 1, result.stderr
    lines = _stderr_lines(result)
    assert len(lines) == 1 and "stopped:" in lines[0] and "last good: step-" in lines[0]
    kept = sorted(p.name for p in out.iterdir() if p.name.startswith("step-"))
    assert kept and lines[0].endswith(f"(last good: {kept[-1]})")
    rows = [strict_json(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert all(math.isfinite(r["loss"]) for r in rows)
    assert rows[-1]["step"] < 300 and [r["step"] for r in rows] == list(range(1, len(rows) + 1))
    cfg, params = load_checkpoint(out / kept[-1])
    assert logits_finite(cfg, params)  # the kept checkpoint still computes


def test_refused_run_into_an_existing_empty_folder_leaves_it_empty(tmp_path):
    result = llmviz("train", "--out", str(tmp_path), "--steps", "50", "--lr", "1e30")
    assert result.returncode == 1
    assert tmp_path.is_dir() and os.listdir(tmp_path) == []


# ---- export-video ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "run"
    result = llmviz("train", "--out", str(out), "--steps", "2", "--checkpoint-every", "1")
    assert result.returncode == 0, result.stderr
    return out


EXPORT_REFUSALS = {
    "fps 0": (["--fps", "0"], "--fps", "0.1 to 120"),
    "fps 1000": (["--fps", "1000"], "--fps", "0.1 to 120"),
    "fps nan": (["--fps", "nan"], "--fps", "0.1 to 120"),
    "seconds per checkpoint 1e9": (
        ["--seconds-per-checkpoint", "1e9"],
        "--seconds-per-checkpoint",
        "0.01 to 600",
    ),
    "seconds per checkpoint 0": (["--seconds-per-checkpoint", "0"], "--seconds-per-checkpoint"),
    "144,000 frames": (
        ["--fps", "120", "--seconds-per-checkpoint", "600"],
        "--fps 120",
        "144,000 frames",
        "1 to 100,000",
    ),
    "gif at 60 fps": (["--fps", "60", "--codec", "gif"], "--fps 60", "50"),
    "camera far away": (["--camera", '{"distance": 1e30}'], "--camera", "distance"),
    "camera nested": (["--camera", DEEP], "--camera", "at most 4"),
}


@pytest.mark.parametrize("name", list(EXPORT_REFUSALS))
def test_export_video_refuses_before_rendering(tmp_path, run_dir, name):
    args, *fragments = EXPORT_REFUSALS[name]
    suffix = ".gif" if "gif" in args else ".mkv"
    out = tmp_path / f"video{suffix}"
    result = llmviz(
        "export-video", "--checkpoints", str(run_dir), "--out", str(out), "--size", "64x64", *args
    )
    assert_usage_error(result, "llmviz export-video", *fragments)
    assert result.stdout == "" and os.listdir(tmp_path) == []


# ---- the app's --window ----------------------------------------------------------------------


def test_window_offers_only_installed_backends():
    installed = installed_window_backends()
    helptext = " ".join(llmviz("--help").stdout.split())
    assert f"installed here: {', '.join(installed)}" in helptext
    for name in WINDOW_BACKENDS:
        if name in installed:
            continue  # would open the app
        result = llmviz("--window", name)
        assert_usage_error(result, "--window", f"'{name}' is not installed", *installed)
    assert_usage_error(llmviz("--window", "nonsense"), "'nonsense' is unknown")


def test_finding_window_backends_imports_no_gui_toolkit():
    code = (
        "import sys; from llmviz_desktop.cli.main import build_parser; build_parser(); "
        "print(sorted(m for m in ('glfw', 'pyglet', 'pygame', 'sdl2', 'PyQt5', 'PySide2', "
        "'tkinter') if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


# ---- fuzz: --camera JSON of any numbers ------------------------------------------------------

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from([10**400, -(10**400), 2**1024]),  # JSON integers no float holds
    st.sampled_from([0, 1e-300, 5e-324, 1e308, -1e308, 89.9, 90.5, 360, 361, 0.01, 2.6e6, 3e6]),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
)
CAMERA_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "target": st.one_of(st.lists(NUMBERS, min_size=0, max_size=4), NUMBERS),
        "distance": NUMBERS,
        "yaw": NUMBERS,
        "pitch": NUMBERS,
        "fov": NUMBERS,
        "roll": NUMBERS,
    },
)


@functools.cache
def nano_scene():
    return load_model("nano-sort").scene


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(fields=CAMERA_FIELDS)
def test_fuzz_camera_json_is_refused_in_one_line_or_draws_finite_numbers(fields):
    """Any --camera object: refused with one line (at parse time or against the model's size),
    or a camera whose view of the model projects to finite pixels without a numpy warning."""
    import argparse

    from llmviz_desktop.cli.main import _camera_text
    from llmviz_desktop.cli.render import camera_for
    from llmviz_desktop.scene.camera import CameraError

    scene = nano_scene()
    text = json.dumps(fields)  # NaN, Infinity and 400-digit integers included
    try:
        _camera_text(text)
        camera = camera_for(text, scene, 320, 180)
    except (argparse.ArgumentTypeError, CameraError) as e:
        assert str(e) and "\n" not in str(e)
        return
    lo, hi = (np.asarray(b, float) for b in scene.bounds)
    points = np.array([camera.target, (lo + hi) / 2, lo, hi])
    ahead = (points - camera.eye()) @ camera.forward() > camera.clip_planes()[0]
    with np.errstate(all="raise"):
        assert np.isfinite(camera.eye()).all()
        assert np.isfinite(camera.view_projection(320, 180)).all()
        assert np.isfinite(camera.project(points[ahead], 320, 180)).all()
