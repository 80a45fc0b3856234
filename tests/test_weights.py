"""Checkpoint I/O (config.json + model.safetensors in the Hugging Face GPT-2 layout).

Every checkpoint here is built inside the test with safetensors.numpy.save_file and json (or, for
bfloat16 and deliberately broken files, byte by byte), so nothing depends on downloaded weights.
Every refusal must be a WeightsError whose message is one line naming the file (and the tensor
where there is one); nothing else may escape.
"""

from __future__ import annotations

import json
import os
import pickle
import stat
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmviz_desktop.model.config import PRESETS, GPTConfig
from llmviz_desktop.model.gpt import forward
from llmviz_desktop.model.params import init_params, param_specs
from llmviz_desktop.model.weights import (
    WeightsError,
    load_checkpoint,
    load_config,
    read_safetensors,
    resolve_model,
    save_checkpoint,
)

TOKENS = np.array([[0, 3, 6, 1, 2, 5], [4, 4, 0, 6, 2, 1]])  # [B=2, T=6], all of the vocab


def tiny_cfg(tied: bool = False, **changes) -> GPTConfig:
    kwargs = dict(
        name="tiny",
        n_layer=2,
        n_head=2,
        n_embd=8,
        vocab_size=7,
        block_size=6,
        tie_word_embeddings=tied,
    )
    kwargs.update(changes)
    return GPTConfig(**kwargs)


def tiny_params(cfg: GPTConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """init_params names and shapes, but no zero biases or unit gains, so every tensor
    matters to the logits (a lost or swapped tensor changes the output)."""
    rng = np.random.default_rng(seed + 1000)
    out = {}
    for name, value in init_params(cfg, seed).items():
        scale = 0.5 if value.ndim == 2 else 0.2
        out[name] = (value + rng.normal(0.0, scale, value.shape)).astype(np.float32)
    return out


def hf_config(cfg: GPTConfig, **extra) -> dict:
    """A config.json as Hugging Face ships gpt2's (no tie_word_embeddings, no llmviz keys)."""
    d = {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": 50256,
        "embd_pdrop": 0.1,
        "eos_token_id": 50256,
        "initializer_range": 0.02,
        "layer_norm_epsilon": cfg.layer_norm_epsilon,
        "model_type": "gpt2",
        "n_ctx": cfg.block_size,
        "n_embd": cfg.n_embd,
        "n_head": cfg.n_head,
        "n_inner": None,
        "n_layer": cfg.n_layer,
        "n_positions": cfg.block_size,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
        "transformers_version": "4.40.0",
        "use_cache": True,
        "vocab_size": cfg.vocab_size,
    }
    d.update(extra)
    return d


def write_checkpoint(
    directory: Path, config: dict, tensors: dict[str, np.ndarray], metadata=None
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config), encoding="utf-8")
    safetensors.numpy.save_file(
        {k: np.ascontiguousarray(v) for k, v in tensors.items()},
        str(directory / "model.safetensors"),
        metadata=metadata if metadata is not None else {"format": "pt"},
    )
    return directory


def raw_safetensors(entries: dict[str, tuple[str, list[int], bytes]], **overrides) -> bytes:
    """Build safetensors bytes by hand: 8-byte little-endian header length, JSON header (padded
    with spaces to 8 bytes, as the reference writer does), then the data. `overrides` replaces
    a tensor's header entry (to forge offsets)."""
    header: dict = {}
    data = b""
    for name, (dtype, shape, blob) in entries.items():
        header[name] = {
            "dtype": dtype,
            "shape": shape,
            "data_offsets": [len(data), len(data) + len(blob)],
        }
        data += blob
    for name, info in overrides.items():
        header[name] = info
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data


def standard_dir(tmp_path: Path, tied: bool = False, name: str = "ckpt") -> Path:
    cfg = tiny_cfg(tied)
    return write_checkpoint(tmp_path / name, cfg.to_hf_dict(), tiny_params(cfg))


def reaches_memmap(a: np.ndarray) -> bool:
    while a is not None:
        if isinstance(a, np.memmap):
            return True
        a = getattr(a, "base", None)
    return False


def check_error(excinfo: pytest.ExceptionInfo, path: Path, *needles: str) -> str:
    """The refusal is exactly a WeightsError, one line, naming the file and the needles."""
    assert type(excinfo.value) is WeightsError
    msg = str(excinfo.value)
    assert msg.strip(), "empty message"
    assert "\n" not in msg and "\r" not in msg, f"message is not one line: {msg!r}"
    assert str(path) in msg, f"{path} not named in {msg!r}"
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"
    return msg


def logits(cfg: GPTConfig, params) -> np.ndarray:
    return forward(cfg, params, TOKENS).logits


