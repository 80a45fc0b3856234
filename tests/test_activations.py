"""The table of activations (model/activations.py) is the one place a tensor is named and
described: the forward pass, the layout, explanations and chapter checks all read it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from llmviz_desktop.model import activations as A
from llmviz_desktop.model.activations import Op
from llmviz_desktop.model.config import PRESETS, GPTConfig, preset
from llmviz_desktop.model.gpt import forward
from llmviz_desktop.model.params import init_params, param_specs
from llmviz_desktop.scene import explain as ex_mod
from llmviz_desktop.scene.explain import explain
from llmviz_desktop.scene.layout import build_scene
from llmviz_desktop.session.loaded import load_model
from llmviz_desktop.walkthrough.chapters import load_chapters, unknown_tensors

SRC = Path(A.__file__).parents[1]
# GPT-2's shape, small: biases, tied embeddings, 4 heads; and one without biases, untied
GPT2_SMALL = GPTConfig(
    name="gpt2-small-shape", n_layer=2, n_head=4, n_embd=16, vocab_size=11, block_size=8
)
GPT2_SMALL = GPT2_SMALL.replace(tie_word_embeddings=True)
NO_BIAS = GPTConfig(n_layer=2, n_head=2, n_embd=8, vocab_size=5, block_size=6, bias=False)


def run(cfg: GPTConfig, batch: int = 2, seed: int = 0):
    params = init_params(cfg, seed)
    tokens = np.random.default_rng(seed).integers(0, cfg.vocab_size, (batch, cfg.block_size - 1))
    return params, forward(cfg, params, tokens)


@pytest.fixture(scope="module", params=["nano-sort", "gpt2-small", "no-bias"])
def model(request, nano):
    """(config, params, trace of a real forward pass)."""
    if request.param == "nano-sort":
        return nano.config, nano.params, nano.trace
    cfg = GPT2_SMALL if request.param == "gpt2-small" else NO_BIAS
    return (cfg, *run(cfg))


def test_every_trace_entry_is_in_the_table_once_with_its_shape(model):
    cfg, _, trace = model
    B, T = trace.tokens.shape
    traced = A.traced(cfg)
    assert [a.name for a in traced] == trace.names()  # same order, each exactly once
    for a in traced:
        assert trace.axes(a.name) == a.axes, a.name
        assert trace[a.name].shape == A.shape(a, cfg, B, T), a.name
    names = [a.name for a in A.activations(cfg)]
    assert len(names) == len(set(names))


def test_every_parameter_is_a_weight_row(model):
    cfg, params, _ = model
    weights = {a.spec.key_of(a.layer) for a in A.activations(cfg) if a.op == Op.WEIGHT}
    expected = {s.name for s in param_specs(cfg, include_tied=True)}
    assert weights == expected
    for a in A.activations(cfg):
        if a.op == Op.WEIGHT and a.spec.param is None and a.name in params:
            assert params[a.name].shape == A.shape(a, cfg, 1, 1), a.name


def test_boxes_carry_the_table(model):
    cfg, params, trace = model
    scene = build_scene(cfg, trace, params)
    drawn = A.drawn(cfg)
    assert [b.name for b in scene.boxes] == [a.name for a in drawn]
    for box, a in zip(scene.boxes, drawn, strict=True):
        assert (box.op, box.inputs, box.spec) == (a.op, a.reads, a.spec.key)
        assert (box.layer, box.head) == (a.layer, a.head)
        assert box.address == box.source, box.name
        for role, name in box.inputs:
            assert name in scene, (box.name, role, name)
        if a.spec.store == "trace":
            assert box.source is not None and box.source.key == a.name


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_shell_box_reads_boxes_of_its_scene(preset):
    scene = build_scene(PRESETS[preset])  # gpt3: merged heads
    merged = scene.heads_merged > 1
    assert [b.name for b in scene.boxes] == [a.name for a in A.drawn(scene.config, merged)]
    for box in scene.boxes:
        assert box.op is not None and box.address is not None, box.name
        assert all(name in scene for _, name in box.inputs), box.name


def test_each_op_has_a_handler_and_explains_its_boxes(nano):
    assert set(ex_mod._HANDLERS) == set(Op)
    scene, trace, params = nano.scene, nano.trace, nano.params
    seen = set()
    for box in scene.boxes:
        assert box.op is not None
        seen.add(box.op)
        ex = explain(scene, box.name, 0, 0, trace, params)
        assert ex.value is not None and ex.recomputed is not None, box.name
        assert np.isclose(ex.value, ex.recomputed, rtol=1e-4, atol=1e-5), box.name
    assert seen == set(Op)


def test_explain_dispatches_on_the_op_not_the_name(nano, monkeypatch):
    """A box's explanation comes from the handler of its op."""
    calls = []
    handler = ex_mod._HANDLERS[Op.GELU]
    monkeypatch.setitem(ex_mod._HANDLERS, Op.GELU, lambda c: calls.append(c.box.name) or handler(c))
    explain(nano.scene, "h.1.mlp.gelu", 3, 2, nano.trace, nano.params)
    assert calls == ["h.1.mlp.gelu"]


