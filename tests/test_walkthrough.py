"""The guided walkthrough: chapter files, every step rendered, scrubbing, the autoregressive
loop's answer, and malformed files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_run import llmviz

from llmviz_desktop.app.headless import HeadlessSession
from llmviz_desktop.scene.framing import camera_preset
from llmviz_desktop.session.loaded import load_model
from llmviz_desktop.session.state import AppState
from llmviz_desktop.walkthrough.chapters import ChapterError, load_chapter, load_chapters
from llmviz_desktop.walkthrough.player import Player
from llmviz_desktop.walkthrough.text import links, unknown_placeholders
from llmviz_desktop.walkthrough.timeline import expand

W, H = 480, 270
CHAPTER_IDS = [
    "overview",
    "tokens",
    "embedding",
    "layer-norm",
    "attention",
    "multi-head",
    "residual",
    "mlp",
    "stack",
    "logits",
    "sampling",
    "autoregressive",
    "scale",
]


@pytest.fixture(scope="module")
def chapters():
    return load_chapters()


@pytest.fixture(scope="module")
def session():
    s = HeadlessSession(W, H)
    yield s
    s.release()


def moment(session, nano, chapters, chapter_id: str, step: int, progress: float):
    state = AppState.create(nano, camera_preset("overview", nano.scene, W, H), width=W, height=H)
    state.view.show_stats = False
    player = Player(chapters, chapter_index=[c.id for c in chapters.chapters].index(chapter_id))
    player.set_chapter(player.chapter_index)
    player.goto_step(step, progress)
    state.controllers.player = player
    image = session.render(state)
    assert session.ctx.error == "GL_NO_ERROR"
    return (state, session.last), image


def test_every_chapter_file_loads(chapters):
    assert chapters.errors == []
    assert [c.id for c in chapters.chapters] == CHAPTER_IDS
    for c in chapters.chapters:
        assert c.title and c.steps


def test_text_placeholders_and_links_resolve(chapters, nano):
    for c in chapters.chapters:
        for k, step in enumerate(c.steps):
            spec = step.model or c.model
            model = nano if spec in (None, "nano-sort") else load_model(spec)
            assert unknown_placeholders(step.text, model, 3) == [], (c.id, k)
            for globs in links(step.text):
                assert expand(model.scene, globs), (c.id, k, globs)
            for globs in (step.highlight, step.fade):
                if globs:
                    assert expand(model.scene, globs), (c.id, k, globs)


def test_numbers_in_text_come_from_the_model(chapters):
    """No hard-coded model sizes: the config's numbers appear only through placeholders."""
    for c in chapters.chapters:
        for step in c.steps:
            words = step.text.replace("{", " {").split()
            for word in words:
                if word.startswith("{"):
                    continue
                assert "48" not in word and "192" not in word, (c.id, step.title, word)


@pytest.mark.gl
def test_every_step_renders_and_moves_the_picture(session, nano, chapters):
    for c in chapters.chapters:
        previous = None
        for k in range(len(c.steps)):
            _, image = moment(session, nano, chapters, c.id, k, 1.0)
            if previous is not None:
                changed = (np.abs(image.astype(int) - previous).sum(axis=-1) > 24).mean()
                assert changed > 0.002, f"{c.id} step {k + 1} looks like step {k}"
            previous = image.astype(int)


@pytest.mark.gl
def test_scrubbing_back_restores_the_exact_picture(session, nano, chapters):
    for chapter_id, step, progress in [
        ("attention", 1, 0.4),
        ("embedding", 0, 0.3),
        ("autoregressive", 0, 0.55),
    ]:
        _, first = moment(session, nano, chapters, chapter_id, step, progress)
        for later in (0.9, 1.0):
            moment(session, nano, chapters, chapter_id, step, later)
        _, again = moment(session, nano, chapters, chapter_id, step, progress)
        np.testing.assert_array_equal(first, again)


