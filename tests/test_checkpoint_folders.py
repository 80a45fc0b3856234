"""Checkpoint folders as users hand them over (issue 12, item 4).

- a safetensors file with ~1,100 tensors loads under a 256-descriptor limit (one mapping);
- declared tensor sizes are checked against the real file before anything is allocated: a
  sparse multi-GB file is refused in well under a second and 200 MB;
- `params` reads only the header; tokenizer files over 64 MiB are refused unread;
- a tokenizer.json that would make the Rust library allocate without bound (which aborts the
  process) is refused with one line; an abort in the library is never silent;
- config keys that change the arithmetic (scale_attn_weights, scale_attn_by_inverse_layer_idx,
  activation_function, n_inner, add_cross_attention, ...) are computed exactly as Hugging
  Face's GPT-2 does (checked against an independent float64 reference written here) or refused;
- a folder named *.bin / *.ckpt is a folder; unreadable files and folders give the true reason;
- a character vocabulary with multi-character tokens is refused at load.
"""

from __future__ import annotations

import builtins
import errno
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmviz_desktop.model.config import ConfigError, GPTConfig
from llmviz_desktop.model.counts import count_params
from llmviz_desktop.model.gpt import forward
from llmviz_desktop.model.params import init_params
from llmviz_desktop.model.tokenizer import BPETokenizer, TokenizerError
from llmviz_desktop.model.weights import (
    WeightsError,
    load_checkpoint,
    read_safetensors,
    resolve_config,
    save_checkpoint,
)

SRC = str(Path(__file__).resolve().parents[1] / "src")
GIB = 1 << 30


