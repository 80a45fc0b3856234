"""Multisample anti-aliasing (issue 14): the offscreen target blends a tilted edge with 4
samples and does not without; headless sessions (render, video export) use it by default where
the driver offers it, and fall back to none where it does not."""

from __future__ import annotations

import moderngl
import numpy as np
import pytest

from llmviz_desktop.app.headless import HeadlessSession
from llmviz_desktop.render.context import headless_context, max_samples, msaa_samples
from llmviz_desktop.render.offscreen import Offscreen
from llmviz_desktop.scene.framing import camera_preset
from llmviz_desktop.session.loaded import load_model
from llmviz_desktop.session.state import AppState

pytestmark = pytest.mark.gl

W, H = 96, 64
VERT = """#version 330
in vec2 p;
void main() { gl_Position = vec4(p, 0.0, 1.0); }
"""
FRAG = """#version 330
out vec4 colour;
void main() { colour = vec4(1.0, 1.0, 1.0, 1.0); }
"""


@pytest.fixture(scope="module")
def ctx():
    c = headless_context()
    yield c
    c.release()


def tilted_quad(ctx: moderngl.Context, samples: int) -> np.ndarray:
    """A white quad whose edges are tilted ~20 degrees, on black: the RGB image."""
    target = Offscreen(ctx, W, H, samples)
    prog = ctx.program(vertex_shader=VERT, fragment_shader=FRAG)
    quad = np.array([-0.6, -0.8, 0.4, -0.5, -0.4, 0.8, 0.6, 0.5], "f4")  # a strip
    vbo = ctx.buffer(quad.tobytes())
    vao = ctx.vertex_array(prog, [(vbo, "2f", "p")])
    try:
        target.use()
        ctx.viewport = (0, 0, W, H)
        ctx.clear(0.0, 0.0, 0.0, 1.0)
        vao.render(moderngl.TRIANGLE_STRIP)
        return target.read()[..., :3]
    finally:
        for obj in (vao, vbo, prog):
            obj.release()
        target.release()


def test_msaa_blends_a_tilted_edge_and_none_without(ctx):
    if max_samples(ctx) < 4:
        pytest.skip(f"the driver offers {max_samples(ctx)} samples")
    plain, smooth = tilted_quad(ctx, 0), tilted_quad(ctx, 4)
    between = lambda img: int(((img > 0) & (img < 255)).any(axis=-1).sum())  # noqa: E731
    assert between(plain) == 0, "without MSAA every pixel is the quad's or the background's"
    assert between(smooth) > 40, "with 4x MSAA the tilted edges have blended pixels"
    # the interior is untouched: only edge pixels differ
    assert (plain != smooth).any(axis=-1).sum() < 0.2 * W * H


def test_sample_count_follows_the_driver(ctx):
    assert msaa_samples(ctx, 0) == 0
    assert msaa_samples(ctx, 1) == 0  # one sample is no multisampling
    assert msaa_samples(ctx, 64) == max_samples(ctx) or max_samples(ctx) < 2
    assert msaa_samples(ctx) == (4 if max_samples(ctx) >= 4 else msaa_samples(ctx))


def test_a_refused_sample_count_falls_back_to_a_plain_target(ctx):
    target = Offscreen(ctx, W, H, 10_000)  # no driver has that many
    try:
        assert target.samples == 0
        target.use()
        ctx.clear(0.2, 0.4, 0.6, 1.0)
        assert target.read().shape == (H, W, 4)
    finally:
        target.release()


def test_headless_renders_are_anti_aliased_by_default():
    """`llmviz render` and video export draw through HeadlessSession: the model's box edges
    there have blended pixels with MSAA; samples=0 turns it off."""
    model = load_model("nano-sort")
    images, offered = {}, 0
    for samples in (4, 0):
        s = HeadlessSession(320, 200, samples=samples)
        try:
            offered = max(offered, max_samples(s.ctx))
            assert s.target.samples == msaa_samples(s.ctx, samples)
            camera = camera_preset("overview", model.scene, 320, 200)
            state = AppState.create(model, camera, 320, 200)
            state.view.show_ui = state.view.show_labels = False
            images[samples] = s.render(state)[..., :3]
        finally:
            s.release()
    if offered < 4:
        pytest.skip(f"the driver offers {offered} samples")

    def colours(img: np.ndarray) -> int:  # the edges' blends add colours
        return len(np.unique(img.reshape(-1, 3), axis=0))

    assert colours(images[4]) > colours(images[0])
