"""Headless rendering on the software renderer: UBO layout against the driver, shader errors,
golden images, and that a cell shows the colour its value maps to."""

from __future__ import annotations

import struct
from pathlib import Path

import moderngl
import numpy as np
import pytest
from PIL import Image

from llmviz_desktop.app.headless import HeadlessSession
from llmviz_desktop.render.programs import load_program
from llmviz_desktop.render.shader_source import ShaderSourceError
from llmviz_desktop.render.ubo import (
    GLOBALS,
    GLOBALS_OFFSETS,
    GLOBALS_SIZE,
    HIGHLIGHTS,
    HIGHLIGHTS_OFFSETS,
    HIGHLIGHTS_SIZE,
    pack_globals,
)
from llmviz_desktop.resources import shaders_dir
from llmviz_desktop.scene.camera import Camera
from llmviz_desktop.scene.colors import ColorSettings
from llmviz_desktop.session.loaded import load_model
from llmviz_desktop.session.state import AppState

GOLDEN = Path(__file__).parent / "golden"
OUTPUT = Path(__file__).parent / "_output"
W, H = 640, 360


@pytest.fixture(scope="module")
def session():
    s = HeadlessSession(W, H)
    assert s.ctx.error == "GL_NO_ERROR"
    yield s
    s.release()


@pytest.fixture(autouse=True)
def _gl_clean(request):
    yield
    if "session" in request.fixturenames:
        assert request.getfixturevalue("session").ctx.error == "GL_NO_ERROR"


# ---- uniform block layout ----------------------------------------------------------------


def test_globals_dtype_follows_std140():
    assert GLOBALS.itemsize == GLOBALS_SIZE
    for name, offset in GLOBALS_OFFSETS.items():
        assert GLOBALS.fields[name][1] == offset, name
    # std140: every vec4 / mat4 column starts on a 16-byte boundary
    assert all(offset % 16 == 0 for offset in GLOBALS_OFFSETS.values())


def test_highlights_dtype_follows_std140():
    # std140 arrays: every element (here ivec4 / vec4) takes a 16-byte stride
    assert HIGHLIGHTS.itemsize == HIGHLIGHTS_SIZE
    for name, offset in HIGHLIGHTS_OFFSETS.items():
        assert HIGHLIGHTS.fields[name][1] == offset, name
    assert all(offset % 16 == 0 for offset in HIGHLIGHTS_OFFSETS.values())


PROBE = """#version 330 core
#include "common.glsl"
#if defined VERTEX_SHADER
in vec2 in_pos;
void main() { gl_Position = vec4(in_pos, 0.0, 1.0); }
#elif defined FRAGMENT_SHADER
uniform int u_member;
out vec4 f_color;
void main() {
    vec4 v = u_member == 0 ? u_view_proj[0] : u_member == 1 ? u_view_proj[3] :
             u_member == 2 ? u_eye : u_member == 3 ? u_viewport :
             u_color;
    f_color = v;
}
#endif
"""


@pytest.mark.gl
def test_driver_reads_every_globals_member_where_python_wrote_it(session, tmp_path):
    """Write the block from Python, read each member back in GLSL: the layouts agree."""
    ctx = session.ctx
    (tmp_path / "common.glsl").write_text((shaders_dir() / "common.glsl").read_text())
    (tmp_path / "probe.glsl").write_text(PROBE)
    prog = load_program(ctx, "probe", tmp_path)
    assert prog["Globals"].size == GLOBALS_SIZE
    vp = np.arange(16, dtype=np.float32).reshape(4, 4) + 1
    data = pack_globals(vp, np.array([1.5, 2.5, 3.5]), 0.25, 800, 400, True, 0.05, 0.7)
    ubo = ctx.buffer(data)
    prog["Globals"].binding = 3
    ubo.bind_to_uniform_block(3)
    target = ctx.framebuffer([ctx.renderbuffer((1, 1), 4, dtype="f4")])
    quad = ctx.buffer(struct.pack("8f", -1, -1, 1, -1, -1, 1, 1, 1))
    vao = ctx.vertex_array(prog, [(quad, "2f", "in_pos")])
    expected = [
        vp[:, 0],
        vp[:, 3],  # mat4 columns of the mathematical matrix
        [1.5, 2.5, 3.5, 0.25],
        [800, 400, 1 / 800, 1 / 400],
        [1.0, 0.05, 0.7, 0.0],
    ]
    target.use()
    for member, want in enumerate(expected):
        prog["u_member"].value = member
        vao.render(moderngl.TRIANGLE_STRIP)
        got = np.frombuffer(target.read(components=4, dtype="f4"), np.float32)
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=f"member {member}")
    for obj in (vao, quad, target, ubo, prog):
        obj.release()
    session.target.use()


@pytest.mark.gl
def test_shader_compile_error_names_file_and_line(session, tmp_path):
    (tmp_path / "common.glsl").write_text((shaders_dir() / "common.glsl").read_text())
    broken = PROBE.replace("f_color = v;", "f_color = v\n    oops;")
    (tmp_path / "broken.glsl").write_text(broken)
    with pytest.raises(ShaderSourceError) as e:
        load_program(session.ctx, "broken", tmp_path)
    line = broken.splitlines().index("    oops;") + 1
    msg = str(e.value)
    assert "broken.glsl:" in msg and "\n" not in msg
    assert f"broken.glsl:{line}" in msg or f"broken.glsl:{line - 1}" in msg, msg


# ---- golden images -----------------------------------------------------------------------