@pytest.mark.gl
def test_values_not_yet_computed_are_hidden_then_appear(session, nano, chapters):
    c = chapters.by_id("embedding")
    k = next(i for i, s in enumerate(c.steps) if s.animation.kind == "lookup")
    early, _ = moment(session, nano, chapters, "embedding", k, 0.05)
    late, _ = moment(session, nano, chapters, "embedding", k, 1.0)
    emb = [b.name for b in nano.scene.boxes].index("emb")
    assert early[1].walk.reveal[emb][0] < late[1].walk.reveal.get(emb, (1.0, 0))[0]


@pytest.mark.gl
def test_autoregressive_chapter_ends_with_the_greedy_answer(session, nano, chapters):
    c = chapters.by_id("autoregressive")
    k = next(i for i, s in enumerate(c.steps) if s.animation.kind == "autoregressive")
    from llmviz_desktop.cli.render import output_row, walk_report

    start, _ = moment(session, nano, chapters, "autoregressive", k, 0.0)
    end, _ = moment(session, nano, chapters, "autoregressive", len(c.steps) - 1, 1.0)
    n_input = len(nano.input_text)
    assert len(output_row(start[1])) <= n_input  # nothing generated yet
    row = output_row(end[1])
    assert row[n_input - 1 :] == nano.output_text == "".join(sorted(nano.input_text))
    assert walk_report(*end)["output_tokens"] == row


def test_malformed_chapter_is_reported_and_the_others_load(tmp_path):
    good = Path(__file__).parents[1] / "walkthrough" / "01-overview.toml"
    (tmp_path / "01-good.toml").write_text(good.read_text())
    (tmp_path / "02-bad.toml").write_text('id = "bad"\ntitle = "Bad"\n[[steps]]\ntitle = "x"\n')
    (tmp_path / "03-broken.toml").write_text('id = "broken"\ntitle = \n')
    (tmp_path / "04-anim.toml").write_text(
        'id = "anim"\ntitle = "A"\n[[steps]]\ntitle = "s"\ntext = "t"\n'
        '[steps.animation]\nkind = "teleport"\n'
    )
    result = load_chapters(tmp_path)
    assert [c.id for c in result.chapters] == ["overview"]
    assert len(result.errors) == 3
    bad, broken, anim = result.errors
    assert "02-bad.toml" in bad and "steps[0].text" in bad
    assert "03-broken.toml" in broken and "line" in broken
    assert "04-anim.toml" in anim and "animation.kind" in anim and "teleport" in anim
    for err in result.errors:
        assert "\n" not in err


@pytest.mark.parametrize(
    "body, fragment",
    [
        ('title = "T"\n[[steps]]\ntitle = "s"\ntext = "t"\n', "id"),
        ('id = "x"\ntitle = "T"\n', "steps"),
        ('id = "x"\ntitle = "T"\n[[steps]]\ntitle = "s"\ntext = "t"\nduration = -1\n', "duration"),
        (
            'id = "x"\ntitle = "T"\n[[steps]]\ntitle = "s"\ntext = "t"\ncamera = "nowhere"\n',
            "camera",
        ),
        ('id = "x"\ntitle = "T"\n[[steps]]\ntitle = "s"\ntext = "t"\ncolour = 1\n', "colour"),
        (
            'id = "x"\ntitle = "T"\n[[steps]]\ntitle = "s"\ntext = "t"\n[steps.animation]\n'
            'kind = "dot"\ntensor = "q"\n',
            "cell",
        ),
        (
            'id = "x"\ntitle = "T"\n[[steps]]\ntitle = "s"\ntext = "t"\n[steps.animation]\n'
            'kind = "reveal"\ntensors = ["input_tokens"]\nnumbers = "letters"\n',
            "numbers",
        ),
    ],
)
def test_chapter_errors_name_the_field(tmp_path, body, fragment):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(ChapterError) as e:
        load_chapter(path)
    assert "bad.toml" in str(e.value) and fragment in str(e.value)