def run_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter (this checkout's sources first on the path)."""
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("RUST_BACKTRACE", None)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def one_line(e: BaseException, *needles: str) -> str:
    msg = str(e)
    assert msg.strip() and "\n" not in msg and "\r" not in msg, repr(msg)
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"
    return msg


def tiny_cfg(**changes) -> GPTConfig:
    kwargs = dict(name="tiny", n_layer=2, n_head=2, n_embd=8, vocab_size=7, block_size=6)
    kwargs.update(changes)
    return GPTConfig(**kwargs)


def varied_params(cfg: GPTConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """Every tensor matters: non-zero biases, non-unit gains, weights big enough that attention
    is far from uniform and the activation is in its curved range."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, value in init_params(cfg, seed, np.float64).items():
        if value.ndim == 1:
            base = 1.0 if name.endswith(".weight") else 0.0
            out[name] = base + rng.normal(0.0, 0.3, value.shape)
        else:
            out[name] = rng.normal(0.0, 1.0 / math.sqrt(value.shape[0]), value.shape)
    return out


def write_dir(directory: Path, config: dict, tensors: dict[str, np.ndarray]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    safetensors.numpy.save_file(
        {k: np.ascontiguousarray(v) for k, v in tensors.items()},
        str(directory / "model.safetensors"),
    )
    return directory


def raw_file(path: Path, header: dict, data_bytes: int | None = None) -> None:
    """A hand-written safetensors file whose data region is left sparse (truncate) at
    `data_bytes` long (default: what the header declares)."""
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    if data_bytes is None:
        data_bytes = max((v["data_offsets"][1] for v in header.values()), default=0)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        f.truncate(8 + len(text) + data_bytes)


# ---- 1. one mapping, not one descriptor per tensor -------------------------------------------


def many_tensor_dir(tmp_path: Path) -> tuple[Path, GPTConfig]:
    cfg = GPTConfig(n_layer=92, n_head=1, n_embd=4, vocab_size=5, block_size=4)
    params = init_params(cfg, 0)  # 2 + 92 * 12 + 2 + 1 = 1,109 tensors
    assert len(params) >= 1100
    return write_dir(tmp_path / "many", cfg.to_hf_dict(), params), cfg


def test_1100_tensors_load_under_a_256_descriptor_limit(tmp_path):
    """Before: one np.memmap (one duplicated descriptor) per tensor: 'Too many open files'."""
    d, _ = many_tensor_dir(tmp_path)
    out = run_python(
        f"""
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        import numpy as np
        from llmviz_desktop.model.weights import load_checkpoint
        from llmviz_desktop.model.gpt import forward
        cfg, params = load_checkpoint({str(d)!r})
        logits = forward(cfg, params, np.array([[0, 1, 2, 3]])).logits
        print(len(params), bool(np.isfinite(logits).all()))
        """
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["1109", "True"]


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_loaded_checkpoint_holds_one_descriptor_and_stays_memory_mapped(tmp_path):
    d, cfg = many_tensor_dir(tmp_path)
    before = open_descriptors()
    _, params = load_checkpoint(d)
    assert open_descriptors() - before <= 1
    raw = read_safetensors(d / "model.safetensors")
    assert len(raw) == len(params) and open_descriptors() - before <= 2
    for a in (params["h.91.mlp.c_fc.weight"], raw["wte.weight"]):
        base = a
        while base is not None and not isinstance(base, np.memmap):
            base = base.base
        assert isinstance(base, np.memmap), "not a view of the file mapping"
        assert not a.flags.writeable
    for name, value in init_params(cfg, 0).items():
        assert np.array_equal(params[name], value), name


# ---- 2. declared sizes against the real file, before anything is allocated -------------------

MEASURE = """
import json, resource, time
from llmviz_desktop.model.weights import WeightsError, load_checkpoint
t0 = time.perf_counter()
try:
    load_checkpoint({d!r})
    result = "loaded"
except WeightsError as e:
    result = str(e)
seconds = time.perf_counter() - t0
# VmHWM: this process's peak (ru_maxrss would keep the forking pytest's across exec)
peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
print(json.dumps({{"seconds": seconds, "peak_mib": peak, "result": result}}))
"""


def measured_load(d: Path, limit_as: int | None = None) -> dict:
    """load_checkpoint in a fresh interpreter: time, peak resident memory (VmHWM, the whole
    process with numpy imported) and the outcome. With `limit_as`, under that address-space
    limit, so that a runaway allocation fails instead of taking the machine's memory."""
    prefix = ""
    if limit_as:
        prefix = f"import resource\nresource.setrlimit(resource.RLIMIT_AS, ({limit_as},) * 2)\n"
    out = run_python(prefix + MEASURE.format(d=str(d)), timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    m = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{d.name}: {m['seconds'] * 1000:.1f} ms, peak {m['peak_mib']:.1f} MiB: {m['result']}")
    return m


def test_sparse_4_gib_bf16_file_whose_shapes_do_not_fit_the_config(tmp_path):
    """The header declares a 4 GiB bfloat16 tensor and the (sparse) file really is that long.
    Before: every bfloat16 tensor was widened to float32 before the shapes were compared (49 s
    and 20 GB without a limit). Now the shape is refused from the header alone."""
    d = tmp_path / "sparse"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(tiny_cfg().to_hf_dict()))
    info = {"dtype": "BF16", "shape": [1 << 19, 1 << 12], "data_offsets": [0, 4 * GIB]}
    raw_file(d / "model.safetensors", {"wte.weight": info})
    m = measured_load(d, limit_as=3 * GIB)
    assert "wte.weight" in m["result"] and "[524288, 4096]" in m["result"], m
    assert m["peak_mib"] < 200, m  # refused before allocating (time: bench/bench_refusals.py)


def test_sparse_file_declaring_more_data_than_it_holds(tmp_path):
    d = tmp_path / "short"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(tiny_cfg().to_hf_dict()))
    info = {"dtype": "F32", "shape": [1 << 20, 1 << 16], "data_offsets": [0, 1 << 38]}
    raw_file(d / "model.safetensors", {"wte.weight": info}, data_bytes=2 * GIB)
    m = measured_load(d)
    assert "wte.weight" in m["result"] and "holds only" in m["result"], m
    assert m["peak_mib"] < 200, m  # refused before allocating (time: bench/bench_refusals.py)


def test_conversion_beyond_available_memory_is_refused_before_allocating(tmp_path):
    """A complete (sparse) bfloat16 checkpoint whose float32 copy cannot fit: refused with the
    figures before anything is mapped or allocated, not a MemoryError halfway through."""
    cfg = GPTConfig(n_layer=1, n_head=1, n_embd=4096, vocab_size=1 << 17, block_size=4)
    d = tmp_path / "bf16"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(cfg.to_hf_dict()))
    small = GPTConfig(n_layer=1, n_head=1, n_embd=8, vocab_size=1, block_size=1)
    header, offset = {}, 0
    for name, value in init_params(small, 0).items():  # the names, with the big shapes
        big = {"wte.weight": [1 << 17, 4096], "wpe.weight": [4, 4096]}
        big["lm_head.weight"] = [1 << 17, 4096]
        shape = big.get(name, [s * 512 for s in value.shape])
        n = 2 * math.prod(shape)
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw_file(d / "model.safetensors", header)
    m = measured_load(d, limit_as=2 * GIB)
    assert "needs" in m["result"] and "GiB" in m["result"] and "available" in m["result"], m
    assert m["peak_mib"] < 200, m  # refused before allocating (time: bench/bench_refusals.py)


