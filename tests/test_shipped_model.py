"""The trained nano-sort that ships in assets/: Hugging Face layout, and it sorts every input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors import safe_open

from llmviz_desktop.model.generate import generate
from llmviz_desktop.model.tasks import all_inputs
from llmviz_desktop.model.weights import resolve_model
from llmviz_desktop.resources import shipped_model_dir

SHIPPED = shipped_model_dir("nano-sort")


def test_config_uses_hugging_face_keys():
    config = json.loads((SHIPPED / "config.json").read_text())
    assert config["n_layer"] == 3 and config["n_head"] == 3 and config["n_embd"] == 48
    assert config["vocab_size"] == 3 and config["n_positions"] == 11
    assert config["layer_norm_epsilon"] == 1e-5
    assert config["activation_function"] == "gelu_new"
    assert config["vocab"] == ["A", "B", "C"]


def test_tensors_use_hugging_face_names_and_layout():
    with safe_open(str(SHIPPED / "model.safetensors"), framework="np") as f:
        shapes = {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}
    assert shapes["wte.weight"] == (3, 48)
    assert shapes["wpe.weight"] == (11, 48)
    assert shapes["lm_head.weight"] == (3, 48)
    for i in range(3):
        assert shapes[f"h.{i}.attn.c_attn.weight"] == (48, 144)  # Conv1D: [in, q|k|v]
        assert shapes[f"h.{i}.attn.c_attn.bias"] == (144,)
        assert shapes[f"h.{i}.attn.c_proj.weight"] == (48, 48)
        assert shapes[f"h.{i}.mlp.c_fc.weight"] == (48, 192)
        assert shapes[f"h.{i}.mlp.c_proj.weight"] == (192, 48)
        for ln in ("ln_1", "ln_2"):
            assert shapes[f"h.{i}.{ln}.weight"] == shapes[f"h.{i}.{ln}.bias"] == (48,)
    assert len(shapes) == 2 + 3 * 12 + 2 + 1


def test_sorts_all_729_inputs_with_greedy_decoding():
    cfg, params = resolve_model("nano-sort")
    inputs = all_inputs()
    assert len(inputs) == 729
    gen = generate(cfg, params, inputs, 6)
    wrong = [i for i in range(729) if not (gen.tokens[i] == np.sort(inputs[i])).all()]
    assert wrong == []
    # trained well past the first 729/729: every greedy choice is confident
    chosen = np.stack([s.probs[np.arange(729), s.token] for s in gen.steps])
    assert chosen.min() > 0.9


@pytest.mark.slow
def test_shipped_weights_are_reproduced_by_our_trainer():
    """The README's `llmviz train --steps 5000 --seed 0` gives exactly the shipped weights
    (the trainer is deterministic: single-threaded BLAS, seeded data)."""
    from llmviz_desktop.model.config import preset
    from llmviz_desktop.model.train import TrainConfig, Trainer

    _, shipped = resolve_model("nano-sort")
    trainer = Trainer(preset("nano-sort"), TrainConfig(seed=0))
    for _ in range(5000):
        trainer.step()
    for name, value in shipped.items():
        np.testing.assert_array_equal(trainer.params[name], value, err_msg=name)