# ---- 1. round trip -----------------------------------------------------------------------


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_round_trip_is_bit_identical_memory_mapped_and_runs(tmp_path, tied):
    cfg = tiny_cfg(tied, vocab=tuple("abcdefg"), task={"name": "sort", "length": 3})
    params = tiny_params(cfg)
    out = save_checkpoint(tmp_path / "ckpt", cfg, params)
    assert out == tmp_path / "ckpt"
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]

    cfg2, params2 = load_checkpoint(out)
    assert cfg2 == cfg
    assert cfg2.name == cfg.name and cfg2.vocab == cfg.vocab and cfg2.task == cfg.task
    assert sorted(params2) == sorted(params) == sorted(s.name for s in param_specs(cfg))
    assert ("lm_head.weight" in params2) is (not tied)
    for name, value in params.items():
        loaded = params2[name]
        assert loaded.dtype == np.float32 and loaded.shape == value.shape, name
        assert loaded.tobytes() == value.tobytes(), f"{name} not bit-identical"
        assert reaches_memmap(loaded), f"{name} was copied instead of memory-mapped"
        assert not loaded.flags.writeable, f"{name} is a writable view of the checkpoint"

    np.testing.assert_array_equal(logits(cfg2, params2), logits(cfg, params))


def test_load_accepts_the_safetensors_file_path_too(tmp_path):
    d = standard_dir(tmp_path)
    cfg_a, pa = load_checkpoint(d)
    cfg_b, pb = load_checkpoint(d / "model.safetensors")
    cfg_c, pc = load_checkpoint(str(d))
    assert cfg_a == cfg_b == cfg_c
    for name in pa:
        assert pa[name].tobytes() == pb[name].tobytes() == pc[name].tobytes()


def test_load_with_other_dtype_converts(tmp_path):
    cfg = tiny_cfg()
    params = tiny_params(cfg)
    d = save_checkpoint(tmp_path / "ckpt", cfg, params)
    _, p64 = load_checkpoint(d, dtype=np.float64)
    for name, value in params.items():
        assert p64[name].dtype == np.float64
        np.testing.assert_array_equal(p64[name], value.astype(np.float64))


def test_float64_checkpoint_loads_as_float32(tmp_path):
    cfg = tiny_cfg()
    params64 = {k: v.astype(np.float64) for k, v in tiny_params(cfg).items()}
    d = write_checkpoint(tmp_path / "ckpt", cfg.to_hf_dict(), params64)
    _, loaded = load_checkpoint(d)
    for name, value in params64.items():
        assert loaded[name].dtype == np.float32
        np.testing.assert_array_equal(loaded[name], value.astype(np.float32))


def test_resave_loaded_memmapped_params_into_same_directory(tmp_path):
    """Saving what was just loaded (still mapped from the file being replaced) must work."""
    cfg = tiny_cfg()
    params = tiny_params(cfg)
    d = save_checkpoint(tmp_path / "ckpt", cfg, params)
    cfg2, mapped = load_checkpoint(d)
    save_checkpoint(d, cfg2, mapped)
    for name, value in params.items():
        assert mapped[name].tobytes() == value.tobytes(), "mapped view changed under us"
    _, again = load_checkpoint(d)
    for name, value in params.items():
        assert again[name].tobytes() == value.tobytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
    assert sorted(p.name for p in d.iterdir()) == ["config.json", "model.safetensors"]


def test_saved_files_have_ordinary_permissions(tmp_path):
    """The checkpoint is written through mkstemp/mkdtemp temporaries, which are created 0600
    and 0700; after the rename they must look like any other file the user saved (umask)."""
    umask = os.umask(0)
    os.umask(umask)
    d = save_checkpoint(tmp_path / "ckpt", tiny_cfg(), tiny_params(tiny_cfg()))
    assert stat.S_IMODE(d.stat().st_mode) == 0o777 & ~umask
    for name in ("config.json", "model.safetensors"):
        assert stat.S_IMODE((d / name).stat().st_mode) == 0o666 & ~umask, name


# ---- 2. Hugging Face variants --------------------------------------------------------------


def test_transformer_prefix_as_gpt2lmheadmodel_saves_it(tmp_path):
    cfg = tiny_cfg(tied=False)
    params = tiny_params(cfg)
    tensors = {(k if k == "lm_head.weight" else f"transformer.{k}"): v for k, v in params.items()}
    assert "transformer.wte.weight" in tensors and "lm_head.weight" in tensors
    d = write_checkpoint(tmp_path / "ckpt", cfg.to_hf_dict(), tensors)
    cfg2, loaded = load_checkpoint(d)
    assert cfg2 == cfg
    assert sorted(loaded) == sorted(params)
    for name, value in params.items():
        assert loaded[name].tobytes() == value.tobytes(), name
    np.testing.assert_array_equal(logits(cfg2, loaded), logits(cfg, params))