# ---- 3. params reads only the header ----------------------------------------------------------


def test_params_reads_the_header_only(tmp_path):
    """The data region is cut away entirely: the header still gives the configuration and its
    counts (a full load refuses the file)."""
    cfg = tiny_cfg(n_layer=3)
    d = write_dir(tmp_path / "ckpt", cfg.to_hf_dict(), init_params(cfg, 0))
    path = d / "model.safetensors"
    n = int.from_bytes(path.read_bytes()[:8], "little")
    os.truncate(path, 8 + n)
    got = resolve_config(str(d))
    assert got == cfg
    assert count_params(got).total == count_params(cfg).total
    with pytest.raises(WeightsError):
        load_checkpoint(d)


def test_params_still_checks_the_header_against_the_config(tmp_path):
    cfg = tiny_cfg()
    d = write_dir(tmp_path / "ckpt", tiny_cfg(n_layer=3).to_hf_dict(), init_params(cfg, 0))
    with pytest.raises(WeightsError) as e:
        resolve_config(str(d))
    one_line(e.value, str(d / "model.safetensors"), "missing tensor 'h.2.ln_1.weight'")


# ---- 4. tokenizer files over 64 MiB are refused before reading --------------------------------


def tokenizer_json() -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(alphabet)}
    vocab["he"] = len(vocab)
    tok = Tokenizer(models.BPE(vocab, [("h", "e")]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return tok.to_str()


def bytes_read() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


@pytest.mark.parametrize("name", ["tokenizer.json", "vocab.json", "merges.txt"])
def test_tokenizer_file_over_64_mib_is_refused_unread(tmp_path, name):
    """A valid file padded with spaces to 65 MiB (which the library would read and accept)."""
    d = tmp_path / "tok"
    d.mkdir()
    (d / "vocab.json").write_text(json.dumps({"h": 0, "e": 1, "he": 2}))
    (d / "merges.txt").write_text("#version: 0.2\nh e\n")
    if name == "tokenizer.json":
        (d / name).write_text(tokenizer_json())
    content = (d / name).read_bytes()
    with open(d / name, "wb") as f:  # the content, then spaces up to 65 MiB
        f.write(content)
        for _ in range(65):
            f.write(b" " * (1 << 20))
        f.truncate(65 << 20)
    before = bytes_read()
    with pytest.raises(TokenizerError) as e:
        BPETokenizer.from_dir(d)
    one_line(e.value, str(d / name), "too large", "68,157,440 bytes")
    assert bytes_read() - before < 1 << 20, "the file was read"


# ---- 5. a Rust abort in `tokenizers` is never silent -----------------------------------------


def replaced(tok: dict, **parts) -> str:
    doc = dict(tok)
    doc.update(parts)
    return json.dumps(doc)


def _bombs() -> dict[str, dict]:
    grow = {"type": "Replace", "pattern": {"String": "a"}, "content": "a" * 100}
    bytelevel = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True}
    bytelevel["use_regex"] = False
    grow_h = {"type": "Replace", "pattern": {"String": "h"}, "content": "h" * 40}
    added = {"id": 300, "content": "a", "single_word": False, "lstrip": False}
    added |= {"rstrip": False, "normalized": True, "special": False}
    return {
        "replace normalizers": {"normalizer": {"type": "Sequence", "normalizers": [grow] * 20}},
        "byte-level pre-tokenizers": {
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [bytelevel] * 24}
        },
        "replace decoders": {"decoder": {"type": "Sequence", "decoders": [grow_h] * 20}},
        "normalized added token": {
            "normalizer": {"type": "Sequence", "normalizers": [grow] * 20},
            "added_tokens": [added],
        },
    }


