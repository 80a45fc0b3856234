"""The parameter tensors of a GPT: Hugging Face GPT-2 names, shapes and kinds, defined once.

Layouts follow the Hugging Face checkpoint (Conv1D): a linear layer's weight is [in, out] and
is applied as x @ W + b. c_attn packs q | k | v along its output axis.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .config import GPTConfig

Params = dict[str, np.ndarray]


@dataclass(frozen=True)
class ParamSpec:
    name: str  # Hugging Face key without the "transformer." prefix
    shape: tuple[int, ...]
    kind: str  # token_embedding, position_embedding, attn_qkv, attn_out, mlp_up, mlp_down,
    # unembedding, bias, layer_norm
    layer: int | None  # block index, None outside the blocks
    axes: tuple[str, ...]  # what each axis means

    @property
    def is_matrix(self) -> bool:
        """Weight matrices: embeddings, unembedding, attention and MLP weights."""
        return self.kind not in ("bias", "layer_norm", "position_embedding")

    @property
    def decays(self) -> bool:
        """AdamW weight decay applies to the linear layers' matrices only (as in minGPT)."""
        return self.kind in ("attn_qkv", "attn_out", "mlp_up", "mlp_down", "unembedding")

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


def param_specs(cfg: GPTConfig, include_tied: bool = False) -> list[ParamSpec]:
    """Every parameter tensor in checkpoint order. lm_head is listed only when untied
    (or when include_tied asks for it, to count the unembedding as its own matrix)."""
    return list(iter_param_specs(cfg, include_tied))


def iter_param_specs(cfg: GPTConfig, include_tied: bool = False) -> Iterator[ParamSpec]:
    """param_specs lazily: a loader can stop at the first missing tensor even when a corrupt
    config claims millions of layers."""
    C, V, P = cfg.n_embd, cfg.vocab_size, cfg.block_size
    yield ParamSpec("wte.weight", (V, C), "token_embedding", None, ("vocab", "C"))
    yield ParamSpec("wpe.weight", (P, C), "position_embedding", None, ("T", "C"))

    def ln(prefix: str, layer: int | None) -> Iterator[ParamSpec]:
        yield ParamSpec(f"{prefix}.weight", (C,), "layer_norm", layer, ("C",))
        if cfg.bias:
            yield ParamSpec(f"{prefix}.bias", (C,), "layer_norm", layer, ("C",))

    def linear(prefix: str, n_in: int, n_out: int, kind: str, layer: int, axes):
        yield ParamSpec(f"{prefix}.weight", (n_in, n_out), kind, layer, axes)
        if cfg.bias:
            yield ParamSpec(f"{prefix}.bias", (n_out,), "bias", layer, (axes[1],))

    for i in range(cfg.n_layer):
        yield from ln(f"h.{i}.ln_1", i)
        yield from linear(f"h.{i}.attn.c_attn", C, 3 * C, "attn_qkv", i, ("C", "3C"))
        yield from linear(f"h.{i}.attn.c_proj", C, C, "attn_out", i, ("C", "C"))
        yield from ln(f"h.{i}.ln_2", i)
        yield from linear(f"h.{i}.mlp.c_fc", C, 4 * C, "mlp_up", i, ("C", "4C"))
        yield from linear(f"h.{i}.mlp.c_proj", 4 * C, C, "mlp_down", i, ("4C", "C"))
    yield from ln("ln_f", None)
    if include_tied or not cfg.tie_word_embeddings:
        yield ParamSpec("lm_head.weight", (V, C), "unembedding", None, ("vocab", "C"))


def init_params(cfg: GPTConfig, seed: int, dtype=np.float32) -> Params:
    """GPT-2 / minGPT initialisation: N(0, 0.02) weights, residual projections scaled by
    1/sqrt(2 * n_layer), zero biases, unit layer-norm gains. Deterministic from the seed."""
    rng = np.random.default_rng(seed)
    params: Params = {}
    for spec in param_specs(cfg):
        if spec.kind == "layer_norm" and spec.name.endswith(".weight"):
            value = np.ones(spec.shape)
        elif spec.kind in ("bias", "layer_norm"):
            value = np.zeros(spec.shape)
        else:
            std = 0.02
            if spec.kind in ("attn_out", "mlp_down"):
                std = 0.02 / np.sqrt(2 * cfg.n_layer)
            value = rng.normal(0.0, std, size=spec.shape)
        params[spec.name] = value.astype(dtype)
    return params


def lm_head(cfg: GPTConfig, params: Params) -> np.ndarray:
    """The unembedding matrix [V, C] (wte itself when tied)."""
    return params["wte.weight"] if cfg.tie_word_embeddings else params["lm_head.weight"]