def test_prefixed_and_unprefixed_copy_of_a_tensor_is_refused(tmp_path):
    cfg = tiny_cfg()
    tensors = tiny_params(cfg)
    tensors["transformer.wpe.weight"] = tensors["wpe.weight"].copy()
    d = write_checkpoint(tmp_path / "ckpt", cfg.to_hf_dict(), tensors)
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, d / "model.safetensors", "wpe.weight")


def test_hf_gpt2_layout_without_lm_head_is_tied_to_wte(tmp_path):
    """The real gpt2 layout: HF config.json (no tie_word_embeddings key), no lm_head.weight,
    the causal-mask buffers h.{i}.attn.bias [1,1,P,P] and h.{i}.attn.masked_bias present."""
    untied = tiny_cfg(tied=False)
    params = tiny_params(untied)
    del params["lm_head.weight"]
    tensors = dict(params)
    P = untied.block_size
    for i in range(untied.n_layer):
        tensors[f"h.{i}.attn.bias"] = np.tril(np.ones((P, P), np.float32))[None, None]
        tensors[f"h.{i}.attn.masked_bias"] = np.array(-1e4, np.float32)
    d = write_checkpoint(tmp_path / "gpt2-tiny", hf_config(untied), tensors)

    cfg, loaded = load_checkpoint(d)
    assert cfg.tie_word_embeddings is True
    assert cfg.name == "gpt2-tiny"  # no llmviz_name: named after the directory
    assert (cfg.n_layer, cfg.n_head, cfg.n_embd) == (2, 2, 8)
    assert (cfg.vocab_size, cfg.block_size) == (7, 6)
    assert cfg.bias is True
    assert sorted(loaded) == sorted(params)  # mask buffers dropped, no lm_head
    for name, value in params.items():
        assert loaded[name].tobytes() == value.tobytes(), name

    # logits are computed with wte as the unembedding
    explicit = dict(params, **{"lm_head.weight": params["wte.weight"].copy()})
    np.testing.assert_array_equal(logits(cfg, loaded), logits(untied, explicit))


def test_hf_prefixed_with_mask_buffers_and_tied_copy_of_lm_head(tmp_path):
    """Older GPT2LMHeadModel dumps: everything under transformer., buffers included, and the
    tied lm_head.weight stored as well; the copy is dropped and wte is used."""
    cfg = tiny_cfg(tied=True)
    params = tiny_params(cfg)
    tensors = {f"transformer.{k}": v for k, v in params.items()}
    tensors["lm_head.weight"] = params["wte.weight"].copy()
    for i in range(cfg.n_layer):
        tensors[f"transformer.h.{i}.attn.bias"] = np.ones((1, 1, 6, 6), np.float32)
        tensors[f"transformer.h.{i}.attn.masked_bias"] = np.array(-1e4, np.float32)
    d = write_checkpoint(tmp_path / "ckpt", hf_config(cfg), tensors)
    cfg2, loaded = load_checkpoint(d)
    assert cfg2.tie_word_embeddings
    assert sorted(loaded) == sorted(params)
    np.testing.assert_array_equal(logits(cfg2, loaded), logits(cfg, params))


def test_hf_config_with_only_documented_keys(tmp_path):
    cfg = tiny_cfg()
    minimal = {k: hf_config(cfg)[k] for k in ("n_layer", "n_head", "n_embd", "vocab_size")}
    minimal["n_positions"] = cfg.block_size
    (tmp_path / "config.json").write_text(json.dumps(minimal))
    loaded = load_config(tmp_path / "config.json")
    assert (loaded.n_layer, loaded.n_head, loaded.n_embd) == (2, 2, 8)
    assert loaded.layer_norm_epsilon == 1e-5 and loaded.tie_word_embeddings


def test_float16_tensors_load_as_float32(tmp_path):
    cfg = tiny_cfg()
    params = tiny_params(cfg)
    half = {k: v.astype(np.float16) for k, v in params.items()}
    d = write_checkpoint(tmp_path / "ckpt", cfg.to_hf_dict(), half)
    cfg2, loaded = load_checkpoint(d)
    assert cfg2 == cfg
    for name, value in half.items():
        assert loaded[name].dtype == np.float32, name
        assert loaded[name].tobytes() == value.astype(np.float32).tobytes(), name
    # float16 kept as float16 when asked for, still mapped
    _, kept = load_checkpoint(d, dtype=np.float16)
    assert kept["wte.weight"].dtype == np.float16 and reaches_memmap(kept["wte.weight"])


