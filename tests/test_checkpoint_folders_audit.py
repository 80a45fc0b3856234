"""Checkpoint folders (issue 12, item 4): config keys that change the arithmetic, one mapping per
safetensors file, declared sizes checked against the file before anything is allocated,
`params` from the header alone, folders named *.bin / *.ckpt, tokenizer files size-capped, the
true reason for unreadable files, multi-character vocabularies, Rust aborts in `tokenizers`,
and a killed save's temp folder swept by the next save.

Every checkpoint is built here with safetensors.numpy and json. Refusals are one line naming
the file; measurements that need a fresh process (descriptors, time, peak memory) run in one.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from cli_run import llmviz
from safetensors.numpy import save_file

from llmviz_desktop.model.config import GPTConfig
from llmviz_desktop.model.gpt import forward
from llmviz_desktop.model.params import init_params
from llmviz_desktop.model.tokenizer import BPETokenizer, TokenizerError
from llmviz_desktop.model.weights import (
    WeightsError,
    load_checkpoint,
    read_safetensors,
    save_checkpoint,
)

TOKENS = np.array([[0, 3, 6, 1, 2, 5], [4, 4, 0, 6, 2, 1]])  # [B=2, T=6]


def tiny(n_layer: int = 3, n_head: int = 2, n_embd: int = 8, **kw) -> GPTConfig:
    return GPTConfig(
        name="tiny",
        n_layer=n_layer,
        n_head=n_head,
        n_embd=n_embd,
        vocab_size=kw.pop("vocab_size", 7),
        block_size=kw.pop("block_size", 6),
        tie_word_embeddings=True,
        **kw,
    )


def tiny_params(cfg: GPTConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """Weights large enough that the MLP input reaches |x| > 1 (where erf and tanh GELU differ)
    and every bias and gain matters."""
    rng = np.random.default_rng(seed + 77)
    out = {}
    for name, value in init_params(cfg, seed).items():
        scale = 0.6 if value.ndim == 2 else 0.3
        out[name] = (value + rng.normal(0.0, scale, value.shape)).astype(np.float32)
    return out


def write_folder(directory: Path, cfg: GPTConfig, params, **config_keys) -> Path:
    """A Hugging Face GPT-2 folder: transformer.-prefixed tensors, GPT2Config keys."""
    directory.mkdir(parents=True, exist_ok=True)
    save_file(
        {f"transformer.{k}": np.ascontiguousarray(v) for k, v in params.items()},
        str(directory / "model.safetensors"),
        metadata={"format": "pt"},
    )
    config = {
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "activation_function": "gelu_new",
        "n_layer": cfg.n_layer,
        "n_head": cfg.n_head,
        "n_embd": cfg.n_embd,
        "vocab_size": cfg.vocab_size,
        "n_positions": cfg.block_size,
        "n_ctx": cfg.block_size,
        "n_inner": None,
        "layer_norm_epsilon": cfg.layer_norm_epsilon,
        "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
    }
    config.update(config_keys)
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def one_line(e: BaseException, *names: str) -> str:
    msg = str(e)
    assert "\n" not in msg and "Traceback" not in msg, msg
    for n in names:
        assert n in msg, (n, msg)
    return msg


# ---- 1. config keys that change the arithmetic ---------------------------------------------


def hf_reference(P: dict, tokens: np.ndarray, n_head: int, eps: float, cfg_keys: dict):
    """Hugging Face's GPT2LMHeadModel forward (modeling_gpt2.py), written out in float64 from
    the config.json keys alone: _attn's `attn_weights / value.size(-1) ** 0.5` when
    scale_attn_weights, `/ float(layer_idx + 1)` when scale_attn_by_inverse_layer_idx, and
    ACT2FN[activation_function] in the MLP (gelu = exact erf GELU, via math.erf)."""
    P = {k: np.asarray(v, dtype=np.float64) for k, v in P.items()}
    act_name = cfg_keys.get("activation_function", "gelu_new")
    erf = np.vectorize(math.erf)

    def act(x):
        if act_name in ("gelu_new", "gelu_pytorch_tanh"):
            return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
        if act_name == "gelu":
            return 0.5 * x * (1 + erf(x / math.sqrt(2.0)))
        if act_name == "relu":
            return np.maximum(x, 0.0)
        raise AssertionError(act_name)

    def ln(x, w, b):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w + b

    B, T = tokens.shape
    x = P["wte.weight"][tokens] + P["wpe.weight"][:T][None]
    C = x.shape[-1]
    D = C // n_head
    n_layer = len({k.split(".")[1] for k in P if k.startswith("h.")})
    mask = np.tril(np.ones((T, T), bool))
    for i in range(n_layer):
        p = lambda n, i=i: P[f"h.{i}.{n}"]  # noqa: E731
        a = ln(x, p("ln_1.weight"), p("ln_1.bias"))
        qkv = a @ p("attn.c_attn.weight") + p("attn.c_attn.bias")
        q, k, v = (qkv[..., j * C : (j + 1) * C].reshape(B, T, n_head, D) for j in range(3))
        w = np.einsum("bthd,bshd->bhts", q, k)
        if cfg_keys.get("scale_attn_weights", True):
            w = w / D**0.5
        if cfg_keys.get("scale_attn_by_inverse_layer_idx", False):
            w = w / float(i + 1)
        w = np.where(mask, w, -np.inf)
        w = np.exp(w - w.max(-1, keepdims=True))
        w = w / w.sum(-1, keepdims=True)
        y = np.einsum("bhts,bshd->bthd", w, v).reshape(B, T, C)
        x = x + y @ p("attn.c_proj.weight") + p("attn.c_proj.bias")
        m = ln(x, p("ln_2.weight"), p("ln_2.bias"))
        h = act(m @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias"))
        x = x + h @ p("mlp.c_proj.weight") + p("mlp.c_proj.bias")
    x = ln(x, P["ln_f.weight"], P["ln_f.bias"])
    return x @ P["wte.weight"].T


ARITHMETIC_KEYS = [
    {"scale_attn_weights": False},
    {"scale_attn_by_inverse_layer_idx": True},
    {"scale_attn_weights": False, "scale_attn_by_inverse_layer_idx": True},
    {"reorder_and_upcast_attn": True},
    {"activation_function": "gelu"},
    {"activation_function": "gelu_pytorch_tanh"},
    {"activation_function": "relu"},
    {"n_inner": 32},  # = 4 * n_embd: the usual MLP, spelled out
]


@pytest.mark.parametrize("keys", ARITHMETIC_KEYS, ids=lambda d: ",".join(map(str, d.items())))
def test_config_keys_change_the_logits_exactly_as_hugging_faces_gpt2(tmp_path, keys):
    cfg = tiny()
    params = tiny_params(cfg)
    folder = write_folder(tmp_path / "ckpt", cfg, params, **keys)
    loaded_cfg, loaded = load_checkpoint(folder, dtype=np.float64)
    logits = forward(loaded_cfg, loaded, TOKENS, dtype=np.float64).logits
    ref = hf_reference(params, TOKENS, cfg.n_head, cfg.layer_norm_epsilon, keys)
    np.testing.assert_allclose(logits, ref, rtol=1e-9, atol=1e-10)
    # float32 (what the window computes) is close to the float64 reference as well
    logits32 = forward(loaded_cfg, load_checkpoint(folder)[1], TOKENS).logits
    np.testing.assert_allclose(logits32, ref, rtol=2e-4, atol=2e-4)


def test_the_keys_really_matter_for_this_model(tmp_path):
    """Guard for the test above: each key moves these logits by far more than its tolerance,
    so a loader that ignored it could not pass."""
    cfg = tiny()
    params = tiny_params(cfg)
    base = hf_reference(params, TOKENS, cfg.n_head, cfg.layer_norm_epsilon, {})
    for keys in ARITHMETIC_KEYS[:3] + ARITHMETIC_KEYS[4:5]:
        other = hf_reference(params, TOKENS, cfg.n_head, cfg.layer_norm_epsilon, keys)
        assert np.abs(other - base).max() > 1e-4, keys  # the tolerance is 1e-9


@pytest.mark.parametrize(
    "keys, name",
    [
        ({"n_inner": 24}, "n_inner"),
        ({"add_cross_attention": True}, "add_cross_attention"),
        ({"activation_function": "quick_gelu"}, "activation_function"),
        ({"activation_function": "tanh"}, "activation_function"),
        ({"scale_attn_weights": "no"}, "scale_attn_weights"),
        ({"scale_attn_by_inverse_layer_idx": 1}, "scale_attn_by_inverse_layer_idx"),
    ],
)
def test_config_keys_it_cannot_compute_are_refused_in_one_line(tmp_path, keys, name):
    cfg = tiny()
    folder = write_folder(tmp_path / "ckpt", cfg, tiny_params(cfg), **keys)
    with pytest.raises(WeightsError) as e:
        load_checkpoint(folder)
    one_line(e.value, "config.json", name)


def test_training_refuses_an_activation_the_backward_pass_does_not_differentiate(tmp_path):
    from llmviz_desktop.model.config import ConfigError
    from llmviz_desktop.model.train import TrainConfig, Trainer

    cfg, _ = load_checkpoint(
        write_folder(tmp_path / "c", tiny(), tiny_params(tiny()), activation_function="gelu")
    )
    with pytest.raises(ConfigError) as e:
        Trainer(cfg, TrainConfig())
    one_line(e.value, "gelu")


def test_hover_formulas_follow_the_config(tmp_path):
    """The hover of an MLP activation cell and of an attention score cell show the arithmetic
    the config asks for, and their recomputed value equals the traced one."""
    from llmviz_desktop.scene.explain import explain
    from llmviz_desktop.session.loaded import load_model

    cfg = tiny(vocab=tuple("ABCDEFG"), block_size=16)
    params = tiny_params(cfg)
    keys = {
        "activation_function": "gelu",
        "scale_attn_weights": False,
        "scale_attn_by_inverse_layer_idx": True,
        "vocab": list("ABCDEFG"),
    }
    model = load_model(str(write_folder(tmp_path / "c", cfg, params, **keys)), "ABCDEFGA")
    tr, s = model.trace, model.scene
    x = float(tr["h.2.mlp.fc"][0, 4, 5])
    ex = explain(s, "h.2.mlp.gelu", 5, 4, tr, model.params)
    assert "erf" in ex.formula and "tanh" not in ex.formula
    assert ex.recomputed == pytest.approx(0.5 * x * (1 + math.erf(x / math.sqrt(2))), rel=1e-6)
    assert ex.recomputed == pytest.approx(float(tr["h.2.mlp.gelu"][0, 4, 5]), rel=1e-5, abs=1e-7)
    scores = [b for b in s.by_name if b.startswith("h.2.attn") and "score" in b]
    assert scores, sorted(s.by_name)[:40]
    ex = explain(s, scores[0], 1, 3, tr, model.params)  # key 1 of query 3: not masked
    assert ex.operation == "score", ex.formula
    assert "√" not in ex.formula and "(layer + 1)" in ex.formula
    assert ex.recomputed == pytest.approx(ex.extra["dot"] / 3.0, rel=1e-12)  # block 2: / 3
    assert ex.recomputed == pytest.approx(float(ex.value), rel=1e-5, abs=1e-6)


# ---- 2. one mapping per file, not one descriptor per tensor ---------------------------------

FD_LOADER = textwrap.dedent(
    """
    import os, resource, sys
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    from llmviz_desktop.model.weights import load_checkpoint, read_safetensors
    cfg, params = load_checkpoint(sys.argv[1])
    tensors = read_safetensors(os.path.join(sys.argv[1], "model.safetensors"))
    total = sum(float(v.sum()) for v in params.values())
    print(len(params), len(tensors), len(os.listdir("/proc/self/fd")), total)
    """
)


def test_a_checkpoint_of_1100_tensors_loads_under_a_256_descriptor_limit(tmp_path):
    cfg = GPTConfig(n_layer=92, n_head=1, n_embd=4, vocab_size=5, block_size=4)
    params = init_params(cfg, 0)
    folder = write_folder(tmp_path / "many", cfg, params)
    r = subprocess.run(
        [sys.executable, "-c", FD_LOADER, str(folder)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr[-2000:]
    n_params, n_tensors, fds, _ = r.stdout.split()
    assert int(n_params) == 92 * 12 + 4 and int(n_tensors) >= 1100
    assert int(fds) < 32  # the mapping holds no descriptor per tensor


# ---- 3. declared sizes checked against the file before anything is allocated ----------------

SIZE_LOADER = textwrap.dedent(
    """
    import resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # a runaway copy fails, bounded
    t0 = time.perf_counter()
    from llmviz_desktop.model.weights import WeightsError, load_checkpoint
    t1 = time.perf_counter()
    try:
        load_checkpoint(sys.argv[1])
        outcome = "LOADED"
    except WeightsError as e:
        outcome = str(e)
    t2 = time.perf_counter()
    # VmHWM: this process's peak (ru_maxrss would keep the forking pytest's across exec)
    rss = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
    print(f"{t2 - t1:.4f} {rss:.1f}")
    print(outcome)
    """
)


def raw_safetensors(path: Path, header: dict, data_len: int) -> None:
    """A safetensors file with this header and `data_len` bytes of (sparse, zero) data."""
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        f.truncate(8 + len(text) + data_len)


def huge_header(cfg: GPTConfig) -> dict:
    """Every tensor cfg implies, F32, laid end to end."""
    from llmviz_desktop.model.params import param_specs

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


def run_size_loader(folder: Path) -> tuple[float, float, str]:
    r = subprocess.run(
        [sys.executable, "-c", SIZE_LOADER, str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and r.stderr == "", r.stderr[-2000:]
    figures, outcome = r.stdout.rstrip("\n").split("\n", 1)
    seconds, mib = map(float, figures.split())
    return seconds, mib, outcome


# GPT-2 XL's shapes (1.6 G parameters, 6.2 GB in F32) declared over a 3 GiB sparse file
XL = GPTConfig(n_layer=48, n_head=25, n_embd=1600, vocab_size=50257, block_size=1024)


@pytest.mark.parametrize(
    "case",
    ["sparse-3GiB-declares-6GB", "offsets-past-the-end", "sparse-256MiB-bf16-not-the-config"],
)
def test_declared_sizes_beyond_the_file_are_refused_small(tmp_path, case):
    """The last case is a well-formed file (its header covers exactly its 1 GiB of sparse
    data) whose one BF16 tensor is not what config.json implies: refused from the header,
    before bfloat16 -> float32 widening allocates anything (it made two 512 MiB copies
    first)."""
    cfg = XL if case.startswith("sparse-3") else tiny()
    folder = write_folder(tmp_path / case, cfg, {})
    header = huge_header(cfg)
    data_len = {"sparse-3": 3 << 30, "offsets-": 64, "sparse-2": 1 << 28}[case[:8]]
    if case.startswith("sparse-2"):
        shape = [(1 << 27) // cfg.n_embd, cfg.n_embd]  # 2**27 bfloat16 values = 256 MiB
        header = {"wte.weight": {"dtype": "BF16", "shape": shape, "data_offsets": [0, 1 << 28]}}
    raw_safetensors(folder / "model.safetensors", header, data_len)
    seconds, mib, outcome = run_size_loader(folder)
    assert outcome != "LOADED" and "\n" not in outcome and "model.safetensors" in outcome
    assert mib < 200, (seconds, mib, outcome)  # the time: bench/bench_refusals.py
    print(f"\n{case}: refused in {seconds * 1000:.0f} ms, peak RSS {mib:.0f} MiB: {outcome}")


# ---- 4. `llmviz params` reads only the header -----------------------------------------------


def test_params_counts_come_from_the_header_when_the_data_is_cut_short(tmp_path):
    from llmviz_desktop.model.counts import count_params

    cfg = tiny()
    folder = write_folder(tmp_path / "cut", cfg, tiny_params(cfg))
    weights = folder / "model.safetensors"
    n = int.from_bytes(weights.read_bytes()[:8], "little")
    with open(weights, "r+b") as f:
        f.truncate(8 + n + 10)  # the header, and 10 bytes of the data
    r = llmviz("params", "--model", str(folder), "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    want = count_params(cfg)
    assert [k["total"] for k in got["kinds"]] == [k.total for k in want.kinds]
    # the weights themselves are still refused, in one line
    with pytest.raises(WeightsError) as e:
        load_checkpoint(folder)
    one_line(e.value, "model.safetensors")


# ---- 5. a folder is a folder whatever its name ends in --------------------------------------


@pytest.mark.parametrize("name", ["gpt2.bin", "run.ckpt", "weights.pt"])
def test_a_folder_named_like_a_pickle_is_a_folder(tmp_path, name):
    cfg = tiny()
    params = tiny_params(cfg)
    loaded_cfg, loaded = load_checkpoint(write_folder(tmp_path / name, cfg, params))
    assert loaded_cfg.n_layer == cfg.n_layer
    np.testing.assert_array_equal(loaded["h.1.mlp.c_fc.weight"], params["h.1.mlp.c_fc.weight"])
    pickle_file = tmp_path / "other" / name
    pickle_file.parent.mkdir()
    pickle_file.write_bytes(b"\x80\x04not unpickled")
    with pytest.raises(WeightsError) as e:
        load_checkpoint(pickle_file)
    one_line(e.value, name, "never loaded")


# ---- 6. tokenizer files over 64 MiB refused before reading ----------------------------------


def small_tokenizer_files(folder: Path) -> None:
    (folder / "vocab.json").write_text(json.dumps({"a": 0, "b": 1, "ab": 2}))
    (folder / "merges.txt").write_text("#version: 0.2\na b\n")


@pytest.mark.parametrize("big", ["tokenizer.json", "vocab.json", "merges.txt"])
def test_oversized_tokenizer_files_are_refused_unread(tmp_path, big):
    small_tokenizer_files(tmp_path)
    with open(tmp_path / big, "wb") as f:
        f.truncate((64 << 20) + 1)  # sparse: nothing is on disk
    read_before = bytes_read()
    with pytest.raises(TokenizerError) as e:
        BPETokenizer.from_dir(tmp_path)
    assert bytes_read() - read_before < 1 << 20  # unread (the time: bench/bench_refusals.py)
    one_line(e.value, str(tmp_path / big), "too large")


def bytes_read() -> int:
    """Bytes this process has read through read() and the like so far (Linux /proc)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


