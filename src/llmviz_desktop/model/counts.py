"""Parameter counts per tensor kind, per block and in total, from the configuration alone."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import GPTConfig
from .params import param_specs

# Display order and names; c_attn is split into its query / key / value thirds.
KIND_TITLES = {
    "token_embedding": "Token embedding (wte)",
    "attn_query": "Attention query",
    "attn_key": "Attention key",
    "attn_value": "Attention value",
    "attn_out": "Attention output",
    "mlp_up": "MLP up-projection",
    "mlp_down": "MLP down-projection",
    "unembedding": "Unembedding (lm_head)",
    "position_embedding": "Position embedding (wpe)",
    "bias": "Biases",
    "layer_norm": "Layer norms",
}
MATRIX_KINDS = tuple(list(KIND_TITLES)[:8])
# Models up to this size are traced in float64 (nano-sort: ~85 k parameters, a trace of a few
# hundred KB), so every digit the app prints is a true digit even where a value is a small
# difference of large ones; larger models (GPT-2: 124 M+) stay float32 to keep memory down.
FLOAT64_TRACE_MAX_PARAMS = 4_000_000


@dataclass(frozen=True)
class KindCount:
    kind: str
    title: str
    per_layer: int  # in each block (0 for tensors outside the blocks)
    total: int  # over the whole model
    is_matrix: bool


@dataclass(frozen=True)
class ParamCounts:
    config: GPTConfig
    kinds: list[KindCount]
    block_matrices: int  # one block, weight matrices only
    block_total: int  # one block, everything
    matrices_total: int
    total: int
    tied: bool  # unembedding shares wte's storage (counted once)


def count_params(cfg: GPTConfig) -> ParamCounts:
    per_layer: dict[str, int] = dict.fromkeys(KIND_TITLES, 0)
    total: dict[str, int] = dict.fromkeys(KIND_TITLES, 0)
    for spec in param_specs(cfg):
        kinds = [spec.kind]
        size = spec.size
        if spec.kind == "attn_qkv":
            kinds, size = ["attn_query", "attn_key", "attn_value"], size // 3
        for kind in kinds:
            total[kind] += size
            if spec.layer == 0:
                per_layer[kind] += size
    rows = [
        KindCount(k, KIND_TITLES[k], per_layer[k], total[k], k in MATRIX_KINDS) for k in KIND_TITLES
    ]
    return ParamCounts(
        config=cfg,
        kinds=rows,
        block_matrices=sum(r.per_layer for r in rows if r.is_matrix),
        block_total=sum(r.per_layer for r in rows),
        matrices_total=sum(r.total for r in rows if r.is_matrix),
        total=sum(r.total for r in rows),
        tied=cfg.tie_word_embeddings,
    )


def trace_dtype(cfg: GPTConfig) -> type[np.floating]:
    """The float type the app traces a model in: float64 when it is small (see
    FLOAT64_TRACE_MAX_PARAMS), float32 otherwise."""
    return np.float64 if count_params(cfg).total <= FLOAT64_TRACE_MAX_PARAMS else np.float32