BOMBS = _bombs()


@pytest.mark.parametrize("name", list(BOMBS))
def test_tokenizer_json_that_would_abort_the_process_is_one_line(tmp_path, name):
    """Before, each of these made the tokenizers library allocate without bound: under a 2 GiB
    address-space limit the process died of SIGABRT with nothing printed (the panic silencing
    had sent Rust's message to /dev/null); without a limit, it ate the machine's memory."""
    d = tmp_path / "tok"
    d.mkdir()
    (d / "tokenizer.json").write_text(replaced(json.loads(tokenizer_json()), **BOMBS[name]))
    out = run_python(
        f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        from llmviz_desktop.model.tokenizer import BPETokenizer, TokenizerError
        try:
            tok = BPETokenizer.from_dir({str(d)!r})
            ids = tok.encode("hello aaaa")
            print("usable", len(ids), len(tok.decode(ids)), len(tok.piece(int(ids[0]))))
        except TokenizerError as e:
            print("refused:", e)
        """,
        timeout=60,
    )
    assert out.returncode == 0, f"rc {out.returncode}; stderr {out.stderr[-500:]!r}"
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("refused: "), out.stdout
    assert str(d / "tokenizer.json") in lines[0] and "at most 256" in lines[0]


def test_ordinary_normalizers_and_decoders_are_accepted(tmp_path):
    """What real tokenizers use stays inside the bound (Llama-style Prepend + Replace, NFKC +
    Lowercase before GPT-2's byte-level pre-tokenizer, a Replace / ByteFallback decoder)."""
    rep = {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}
    normalizers = [{"type": "Prepend", "prepend": "\u2581"}, rep]
    normalizers += [{"type": "NFKC"}, {"type": "Lowercase"}]
    decoders = [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}]
    decoders += [{"type": "ByteFallback"}, {"type": "Fuse"}]
    parts = {
        "normalizer": {"type": "Sequence", "normalizers": normalizers},
        "decoder": {"type": "Sequence", "decoders": decoders},
    }
    d = tmp_path / "tok"
    d.mkdir()
    (d / "tokenizer.json").write_text(replaced(json.loads(tokenizer_json()), **parts))
    tok = BPETokenizer.from_dir(d)
    assert len(tok.encode("hello world")) > 0


def test_an_abort_inside_the_library_is_reported_not_silent():
    """Were the library to abort anyway (while its stderr is silenced), the process still says
    so on the real stderr, with where it happened. Before: nothing at all."""
    out = run_python(
        """
        import os
        from llmviz_desktop.model.tokenizer import _rust_panics_quiet
        with _rust_panics_quiet():
            os.abort()
        """
    )
    assert out.returncode != 0
    assert "Fatal Python error: Aborted" in out.stderr, out.stderr
    assert "most recent call first" in out.stderr and "line 5" in out.stderr


# ---- 6. config keys that change the arithmetic: exact, or refused -----------------------------


def ref_forward(
    cfg: GPTConfig, p: dict, tokens: np.ndarray, act: str, scale_weights: bool, inverse: bool
) -> np.ndarray:
    """Hugging Face GPT2LMHeadModel in plain float64 loops (one sequence): pre-LN blocks,
    scores = q·k [/ sqrt(D)] [/ (layer + 1)], causal softmax, the named activation (ACT2FN),
    ln_f, tied or untied unembedding."""
    T, C, H = len(tokens), cfg.n_embd, cfg.n_head
    D = C // H
    eps = cfg.layer_norm_epsilon

    def ln(x, prefix):
        mu = x.mean()
        var = ((x - mu) ** 2).mean()
        return (x - mu) / math.sqrt(var + eps) * p[f"{prefix}.weight"] + p[f"{prefix}.bias"]

    def f(x: float) -> float:
        if act in ("gelu_new", "gelu_pytorch_tanh"):
            return 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
        if act == "gelu":
            return 0.5 * x * (1 + math.erf(x / math.sqrt(2)))
        if act == "relu":
            return max(x, 0.0)
        assert act in ("silu", "swish"), act
        return x / (1 + math.exp(-x))

    x = [p["wte.weight"][tokens[t]] + p["wpe.weight"][t] for t in range(T)]
    for i in range(cfg.n_layer):
        pre = f"h.{i}"
        a = [ln(x[t], f"{pre}.ln_1") for t in range(T)]
        W, b = p[f"{pre}.attn.c_attn.weight"], p[f"{pre}.attn.c_attn.bias"]
        qkv = [a[t] @ W + b for t in range(T)]
        y = [np.zeros(C) for _ in range(T)]
        for h in range(H):
            q = [qkv[t][h * D : (h + 1) * D] for t in range(T)]
            k = [qkv[t][C + h * D : C + (h + 1) * D] for t in range(T)]
            v = [qkv[t][2 * C + h * D : 2 * C + (h + 1) * D] for t in range(T)]
            for t in range(T):
                s = []
                for tk in range(t + 1):
                    score = float(np.dot(q[t], k[tk]))
                    if scale_weights:
                        score /= math.sqrt(D)
                    if inverse:
                        score /= i + 1
                    s.append(score)
                m = max(s)
                w = [math.exp(z - m) for z in s]
                y[t][h * D : (h + 1) * D] = sum(w[j] / sum(w) * v[j] for j in range(t + 1))
        W, b = p[f"{pre}.attn.c_proj.weight"], p[f"{pre}.attn.c_proj.bias"]
        x = [x[t] + y[t] @ W + b for t in range(T)]
        for t in range(T):
            u = ln(x[t], f"{pre}.ln_2") @ p[f"{pre}.mlp.c_fc.weight"] + p[f"{pre}.mlp.c_fc.bias"]
            g = np.array([f(float(z)) for z in u])
            x[t] = x[t] + g @ p[f"{pre}.mlp.c_proj.weight"] + p[f"{pre}.mlp.c_proj.bias"]
    W = p["wte.weight"] if cfg.tie_word_embeddings else p["lm_head.weight"]
    return np.array([ln(x[t], "ln_f") @ W.T for t in range(T)])


def hf_dir(tmp_path: Path, name: str = "ckpt", seed: int = 0, **keys) -> tuple[Path, GPTConfig]:
    """A checkpoint folder with a Hugging Face style config.json (plus `keys`) and float64
    weights (so the comparison with the reference is exact to float64 rounding)."""
    cfg = tiny_cfg(tie_word_embeddings=True)
    config = cfg.to_hf_dict()
    del config["activation_function"], config["bias"], config["tie_word_embeddings"]
    config.update(keys)
    return write_dir(tmp_path / name, config, varied_params(cfg, seed)), cfg


TOKENS = np.array([0, 3, 6, 1, 2, 5])


def check_against_reference(d: Path, act: str, scale_weights: bool, inverse: bool):
    cfg, params = load_checkpoint(d, dtype=np.float64)
    got = forward(cfg, params, TOKENS, dtype=np.float64).logits[0]
    expected = ref_forward(cfg, params, TOKENS, act, scale_weights, inverse)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
    return got


ARITHMETIC = [
    ({"scale_attn_weights": False}, "gelu_new", False, False),
    ({"scale_attn_by_inverse_layer_idx": True}, "gelu_new", True, True),
    ({"scale_attn_weights": False, "scale_attn_by_inverse_layer_idx": True}, "gelu_new", 0, 1),
    ({"activation_function": "gelu"}, "gelu", True, False),
    ({"activation_function": "gelu_pytorch_tanh"}, "gelu_pytorch_tanh", True, False),
    ({"activation_function": "relu"}, "relu", True, False),
    ({"activation_function": "silu"}, "silu", True, False),
    ({"activation_function": "swish"}, "silu", True, False),
    ({"reorder_and_upcast_attn": True}, "gelu_new", True, False),  # precision only
    ({"n_inner": 32, "layer_norm_epsilon": 0.01}, "gelu_new", True, False),  # 4 * n_embd
    ({}, "gelu_new", True, False),
]


@pytest.mark.parametrize("keys, act, scale_weights, inverse", ARITHMETIC, ids=str)
def test_arithmetic_keys_match_an_independent_reference(
    tmp_path, keys, act, scale_weights, inverse
):
    d, _ = hf_dir(tmp_path, **keys)
    check_against_reference(d, act, bool(scale_weights), bool(inverse))


def test_scale_attn_weights_false_changes_the_logits(tmp_path):
    """Before, the key was silently ignored: logits far from what the model computes."""
    plain, _ = hf_dir(tmp_path, "plain")
    unscaled, _ = hf_dir(tmp_path, "unscaled", scale_attn_weights=False)
    a = check_against_reference(plain, "gelu_new", True, False)
    b = check_against_reference(unscaled, "gelu_new", False, False)
    assert np.abs(a - b).max() > 1e-2


def test_exact_gelu_differs_from_the_tanh_form_and_survives_a_save(tmp_path):
    d, _ = hf_dir(tmp_path, activation_function="gelu")
    cfg, params = load_checkpoint(d, dtype=np.float64)
    assert cfg.activation == "gelu"
    erf_logits = forward(cfg, params, TOKENS, dtype=np.float64).logits
    tanh_logits = forward(cfg.replace(activation="gelu_new"), params, TOKENS, np.float64).logits
    assert np.abs(erf_logits - tanh_logits).max() > 1e-7
    again, _ = load_checkpoint(save_checkpoint(tmp_path / "saved", cfg, params))
    assert again.activation == "gelu"


def test_erf_gelu_is_exact_in_float64():
    """The vectorised erf (numpy has none) against math.erfc, over the whole range, including
    the far negative tail where 1 + erf(x/√2) would cancel to 0."""
    from llmviz_desktop.model.gpt import activation

    x = np.concatenate(
        [np.linspace(-40, 40, 40001), -np.geomspace(1e-300, 40, 2000)]
        + [np.geomspace(1e-300, 40, 2000), [0.0]]
    )
    got = activation("gelu", x)
    ref = np.array([v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in x.tolist()])
    err = np.abs(got - ref)
    core = np.abs(x) <= 3  # where the curve is drawn: a few ulps of the argument x/√2
    tail = (~core) & (np.abs(ref) > 1e-290)  # exp(-x²/2) of the tail: still 12 digits
    with np.errstate(under="ignore"):  # the bounds are products of tiny numbers
        assert np.all(err[core] <= 1e-14 * np.maximum(np.abs(ref[core]), 1e-300) + 1e-320)
        assert np.all(err[tail] <= 1e-12 * np.abs(ref[tail]))
        assert np.all(err[np.abs(ref) <= 1e-290] <= 1e-290)
    x32 = np.linspace(-40, 40, 1001, dtype=np.float32)
    got32 = activation("gelu", x32)
    assert got32.dtype == np.float32
    with np.errstate(under="ignore"):  # the far tail rounds to float32 zero, as it should
        assert np.array_equal(got32, activation("gelu", x32.astype(np.float64)).astype(x32.dtype))


REFUSED = [
    ({"activation_function": "quick_gelu"}, "activation_function"),
    ({"activation_function": "gelu_fast"}, "activation_function"),
    ({"activation_function": ["gelu"]}, "activation_function"),
    ({"n_inner": 16}, "n_inner"),
    ({"n_inner": 32.0}, "n_inner"),
    ({"add_cross_attention": True}, "add_cross_attention"),
    ({"pruned_heads": {"0": [1]}}, "pruned_heads"),
    ({"scale_attn_weights": "no"}, "scale_attn_weights"),
    ({"scale_attn_by_inverse_layer_idx": 1}, "scale_attn_by_inverse_layer_idx"),
    ({"reorder_and_upcast_attn": "yes"}, "reorder_and_upcast_attn"),
]


@pytest.mark.parametrize("keys, needle", REFUSED, ids=str)
def test_arithmetic_keys_not_implemented_are_refused(tmp_path, keys, needle):
    d, _ = hf_dir(tmp_path, **keys)
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    one_line(e.value, str(d / "config.json"), needle)


def test_training_refuses_an_activation_it_cannot_differentiate():
    from llmviz_desktop.model.train import TrainConfig, Trainer

    with pytest.raises(ConfigError) as e:
        Trainer(tiny_cfg(activation="gelu"), TrainConfig())
    one_line(e.value, "gelu")


@pytest.mark.parametrize(
    "changes", [{"scale_attn_weights": False}, {"scale_attn_by_inverse_layer_idx": True}]
)
def test_backward_follows_the_attention_scale(changes):
    """The backward pass's gradients against central differences for the scaled variants."""
    from llmviz_desktop.model.backward import backward
    from llmviz_desktop.model.gpt import cross_entropy

    cfg = tiny_cfg(**changes)
    params = varied_params(cfg, 3)
    tokens = TOKENS[None, :]
    targets = np.array([[1, 2, 3, 4, 5, 6]])

    def loss(p):
        return cross_entropy(forward(cfg, p, tokens, np.float64).logits, targets)[0]

    trace = forward(cfg, params, tokens, np.float64)
    _, dlogits = cross_entropy(trace.logits, targets)
    grads = backward(trace, params, dlogits)
    for name in ("h.1.attn.c_attn.weight", "h.0.attn.c_attn.bias"):
        flat = params[name].reshape(-1)
        for i in range(0, flat.size, max(flat.size // 7, 1)):
            keep = flat[i]
            flat[i] = keep + 1e-6
            up = loss(params)
            flat[i] = keep - 1e-6
            down = loss(params)
            flat[i] = keep
            assert grads[name].reshape(-1)[i] == pytest.approx((up - down) / 2e-6, abs=1e-7)


ACTS = ["gelu_new", "gelu_pytorch_tanh", "gelu", "relu", "silu", "swish"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    act=st.sampled_from([*ACTS, "quick_gelu", "tanh", "", None, 1]),
    scale=st.sampled_from([True, False, None, 0, "false"]),
    inverse=st.sampled_from([True, False, None, 1]),
    reorder=st.sampled_from([True, False, None, "x"]),
    n_inner=st.sampled_from([None, 32, 16, 33, "32", True]),
    cross=st.sampled_from([None, False, True, 0]),
    seed=st.integers(0, 3),
)
def test_fuzz_arithmetic_keys(tmp_path, act, scale, inverse, reorder, n_inner, cross, seed):
    """Any combination of the arithmetic keys: the logits of the independent reference, or a
    one-line refusal naming config.json."""
    keys = {
        "activation_function": act,
        "scale_attn_weights": scale,
        "scale_attn_by_inverse_layer_idx": inverse,
        "reorder_and_upcast_attn": reorder,
        "add_cross_attention": cross,
    }
    keys = {k: v for k, v in keys.items() if v is not None}
    keys["n_inner"] = n_inner
    name = f"f{abs(hash(json.dumps(keys, sort_keys=True)))}-{seed}"
    if (tmp_path / name).exists():
        return
    d, _ = hf_dir(tmp_path, name, seed, **keys)
    try:
        cfg, params = load_checkpoint(d, dtype=np.float64)
    except WeightsError as e:
        one_line(e, str(d / "config.json"))
        return
    act_name = keys.get("activation_function", "gelu_new")
    assert act_name in ACTS
    got = forward(cfg, params, TOKENS, dtype=np.float64).logits[0]
    expected = ref_forward(
        cfg,
        params,
        TOKENS,
        act_name,
        keys.get("scale_attn_weights", True),
        keys.get("scale_attn_by_inverse_layer_idx", False),
    )
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


# ---- 7. a folder is a folder, whatever its name ends in ---------------------------------------


@pytest.mark.parametrize("suffix", [".bin", ".ckpt", ".pt", ".pth", ".pkl"])
def test_folder_with_a_pickle_like_name_is_a_folder(tmp_path, suffix):
    d, cfg = hf_dir(tmp_path, "model" + suffix)
    got, params = load_checkpoint(d)
    assert got == cfg.replace(name=got.name) and "wte.weight" in params
    assert resolve_config(str(d)).n_layer == cfg.n_layer


# ---- 8. unreadable files and folders: the true reason ----------------------------------------


def deny(monkeypatch, path: Path) -> None:
    """As root (where chmod 000 does not stop reads), give the kernel's answer for an
    unreadable `path`: opening it (or anything inside it), listing it, and looking up its
    entries are permission denied; its own stat still works, as it does for chmod 000."""
    denied = str(path)

    def inside(p) -> bool:
        return not isinstance(p, int) and os.fsdecode(p).startswith(denied + os.sep)

    def hit(p) -> bool:
        return not isinstance(p, int) and (os.fsdecode(p) == denied or inside(p))

    def refuse(p):
        raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(p))

    real_open, real_stat, real_listdir, real_bopen = os.open, os.stat, os.listdir, builtins.open
    monkeypatch.setattr(
        os, "open", lambda p, *a, **k: refuse(p) if hit(p) else real_open(p, *a, **k)
    )
    monkeypatch.setattr(
        os, "stat", lambda p, *a, **k: refuse(p) if inside(p) else real_stat(p, *a, **k)
    )
    monkeypatch.setattr(os, "listdir", lambda p=".": refuse(p) if hit(p) else real_listdir(p))
    monkeypatch.setattr(
        builtins, "open", lambda p, *a, **k: refuse(p) if hit(p) else real_bopen(p, *a, **k)
    )


@pytest.fixture
def unreadable(monkeypatch):
    """make(path): chmod 000 as an ordinary user; the same answers simulated as root."""
    restore: list[tuple[Path, int]] = []

    def make(path: Path) -> None:
        if os.geteuid() == 0:
            deny(monkeypatch, path)
        else:
            restore.append((path, path.stat().st_mode))
            path.chmod(0)

    yield make
    for path, mode in restore:
        path.chmod(mode)


@pytest.mark.parametrize("name", ["config.json", "model.safetensors"])
def test_unreadable_file_says_permission_denied(tmp_path, unreadable, name):
    d, _ = hf_dir(tmp_path)
    unreadable(d / name)
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    one_line(e.value, str(d / name), "permission denied")


def test_unreadable_folder_says_permission_denied(tmp_path, unreadable):
    d, _ = hf_dir(tmp_path)
    unreadable(d)
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    msg = one_line(e.value, str(d), "permission denied")
    assert "not found" not in msg


@pytest.mark.parametrize("name", ["config.json", "model.safetensors"])
def test_a_folder_where_a_file_belongs_says_is_a_directory(tmp_path, name):
    d, _ = hf_dir(tmp_path)
    (d / name).unlink()
    (d / name).mkdir()
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    one_line(e.value, str(d / name), "is a directory")


@pytest.mark.parametrize("name", ["tokenizer.json", "vocab.json"])
def test_tokenizer_file_that_is_a_folder_or_unreadable(tmp_path, unreadable, name):
    d = tmp_path / "tok"
    d.mkdir()
    (d / "merges.txt").write_text("#version: 0.2\n")
    (d / name).mkdir()
    with pytest.raises(TokenizerError) as e:
        BPETokenizer.from_dir(d)
    one_line(e.value, str(d / name), "is a directory")
    (d / name).rmdir()
    (d / name).write_text(tokenizer_json() if name == "tokenizer.json" else '{"a": 0}')
    unreadable(d / name)
    with pytest.raises(TokenizerError) as e:
        BPETokenizer.from_dir(d)
    one_line(e.value, str(d / name), "permission denied")


# ---- 9. a character vocabulary has one character per token -----------------------------------


def test_multi_character_vocabulary_is_refused_at_load(tmp_path):
    cfg = GPTConfig(n_layer=1, n_head=1, n_embd=4, vocab_size=3, block_size=4)
    config = dict(cfg.to_hf_dict(), vocab=["ab", "a", "b"])
    d = write_dir(tmp_path / "chars", config, init_params(cfg, 0))
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    one_line(e.value, str(d / "config.json"), "'ab'", "one character per token")