# ---- 7. the true reason for unreadable files and folders ------------------------------------


@pytest.mark.parametrize("which", ["config.json", "model.safetensors"])
def test_a_directory_where_a_file_is_expected_says_so(tmp_path, which):
    cfg = tiny()
    folder = write_folder(tmp_path / "c", cfg, tiny_params(cfg))
    (folder / which).unlink()
    (folder / which).mkdir()
    with pytest.raises(WeightsError) as e:
        load_checkpoint(folder)
    one_line(e.value, which, "is a directory")


def test_a_tokenizer_json_that_is_a_directory_says_so(tmp_path):
    (tmp_path / "tokenizer.json").mkdir()
    with pytest.raises(TokenizerError) as e:
        BPETokenizer.from_dir(tmp_path)
    one_line(e.value, "tokenizer.json", "is a directory")


AS_NOBODY = textwrap.dedent(
    """
    import os, sys
    from llmviz_desktop.model.tokenizer import BPETokenizer, TokenizerError
    from llmviz_desktop.model.weights import WeightsError, load_checkpoint
    import tokenizers  # everything imported while still root; then drop to nobody
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
    for what in sys.argv[1:]:
        try:
            if what.endswith("tok"):
                BPETokenizer.from_dir(what)
            else:
                load_checkpoint(what)
            print("LOADED")
        except (WeightsError, TokenizerError) as e:
            print(e)
    """
)


