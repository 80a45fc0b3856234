"""The opening view fills the free area between the panels (issue 14): at 1280x720 with the
default camera, nano-sort's own pixels cover at least a quarter of the free area and its
projected bounds at least half of it; and the free area is where no panel is."""

from __future__ import annotations

import numpy as np
import pytest

from llmviz_desktop.cli.render import screen_boxes
from llmviz_desktop.render.scene_renderer import BACKGROUND
from llmviz_desktop.scene.framing import camera_preset, default_panels, free_rect
from llmviz_desktop.session.state import AppState

W, H = 1280, 720


def test_the_free_area_is_where_no_panel_is():
    panels = default_panels(W, H)
    x0, y0, x1, y1 = free_rect(W, H, panels)
    assert (x1 - x0) * (y1 - y0) >= 0.3 * W * H  # most of the window is the model's
    for p in panels:
        assert p[2] <= x0 or p[0] >= x1 or p[3] <= y0 or p[1] >= y1, p
    assert free_rect(W, H, ()) == (0.0, 0.0, W, H)


@pytest.mark.gl
def test_the_opening_view_fills_the_free_area(nano):
    from llmviz_desktop.app.headless import HeadlessSession

    camera = camera_preset("overview", nano.scene, W, H)
    x0, y0, x1, y1 = (int(round(v)) for v in free_rect(W, H, default_panels(W, H)))
    state = AppState.create(nano, camera, W, H, show_ui=False, show_labels=False)
    session = HeadlessSession(W, H)
    try:
        image = session.render(state)
    finally:
        session.release()
    free = image[y0:y1, x0:x1, :3].astype(int)
    background = np.round(np.array(BACKGROUND[:3]) * 255).astype(int)
    model = np.abs(free - background).max(axis=2) > 8
    covered = model.mean()
    boxes = np.array(list(screen_boxes(nano.scene, camera, W, H).values()))
    bx0, by0 = max(boxes[:, 0].min(), x0), max(boxes[:, 1].min(), y0)
    bx1, by1 = min(boxes[:, 2].max(), x1), min(boxes[:, 3].max(), y1)
    bbox = max(bx1 - bx0, 0) * max(by1 - by0, 0) / ((x1 - x0) * (y1 - y0))
    assert covered >= 0.25, f"the model covers {covered:.1%} of the free area"
    assert bbox >= 0.5, f"the model's bounds cover {bbox:.1%} of the free area"