def bf16_entries(params: dict[str, np.ndarray]):
    """(safetensors entries, the float32 values they encode exactly)."""
    entries, expected = {}, {}
    for name, value in params.items():
        bits = np.ascontiguousarray(value, np.float32).view(np.uint32)
        top = (bits >> 16).astype("<u2")
        entries[name] = ("BF16", list(value.shape), top.tobytes())
        expected[name] = (top.astype(np.uint32) << 16).view(np.float32)
    return entries, expected


def test_bfloat16_tensors_load_as_float32(tmp_path):
    cfg = tiny_cfg()
    params = tiny_params(cfg)
    params["wpe.weight"][0, :4] = [1.0, -2.5, 3.0e38, -1.0e-30]  # exact ones, extreme range
    entries, expected = bf16_entries(params)
    d = tmp_path / "ckpt"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(cfg.to_hf_dict()))
    (d / "model.safetensors").write_bytes(raw_safetensors(entries))

    raw = read_safetensors(d / "model.safetensors")
    assert sorted(raw) == sorted(params)

    _, loaded = load_checkpoint(d)
    for name, value in expected.items():
        assert loaded[name].dtype == np.float32, name
        assert loaded[name].tobytes() == value.tobytes(), name
        # bf16 keeps 8 significant bits: truncation moves a value by less than 2**-7 of it
        err = np.abs(loaded[name].astype(np.float64) - params[name].astype(np.float64))
        assert (err <= np.abs(params[name].astype(np.float64)) * 2**-7).all(), name
    np.testing.assert_array_equal(loaded["wpe.weight"][0, :2], [1.0, -2.5])


def test_bfloat16_nan_is_refused(tmp_path):
    cfg = tiny_cfg()
    params = tiny_params(cfg)
    entries, _ = bf16_entries(params)
    dtype, shape, blob = entries["h.1.mlp.c_fc.bias"]
    entries["h.1.mlp.c_fc.bias"] = (dtype, shape, b"\xc0\x7f" + blob[2:])  # 0x7FC0: NaN
    d = tmp_path / "ckpt"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(cfg.to_hf_dict()))
    (d / "model.safetensors").write_bytes(raw_safetensors(entries))
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, d / "model.safetensors", "h.1.mlp.c_fc.bias")


def test_read_safetensors_returns_every_tensor(tmp_path):
    path = tmp_path / "x.safetensors"
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    safetensors.numpy.save_file({"a": a, "empty": np.zeros((0, 4), np.float32)}, str(path))
    out = read_safetensors(path)
    assert sorted(out) == ["a", "empty"]
    np.testing.assert_array_equal(out["a"], a)
    assert reaches_memmap(out["a"])
    assert out["empty"].shape == (0, 4)


# ---- 3. refusals ---------------------------------------------------------------------------


def no_unpickling(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("a pickle was opened")

    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(pickle, "Unpickler", boom)


def junk_pickle(path: Path) -> Path:
    # If anything tried to unpickle this, it would fail with something other than WeightsError
    # (or, being unreadable, with PermissionError where the tests do not run as root).
    path.write_bytes(b"\x80\x05junk that is not a pickle \xff\xfe" * 10)
    path.chmod(0)
    return path


def test_directory_with_only_pytorch_model_bin_says_how_to_convert(tmp_path, monkeypatch):
    no_unpickling(monkeypatch)
    d = tmp_path / "ckpt"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(hf_config(tiny_cfg())))
    binfile = junk_pickle(d / "pytorch_model.bin")
    try:
        with pytest.raises(WeightsError) as e:
            load_checkpoint(d)
        msg = check_error(e, binfile, "safetensors")
        assert "convert" in msg.lower()
    finally:
        binfile.chmod(0o600)


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".pkl", ".bin", ".ckpt"])
def test_pickle_path_given_directly_is_refused(tmp_path, monkeypatch, suffix):
    no_unpickling(monkeypatch)
    standard_dir(tmp_path, name=".")  # a valid config.json beside it changes nothing
    path = junk_pickle(tmp_path / f"model{suffix}")
    try:
        with pytest.raises(WeightsError) as e:
            load_checkpoint(path)
        msg = check_error(e, path, "safetensors")
        assert "convert" in msg.lower()
    finally:
        path.chmod(0o600)


def test_missing_directory(tmp_path):
    with pytest.raises(WeightsError) as e:
        load_checkpoint(tmp_path / "nope")
    check_error(e, tmp_path / "nope")


def test_directory_without_weights(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(hf_config(tiny_cfg())))
    with pytest.raises(WeightsError) as e:
        load_checkpoint(tmp_path)
    check_error(e, tmp_path / "model.safetensors")


