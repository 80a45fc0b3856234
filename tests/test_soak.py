"""Soak, short: 1,000 frames of scripted use (camera, hover, pins, walkthrough, input edits, model
switches, training steps) through one headless session; after warm-up nothing may grow by more
than 5 % (GL objects not at all), no GL error, and every kind of action really happened.

The 10,000-frame version is bench/soak.py. Also: the GL object counter itself.
"""

from __future__ import annotations

import pytest
from soak_driver import (
    ACTION_KINDS,
    GL_METRICS,
    METRICS,
    MODELS,
    SoakReport,
    run_soak,
)

from llmviz_desktop.render.gl_objects import (
    KINDS,
    MARGIN,
    GLObjectCounter,
    gl_object_counts,
)

FRAMES, W, H, EVERY = 1000, 320, 180, 50
LIMIT = 0.05


@pytest.fixture(scope="module")
def report() -> SoakReport:
    return run_soak(FRAMES, W, H, sample_every=EVERY, seed=0)  # no GL: a failure, not a skip


@pytest.mark.gl
@pytest.mark.slow
def test_samples_span_the_run(report):
    frames = [s.frame for s in report.samples]
    assert frames == list(range(0, FRAMES + 1, EVERY))
    assert all(s.rss > 0 for s in report.samples)
    assert set(report.samples[-1].gl) == set(GL_METRICS)


@pytest.mark.gl
@pytest.mark.slow
def test_gl_objects_exactly_flat_after_warmup(report):
    growth = report.growth(0.2)
    start = growth["buffers"]["from_frame"]
    for metric in GL_METRICS:
        values = {v for frame, v in report.series(metric) if frame >= start}
        assert len(values) == 1, f"{metric} changed after warm-up: {report.series(metric)}"
        assert growth[metric]["growth"] == 0.0
    # the session's own objects are there: scene + imgui programs, the offscreen target
    last = report.samples[-1].gl
    assert last["programs"] >= 2 and last["textures"] >= 2 and last["vertex_arrays"] >= 2
    assert last["framebuffers"] >= 1 and last["renderbuffers"] >= 2


@pytest.mark.gl
@pytest.mark.slow
def test_nothing_grows_more_than_five_percent(report):
    growth = report.growth(0.2)
    assert set(growth) == set(METRICS)
    grew = {m: g for m, g in growth.items() if g["growth"] > LIMIT}
    assert not grew, f"grew more than {LIMIT:.0%} after warm-up: {grew}"


@pytest.mark.gl
@pytest.mark.slow
def test_no_gl_error(report):
    assert report.gl_errors == []
    assert report.gl_error == "GL_NO_ERROR"


@pytest.mark.gl
@pytest.mark.slow
def test_the_script_exercised_everything(report):
    missing = [kind for kind in ACTION_KINDS if report.actions.get(kind, 0) == 0]
    assert not missing, f"never done: {missing} (done: {report.actions})"
    shown = report.coverage
    for spec in (*MODELS, "scale"):  # scale: the walkthrough's scale chapter, four models
        assert shown.get(f"model:{spec}", 0) > 0, f"{spec} never drawn: {shown}"
    for what in ("hovered", "pinned", "walkthrough", "playing", "trained weights"):
        assert shown.get(what, 0) > 0, f"no frame {what}: {shown}"
    assert sum(v for k, v in shown.items() if k.startswith("model:")) == FRAMES
    assert report.fps > 0


