"""Parameter counts say what they count (issue 12, item 8c): the walkthrough's Scale chapter
and the analysis panel's totals state their convention next to each number (the position table
is not among the "weight matrices"; GPT-3's unembedding is counted as a table of its own, GPT-2's
tied one once), and each number equals a sum computed here from the architecture under the
stated convention, independently of model.counts."""

from __future__ import annotations

import re

import pytest

from llmviz_desktop.model.config import preset
from llmviz_desktop.scene.analysis import param_groups
from llmviz_desktop.session.loaded import load_model
from llmviz_desktop.walkthrough.chapters import load_chapters
from llmviz_desktop.walkthrough.text import fill

N = r"(\d{1,3}(?:,\d{3})*)"


def sizes(name: str) -> dict[str, int]:
    """GPT-2 arithmetic from the shapes: per block ln_1 + c_attn + c_proj + ln_2 + c_fc + c_proj,
    counted by what each number is."""
    cfg = preset(name)
    C, L, V, P = cfg.n_embd, cfg.n_layer, cfg.vocab_size, cfg.block_size
    untied = not cfg.tie_word_embeddings
    block_matrices = 3 * C * C + C * C + 4 * C * C + 4 * C * C  # q, k, v; out; up; down
    block_biases = 3 * C + C + 4 * C + C
    block_ln = 2 * (2 * C)
    table = V * C
    return {
        "table": table,
        "position": P * C,
        "unembedding": table if untied else 0,
        # the stated convention: token table, attention, MLP, an untied unembedding
        "matrices": table + L * block_matrices + (table if untied else 0),
        # everything: + position table, biases, layer norms (and ln_f); a tied unembedding once
        "total": table * (2 if untied else 1)
        + P * C
        + L * (block_matrices + block_biases + block_ln)
        + 2 * C,
    }


def num(s: str) -> int:
    return int(s.replace(",", ""))


@pytest.fixture(scope="module")
def scale_text():
    chapter = next(c for c in load_chapters().chapters if c.id == "scale")
    models = {}
    out = {}
    for step in chapter.steps:
        spec = step.model or "nano-sort"
        models.setdefault(spec, load_model(spec))
        out[step.title] = " ".join(fill(step.text, models[spec], 0).split())
    return out


def test_our_model_counts_state_that_the_position_table_is_not_a_weight_matrix(scale_text):
    text, s = scale_text["Our model"], sizes("nano-sort")
    m = re.search(rf"runs on {N} parameters", text)
    assert m and num(m[1]) == s["total"], text
    m = re.search(rf"{N} of them are in the weight matrices: ([^.]*)\.", text)
    assert m and num(m[1]) == s["matrices"], text
    assert "unembedding" in m[2] and "token table" in m[2]
    m = re.search(rf"The rest are the position table \({N}\), the layer norms and the biases", text)
    assert m and num(m[1]) == s["position"], text
    assert s["total"] - s["matrices"] > s["position"]  # layer norms and biases are the rest


def test_gpt2_counts_state_the_tied_unembedding_and_the_position_table(scale_text):
    s = sizes("gpt2")
    text = scale_text["GPT-2"]
    m = re.search(rf"{N} parameters", text)
    assert m and num(m[1]) == s["total"]
    assert "reuses the token table (tied weights), so it is counted once" in text
    text = scale_text["Inside one GPT-2 block"]
    m = re.search(
        rf"The weight matrices \(([^)]*)\) make up {N} of the {N} parameters; the position table "
        rf"\({N}\), layer norms and biases the rest",
        text,
    )
    assert m, text
    assert "the unembedding is the token table again" in m[1]
    assert (num(m[2]), num(m[3]), num(m[4])) == (s["matrices"], s["total"], s["position"])


def test_gpt3_counts_state_the_untied_unembedding(scale_text):
    """Before: "the same recipe" as tied GPT-2, with a total that counts GPT-3's unembedding
    separately and no word about it."""
    s = sizes("gpt3")
    text = scale_text["GPT-3"]
    m = re.search(rf"{N} parameters, {N} of them in the weight matrices \(([^)]*)\)", text)
    assert m, text
    assert (num(m[1]), num(m[2])) == (s["total"], s["matrices"])
    assert "not the position table" in m[3] and "unembedding" in m[3]
    m = re.search(rf"GPT-3's unembedding is a table of its own \({N} parameters", text)
    assert m and num(m[1]) == s["unembedding"] == s["table"], text
    assert "GPT-2's reuses the token table and is counted once" in text
    last = scale_text["Same recipe, more numbers"]
    m = re.search(rf"What you watched {N} numbers do for one token is what {N} numbers do", last)
    assert m and (num(m[1]), num(m[2])) == (sizes("nano-sort")["total"], s["total"]), last


@pytest.mark.parametrize("name", ["nano-sort", "gpt2", "gpt3"])
def test_analysis_totals_state_what_they_count(name):
    s = sizes(name)
    rows = {g.key: g for g in param_groups(preset(name))}
    matrices, total = rows["matrices_total"], rows["total"]
    assert matrices.total == s["matrices"] and total.total == s["total"]
    assert "not wpe" in matrices.title, matrices.title
    assert "tied lm_head once" in total.title, total.title
    assert rows["position_embedding"].total == s["position"]
    assert not rows["position_embedding"].is_matrix
    assert rows["unembedding"].total == s["unembedding"]