def test_missing_config_json(tmp_path):
    d = standard_dir(tmp_path)
    (d / "config.json").unlink()
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, d / "config.json")


@pytest.mark.parametrize(
    "text",
    [
        '{"n_layer": 2,',
        "",
        "not json at all",
        '{"n_layer": 2}\n{"n_layer": 3}',
        "[" * 100_000,
    ],
    ids=["truncated", "empty", "garbage", "two-objects", "deeply-nested"],
)
def test_config_invalid_json(tmp_path, text):
    d = standard_dir(tmp_path)
    (d / "config.json").write_text(text)
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, d / "config.json")


def test_config_not_utf8(tmp_path):
    d = standard_dir(tmp_path)
    (d / "config.json").write_bytes(b'{"n_layer": "\xff\xfe"}')
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, d / "config.json")


def test_config_huge_integer_is_a_weights_error(tmp_path):
    """json.loads raises a plain ValueError (not JSONDecodeError) for an integer of more than
    4300 digits (CPython's int_max_str_digits); that must still come out as a WeightsError."""
    d = standard_dir(tmp_path)
    cfg = hf_config(tiny_cfg())
    text = json.dumps(cfg).replace('"n_layer": 2', '"n_layer": ' + "9" * 5000)
    assert "9" * 5000 in text
    (d / "config.json").write_text(text)
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, d / "config.json")


@pytest.mark.parametrize(
    "change, needle",
    [
        ({"n_embd": None}, "n_embd"),
        ({"n_positions": None}, "n_positions"),
        ({"n_head": 3}, "n_head"),  # 8 is not divisible by 3
        ({"n_layer": 0}, "n_layer"),
        ({"n_layer": 2.5}, "n_layer"),
        ({"n_layer": "2"}, "n_layer"),
        ({"n_layer": True}, "n_layer"),
        ({"layer_norm_epsilon": -1.0}, "layer_norm_epsilon"),
        ({"activation_function": "quick_gelu"}, "activation_function"),
        ({"model_type": "llama"}, "model_type"),
        ({"tie_word_embeddings": "yes"}, "tie_word_embeddings"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else v,
)
def test_config_contents_refused(tmp_path, change, needle):
    d = standard_dir(tmp_path)
    cfg = hf_config(tiny_cfg())
    for key, value in change.items():
        if value is None:
            del cfg[key]
        else:
            cfg[key] = value
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, d / "config.json", needle)
    with pytest.raises(WeightsError) as e:
        load_config(d / "config.json")
    check_error(e, d / "config.json", needle)


@pytest.mark.parametrize("top", ["[]", "null", "3", '"gpt2"'])
def test_config_not_an_object(tmp_path, top):
    d = standard_dir(tmp_path)
    (d / "config.json").write_text(top)
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, d / "config.json")


def test_missing_tensor(tmp_path):
    cfg = tiny_cfg()
    tensors = tiny_params(cfg)
    del tensors["h.1.mlp.c_fc.weight"]
    d = write_checkpoint(tmp_path / "ckpt", cfg.to_hf_dict(), tensors)
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, d / "model.safetensors", "'h.1.mlp.c_fc.weight'", "missing")


def test_missing_lm_head_when_no_tied_wte_either(tmp_path):
    cfg = tiny_cfg()
    tensors = tiny_params(cfg)
    del tensors["lm_head.weight"], tensors["wte.weight"]
    d = write_checkpoint(tmp_path / "ckpt", cfg.to_hf_dict(), tensors)
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, d / "model.safetensors", "wte.weight")


def test_wrong_shape(tmp_path):
    wide = tiny_cfg(n_embd=16)
    d = write_checkpoint(tmp_path / "ckpt", tiny_cfg().to_hf_dict(), tiny_params(wide))
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, d / "model.safetensors", "'wte.weight'", "16", "8")


def test_transposed_linear_weight(tmp_path):
    cfg = tiny_cfg()
    tensors = tiny_params(cfg)
    tensors["h.0.mlp.c_fc.weight"] = tensors["h.0.mlp.c_fc.weight"].T  # nn.Linear layout
    d = write_checkpoint(tmp_path / "ckpt", cfg.to_hf_dict(), tensors)
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, d / "model.safetensors", "'h.0.mlp.c_fc.weight'", "[32, 8]", "[8, 32]")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["f32", "f16"])
def test_non_finite_values(tmp_path, bad, dtype):
    cfg = tiny_cfg()
    tensors = {k: v.astype(dtype) for k, v in tiny_params(cfg).items()}
    tensors["h.1.attn.c_proj.weight"][3, 5] = bad
    d = write_checkpoint(tmp_path / "ckpt", cfg.to_hf_dict(), tensors)
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, d / "model.safetensors", "'h.1.attn.c_proj.weight'")


