"""Checkpoint I/O in the Hugging Face GPT-2 layout: config.json + model.safetensors.

Loading memory-maps the tensors (validated by the safetensors package first), accepts keys with
or without the "transformer." prefix, ties lm_head to wte when it is absent, and ignores the
causal-mask buffers older checkpoints carry. Pickle files are never opened. Every problem is a
WeightsError whose message is one line naming the file (and the tensor).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .atomic import atomic_write, umask
from .config import PRESETS, ConfigError, GPTConfig
from .params import Params, iter_param_specs, param_specs

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
MAX_CONFIG_BYTES = 1 << 20  # a GPT-2 config.json is ~1 KB; refuse anything absurd
CONVERT_HINT = (
    "pickled weights are never loaded (unpickling can run code); convert once with "
    '`python -c "import torch, safetensors.torch as s; '
    "s.save_file(torch.load('pytorch_model.bin', weights_only=True), 'model.safetensors')\"`"
)
_MASK_BUFFER = re.compile(r"^h\.\d+\.attn\.(bias|masked_bias)$")
MAX_DIMS = 4  # GPT-2 tensors have 1 or 2 (the causal-mask buffers 4)
MAX_DIM = 1 << 32  # no dimension of a real checkpoint comes near this
_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16}


class WeightsError(ValueError):
    """A checkpoint that cannot be used; the message is one line for the user."""


def load_config(path: Path) -> GPTConfig:
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: file not found")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise WeightsError(f"{path}: {path.stat().st_size} bytes is too large for a config")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise WeightsError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise WeightsError(f"{path}: invalid JSON at line {e.lineno}: {e.msg}") from None
    except RecursionError:
        raise WeightsError(f"{path}: JSON nested too deeply") from None
    except ValueError as e:  # e.g. an integer literal beyond Python's digit limit
        raise WeightsError(f"{path}: invalid JSON ({str(e).splitlines()[0]})") from None
    except OSError as e:
        raise WeightsError(f"{path}: cannot read ({e.strerror})") from None
    try:
        return GPTConfig.from_hf_dict(data, name=path.parent.name)
    except (ConfigError, TypeError) as e:
        raise WeightsError(f"{path}: {e}") from None


def _read_header(path: Path) -> tuple[int, dict]:
    """Validate with the safetensors package, then read the (small) JSON header for offsets."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as f:
            f.keys()
    except Exception as e:  # SafetensorError and friends: truncated, bad header, overlap
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise WeightsError(f"{path}: not a valid safetensors file ({msg})") from None
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    return 8 + n, header


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Memory-map every tensor of a safetensors file (read-only views; nothing is copied)."""
    path = Path(path)
    data_start, header = _read_header(path)
    out: dict[str, np.ndarray] = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        dt = info.get("dtype")
        if dt not in _DTYPES:
            raise WeightsError(
                f"{path}: tensor {key!r} has dtype {dt!r}, expected F64, F32, F16 or BF16"
            )
        shape = tuple(info["shape"])
        if not 1 <= len(shape) <= MAX_DIMS or any(d < 0 or d > MAX_DIM for d in shape):
            raise WeightsError(
                f"{path}: tensor {key!r} has an impossible shape {list(shape)[:8]} "
                f"({len(shape)} dimensions)"
            )
        start, _end = info["data_offsets"]
        try:
            if any(d == 0 for d in shape):
                arr = np.zeros(shape, _DTYPES[dt])  # no data: nothing to map
            else:
                arr = np.memmap(path, _DTYPES[dt], mode="r", offset=data_start + start, shape=shape)
            if dt == "BF16":  # bfloat16 is the top half of a float32
                arr = (arr.astype(np.uint32) << 16).view(np.float32)
        except (ValueError, TypeError, OverflowError, MemoryError) as e:
            first = (str(e).splitlines() or [type(e).__name__])[0]
            raise WeightsError(f"{path}: tensor {key!r} cannot be read ({first})") from None
        out[key] = arr
    return out


def _all_finite(a: np.ndarray, chunk: int = 1 << 22) -> bool:
    flat = a.reshape(-1)
    return all(np.isfinite(flat[i : i + chunk]).all() for i in range(0, flat.size, chunk))


def load_checkpoint(path: str | Path, dtype=np.float32) -> tuple[GPTConfig, Params]:
    """Load a checkpoint directory (or its model.safetensors). Tensors already in `dtype` stay
    memory-mapped; others are converted."""
    path = Path(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise WeightsError(f"{path}: {CONVERT_HINT}")
    if path.is_file():
        directory, weights_path = path.parent, path
    elif path.is_dir():
        directory, weights_path = path, path / WEIGHTS_FILE
    else:
        raise WeightsError(f"{path}: no such checkpoint directory")
    if not weights_path.is_file():
        pickles = sorted(p.name for p in directory.glob("*") if p.suffix.lower() in PICKLE_SUFFIXES)
        if pickles:
            raise WeightsError(f"{directory / pickles[0]}: {CONVERT_HINT}")
        raise WeightsError(f"{weights_path}: file not found")
    cfg = load_config(directory / CONFIG_FILE)
    raw = read_safetensors(weights_path)

    tensors: dict[str, np.ndarray] = {}
    for key, arr in raw.items():
        name = key.removeprefix("transformer.")
        if _MASK_BUFFER.match(name):
            continue
        if name in tensors:
            raise WeightsError(f"{weights_path}: tensor {name!r} appears twice")
        tensors[name] = arr
    # HF configs omit tie_word_embeddings (parsed as tied); an explicit false with no
    # lm_head.weight is reported below as a missing tensor.
    if cfg.tie_word_embeddings:
        tensors.pop("lm_head.weight", None)  # HF files may store the tied copy too

    params: Params = {}
    for spec in iter_param_specs(cfg):  # lazily: stops at the first missing tensor
        if spec.name not in tensors:
            raise WeightsError(f"{weights_path}: missing tensor {spec.name!r}")
        arr = tensors.pop(spec.name)
        if tuple(arr.shape) != spec.shape:
            raise WeightsError(
                f"{weights_path}: tensor {spec.name!r} has shape {list(arr.shape)} but "
                f"{CONFIG_FILE} implies {list(spec.shape)}"
            )
        with np.errstate(over="ignore"):  # overflow in the cast shows up as inf below
            arr = arr.astype(dtype, copy=False)
        if not _all_finite(arr):
            raise WeightsError(
                f"{weights_path}: tensor {spec.name!r} has NaN or inf values "
                f"(or values too large for {np.dtype(dtype).name})"
            )
        params[spec.name] = arr
    if tensors:
        extra = sorted(tensors)[0]
        raise WeightsError(
            f"{weights_path}: unexpected tensor {extra!r} (not part of a GPT-2 with "
            f"n_layer={cfg.n_layer}, bias={cfg.bias}; does {CONFIG_FILE} match the weights?)"
        )
    return cfg, params


def save_checkpoint(directory: str | Path, cfg: GPTConfig, params: Params) -> Path:
    """Write config.json + model.safetensors. The checkpoint is built in a sibling temp
    directory and renamed into place, so it appears complete or not at all; an existing one
    is kept (moved aside) until the new one is in place."""
    from safetensors.numpy import save_file

    directory = Path(directory)
    tensors = {s.name: np.ascontiguousarray(params[s.name]) for s in param_specs(cfg)}
    config_text = json.dumps(cfg.to_hf_dict(), indent=2) + "\n"

    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.", suffix=".tmp"))
    old = directory.parent / f".{directory.name}.old"
    try:
        atomic_write(tmp / CONFIG_FILE, lambda t: Path(t).write_text(config_text))
        atomic_write(tmp / WEIGHTS_FILE, lambda t: save_file(tensors, t, metadata={"format": "pt"}))
        os.chmod(tmp, 0o777 & ~umask())  # mkdtemp made it 0700
        if directory.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(directory, old)
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not directory.exists():
            os.replace(old, directory)  # put the previous checkpoint back
        raise
    shutil.rmtree(old, ignore_errors=True)
    return directory


def resolve_model(spec: str) -> tuple[GPTConfig, Params | None]:
    """A preset name (with its shipped weights if any, else a render-only shell: params None)
    or a checkpoint directory."""
    from ..resources import shipped_model_dir

    if spec in PRESETS:
        shipped = shipped_model_dir(spec)
        if (shipped / WEIGHTS_FILE).is_file():
            return load_checkpoint(shipped)
        return PRESETS[spec], None
    path = Path(spec)
    if not path.exists():
        raise WeightsError(
            f"{spec}: neither a preset ({', '.join(PRESETS)}) nor an existing checkpoint directory"
        )
    return load_checkpoint(path)
