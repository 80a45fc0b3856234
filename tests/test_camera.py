"""Camera maths: the controls behave as users of the original visualisation expect."""

from __future__ import annotations

import numpy as np
import pytest

from llmviz_desktop.scene.camera import PITCH_LIMIT, Camera, CameraError, fly

W, H = 1280, 720
CAMERAS = [
    Camera(),
    Camera(target=(10.0, -50.0, 3.0), distance=250.0, yaw=-30.0, pitch=20.0),
    Camera(target=(0.0, -3e7, 0.0), distance=4e7, yaw=75.0, pitch=-60.0, fov=55.0),
]


def clip_to_pixels(cam: Camera, point) -> np.ndarray:
    """Pixel position via the GPU path: the view-projection matrix (independent of project)."""
    clip = cam.view_projection(W, H) @ np.append(np.asarray(point, float), 1.0)
    ndc = clip[:3] / clip[3]
    return np.array([(ndc[0] + 1) * W / 2, (1 - ndc[1]) * H / 2])


@pytest.mark.parametrize("cam", CAMERAS)
def test_project_agrees_with_the_view_projection_matrix(cam):
    rng = np.random.default_rng(0)
    points = np.asarray(cam.target) + rng.normal(size=(20, 3)) * cam.distance * 0.3
    proj = cam.project(points, W, H)
    for p, q in zip(points, proj, strict=True):
        np.testing.assert_allclose(q[:2], clip_to_pixels(cam, p), rtol=1e-6, atol=1e-3)


@pytest.mark.parametrize("cam", CAMERAS)
def test_ray_through_a_pixel_projects_back_to_it(cam):
    for x, y in [(0.5, 0.5), (640, 360), (1279.5, 719.5), (100, 600)]:
        eye, d = cam.ray(x, y, W, H)
        point = eye + d * cam.distance * 0.7
        np.testing.assert_allclose(cam.project(point, W, H)[0, :2], [x, y], atol=1e-6 * W)


@pytest.mark.parametrize("cam", CAMERAS)
def test_pan_keeps_the_grabbed_point_under_the_cursor(cam):
    start = np.array([700.0, 300.0])
    grabbed = cam.point_on_target_plane(*start, W, H)
    depth = float((grabbed - cam.eye()) @ cam.forward())
    moved = cam.panned(85.0, -40.0, H, depth)
    np.testing.assert_allclose(
        moved.project(grabbed, W, H)[0, :2], start + [85.0, -40.0], atol=1e-6 * W
    )
    # a point nearer than the target plane follows the cursor when grabbed at its own depth
    near = cam.eye() + cam.ray(*start, W, H)[1] * cam.distance * 0.4
    d_near = float((near - cam.eye()) @ cam.forward())
    moved = cam.panned(-30.0, 12.0, H, d_near)
    np.testing.assert_allclose(
        moved.project(near, W, H)[0, :2], start + [-30.0, 12.0], atol=1e-6 * W
    )


@pytest.mark.parametrize("cam", CAMERAS)
def test_zoom_toward_the_cursor_keeps_the_point_under_it(cam):
    cursor = np.array([1000.0, 150.0])
    anchor = cam.point_on_target_plane(*cursor, W, H)
    for factor in (0.5, 0.85, 1.3):
        zoomed = cam.zoomed(factor, anchor)
        assert zoomed.distance == pytest.approx(cam.distance * factor)
        np.testing.assert_allclose(zoomed.project(anchor, W, H)[0, :2], cursor, atol=1e-6 * W)


def test_orbit_never_flips_over_the_poles():
    cam = Camera(pitch=80.0)
    for _ in range(50):
        cam = cam.orbited(0.0, 40.0)
        assert cam.pitch <= PITCH_LIMIT
        assert cam.up()[1] > 0  # up stays up: no flip
    assert cam.pitch == PITCH_LIMIT
    for _ in range(100):
        cam = cam.orbited(0.0, -40.0)
    assert cam.pitch == -PITCH_LIMIT
    assert cam.up()[1] > 0
    turned = Camera().orbited(300.0, 0.0)  # horizontal drag turns about the vertical axis
    assert turned.yaw == pytest.approx(90.0) and turned.pitch == 0.0
    assert turned.target == Camera().target and turned.distance == Camera().distance


def test_framing_fits_the_box_in_view():
    lo, hi = np.array([-5.0, -2500.0, -0.5]), np.array([180.0, 0.0, 0.5])
    cam = Camera(yaw=-18.0, pitch=8.0).framing(lo, hi, W, H)
    corners = np.array(
        [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )
    proj = cam.project(corners, W, H)
    assert (proj[:, 0] >= 0).all() and (proj[:, 0] <= W).all()
    assert (proj[:, 1] >= 0).all() and (proj[:, 1] <= H).all()
    # ...and fills it: the tall box spans most of the height
    assert proj[:, 1].max() - proj[:, 1].min() > 0.8 * H


def test_fly_starts_and_ends_exactly_and_eases():
    a, b = CAMERAS[0], CAMERAS[1]
    assert fly(a, b, 0.0) == a and fly(a, b, 1.0) == b
    mid = fly(a, b, 0.5)
    assert a.distance < mid.distance < b.distance
    assert fly(a, b, 0.25) == fly(a, b, 0.25)  # a pure function of progress
    yaw_wrap = fly(Camera(yaw=170.0), Camera(yaw=-170.0), 0.5)
    assert abs(abs(yaw_wrap.yaw) - 180.0) < 1e-9  # the short way round


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("{", "invalid"),
        ('{"distance": -1}', "distance"),
        ('{"target": [1, 2]}', "target"),
        ('{"yaw": "left"}', "yaw"),
        ('{"zoom": 2}', "zoom"),
        ('{"fov": 0}', "fov"),
        ("[1, 2, 3]", "object"),
    ],
)
def test_bad_camera_json_is_one_line(text, fragment):
    with pytest.raises(CameraError) as e:
        Camera.from_json(text)
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_camera_json_round_trip():
    cam = CAMERAS[1]
    assert Camera.from_dict(cam.to_dict()) == cam


def test_a_long_flight_backs_away_instead_of_grazing_the_boxes_between():
    """From a close view at the top of a tall model to one at its bottom: half-way the camera
    is at least as far back as the distance travelled is long (times FLY_BACK_AWAY), never
    closer than either end."""
    from llmviz_desktop.scene.camera import FLY_BACK_AWAY

    a = Camera(target=(0.0, 0.0, 0.0), distance=40.0)
    b = Camera(target=(0.0, -2000.0, 0.0), distance=60.0)
    mid = fly(a, b, 0.5)
    assert mid.distance >= FLY_BACK_AWAY * 2000.0 * 0.99
    assert all(fly(a, b, t / 20).distance >= 40.0 for t in range(21))
    near = Camera(target=(1.0, 0.0, 0.0), distance=40.0)  # a short move: no detour
    assert fly(a, near, 0.5).distance == pytest.approx(40.0)