def test_float64_value_that_overflows_float32_is_refused(tmp_path):
    """1e300 is finite as F64 but inf once converted to the float32 the app computes in; it must
    be refused like an inf in the file, not turn into inf (or a FloatingPointError)."""
    cfg = tiny_cfg()
    tensors = {k: v.astype(np.float64) for k, v in tiny_params(cfg).items()}
    tensors["wpe.weight"][2, 1] = 1e300
    d = write_checkpoint(tmp_path / "ckpt", cfg.to_hf_dict(), tensors)
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, d / "model.safetensors", "'wpe.weight'")


@pytest.mark.parametrize("int_dtype", [np.int32, np.int64, np.uint8, np.bool_])
def test_integer_dtype_tensor(tmp_path, int_dtype):
    cfg = tiny_cfg()
    tensors = tiny_params(cfg)
    tensors["h.0.ln_2.weight"] = np.ones(8, int_dtype)
    d = write_checkpoint(tmp_path / "ckpt", cfg.to_hf_dict(), tensors)
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, d / "model.safetensors", "'h.0.ln_2.weight'", "dtype")


def test_unexpected_extra_layer(tmp_path):
    three = tiny_cfg(n_layer=3)
    d = write_checkpoint(tmp_path / "ckpt", tiny_cfg().to_hf_dict(), tiny_params(three))
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    msg = check_error(e, d / "model.safetensors", "unexpected", "'h.2.")
    assert "n_layer=2" in msg


def test_unexpected_lm_head_is_not_silently_dropped_when_untied(tmp_path):
    cfg = tiny_cfg(tied=False)
    tensors = tiny_params(cfg)
    tensors["lm_head.bias"] = np.zeros(7, np.float32)
    d = write_checkpoint(tmp_path / "ckpt", cfg.to_hf_dict(), tensors)
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, d / "model.safetensors", "'lm_head.bias'")


def test_biasless_config_with_biased_tensors(tmp_path):
    cfg = tiny_cfg()
    d = write_checkpoint(tmp_path / "ckpt", dict(cfg.to_hf_dict(), bias=False), tiny_params(cfg))
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, d / "model.safetensors", ".bias'", "unexpected")


# -- broken safetensors files


def valid_bytes(tmp_path: Path) -> tuple[Path, bytes]:
    d = standard_dir(tmp_path)
    return d, (d / "model.safetensors").read_bytes()


def header_len(data: bytes) -> int:
    return int.from_bytes(data[:8], "little")


@pytest.mark.parametrize(
    "where",
    ["empty", "in-length", "length-only", "in-header", "header-end", "in-data", "last-byte"],
)
def test_truncated_safetensors(tmp_path, where):
    d, data = valid_bytes(tmp_path)
    n = header_len(data)
    cut = {
        "empty": 0,
        "in-length": 5,
        "length-only": 8,
        "in-header": 8 + n // 2,
        "header-end": 8 + n,
        "in-data": 8 + n + (len(data) - 8 - n) // 2,
        "last-byte": len(data) - 1,
    }[where]
    path = d / "model.safetensors"
    path.write_bytes(data[:cut])
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, path)
    with pytest.raises(WeightsError) as e:
        read_safetensors(path)
    check_error(e, path)


def test_trailing_bytes_after_data(tmp_path):
    d, data = valid_bytes(tmp_path)
    (d / "model.safetensors").write_bytes(data + b"\0" * 16)
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, d / "model.safetensors")


def forged_file(tmp_path: Path, **overrides) -> tuple[Path, Path]:
    cfg = tiny_cfg()
    entries = {
        k: ("F32", list(v.shape), v.astype("<f4").tobytes()) for k, v in tiny_params(cfg).items()
    }
    d = tmp_path / "ckpt"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(cfg.to_hf_dict()))
    path = d / "model.safetensors"
    path.write_bytes(raw_safetensors(entries, **overrides))
    return d, path


def test_hand_built_file_loads(tmp_path):
    """The hand-built writer itself is right (so the forged variants below test the loader)."""
    d, _ = forged_file(tmp_path)
    cfg, params = load_checkpoint(d)
    expected = tiny_params(tiny_cfg())
    for name, value in expected.items():
        assert params[name].tobytes() == value.tobytes()