VIEWS = {  # name: (model, camera, panel shown)
    "nano_overview": ("nano-sort", "overview", True),
    "nano_attention": (
        "nano-sort",
        '{"target": [-16, -246, -59], "distance": 245, "yaw": -62, "pitch": 18}',
        False,
    ),
    "nano_front_cells": (
        "nano-sort",
        '{"target": [0, -40, 0], "distance": 90, "yaw": 0, "pitch": 0}',
        False,
    ),
    "gpt3_overview": ("gpt3", "overview", False),
    "gpt3_zoomed_to_cells": ("gpt3", "cells:h.48.mlp.c_fc.weight", False),
}


def render_view(session, model_name: str, camera: str, panel: bool) -> np.ndarray:
    from llmviz_desktop.scene.framing import parse_camera

    model = load_model(model_name)
    if camera.startswith("cells:"):  # a close-up on cells near the top-left of a named box
        box = model.scene.by_name[camera.removeprefix("cells:")]
        x, y, z = box.cell_center(30, 60)  # far enough in that only its front face is seen
        cam = Camera(target=(x, y, z), distance=40.0, yaw=-10.0, pitch=5.0)
    else:
        cam = parse_camera(camera, model.scene, W, H)
    state = AppState.create(model, cam, width=W, height=H)
    state.view.show_ui, state.view.show_stats = panel, False  # timings would differ run to run
    return session.render(state)


@pytest.mark.gl
@pytest.mark.parametrize("name", sorted(VIEWS))
def test_golden_image(session, name, regenerate):
    image = render_view(session, *VIEWS[name])
    path = GOLDEN / f"{name}.png"
    if regenerate or not path.exists():
        GOLDEN.mkdir(exist_ok=True)
        Image.fromarray(image).save(path)
        if not regenerate:
            pytest.fail(f"{path} did not exist; written now; check it and rerun")
        return
    golden = np.asarray(Image.open(path).convert("RGBA"))
    diff = np.abs(image.astype(int) - golden.astype(int)).max(axis=-1)
    bad = diff > 2  # software rasteriser: tiny rounding differences only
    if bad.mean() > 0.0005:
        OUTPUT.mkdir(exist_ok=True)
        Image.fromarray(image).save(OUTPUT / f"{name}.actual.png")
        Image.fromarray((np.minimum(diff * 20, 255)).astype(np.uint8)).save(
            OUTPUT / f"{name}.diff.png"
        )
        pytest.fail(
            f"{name}: {bad.mean():.3%} of pixels differ by more than 2 (max {diff.max()}); "
            f"see {OUTPUT}/{name}.actual.png and .diff.png, or rerun with --regenerate"
        )


# ---- a known cell shows the colour its value maps to --------------------------------------

ZERO = np.array([0.135, 0.145, 0.175])
POS = {"weight": [0.30, 0.66, 1.00], "intermediate": [0.36, 0.90, 0.46]}
NEG = {"weight": [0.66, 0.38, 0.98], "intermediate": [0.08, 0.60, 0.66]}


def expected_colour(value: float, norm: float, kind: str, symlog: bool = False, lin=0.02):
    """The documented colour mapping, written out independently of the shader."""
    n = float(np.clip(value * norm, -1, 1))
    if symlog:
        n = np.sign(n) * np.log1p(abs(n) / lin) / np.log1p(1 / lin)
    m = abs(n) ** 0.75
    end = np.array(POS[kind] if n >= 0 else NEG[kind])
    return (ZERO + (end - ZERO) * m) * 255


@pytest.mark.gl
@pytest.mark.parametrize("symlog", [False, True])
@pytest.mark.parametrize(
    "box_name, cells",
    [("h.0.mlp.c_fc.weight", [(5, 7), (100, 30)]), ("h.0.ln_1.out", [(3, 2), (40, 9)])],
)
def test_cell_shows_the_colour_of_its_value(session, nano, box_name, cells, symlog):
    from llmviz_desktop.scene.colors import normaliser

    box = nano.scene.by_name[box_name]
    matrix = box.source.matrix(nano.trace, nano.params)
    norm = normaliser(matrix)
    for i, j in cells:
        centre = np.array(box.cell_center(i, j), float)
        centre[2] = box.origin[2]  # the front face
        cam = Camera(target=tuple(centre), distance=30.0)  # ~24 px per cell, facing the slab
        state = AppState.create(
            nano, cam, colors=ColorSettings(symlog=symlog, grid=0.0), width=W, height=H
        )
        state.view.show_labels = state.view.show_ui = False
        image = session.render(state)
        px = image[H // 2, W // 2, :3].astype(float)
        want = expected_colour(float(matrix[i, j]), norm, box.kind, symlog)
        np.testing.assert_allclose(px, want, atol=2.5, err_msg=f"{box_name}[{i},{j}]")


def test_big_tensors_are_uploaded_block_averaged_exactly():
    """Level of detail: a tensor over the texel budget is drawn from exact block means;
    a block is masked only when all of its cells are."""
    from llmviz_desktop.scene.values import downsample

    rng = np.random.default_rng(0)
    m = rng.normal(size=(300, 9000)).astype(np.float32)
    m[:4, :64] = -np.inf  # two whole 2x32 blocks masked, plus partial ones
    m[5, 3] = -np.inf
    small, (fx, fy) = downsample(m, 60_000, 4096)
    fx, fy = int(fx), int(fy)
    assert small.size <= 60_000 and small.shape[1] <= 4096
    for r, c in [(0, 0), (0, 1), (2, 0), (10, 100), (small.shape[0] - 1, small.shape[1] - 1)]:
        block = m[r * fy : (r + 1) * fy, c * fx : (c + 1) * fx]
        finite = block[np.isfinite(block)]
        want = finite.mean() if finite.size else -np.inf
        assert small[r, c] == pytest.approx(want, rel=1e-5, abs=1e-6), (r, c)
    same, lod = downsample(m[:50, :60], 60_000, 4096)
    assert lod == (1.0, 1.0) and same is not None and same.shape == (50, 60)