def test_growth_uses_rss_windows_and_flags_growth():
    from soak_driver import Sample

    gl = dict.fromkeys(GL_METRICS, 3)
    mib = 2**20
    # warm-up, then noise with a scene shown for a while (a peak given back), then a floor
    # that rose
    rss = [100, 150, 140, 101, 99, 100, 103, 125, 126, 104, 106, 105]
    samples = [Sample(10 * i, float(i), dict(gl), r * mib) for i, r in enumerate(rss)]
    samples[-1].gl["textures"] = 4  # one texture more at the end
    rep = SoakReport(110, W, H, 1.0, 0.1, samples, {}, {}, [], "GL_NO_ERROR")
    g = rep.growth(0.2)  # after warm-up: frames 30..110
    assert g["rss"]["after_warmup"] == 99 * mib  # the floor of frames 30, 40, 50
    assert g["rss"]["peak"] == 104 * mib  # the floor of frames 90, 100, 110
    assert g["rss"]["growth"] == pytest.approx(5 / 99)  # the floor rose: flagged (> 5 %)
    peak_only = [100, 150, 140, 101, 99, 100, 103, 125, 126, 130, 101, 100]
    for s, r in zip(samples, peak_only, strict=True):
        s.rss = r * mib
    assert rep.growth(0.2)["rss"]["growth"] < 0.05  # a peak given back is not growth
    assert g["textures"]["growth"] == pytest.approx(1 / 3)
    assert g["textures"]["end"] == 4 and g["buffers"]["growth"] == 0.0
    with pytest.raises(ValueError, match="after warm-up"):
        SoakReport(90, W, H, 1.0, 0.1, samples[:2], {}, {}, [], "").growth(0.5)


# ---------------------------------------------------------------- the GL object counter


@pytest.fixture
def gl():
    from llmviz_desktop.render.context import headless_context

    ctx = headless_context()  # no EGL: GLUnavailable, a failure (never a skip)
    yield ctx
    ctx.release()


VS = "#version 330\nin vec2 p; void main() { gl_Position = vec4(p, 0.0, 1.0); }"
FS = "#version 330\nout vec4 c; void main() { c = vec4(1.0); }"


@pytest.mark.gl
def test_counts_follow_creation_and_release(gl):
    base = gl_object_counts(gl)
    assert set(base) == set(KINDS)
    textures = [gl.texture((4, 4), 4) for _ in range(5)]
    buffers = [gl.buffer(reserve=64) for _ in range(3)]
    program = gl.program(vertex_shader=VS, fragment_shader=FS)
    vao = gl.vertex_array(program, [(buffers[0], "2f", "p")])
    rb = gl.renderbuffer((8, 8))
    fbo = gl.framebuffer([rb])
    fbo.use()
    counts = gl_object_counts(gl)
    expect = {"textures": 5, "buffers": 3, "programs": 1, "vertex_arrays": 1}
    expect |= {"framebuffers": 1, "renderbuffers": 1}
    assert {k: counts[k] - base[k] for k in KINDS} == expect

    for t in textures[:2]:
        t.release()
    assert gl_object_counts(gl)["textures"] - base["textures"] == 3
    # Mesa does not reuse freed names soon: after many cycles the live names sit far above
    # the highest one seen, beyond MARGIN; the next-free-name probe still reaches them
    for _ in range(4 * MARGIN):
        gl.texture((2, 2), 4).release()
    late = gl.texture((2, 2), 4)
    assert gl_object_counts(gl)["textures"] - base["textures"] == 4
    late.release()

    vao.render(vertices=3)  # the program is current now; deleting it only flags it
    vao.release()
    program.release()
    assert gl_object_counts(gl)["programs"] == base["programs"]
    fbo.release()  # still bound: the context is thrown away after this test
    rb.release()
    for obj in (*textures[2:], *buffers):
        obj.release()
    assert gl_object_counts(gl) == base
    assert gl.error == "GL_NO_ERROR"


@pytest.mark.gl
def test_counter_cost_grows_with_names_not_objects(gl):
    counter = GLObjectCounter(gl)
    counter()
    for _ in range(300):
        gl.buffer(reserve=16).release()
    assert counter()["buffers"] == 0
    assert counter.probed["buffers"] >= 300  # the probe bound reached the new names
    assert counter.probed["programs"] <= 2 * MARGIN