@pytest.mark.parametrize(
    "info",
    [
        {"dtype": "F32", "shape": [8], "data_offsets": [0, 10_000]},  # past the end
        {"dtype": "F32", "shape": [8], "data_offsets": [10_000, 10_032]},  # starts past it
        {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]},  # overlaps another tensor
        {"dtype": "F32", "shape": [8], "data_offsets": [32, 0]},  # backwards
        {"dtype": "F32", "shape": [9], "data_offsets": [0, 32]},  # shape vs byte count
        {"dtype": "F32", "shape": [-8], "data_offsets": [0, 32]},
        {"dtype": "F32", "shape": [8]},  # no offsets
        {"dtype": "F99", "shape": [8], "data_offsets": [0, 32]},
        "not an object",
    ],
    ids=[
        "past-end",
        "starts-past-end",
        "overlap",
        "backwards",
        "size-mismatch",
        "negative-shape",
        "no-offsets",
        "unknown-dtype",
        "not-object",
    ],
)
def test_forged_header(tmp_path, info):
    d, path = forged_file(tmp_path, **{"h.0.ln_1.weight": info})
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, path)


def test_header_length_points_past_end_of_file(tmp_path):
    d, data = valid_bytes(tmp_path)
    path = d / "model.safetensors"
    path.write_bytes((len(data) * 4).to_bytes(8, "little") + data[8:])
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, path)


def test_header_length_absurd(tmp_path):
    d, data = valid_bytes(tmp_path)
    path = d / "model.safetensors"
    path.write_bytes(b"\xff" * 8 + data[8:])
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, path)


@pytest.mark.parametrize(
    "header", [b"[]", b"null", b"{not json}", b"\xff\xfe\xfd\xfc", b'{"a": 1}'], ids=str
)
def test_header_not_a_tensor_table(tmp_path, header):
    d, _ = valid_bytes(tmp_path)
    path = d / "model.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, path)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_garbage(tmp_path, seed):
    d, _ = valid_bytes(tmp_path)
    path = d / "model.safetensors"
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, 4096, np.uint8).tobytes())
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, path)


def test_empty_safetensors_file_has_missing_tensors(tmp_path):
    d = write_checkpoint(tmp_path / "ckpt", tiny_cfg().to_hf_dict(), {})
    with pytest.raises(WeightsError) as e:
        load_checkpoint(d)
    check_error(e, d / "model.safetensors", "missing", "'wte.weight'")


# -- properties: damaged files never raise anything but WeightsError


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[Path, bytes]:
    root = tmp_path_factory.mktemp("pristine")
    cfg = tiny_cfg()
    d = write_checkpoint(root / "ckpt", cfg.to_hf_dict(), tiny_params(cfg))
    return d, (d / "model.safetensors").read_bytes()


PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(data=st.data())
def test_property_any_truncation_is_a_weights_error(pristine, data):
    d, original = pristine
    cut = data.draw(st.integers(0, len(original) - 1), label="cut")
    path = d / "model.safetensors"
    try:
        path.write_bytes(original[:cut])
        with pytest.raises(WeightsError) as e:
            load_checkpoint(d)
        check_error(e, path)
    finally:
        path.write_bytes(original)


@PROPERTY
@given(data=st.data())
def test_property_corrupted_bytes_load_or_raise_weights_error(pristine, data):
    """Overwriting a few bytes anywhere (header length, header text, data) either still gives a
    usable checkpoint or a one-line WeightsError; never another exception."""
    d, original = pristine
    n = header_len(original)
    region = data.draw(st.sampled_from(["length", "header", "data"]), label="region")
    lo, hi = {"length": (0, 8), "header": (8, 8 + n), "data": (8 + n, len(original))}[region]
    pos = data.draw(st.integers(lo, hi - 1), label="pos")
    blob = data.draw(st.binary(min_size=1, max_size=4), label="bytes")
    corrupted = bytearray(original)
    corrupted[pos : pos + len(blob)] = blob
    path = d / "model.safetensors"
    try:
        path.write_bytes(bytes(corrupted))
        try:
            cfg, params = load_checkpoint(d)
        except WeightsError as err:
            msg = str(err)
            assert "\n" not in msg and str(path) in msg
        else:
            assert sorted(params) == sorted(s.name for s in param_specs(cfg))
            for value in params.values():
                assert value.dtype == np.float32 and np.isfinite(value).all()
    finally:
        path.write_bytes(original)


# ---- 4. save_checkpoint atomicity ---------------------------------------------------------


class WriterFailed(RuntimeError):
    pass


