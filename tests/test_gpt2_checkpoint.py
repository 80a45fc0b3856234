"""Real GPT-2 checkpoints from disk: a tiny checkpoint in exactly the Hugging Face format
(config.json, model.safetensors with the transformer. prefix and a tied head, tokenizer.json or
vocab.json + merges.txt from a BPE trained here), loaded, tokenised, traced and drawn."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_run import llmviz
from safetensors.numpy import save_file

from llmviz_desktop.model.config import GPTConfig
from llmviz_desktop.model.params import init_params
from llmviz_desktop.model.tokenizer import BPETokenizer, TokenizerError
from llmviz_desktop.session.loaded import load_model

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "a transformer reads every token and predicts the next one",
    "attention lets each position look at the positions before it",
    "hello world, this is a tiny byte level tokenizer for tests",
] * 40


def train_bpe(vocab_size: int = 320):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|endoftext|>"],
    )
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def write_checkpoint(directory, tokenizer_files: str = "json", seed: int = 0):
    """A Hugging Face GPT-2 folder: GPT2Config keys, transformer.-prefixed tensors, no
    lm_head (tied), the causal-mask buffers old checkpoints carry."""
    directory.mkdir(parents=True, exist_ok=True)
    tok = train_bpe()
    if tokenizer_files == "json":
        tok.save(str(directory / "tokenizer.json"))
    else:
        tok.model.save(str(directory))  # vocab.json + merges.txt
    V = tok.get_vocab_size()
    cfg = GPTConfig(
        n_layer=2, n_head=4, n_embd=64, vocab_size=V, block_size=64, tie_word_embeddings=True
    )
    params = init_params(cfg, seed)
    rng = np.random.default_rng(seed)
    for k in params:  # biases and layer norms off their init so they matter
        if params[k].ndim == 1:
            params[k] = params[k] + rng.normal(0, 0.1, params[k].shape).astype(np.float32)
    tensors = {f"transformer.{k}": v for k, v in params.items()}
    for i in range(cfg.n_layer):
        tensors[f"transformer.h.{i}.attn.bias"] = np.tril(np.ones((1, 1, 64, 64), np.float32))
    save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "n_layer": 2,
        "n_head": 4,
        "n_embd": 64,
        "vocab_size": V,
        "n_positions": 64,
        "n_ctx": 64,
        "layer_norm_epsilon": 1e-5,
        "activation_function": "gelu_new",
    }
    (directory / "config.json").write_text(json.dumps(config))
    return cfg, params, tok


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp("gpt2") / "tiny-gpt2"
    return d, *write_checkpoint(d)


def test_tiny_checkpoint_loads_and_its_logits_equal_an_independent_reference(ckpt):
    from test_forward_reference import reference_forward

    directory, cfg, params, tok = ckpt
    model = load_model(str(directory), "the quick brown fox")
    assert model.config.tie_word_embeddings and model.config.vocab_size == cfg.vocab_size
    ids = model.trace.tokens[0]
    ref = reference_forward(cfg, {k: v.astype(np.float64) for k, v in params.items()}, ids[None])
    np.testing.assert_allclose(model.trace.logits[0], ref["logits"][0], rtol=1e-4, atol=1e-5)


def test_tokenisation_round_trips(ckpt, tmp_path):
    directory, _, _, tok = ckpt
    for files in ("json", "vocab+merges"):
        d = directory if files == "json" else tmp_path / "vm"
        if files != "json":
            write_checkpoint(d, "vocab+merges")
        bpe = BPETokenizer.from_dir(d)
        for text in ["the quick brown fox", "Hello, world! 123", "tokens ⟶ ids"]:
            ids = bpe.encode(text)
            assert bpe.decode(ids) == text
        assert "".join(bpe.piece(i) for i in bpe.encode("the lazy dog")) == "the lazy dog"


def test_generation_and_scene_with_values(ckpt):
    directory, *_ = ckpt
    model = load_model(str(directory), "attention lets each")
    assert model.output_text  # 8 generated tokens, decoded
    names = {b.name for b in model.scene.boxes}
    assert "h.1.attn.head3.scores" in names and "logits" in names
    box = model.scene.by_name["logits"]
    assert box.source.matrix(model.trace, model.params).shape == (box.rows, box.cols)


def test_weights_are_memory_mapped(ckpt):
    directory, *_ = ckpt
    model = load_model(str(directory))
    w = model.params["h.0.mlp.c_fc.weight"]
    while not isinstance(w, np.memmap) and getattr(w, "base", None) is not None:
        w = w.base
    assert isinstance(w, np.memmap)


def test_bad_tokenizer_files_are_one_line_errors(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "tokenizer.json").write_text("{ not json")
    with pytest.raises(TokenizerError) as e:
        BPETokenizer.from_dir(d)
    assert "tokenizer.json" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(TokenizerError) as e:
        BPETokenizer.from_dir(tmp_path)
    assert "no tokenizer.json" in str(e.value)


@pytest.mark.gl
def test_cli_infer_and_render_on_a_checkpoint(ckpt, tmp_path):
    directory, *_ = ckpt
    out, report = tmp_path / "g.png", tmp_path / "g.json"
    r = llmviz(
        "render",
        "--model",
        str(directory),
        "--input",
        "the quick brown",
        "--out",
        str(out),
        "--report",
        str(report),
        "--size",
        "640x360",
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(report.read_text())
    assert data["model"] == str(directory) and data["output"]
