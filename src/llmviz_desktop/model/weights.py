"""Checkpoint I/O in the Hugging Face GPT-2 layout: config.json + model.safetensors.

The safetensors header is read and checked first (every declared tensor size against its dtype,
shape and the real file size), before any tensor data is touched or any memory allocated. The
file is then memory-mapped once (one mapping, one file descriptor, however many tensors) and
each tensor is a read-only view into it. Keys may carry the "transformer." prefix; lm_head is
tied to wte when absent; the causal-mask buffers older checkpoints carry are ignored. Pickle
files are never opened. Every problem is a WeightsError whose message is one line naming the
file (and the tensor).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..resources import shipped_model_dir
from .atomic import atomic_write, make_temp, sweep_stale, umask
from .config import PRESETS, ConfigError, GPTConfig
from .files import FileProblem, available_memory, open_regular, read_limited, reason
from .params import Params, iter_param_specs, param_specs

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
MAX_CONFIG_BYTES = 1 << 20  # a GPT-2 config.json is ~1 KB; refuse anything absurd
MAX_HEADER_BYTES = 100_000_000  # the safetensors format's own limit on the JSON header
CONVERT_HINT = (
    "pickled weights are never loaded (unpickling can run code); convert once with "
    '`python -c "import torch, safetensors.torch as s; '
    "s.save_file(torch.load('pytorch_model.bin', weights_only=True), 'model.safetensors')\"`"
)
_MASK_BUFFER = re.compile(r"^h\.\d+\.attn\.(bias|masked_bias)$")
MAX_DIMS = 4  # GPT-2 tensors have 1 or 2 (the causal-mask buffers 4)
MAX_DIM = 1 << 32  # no dimension of a real checkpoint comes near this
_DTYPES: dict[str, np.dtype] = {"F64": np.dtype("<f8"), "F32": np.dtype("<f4")}
_DTYPES["F16"] = np.dtype("<f2")
_DTYPES["BF16"] = np.dtype("<u2")  # bfloat16: the top half of a float32, widened on load
# bytes per element of the other safetensors dtypes, so their sizes are checked too
_OTHER_SIZES: dict[str, int] = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "F8_E8M0": 1,
}
_OTHER_SIZES |= {"I16": 2, "U16": 2, "I32": 4, "U32": 4, "I64": 8, "U64": 8, "C64": 8}


class WeightsError(ValueError):
    """A checkpoint that cannot be used; the message is one line for the user."""


def load_config(path: Path) -> GPTConfig:
    path = Path(path)
    try:
        raw = read_limited(path, MAX_CONFIG_BYTES, "a config.json")
    except FileProblem as e:
        raise WeightsError(str(e)) from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise WeightsError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise WeightsError(f"{path}: invalid JSON at line {e.lineno}: {e.msg}") from None
    except RecursionError:
        raise WeightsError(f"{path}: JSON nested too deeply") from None
    except ValueError as e:  # e.g. an integer literal beyond Python's digit limit
        raise WeightsError(f"{path}: invalid JSON ({str(e).splitlines()[0]})") from None
    try:
        return GPTConfig.from_hf_dict(data, name=path.parent.name)
    except (ConfigError, TypeError) as e:
        raise WeightsError(f"{path}: {e}") from None


@dataclass(frozen=True)
class TensorInfo:
    dtype: str  # safetensors dtype name: F32, BF16...
    shape: tuple[int, ...]
    begin: int  # byte offsets in the data region (after the header)
    end: int


@dataclass(frozen=True)
class Header:
    data_start: int  # 8 + header length: where the data region begins in the file
    file_size: int
    tensors: dict[str, TensorInfo]  # in header order


def _itemsize(dt: object) -> int | None:
    if not isinstance(dt, str):
        return None
    if dt in _DTYPES:
        return _DTYPES[dt].itemsize
    return _OTHER_SIZES.get(dt)


def read_header(path: Path, data: bool = True) -> Header:
    """Read and check a safetensors header, touching no tensor data: every entry's dtype,
    shape and byte range agree, the ranges tile the data region from 0 without gaps or
    overlaps, and (with `data`) the data region the header declares is exactly what the file
    holds. Without `data`, a file whose data is missing or cut short still gives its header."""
    path = Path(path)
    try:
        fd, size = open_regular(path, "a safetensors file")
    except FileProblem as e:
        raise WeightsError(str(e)) from None
    try:
        with os.fdopen(os.dup(fd), "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise WeightsError(
                    f"{path}: not a valid safetensors file ({size} bytes: no header length)"
                )
            n = int.from_bytes(head, "little")
            if n > MAX_HEADER_BYTES or 8 + n > size:
                raise WeightsError(
                    f"{path}: not a valid safetensors file (header length {n:,} points past "
                    f"the end of the {size:,}-byte file)"
                )
            text = f.read(n)
    except OSError as e:
        raise WeightsError(f"{path}: cannot read ({reason(e)})") from None
    finally:
        os.close(fd)
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise WeightsError(f"{path}: not a valid safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise WeightsError(f"{path}: not a valid safetensors file (header is not a JSON object)")

    data_len = size - 8 - n
    tensors: dict[str, TensorInfo] = {}
    for key, info in header.items():
        if key == "__metadata__":
            if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
                raise WeightsError(f"{path}: __metadata__ must map names to strings")
            continue
        tensors[key] = _tensor_info(path, key, info, data_len if data else None)
    position = 0  # the ranges, in order, must tile the data region
    for key, t in sorted(tensors.items(), key=lambda kv: (kv[1].begin, kv[1].end)):
        if t.begin != position:
            what = "overlaps another tensor" if t.begin < position else "leaves a gap before it"
            raise WeightsError(
                f"{path}: tensor {key!r} starts at byte {t.begin:,} of the data and {what}"
            )
        position = t.end
    if data and position != data_len:
        raise WeightsError(
            f"{path}: not a valid safetensors file (the tensors declare {position:,} bytes of "
            f"data but the file holds {data_len:,})"
        )
    return Header(8 + n, size, tensors)


def _tensor_info(path: Path, key: str, info: object, data_len: int | None) -> TensorInfo:
    if not isinstance(info, dict):
        raise WeightsError(f"{path}: header entry {key!r} is not an object")
    dt, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    itemsize = _itemsize(dt)
    if itemsize is None:
        raise WeightsError(f"{path}: tensor {key!r} has an unknown dtype {str(dt)[:20]!r}")
    if not (
        isinstance(shape, list)
        and all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
    ):
        raise WeightsError(f"{path}: tensor {key!r} has no valid shape (a list of integers)")
    if not 1 <= len(shape) <= MAX_DIMS or any(d < 0 or d > MAX_DIM for d in shape):
        raise WeightsError(
            f"{path}: tensor {key!r} has an impossible shape {list(shape)[:8]} "
            f"({len(shape)} dimensions)"
        )
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)
        and offsets[0] <= offsets[1]
    ):
        raise WeightsError(f"{path}: tensor {key!r} has no valid data_offsets [begin, end]")
    begin, end = offsets
    nbytes = itemsize
    for d in shape:
        nbytes *= d
    if end - begin != nbytes:
        raise WeightsError(
            f"{path}: tensor {key!r} declares {end - begin:,} bytes but {dt} {shape} "
            f"takes {nbytes:,}"
        )
    if data_len is not None and end > data_len:
        raise WeightsError(
            f"{path}: tensor {key!r} declares bytes up to {end:,} but the file holds only "
            f"{data_len:,} bytes of data"
        )
    return TensorInfo(str(dt), tuple(shape), begin, end)


def _check_dtype(path: Path, key: str, t: TensorInfo) -> None:
    if t.dtype not in _DTYPES:
        raise WeightsError(
            f"{path}: tensor {key!r} has dtype {t.dtype!r}, expected F64, F32, F16 or BF16"
        )


def _map(path: Path, header: Header) -> np.memmap | None:
    """The whole file, mapped once read-only (None for a file with no data to map)."""
    if header.file_size == header.data_start:
        return None
    try:
        fd, size = open_regular(path, "a safetensors file")
    except FileProblem as e:
        raise WeightsError(str(e)) from None
    try:
        if size != header.file_size:
            raise WeightsError(f"{path}: the file changed while it was being read")
        with os.fdopen(os.dup(fd), "rb") as f:
            return np.memmap(f, np.uint8, mode="r", shape=(size,))
    except (OSError, ValueError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise WeightsError(f"{path}: cannot map the file ({first})") from None
    finally:
        os.close(fd)


def _view(buf: np.memmap | None, header: Header, t: TensorInfo) -> np.ndarray:
    """A read-only view of one tensor's bytes (no copy, no file descriptor of its own)."""
    dt = _DTYPES[t.dtype]
    if buf is None or t.begin == t.end:
        return np.zeros(t.shape, dt)
    start = header.data_start + t.begin
    return buf[start : header.data_start + t.end].view(dt).reshape(t.shape)


