"""How fast hostile checkpoint and tokenizer files are refused, and with how little memory: each
case is a sparse file whose header declares far more than it holds (or a tokenizer file over
the 64 MiB cap), loaded in a fresh interpreter that reports the refusal time and its peak
resident memory (VmHWM). tests/test_checkpoint_folders*.py used to time these; the tests now
check the memory (nothing allocated) and that nothing is read, and this prints the times.

    python bench/bench_refusals.py

Target: each refused in <= 500 ms with a peak under 200 MiB (numpy imported included).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from llmviz_desktop.model.config import GPTConfig
from llmviz_desktop.model.params import param_specs

GIB = 1 << 30

PROBE = textwrap.dedent(
    """
    import sys, time
    from llmviz_desktop.model.weights import WeightsError, load_checkpoint
    from llmviz_desktop.model.tokenizer import BPETokenizer, TokenizerError
    kind, path = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()
    try:
        load_checkpoint(path) if kind == "checkpoint" else BPETokenizer.from_dir(path)
        outcome = "LOADED"
    except (WeightsError, TokenizerError) as e:
        outcome = str(e)
    seconds = time.perf_counter() - t0
    peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
    print(f"{seconds:.6f} {peak:.1f}")
    print(outcome)
    """
)


def raw_safetensors(path: Path, header: dict, data_len: int) -> None:
    """A safetensors file with this header and `data_len` bytes of (sparse, zero) data."""
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        f.truncate(8 + len(text) + data_len)


def folder(root: Path, name: str, cfg: GPTConfig, header: dict, data_len: int) -> Path:
    d = root / name
    d.mkdir()
    (d / "config.json").write_text(json.dumps(cfg.to_hf_dict()))
    raw_safetensors(d / "model.safetensors", header, data_len)
    return d


def every_tensor(cfg: GPTConfig) -> dict:
    """Every tensor cfg implies, F32, laid end to end."""
    header, pos = {}, 0
    for spec in param_specs(cfg):
        n = 4 * math.prod(spec.shape)
        header[spec.name] = {
            "dtype": "F32",
            "shape": list(spec.shape),
            "data_offsets": [pos, pos + n],
        }
        pos += n
    return header


def cases(root: Path) -> list[tuple[str, str, Path]]:
    tiny = GPTConfig(name="tiny", n_layer=2, n_head=2, n_embd=8, vocab_size=7, block_size=6)
    xl = GPTConfig(n_layer=48, n_head=25, n_embd=1600, vocab_size=50257, block_size=1024)
    bf16 = {"dtype": "BF16", "shape": [1 << 19, 1 << 12], "data_offsets": [0, 4 * GIB]}
    short = {"dtype": "F32", "shape": [1 << 20, 1 << 16], "data_offsets": [0, 1 << 38]}
    out = [
        ("4 GiB bf16 tensor, wrong shape", "checkpoint",
         folder(root, "bf16", tiny, {"wte.weight": bf16}, 4 * GIB)),
        ("declares 256 GiB, holds 2 GiB", "checkpoint",
         folder(root, "short", tiny, {"wte.weight": short}, 2 * GIB)),
        ("GPT-2 XL shapes over 3 GiB", "checkpoint",
         folder(root, "xl", xl, every_tensor(xl), 3 * GIB)),
        ("offsets past the end", "checkpoint",
         folder(root, "offsets", tiny, every_tensor(tiny), 64)),
    ]  # fmt: skip
    for name in ("tokenizer.json", "vocab.json", "merges.txt"):
        d = root / f"tok-{name}"
        d.mkdir()
        (d / "vocab.json").write_text(json.dumps({"a": 0, "b": 1, "ab": 2}))
        (d / "merges.txt").write_text("#version: 0.2\na b\n")
        with open(d / name, "wb") as f:
            f.truncate((64 << 20) + 1)  # sparse: nothing is on disk
        out.append((f"{name} over 64 MiB", "tokenizer", d))
    return out


def main() -> int:
    print(f"{'case':<34} {'ms':>8} {'peak MiB':>9}  status  outcome")
    worst = True
    with tempfile.TemporaryDirectory() as tmp:
        for name, kind, path in cases(Path(tmp)):
            r = subprocess.run(
                [sys.executable, "-c", PROBE, kind, str(path)],
                capture_output=True,
                text=True,
                timeout=120,
            )
            if r.returncode != 0:
                print(f"{name:<34} probe failed: {r.stderr.strip()[-300:]}")
                worst = False
                continue
            figures, outcome = r.stdout.rstrip("\n").split("\n", 1)
            seconds, mib = map(float, figures.split())
            ok = outcome != "LOADED" and seconds <= 0.5 and mib < 200
            worst = worst and ok
            print(
                f"{name:<34} {seconds * 1e3:>8.1f} {mib:>9.0f}  {'PASS' if ok else 'MISS':<6}  "
                f"{outcome[:60]}"
            )
    return 0 if worst else 1


if __name__ == "__main__":
    sys.exit(main())