@pytest.mark.gl
def test_cli_lists_chapters_and_renders_a_moment(tmp_path):
    listing = llmviz("walkthrough", "--list", timeout=60)
    assert listing.returncode == 0
    for cid in CHAPTER_IDS:
        assert f"[{cid}]" in listing.stdout
    out, report = tmp_path / "m.png", tmp_path / "m.json"
    result = llmviz(
        "render",
        "--chapter",
        "attention",
        "--step",
        "2",
        "--progress",
        "0.5",
        "--out",
        str(out),
        "--report",
        str(report),
    )
    assert result.returncode == 0, result.stderr
    r = json.loads(report.read_text())
    assert r["walkthrough"]["chapter"] == "attention" and r["walkthrough"]["step"] == 2
    assert r["walkthrough"]["progress"] == 0.5
    assert isinstance(r["walkthrough"]["highlighted"], list)
    assert set(r["camera"]) >= {"target", "distance", "yaw", "pitch"}
    bad = llmviz("render", "--chapter", "nope", "--out", str(out), timeout=60)
    assert bad.returncode == 2 and "nope" in bad.stderr


def test_typed_input_is_validated():
    from llmviz_desktop.session.loaded import input_problem

    cfg = load_model("nano-sort").config
    assert input_problem("ABCABC", cfg) == ""
    assert "'D'" in input_problem("ABCABD", cfg)
    assert "6 letters" in input_problem("ABC", cfg)
    model = load_model("nano-sort", "CCBAAB")
    assert model.output_text == "AABBCC"


def test_the_sample_caption_says_greedy_or_how_it_sampled(chapters):
    """The sampling step's caption says what was done: greedy, or sampled with T, k and seed
    (before: "greedy choice" whatever the settings)."""
    from llmviz_desktop.model.sampling import Sampling
    from llmviz_desktop.scene.framing import Framing
    from llmviz_desktop.session.loaded import load_model
    from llmviz_desktop.walkthrough.timeline import frame_at

    chapter = chapters.by_id("sampling")
    k = next(i for i, s in enumerate(chapter.steps) if s.animation.kind == "sample")
    captions = {}
    for sampling in (Sampling(), Sampling(3.0, 2, 1)):
        model = load_model("nano-sort", "CBABBC", sampling)
        start = camera_preset("overview", model.scene, W, H)
        frame = frame_at(chapter, k, 1.0, model, Framing(W, H), start)
        captions[sampling.greedy] = " ".join(frame.caption)
    assert captions[True].startswith("greedy choice")
    assert "sampled (T = 3, top-k = 2, seed 1)" in captions[False]


@pytest.mark.parametrize("spec", ["gpt2", "gpt3"])
def test_on_a_shell_the_walkthrough_tells_about_nano_sort_with_every_value(spec, chapters):
    """The chapters are written for nano-sort (letters, an answer, values): with a render-only
    shell chosen, every step is shown on nano-sort, and no text has an empty value (before:
    "read 0 letters ... the input is , and the model answers .")."""
    import re

    from llmviz_desktop.scene.framing import Framing
    from llmviz_desktop.session.loaded import load_model
    from llmviz_desktop.session.stage import Stage
    from llmviz_desktop.walkthrough.text import fill

    home, stage = load_model(spec), Stage()
    player = Player(chapters, active=True)
    # an empty value leaves a space before punctuation ("the input is , and"), a count of 0,
    # or a placeholder unfilled
    empty = re.compile(r" [,.](\s|$)|\b0 letters|\{|\}")
    for index, chapter in enumerate(chapters.chapters):
        player.set_chapter(index)
        for k, step in enumerate(chapter.steps):
            player.goto_step(k, 0.5)
            model, walk = stage.moment(player, home, Framing(W, H))
            assert walk is not None
            if not (step.model or chapter.model):
                assert model.name == "nano-sort" and model.trace is not None
            text = fill(step.text, model, walk.t)
            assert not empty.search(text), (spec, chapter.id, k, text[:200])
