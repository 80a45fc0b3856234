"""The `llmviz` command line, run as a user would: in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from cli_run import llmviz

from llmviz_desktop.model.weights import load_checkpoint


def assert_usage_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_help_documents_every_command():
    result = llmviz("--help")
    assert result.returncode == 0
    for command in ("infer", "train", "params"):
        assert command in result.stdout
    for command, options in {
        "infer": ["--input", "--model", "--temperature", "--top-k", "--seed", "--json"],
        "train": ["--out", "--steps", "--batch-size", "--lr", "--seed", "--checkpoint-every"],
        "params": ["--model"],
    }.items():
        text = llmviz(command, "--help").stdout
        for option in options:
            assert option in text, (command, option)


def test_infer_sorts_the_example():
    result = llmviz("infer", "--input", "CBABBC")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ABBBCC"


def test_infer_json_fields():
    result = llmviz("infer", "--input", "CBABBC", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["input"] == "CBABBC"
    assert report["output"] == "ABBBCC"
    logits = np.array(report["logits"])
    assert logits.shape == (6, 3)  # one row per input position, one column per token
    assert len(report["steps"]) == 6
    for i, step in enumerate(report["steps"]):
        assert step["position"] == 6 + i
        assert step["token"] == "ABBBCC"[i]
        assert abs(sum(step["probs"]) - 1) < 1e-6
        assert step["token"] == "ABC"[int(np.argmax(step["probs"]))]  # greedy
    # the first step's distribution is the softmax of the last logits row
    last = logits[-1]
    expected = np.exp(last - last.max()) / np.exp(last - last.max()).sum()
    np.testing.assert_allclose(report["steps"][0]["probs"], expected, rtol=1e-5)


def test_infer_sampling_is_seeded():
    # the shipped model is very confident: only a hot temperature makes it deviate
    args = ("infer", "--input", "CABBAC", "--temperature", "40", "--json")
    a = json.loads(llmviz(*args, "--seed", "1").stdout)
    b = json.loads(llmviz(*args, "--seed", "1").stdout)
    assert a == b
    outputs = {json.loads(llmviz(*args, "--seed", str(s)).stdout)["output"] for s in range(4)}
    assert len(outputs) > 1  # a hot temperature really samples
    top1 = json.loads(llmviz(*args, "--seed", "4", "--top-k", "1").stdout)
    assert top1["output"] == "AABBCC"  # top-k 1 is greedy whatever the temperature


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("infer", "--input", "ABXD"), "'D', 'X' not in the vocabulary"),
        (("infer", "--input", ""), "--input is empty"),
        (("infer", "--input", "ABCABCA"), "at most 6"),
        (("infer", "--input", "ABC", "--model", "gpt-5"), "gpt-5"),
        (("infer", "--input", "ABC", "--model", "/no/such/dir"), "/no/such/dir"),
        (("infer", "--input", "ABC", "--model", "gpt2"), "render-only"),
        (("infer", "--input", "ABC", "--temperature", "-1"), "--temperature"),
        (("infer", "--input", "ABC", "--top-k", "0"), "--top-k"),
        (("infer",), "--input"),
        (("params", "--model", "unknown"), "unknown"),
        (("train", "--out", "x", "--steps", "0"), "--steps"),
        (("train", "--out", "x", "--steps", "-5"), "--steps"),
        (("train", "--out", "x", "--lr", "0"), "--lr"),
        (("train", "--out", "x", "--batch-size", "zero"), "--batch-size"),
        (("frobnicate",), "frobnicate"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, fragment):
    assert_usage_error(llmviz(*args), fragment)


def test_app_with_a_missing_model_exits_2_before_opening_a_window():
    assert_usage_error(llmviz("--model", "/no/such/model"), "/no/such/model")


def test_params_json_matches_published_gpt3_figures():
    report = json.loads(llmviz("params", "--model", "gpt3", "--json").stdout)
    assert report["matrices_total"] == 175_181_291_520
    kinds = {k["kind"]: k for k in report["kinds"]}
    assert kinds["mlp_up"]["per_layer"] == 603_979_776
    table = llmviz("params", "--model", "gpt3").stdout
    assert "175,181,291,520" in table and "603,979,776" in table


def test_train_writes_checkpoints_and_metrics(tmp_path):
    out = tmp_path / "run"
    result = llmviz(
        "train", "--out", str(out), "--steps", "30", "--checkpoint-every", "10", "--seed", "3"
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "metrics.jsonl",
        "step-000010",
        "step-000020",
        "step-000030",
    ]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 31))
    for r in rows:
        assert {"step", "loss", "accuracy", "lr"} <= set(r)
        assert r["lr"] == 5e-4
    assert rows[-1]["loss"] < rows[0]["loss"]
    cfg, params = load_checkpoint(out / "step-000030")
    assert cfg.name == "nano-sort" and cfg.vocab == ("A", "B", "C")
    # same seed, same weights: training is deterministic
    again = tmp_path / "again"
    llmviz("train", "--out", str(again), "--steps", "10", "--seed", "3")
    _, p1 = load_checkpoint(out / "step-000010")
    _, p2 = load_checkpoint(again / "step-000010")
    for name in p1:
        np.testing.assert_array_equal(p1[name], p2[name])


def test_train_refuses_a_non_empty_directory(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    assert_usage_error(llmviz("train", "--out", str(tmp_path), "--steps", "5"), "not empty")
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_ctrl_c_keeps_written_checkpoints(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmviz_desktop.cli", "train", "--out", str(out)]
        + ["--steps", "100000", "--checkpoint-every", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(out.glob("step-*"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted" in stdout
    steps = sorted(out.glob("step-*"))
    assert len(steps) >= 2
    for step in steps:  # every checkpoint there is complete and loads
        load_checkpoint(step)
    assert not [p for p in os.listdir(out) if p.startswith(".")]  # no temp litter