def failing_writer(monkeypatch):
    """Replace safetensors.numpy.save_file with one that writes half a file and then fails."""
    real = safetensors.numpy.save_file

    def half_then_fail(tensors, filename, metadata=None):
        real(tensors, filename, metadata=metadata)
        size = os.path.getsize(filename)
        with open(filename, "r+b") as f:
            f.truncate(size // 2)
        raise WriterFailed("disk full")

    monkeypatch.setattr(safetensors.numpy, "save_file", half_then_fail)


def test_failed_save_into_new_directory_leaves_nothing(tmp_path, monkeypatch):
    parent = tmp_path / "models"
    parent.mkdir()
    (parent / "other.txt").write_text("unrelated")
    failing_writer(monkeypatch)
    with pytest.raises(WriterFailed):
        save_checkpoint(parent / "ckpt", tiny_cfg(), tiny_params(tiny_cfg()))
    assert not (parent / "ckpt").exists()
    assert sorted(p.name for p in parent.iterdir()) == ["other.txt"], "temp litter left"


def test_failed_save_into_new_nested_directory(tmp_path, monkeypatch):
    failing_writer(monkeypatch)
    target = tmp_path / "a" / "b" / "ckpt"
    with pytest.raises(WriterFailed):
        save_checkpoint(target, tiny_cfg(), tiny_params(tiny_cfg()))
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


@pytest.mark.parametrize("new_cfg", ["same-config", "different-config"])
def test_failed_overwrite_keeps_previous_checkpoint(tmp_path, monkeypatch, new_cfg):
    """Overwriting a checkpoint with a writer that fails midway leaves the previous
    config.json and model.safetensors byte for byte, and loadable, with no temp files."""
    old_cfg = tiny_cfg()
    old_params = tiny_params(old_cfg, seed=1)
    d = save_checkpoint(tmp_path / "ckpt", old_cfg, old_params)
    before = {p.name: p.read_bytes() for p in d.iterdir()}

    cfg = old_cfg if new_cfg == "same-config" else tiny_cfg(n_layer=1, vocab_size=5)
    failing_writer(monkeypatch)
    with pytest.raises(WriterFailed):
        save_checkpoint(d, cfg, tiny_params(cfg, seed=2))
    monkeypatch.undo()

    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
    after = {p.name: p.read_bytes() for p in d.iterdir()}
    assert sorted(after) == sorted(before), "temp litter left in the checkpoint directory"
    assert after["model.safetensors"] == before["model.safetensors"]
    assert after["config.json"] == before["config.json"], "config.json replaced, weights not"
    cfg2, params2 = load_checkpoint(d)
    assert cfg2 == old_cfg
    for name, value in old_params.items():
        assert params2[name].tobytes() == value.tobytes()


def test_interrupted_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    """KeyboardInterrupt (a BaseException) during the write is cleaned up the same way."""
    cfg = tiny_cfg()
    d = save_checkpoint(tmp_path / "ckpt", cfg, tiny_params(cfg, seed=1))
    before = {p.name: p.read_bytes() for p in d.iterdir()}

    def interrupted(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.numpy, "save_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(d, cfg, tiny_params(cfg, seed=2))
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "fresh", cfg, tiny_params(cfg, seed=2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before


def test_successful_overwrite_replaces_both_files(tmp_path):
    d = save_checkpoint(tmp_path / "ckpt", tiny_cfg(), tiny_params(tiny_cfg(), seed=1))
    cfg = tiny_cfg(tied=True, n_layer=1, name="smaller")
    params = tiny_params(cfg, seed=2)
    assert save_checkpoint(d, cfg, params) == d
    cfg2, params2 = load_checkpoint(d)
    assert cfg2 == cfg
    assert sorted(params2) == sorted(params)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
    assert sorted(p.name for p in d.iterdir()) == ["config.json", "model.safetensors"]


# ---- 5. resolve_model ---------------------------------------------------------------------


def test_resolve_preset_without_shipped_weights_is_a_shell():
    cfg, params = resolve_model("gpt3")
    assert params is None
    assert cfg == PRESETS["gpt3"]
    assert (cfg.n_layer, cfg.n_embd) == (96, 12288)


def test_resolve_unknown_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WeightsError) as e:
        resolve_model("gpt-17-ultra")
    msg = str(e.value)
    assert type(e.value) is WeightsError
    assert "\n" not in msg and "gpt-17-ultra" in msg
    assert "gpt3" in msg  # lists the presets


def test_resolve_checkpoint_directory(tmp_path):
    cfg = tiny_cfg()
    params = tiny_params(cfg)
    d = save_checkpoint(tmp_path / "ckpt", cfg, params)
    cfg2, params2 = resolve_model(str(d))
    assert cfg2 == cfg
    assert params2 is not None
    for name, value in params.items():
        assert params2[name].tobytes() == value.tobytes()


def test_resolve_broken_checkpoint_directory_is_a_weights_error(tmp_path):
    d = standard_dir(tmp_path)
    (d / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(WeightsError) as e:
        resolve_model(str(d))
    check_error(e, d / "model.safetensors")