def _widen(arr: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "BF16":  # bfloat16 is the top half of a float32
        return (arr.astype(np.uint32) << 16).view(np.float32)
    return arr


def _check_memory(path: Path, need: int, target: np.dtype) -> None:
    """Refuse, before allocating, a conversion that needs more memory than there is."""
    free = available_memory()
    if need > (1 << 26) and free is not None and need > free:
        raise WeightsError(
            f"{path}: converting the weights to {target.name} needs {need / 2**30:.1f} GiB, "
            f"more than the {free / 2**30:.1f} GiB of memory available"
        )


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file: read-only views of one memory mapping of the file
    (bfloat16 is widened to float32, a copy)."""
    path = Path(path)
    header = read_header(path)
    for key, t in header.tensors.items():
        _check_dtype(path, key, t)
    need = sum((t.end - t.begin) * 2 for t in header.tensors.values() if t.dtype == "BF16")
    _check_memory(path, need, np.dtype(np.float32))
    buf = _map(path, header)
    return {key: _widen(_view(buf, header, t), t.dtype) for key, t in header.tensors.items()}


def _all_finite(a: np.ndarray, chunk: int = 1 << 22) -> bool:
    flat = a.reshape(-1)
    return all(np.isfinite(flat[i : i + chunk]).all() for i in range(0, flat.size, chunk))


def _locate(path: Path) -> tuple[Path, Path]:
    """(checkpoint directory, its safetensors file) for a directory or the file itself; a
    directory is a directory whatever its name ends in."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise WeightsError(f"{path}: no such checkpoint directory") from None
    except OSError as e:
        raise WeightsError(f"{path}: cannot open the checkpoint ({reason(e)})") from None
    if stat.S_ISDIR(st.st_mode):
        directory, weights_path = path, path / WEIGHTS_FILE
    elif path.suffix.lower() in PICKLE_SUFFIXES:
        raise WeightsError(f"{path}: {CONVERT_HINT}")
    else:
        directory, weights_path = path.parent, path
    try:
        os.stat(weights_path)
    except FileNotFoundError:
        try:
            names = sorted(os.listdir(directory))
        except OSError as e:
            raise WeightsError(f"{directory}: cannot list the folder ({reason(e)})") from None
        pickles = [n for n in names if Path(n).suffix.lower() in PICKLE_SUFFIXES]
        if pickles:
            raise WeightsError(f"{directory / pickles[0]}: {CONVERT_HINT}") from None
        raise WeightsError(f"{weights_path}: file not found") from None
    except OSError as e:
        raise WeightsError(f"{weights_path}: cannot read the weights ({reason(e)})") from None
    return directory, weights_path


def _match(cfg: GPTConfig, header: Header, weights_path: Path) -> list[tuple[str, str, TensorInfo]]:
    """(parameter name, header key, tensor) for every parameter the config implies, each with
    the shape the config implies; refuses missing, duplicated and unexpected tensors."""
    keys: dict[str, str] = {}
    for key in header.tensors:
        name = key.removeprefix("transformer.")
        if _MASK_BUFFER.match(name):
            continue
        if name in keys:
            raise WeightsError(f"{weights_path}: tensor {name!r} appears twice")
        keys[name] = key
    # HF configs omit tie_word_embeddings (parsed as tied); an explicit false with no
    # lm_head.weight is reported below as a missing tensor.
    if cfg.tie_word_embeddings:
        keys.pop("lm_head.weight", None)  # HF files may store the tied copy too
    out = []
    for spec in iter_param_specs(cfg):  # lazily: stops at the first missing tensor
        if spec.name not in keys:
            raise WeightsError(f"{weights_path}: missing tensor {spec.name!r}")
        key = keys.pop(spec.name)
        t = header.tensors[key]
        _check_dtype(weights_path, spec.name, t)
        if t.shape != spec.shape:
            raise WeightsError(
                f"{weights_path}: tensor {spec.name!r} has shape {list(t.shape)} but "
                f"{CONFIG_FILE} implies {list(spec.shape)}"
            )
        out.append((spec.name, key, t))
    if keys:
        extra = sorted(keys)[0]
        raise WeightsError(
            f"{weights_path}: unexpected tensor {extra!r} (not part of a GPT-2 with "
            f"n_layer={cfg.n_layer}, bias={cfg.bias}; does {CONFIG_FILE} match the weights?)"
        )
    return out


def read_checkpoint_config(path: str | Path) -> GPTConfig:
    """A checkpoint's configuration, checked against its safetensors header (every tensor the
    config implies is declared, with its shape) without reading any tensor data."""
    directory, weights_path = _locate(Path(path))
    cfg = load_config(directory / CONFIG_FILE)
    _match(cfg, read_header(weights_path, data=False), weights_path)
    return cfg


def load_checkpoint(path: str | Path, dtype=np.float32) -> tuple[GPTConfig, Params]:
    """Load a checkpoint directory (or its model.safetensors). Tensors already in `dtype` stay
    memory-mapped; others are converted (after checking there is memory for them)."""
    directory, weights_path = _locate(Path(path))
    cfg = load_config(directory / CONFIG_FILE)
    header = read_header(weights_path)
    matched = _match(cfg, header, weights_path)
    target = np.dtype(dtype)
    need = sum(
        (t.end - t.begin) // _DTYPES[t.dtype].itemsize * target.itemsize * (1 + (t.dtype == "BF16"))
        for _, _, t in matched
        if _DTYPES[t.dtype] != target
    )
    _check_memory(weights_path, need, target)
    buf = _map(weights_path, header)
    params: Params = {}
    for name, _key, t in matched:
        arr = _widen(_view(buf, header, t), t.dtype)
        with np.errstate(over="ignore"):  # overflow in the cast shows up as inf below
            arr = arr.astype(dtype, copy=False)
        if not _all_finite(arr):
            raise WeightsError(
                f"{weights_path}: tensor {name!r} has NaN or inf values "
                f"(or values too large for {target.name})"
            )
        params[name] = arr
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
    sweep_stale(directory.parent)  # temp folders of saves that were killed (their pid is gone)
    tmp = make_temp(directory, ".tmp", folder=True)  # .NAME.PID-XXXXXXXX.tmp
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
    if spec in PRESETS:
        shipped = shipped_model_dir(spec)
        if (shipped / WEIGHTS_FILE).is_file():
            return load_checkpoint(shipped)
        return PRESETS[spec], None
    return load_checkpoint(_existing(spec))


def _existing(spec: str) -> Path:
    path = Path(spec)
    try:
        os.stat(path)
    except FileNotFoundError:
        raise WeightsError(
            f"{spec}: neither a preset ({', '.join(PRESETS)}) nor an existing checkpoint directory"
        ) from None
    except OSError as e:
        raise WeightsError(f"{spec}: cannot open the checkpoint ({reason(e)})") from None
    return path


def resolve_config(spec: str) -> GPTConfig:
    """resolve_model's configuration alone: a preset's, or a checkpoint's checked against its
    safetensors header; no tensor data is read (for `llmviz params`)."""
    if spec in PRESETS:
        shipped = shipped_model_dir(spec)
        if (shipped / WEIGHTS_FILE).is_file():
            return read_checkpoint_config(shipped)
        return PRESETS[spec]
    return read_checkpoint_config(_existing(spec))