def test_renaming_a_tensor_in_the_table_renames_it_everywhere(monkeypatch):
    """Trace names come only from Spec.name: prefix every trace tensor's name there and the
    forward pass, the layout, explanations and the walkthrough's helpers follow."""
    original = A.Spec.name

    def renamed(self, layer=None, head=None):
        name = original(self, layer, head)
        return f"renamed/{name}" if self.store == "trace" else name

    monkeypatch.setattr(A.Spec, "name", renamed)
    A.activations.cache_clear()
    A.by_name.cache_clear()
    try:
        cfg = GPT2_SMALL
        params, trace = run(cfg, batch=1)
        assert all(name.startswith("renamed/") for name in trace.names())
        scene = build_scene(cfg, trace, params)
        for box in scene.boxes:
            if box.source is not None and box.source.store == "trace":
                assert box.source.key in trace, box.name
            ex = explain(scene, box.name, 0, 0, trace, params)
            assert ex.recomputed is not None and np.isclose(ex.value, ex.recomputed, atol=1e-5)
        assert scene.softmax_boxes("renamed/h.1.attn.head2.q")[3] == "renamed/h.1.attn.head2.probs"
        ln = scene.layer_norm_boxes("renamed/h.0.ln_2")
        assert ln is not None and ln["mean"] == "renamed/h.0.ln_2.mean"
    finally:
        A.activations.cache_clear()
        A.by_name.cache_clear()


def test_chapter_files_name_only_tensors_of_their_models(nano):
    scenes = {None: nano.scene, "nano-sort": nano.scene}

    def scene_of(spec):
        if spec not in scenes:  # the larger presets are shown as shells; "scale": all four
            scenes[spec] = build_scene(preset(spec)) if spec != "scale" else load_model(spec).scene
        return scenes[spec]

    chapters = load_chapters()
    assert chapters.chapters
    for chapter in chapters.chapters:
        assert unknown_tensors(chapter, scene_of) == [], chapter.id
    # and a typo is caught, with the field it is in
    chapter = chapters.by_id("layer-norm")
    step = chapter.steps[0]
    bad = step.__class__(**{**step.__dict__, "highlight": ("h.0.ln_3.*",)})
    broken = chapter.__class__(**{**chapter.__dict__, "steps": (bad, *chapter.steps[1:])})
    (line,) = unknown_tensors(broken, scene_of)
    assert "steps[0].highlight" in line and "h.0.ln_3.*" in line


# ---- names are written once: no name-building strings outside model/activations.py ---------

# literal parts of an f-string that build a tensor name ("h.", ".attn.head", ".mean", "_weight")
NAME_PART = re.compile(
    r"^(h\.|ln_f\.?|\.(attn|mlp|ln_[12])(\..*)?|\.?(attn|mlp)\.\S*|\.head|\.heads\.?"
    r"|\.(q|k|v|scores|max|expsum|probs|out|mean|rstd|weight|bias|fc|gelu|proj|residual)"
    r"|_(weight|bias))$"
)
# the files (and, for timeline.py, the functions) that use the table instead
CHECKED = {
    "model/gpt.py": None,
    "scene/boxes.py": None,
    "scene/build.py": None,
    "scene/explain.py": None,
    "walkthrough/chapters.py": None,
    "walkthrough/timeline.py": ("animation_tensors",),
    "walkthrough/animations.py": ("_softmax", "_layernorm"),
}


def cache_keys(tree: ast.AST) -> set[int]:
    """ids of the f-strings that are keys of gpt.py's backward cache (trace.cache), not names."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and getattr(node.value, "attr", None) == "cache":
            out.update(id(n) for n in ast.walk(node.slice))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "update" and getattr(node.func.value, "attr", None) == "cache":
                out.update(id(n) for arg in node.args for n in ast.walk(arg))
    return out


def checked_nodes():
    for rel, functions in CHECKED.items():
        tree = ast.parse((SRC / rel).read_text())
        skip = cache_keys(tree)
        roots = [tree]
        if functions:
            roots = [n for n in ast.walk(tree) if getattr(n, "name", None) in functions]
            assert len(roots) == len(functions), rel
        for root in roots:
            for node in ast.walk(root):
                if id(node) not in skip:
                    yield rel, node


def test_no_tensor_name_is_built_outside_the_table():
    dotted = {a.name for a in A.activations(GPT2_SMALL) if "." in a.name or "_" in a.name}
    problems = []
    for rel, node in checked_nodes():
        if isinstance(node, ast.JoinedStr):
            parts = [v.value for v in node.values if isinstance(v, ast.Constant)]
            for part in parts:
                if NAME_PART.match(str(part)):
                    problems.append(f"{rel}:{node.lineno}: f-string builds a name ({part!r})")
        elif isinstance(node, ast.Constant) and node.value in dotted:
            problems.append(f"{rel}:{node.lineno}: literal tensor name {node.value!r}")
    assert problems == []
