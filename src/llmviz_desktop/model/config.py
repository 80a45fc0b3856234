"""GPT configuration: the dataclass, the named presets and the Hugging Face config.json mapping."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


class ConfigError(ValueError):
    """A configuration that cannot describe a GPT; the message is one line for the user."""


# activation_function values of Hugging Face's GPT2Config that the forward pass computes exactly
# (transformers' ACT2FN): the tanh approximation of GELU under its two names, the exact (erf)
# GELU, ReLU and SiLU (= swish).
ACTIVATIONS = ("gelu_new", "gelu_pytorch_tanh", "gelu", "relu", "silu", "swish")
TANH_GELU = ("gelu_new", "gelu_pytorch_tanh")


@dataclass(frozen=True)
class GPTConfig:
    name: str = "custom"  # preset or checkpoint name, shown in the UI
    n_layer: int = 3  # transformer blocks
    n_head: int = 3  # attention heads per block
    n_embd: int = 48  # residual stream width C; head dim is n_embd // n_head
    vocab_size: int = 3  # rows of the token embedding / columns of the logits
    block_size: int = 11  # context length (Hugging Face: n_positions)
    layer_norm_epsilon: float = 1e-5  # added to the variance inside every layer norm
    bias: bool = True  # biases in linear layers and layer norms (GPT-2 has them)
    tie_word_embeddings: bool = False  # lm_head shares wte's storage (GPT-2 does)
    vocab: tuple[str, ...] | None = None  # token strings for character vocabularies
    activation: str = "gelu_new"  # the MLP's nonlinearity (one of ACTIVATIONS)
    scale_attn_weights: bool = True  # scores divided by sqrt(head_dim) (HF: scale_attn_weights)
    # scores of block i also divided by i + 1 (HF: scale_attn_by_inverse_layer_idx)
    scale_attn_by_inverse_layer_idx: bool = False
    # what the model was trained for, e.g. {"name": "sort", "length": 6}
    task: dict[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for key in ("n_layer", "n_head", "n_embd", "vocab_size", "block_size"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{key} must be a positive integer, got {value!r}")
        if self.n_embd % self.n_head:
            raise ConfigError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        eps = self.layer_norm_epsilon
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not (0 < eps < 1):
            raise ConfigError(f"layer_norm_epsilon must be a number in (0, 1), got {eps!r}")
        if self.vocab is not None and len(self.vocab) != self.vocab_size:
            raise ConfigError(
                f"vocab lists {len(self.vocab)} tokens but vocab_size is {self.vocab_size}"
            )
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"activation_function {self.activation!r} is not supported "
                f"(expected one of {', '.join(ACTIVATIONS)})"
            )
        for key in ("scale_attn_weights", "scale_attn_by_inverse_layer_idx"):
            if not isinstance(getattr(self, key), bool):
                raise ConfigError(f"{key} must be true or false, got {getattr(self, key)!r}")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def replace(self, **changes: Any) -> GPTConfig:
        return dataclasses.replace(self, **changes)

    # ---- Hugging Face GPT2Config keys -------------------------------------------------------

    def to_hf_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "model_type": "gpt2",
            "architectures": ["GPT2LMHeadModel"],
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "n_embd": self.n_embd,
            "vocab_size": self.vocab_size,
            "n_positions": self.block_size,
            "n_ctx": self.block_size,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "activation_function": self.activation,
            "tie_word_embeddings": self.tie_word_embeddings,
            "bias": self.bias,
            "llmviz_name": self.name,
        }
        if not self.scale_attn_weights:
            d["scale_attn_weights"] = False
        if self.scale_attn_by_inverse_layer_idx:
            d["scale_attn_by_inverse_layer_idx"] = True
        if self.vocab is not None:
            d["vocab"] = list(self.vocab)
        if self.task is not None:
            d["task"] = dict(self.task)
        return d

    @classmethod
    def from_hf_dict(cls, d: Any, name: str = "custom") -> GPTConfig:
        """Read a GPT2Config-style dict; raises ConfigError naming the offending key."""
        if not isinstance(d, dict):
            raise ConfigError("expected a JSON object at the top level")
        if "model_type" in d and d["model_type"] != "gpt2":
            raise ConfigError(f"model_type {d['model_type']!r} is not a GPT-2 model")
        _refuse_unsupported_arithmetic(d)
        kwargs: dict[str, Any] = {"name": d.get("llmviz_name", name)}
        act = d.get("activation_function", "gelu_new")
        if not isinstance(act, str) or act not in ACTIVATIONS:
            raise ConfigError(
                f"activation_function {act!r} is not supported "
                f"(expected one of {', '.join(ACTIVATIONS)})"
            )
        kwargs["activation"] = act
        for key, hf_key in (
            ("n_layer", "n_layer"),
            ("n_head", "n_head"),
            ("n_embd", "n_embd"),
            ("vocab_size", "vocab_size"),
            ("block_size", "n_positions"),
        ):
            if hf_key not in d:
                raise ConfigError(f"missing key {hf_key!r}")
            kwargs[key] = d[hf_key]
        if "layer_norm_epsilon" in d:
            kwargs["layer_norm_epsilon"] = d["layer_norm_epsilon"]
        for key in (
            "bias",
            "tie_word_embeddings",
            "scale_attn_weights",
            "scale_attn_by_inverse_layer_idx",
        ):
            if key in d:
                if not isinstance(d[key], bool):
                    raise ConfigError(f"{key} must be true or false, got {d[key]!r}")
                kwargs[key] = d[key]
        # Hugging Face's own GPT-2 configs omit tie_word_embeddings and tie by default.
        kwargs.setdefault("tie_word_embeddings", True)
        if "vocab" in d:
            vocab = d["vocab"]
            if not isinstance(vocab, list) or not all(isinstance(t, str) and t for t in vocab):
                raise ConfigError("vocab must be a list of non-empty strings")
            if len(set(vocab)) != len(vocab):
                raise ConfigError("vocab has duplicate tokens")
            long = next((t for t in vocab if len(t) != 1), None)
            if long is not None:  # the character tokenizer reads one character per token
                raise ConfigError(
                    f"vocab token {long[:20]!r} is {len(long)} characters; a character "
                    "vocabulary has exactly one character per token"
                )
            kwargs["vocab"] = tuple(vocab)
        if "task" in d:
            task = d["task"]
            if not isinstance(task, dict):
                raise ConfigError("task must be an object")
            length = task.get("length")
            if "length" in task and (
                not isinstance(length, int) or isinstance(length, bool) or not 1 <= length <= 4096
            ):
                raise ConfigError(f"task.length must be a positive integer, got {length!r}")
            kwargs["task"] = dict(task)
        return cls(**kwargs)


def _refuse_unsupported_arithmetic(d: dict[str, Any]) -> None:
    """Hugging Face GPT2Config keys that would change the computation in ways the forward pass
    does not implement: refused with one line rather than silently computing something else.
    reorder_and_upcast_attn only changes the precision of the scores (float32 here anyway);
    dropout, use_cache and summary_* keys do not affect inference."""
    n_inner = d.get("n_inner")
    n_embd = d.get("n_embd")
    if n_inner is not None and not (
        isinstance(n_inner, int)
        and not isinstance(n_inner, bool)
        and isinstance(n_embd, int)
        and n_inner == 4 * n_embd
    ):
        raise ConfigError(
            f"n_inner {n_inner!r} is not supported (the MLP width must be 4 * n_embd; use null)"
        )
    if d.get("add_cross_attention") not in (False, None):
        raise ConfigError(
            f"add_cross_attention {d['add_cross_attention']!r} is not supported "
            "(a GPT-2 language model has no cross-attention; expected false)"
        )
    if d.get("pruned_heads") not in (None, {}):
        raise ConfigError("pruned_heads is not supported (every block must keep all its heads)")
    rua = d.get("reorder_and_upcast_attn", False)
    if not isinstance(rua, bool):
        raise ConfigError(f"reorder_and_upcast_attn must be true or false, got {rua!r}")


def _gpt2(name: str, n_layer: int, n_head: int, n_embd: int) -> GPTConfig:
    return GPTConfig(
        name=name,
        n_layer=n_layer,
        n_head=n_head,
        n_embd=n_embd,
        vocab_size=50257,
        block_size=1024,
        tie_word_embeddings=True,
    )


SORT_LENGTH = 6  # the sorting task: 6 letters in, 6 sorted letters out

PRESETS: dict[str, GPTConfig] = {
    "nano-sort": GPTConfig(
        name="nano-sort",
        n_layer=3,
        n_head=3,
        n_embd=48,
        vocab_size=3,
        block_size=2 * SORT_LENGTH - 1,
        tie_word_embeddings=False,
        vocab=("A", "B", "C"),
        task={"name": "sort", "length": SORT_LENGTH},
    ),
    "gpt2": _gpt2("gpt2", 12, 12, 768),
    "gpt2-medium": _gpt2("gpt2-medium", 24, 16, 1024),
    "gpt2-large": _gpt2("gpt2-large", 36, 20, 1280),
    "gpt2-xl": _gpt2("gpt2-xl", 48, 25, 1600),
    # GPT-3 175B (Brown et al. 2020, table 2.1); counted with a separate unembedding,
    # as in 3Blue1Brown's parameter tally.
    "gpt3": GPTConfig(
        name="gpt3",
        n_layer=96,
        n_head=96,
        n_embd=12288,
        vocab_size=50257,
        block_size=2048,
        tie_word_embeddings=False,
    ),
}


def preset(name: str) -> GPTConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})") from None
