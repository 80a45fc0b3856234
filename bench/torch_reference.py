"""A plain PyTorch (CPU) GPT-2 reference for the benchmarks; nothing in src/ imports this.

It takes the same parameter dict as the numpy model (Hugging Face GPT-2 names, Conv1D layout:
linear weight [in, out], y = x @ W + b, c_attn packs q | k | v, lm_head [V, C] only when
untied) and computes the same function: learned token + position embeddings, pre-LN blocks with
causal multi-head attention and a tanh-GELU MLP, final layer norm, logits = x @ W_lm^T.

The trainer follows the numpy Trainer's recipe: AdamW betas (0.9, 0.95), eps 1e-8, weight decay
0.1 on the attention / MLP / lm_head matrices only, global-norm clip 1.0, constant lr, batches
from tasks.sort_batch driven by a numpy Generator seeded like the numpy Trainer's.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from llmviz_desktop.model.config import GPTConfig
from llmviz_desktop.model.params import Params, init_params, param_specs
from llmviz_desktop.model.tasks import all_inputs, sequences_for, sort_batch
from llmviz_desktop.model.train import TrainConfig

TorchParams = dict[str, torch.Tensor]


def to_torch(params: Params, requires_grad: bool = False) -> TorchParams:
    """Copy a numpy parameter dict into float32 torch tensors (same names)."""
    return {
        k: torch.tensor(np.asarray(v, dtype=np.float32), requires_grad=requires_grad)
        for k, v in params.items()
    }


def _linear(x: torch.Tensor, p: TorchParams, prefix: str) -> torch.Tensor:
    """Conv1D: x [..., in] @ W [in, out] + b."""
    w = p[f"{prefix}.weight"]
    b = p.get(f"{prefix}.bias")
    x2 = x.reshape(-1, x.shape[-1])
    y = x2 @ w if b is None else torch.addmm(b, x2, w)
    return y.view(*x.shape[:-1], w.shape[1])


def _ln(x: torch.Tensor, p: TorchParams, prefix: str, eps: float) -> torch.Tensor:
    return F.layer_norm(x, (x.shape[-1],), p[f"{prefix}.weight"], p.get(f"{prefix}.bias"), eps)


def gpt_forward(
    cfg: GPTConfig,
    p: TorchParams,
    idx: torch.Tensor,
    attention: str = "sdpa",
    with_probs: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """logits [B, T, V] for token ids idx [B, T] (or probs too when with_probs).

    attention="sdpa" uses F.scaled_dot_product_attention(is_causal=True) (what a plain
    PyTorch GPT such as nanoGPT uses); "manual" materialises scores and probs like gpt.py.
    """
    B, T = idx.shape
    C, H, D, eps = cfg.n_embd, cfg.n_head, cfg.head_dim, cfg.layer_norm_epsilon
    x = p["wte.weight"][idx] + p["wpe.weight"][:T]  # [B, T, C]
    if attention == "manual":
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)  # True above the diagonal
        scale = 1.0 / float(np.sqrt(D))
    for i in range(cfg.n_layer):
        pre = f"h.{i}"
        a = _ln(x, p, f"{pre}.ln_1", eps)
        qkv = _linear(a, p, f"{pre}.attn.c_attn")  # [B, T, 3C]
        q, k, v = qkv.view(B, T, 3, H, D).permute(2, 0, 3, 1, 4).unbind(0)  # [B, H, T, D]
        if attention == "sdpa":
            yh = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = (q @ k.transpose(-1, -2)) * scale
            scores = scores.masked_fill(mask, float("-inf"))
            yh = torch.softmax(scores, dim=-1) @ v
        y = yh.transpose(1, 2).reshape(B, T, C)
        x = x + _linear(y, p, f"{pre}.attn.c_proj")
        m = _ln(x, p, f"{pre}.ln_2", eps)
        g = F.gelu(_linear(m, p, f"{pre}.mlp.c_fc"), approximate="tanh")
        x = x + _linear(g, p, f"{pre}.mlp.c_proj")
    xf = _ln(x, p, "ln_f", eps)
    w_lm = p["wte.weight"] if cfg.tie_word_embeddings else p["lm_head.weight"]  # [V, C]
    logits = (xf.reshape(B * T, C) @ w_lm.t()).view(B, T, -1)
    if with_probs:  # the numpy Trace also holds softmax(logits)
        return logits, torch.softmax(logits, dim=-1)
    return logits


@torch.inference_mode()
def torch_sort_accuracy(cfg: GPTConfig, p: TorchParams, attention: str = "sdpa") -> int:
    """The greedy count from one teacher-forced forward over input + solution, the same exact
    method as numpy's sort_accuracy (greedy decoding is right iff every solution-position
    argmax given the correct prefix is correct), so both trainers evaluate alike."""
    x, y = sequences_for(all_inputs())
    pred = gpt_forward(cfg, p, torch.from_numpy(x), attention).argmax(dim=-1).numpy()
    return int(((pred == y) | (y < 0)).all(axis=1).sum())


@torch.inference_mode()
def torch_greedy_sort_accuracy(cfg: GPTConfig, p: TorchParams, attention: str = "sdpa") -> int:
    """Greedy batched decoding of all 729 inputs (full recompute each step, like generate.py);
    returns how many come out sorted. Used to cross-check torch_sort_accuracy."""
    inp = torch.from_numpy(all_inputs())  # [729, L]
    L = inp.shape[1]
    seq = inp
    for _ in range(L):
        logits = gpt_forward(cfg, p, seq, attention)
        tok = logits[:, -1].argmax(dim=-1)
        seq = torch.cat([seq, tok[:, None]], dim=1)
    out = seq[:, -L:]
    return int((out == inp.sort(dim=1).values).all(dim=1).sum())


class TorchTrainer:
    """The numpy Trainer's recipe in PyTorch: same initial weights, same data stream."""

    def __init__(self, cfg: GPTConfig, tcfg: TrainConfig, attention: str = "sdpa"):
        self.cfg, self.tcfg, self.attention = cfg, tcfg, attention
        self.params = to_torch(init_params(cfg, tcfg.seed), requires_grad=True)
        self.rng = np.random.default_rng(tcfg.seed + 1)  # as the numpy Trainer
        decay_names = {s.name for s in param_specs(cfg) if s.decays}
        decay = [t for k, t in self.params.items() if k in decay_names]
        no_decay = [t for k, t in self.params.items() if k not in decay_names]
        self.opt = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": tcfg.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=tcfg.lr,
            betas=tcfg.betas,
            eps=tcfg.eps,
        )
        self.step_count = 0

    def step(self) -> float:
        t = self.tcfg
        x, y = sort_batch(self.rng, t.batch_size)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        logits = gpt_forward(self.cfg, self.params, xt, self.attention)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), yt.view(-1), ignore_index=-1)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(self.params.values()), t.grad_clip)
        self.opt.step()
        self.step_count += 1
        return float(loss.detach())

    def numpy_params(self) -> Params:
        return {k: v.detach().numpy().copy() for k, v in self.params.items()}