@pytest.mark.skipif(os.geteuid() != 0, reason="drops from root to nobody for a real EACCES")
def test_permission_denied_is_named_for_a_real_unreadable_file_and_folder():
    """Root reads a chmod 000 file anyway, so the loader runs in a child that has dropped to
    the unprivileged user `nobody` (a real EACCES, nothing monkeypatched)."""
    base = Path(tempfile.mkdtemp(prefix="llmviz-perm-"))
    try:
        os.chmod(base, 0o755)
        cfg = tiny()
        a = write_folder(base / "a", cfg, tiny_params(cfg))  # config.json unreadable
        b = write_folder(base / "b", cfg, tiny_params(cfg))  # the folder itself unreadable
        tok = base / "tok"
        tok.mkdir()
        small_tokenizer_files(tok)
        for p in (a, b, tok):
            os.chmod(p, 0o755)
            for f in p.iterdir():
                os.chmod(f, 0o644)
        os.chmod(a / "config.json", 0)
        os.chmod(tok / "vocab.json", 0)
        os.chmod(b, 0)
        r = subprocess.run(
            [sys.executable, "-c", AS_NOBODY, str(a), str(b), str(tok)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
        )
        assert r.returncode == 0, r.stderr[-2000:]
        lines = r.stdout.splitlines()
        assert len(lines) == 3, r.stdout
        assert str(a / "config.json") in lines[0] and "permission denied" in lines[0]
        assert str(b) in lines[1] and "permission denied" in lines[1]
        assert str(tok / "vocab.json") in lines[2] and "permission denied" in lines[2]
    finally:
        for p in base.rglob("*"):
            os.chmod(p, 0o755) if p.is_dir() else None
        os.chmod(base / "b", 0o755)
        shutil.rmtree(base, ignore_errors=True)


# ---- 8. a character vocabulary with multi-character tokens ----------------------------------


def test_a_character_vocabulary_with_multi_character_tokens_is_refused_at_load(tmp_path):
    cfg = tiny(vocab_size=3)
    folder = write_folder(tmp_path / "v", cfg, tiny_params(cfg), vocab=["A", "BC", "D"])
    with pytest.raises(WeightsError) as e:
        load_checkpoint(folder)
    one_line(e.value, "config.json", "vocab", "'BC'")


# ---- 9. a Rust abort in `tokenizers` never ends the process silently ------------------------

TOKENIZE = textwrap.dedent(
    """
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # keep a runaway allocation small
    from llmviz_desktop.model.tokenizer import BPETokenizer, TokenizerError
    try:
        tok = BPETokenizer.from_dir(sys.argv[1])
        print("ids", list(tok.encode("a banana " * 40))[:3])
    except TokenizerError as e:
        print("refused", e)
    """
)


def test_a_normalizer_chain_that_would_make_tokenizers_abort_is_refused_first(tmp_path):
    """A Sequence of Replace normalizers that each lengthen the text by 10x turns one
    character into 10^10: the Rust library's allocation fails and it aborts the process
    (SIGABRT, nothing on stdout). The tokenizer.json is checked in Python before that."""
    from test_gpt2_checkpoint import train_bpe

    doc = json.loads(train_bpe().to_str())
    rep = {"type": "Replace", "pattern": {"String": "a"}, "content": "a" * 10}
    doc["normalizer"] = {"type": "Sequence", "normalizers": [rep] * 10}
    (tmp_path / "tokenizer.json").write_text(json.dumps(doc))
    r = subprocess.run(
        [sys.executable, "-c", TOKENIZE, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, (r.returncode, r.stderr[-1500:])
    lines = r.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("refused "), r.stdout
    assert "tokenizer.json" in lines[0] and "normalizer" in lines[0]


def test_a_usable_tokenizer_json_still_loads(tmp_path):
    from test_gpt2_checkpoint import train_bpe

    (tmp_path / "tokenizer.json").write_text(train_bpe().to_str())
    r = subprocess.run(
        [sys.executable, "-c", TOKENIZE, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0 and r.stdout.startswith("ids "), (r.stdout, r.stderr[-1500:])


# ---- 10. a killed save's temp folder is removed by the next save ----------------------------


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_killed_saves_temp_folder_is_swept_by_the_next_save(tmp_path):
    cfg = tiny()
    params = tiny_params(cfg)
    stale = tmp_path / f".step-000050.{dead_pid()}-x1y2z3w4.tmp"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half a checkpoint")
    live = tmp_path / f".step-000040.{os.getpid()}-abcdefgh.tmp"  # a writer still running
    live.mkdir()
    seen: list[str] = []
    real_replace = os.replace

    def spy(src, dst, *a, **kw):
        seen.append(Path(src).name)
        return real_replace(src, dst, *a, **kw)

    mp = pytest.MonkeyPatch()
    mp.setattr(os, "replace", spy)
    try:
        save_checkpoint(tmp_path / "step-000050", cfg, params)
    finally:
        mp.undo()
    assert not stale.exists() and live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "step-000050"]
    # the save's own temp folder was named with its pid, so a later save could sweep it
    assert any(n.startswith(f".step-000050.{os.getpid()}-") and n.endswith(".tmp") for n in seen)
    np.testing.assert_array_equal(
        read_safetensors(tmp_path / "step-000050" / "model.safetensors")["wte.weight"],
        params["wte.weight"],
    )
