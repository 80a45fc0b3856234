"""The scene at any moment of the walkthrough: a pure function of (chapter, step, progress).

Nothing accumulates from frame to frame: the state of step k is derived from the chapter's
start state plus what steps 0..k-1 computed, and its animation is a function of progress 0..1
(walkthrough/animations.py). So scrubbing backward restores exactly the earlier picture, and
any moment renders headless.
"""

from __future__ import annotations

import numpy as np

from ..scene.camera import Camera, fly
from ..scene.framing import Framing
from .animations import ANIMATE
from .chapters import Chapter, Step
from .moment import FADED_ALPHA, WalkFrame, computed, expand, expand_ordered, phase

__all__ = ["WalkFrame", "expand", "expand_ordered", "frame_at", "step_camera", "animation_tensors"]

# animations that work one cell or column through in detail: on a box an earlier step has
# already computed they leave the rest of it in place (a step's start is the previous step's
# end); replays (stack, autoregressive) and reveals sweep again on purpose
KEEPS_COMPUTED = ("dot", "softmax", "layernorm", "add", "gelu", "weighted", "compare")
CAMERA_FLY_SECONDS = 1.5  # a step's camera move takes this long (or 40% of a short step)


def animation_tensors(scene, step: Step) -> list[int]:
    """The boxes a step's animation computes (fully revealed once the step is over)."""
    a = step.animation
    if a.kind in ("reveal", "compare"):
        return expand_ordered(scene, a.get("tensors"))
    if a.kind == "lookup":
        return expand_ordered(scene, scene.embedding_boxes())
    if a.kind in ("dot", "add", "gelu", "weighted"):
        return expand(scene, [a.get("tensor")])
    if a.kind == "softmax":
        tensor = a.get("tensor")
        return expand_ordered(scene, scene.softmax_boxes(tensor) if tensor in scene else ())
    if a.kind == "layernorm":
        ln = scene.layer_norm_boxes(a.get("prefix")) or {}
        return expand_ordered(scene, [ln[n] for n in ("mean", "rstd", "out") if n in ln])
    if a.kind in ("stack", "autoregressive"):
        return [k for k in range(len(scene.boxes)) if computed(scene, k)]
    return []


def focus_position(step: Step, model) -> int:
    n_input = len(model.input_text) if model.input_text else model.scene.n_tokens
    t = step.t if step.t is not None else n_input - 1
    return min(max(t, 0), model.scene.n_tokens - 1)


def step_camera(step: Step, scene, framing: Framing, previous: Camera) -> Camera:
    """The camera a step flies to at its start (its `camera`; None keeps `previous`)."""
    return spec_camera(step.camera, scene, framing, previous)


def step_end_camera(step: Step, scene, framing: Framing, previous: Camera) -> Camera:
    """The camera a step ends on at progress 1: its `camera_end` (the camera travels there
    through the step), or the camera it flew to."""
    start = step_camera(step, scene, framing, previous)
    return spec_camera(step.camera_end, scene, framing, start) if step.camera_end else start


def spec_camera(spec, scene, framing: Framing, previous: Camera) -> Camera:
    """A camera field's camera: a preset, a JSON-like target, or boxes framed into the free
    area; None keeps `previous`."""
    if spec is None:
        return previous
    if isinstance(spec, str):
        return framing.preset(spec, scene)
    if "target" in spec:
        x, y, z = (float(v) for v in spec["target"])
        return Camera(
            target=(x, y, z),
            distance=float(spec["distance"]),
            yaw=float(spec.get("yaw", 0.0)),
            pitch=float(spec.get("pitch", 0.0)),
            fov=float(spec.get("fov", 40.0)),
        )
    boxes = expand(scene, spec["frame"]) or list(range(len(scene.boxes)))
    lo = np.min([scene.boxes[k].min_corner for k in boxes], axis=0)
    hi = np.max([scene.boxes[k].max_corner for k in boxes], axis=0)
    yaw, pitch = float(spec.get("yaw", -10.0)), float(spec.get("pitch", 5.0))
    return framing.boxes(lo, hi, yaw, pitch, float(spec.get("margin", 1.25)))


def cameras_until(chapter: Chapter, scene_of, framing: Framing, start: Camera, k: int):
    """(camera at the start of step k, camera step k flies to, camera it ends on). Each step's
    camera is its own absolute spec, so this walks the steps only to inherit 'keep the
    previous camera' (the camera a step ended on)."""
    cam = start
    for s in chapter.steps[:k]:
        cam = step_end_camera(s, scene_of(s), framing, cam)
    step, scene = chapter.steps[k], scene_of(chapter.steps[k])
    to = step_camera(step, scene, framing, cam)
    if k > 0 and scene_of(chapter.steps[k - 1]) is not scene:
        # another model's scene: the previous camera's place means nothing here (a flight
        # from it would cross empty space), so the step cuts to its own camera
        cam = to
    return cam, to, step_end_camera(step, scene, framing, cam)


def frame_at(
    chapter: Chapter,
    step_index: int,
    progress: float,
    model,
    framing: Framing,
    start_camera: Camera,
    scene_of=None,
) -> WalkFrame:
    """Everything drawn at this moment. `model` is the LoadedModel the step shows;
    scene_of(step) gives the scene a step's camera refers to (default: model's)."""
    step_index = min(max(step_index, 0), len(chapter.steps) - 1)
    p = float(np.clip(progress, 0.0, 1.0))
    step = chapter.steps[step_index]
    scene = model.scene
    scene_of = scene_of or (lambda s: scene)
    cam_from, cam_to, cam_end = cameras_until(chapter, scene_of, framing, start_camera, step_index)
    flown = min(CAMERA_FLY_SECONDS, 0.4 * step.duration) / step.duration  # progress at arrival
    camera = fly(cam_from, cam_to, min(1.0, p / flown))
    if cam_end != cam_to and p > flown:  # camera_end: keep travelling through the step
        camera = fly(cam_to, cam_end, phase(p, flown, 1.0))
    frame = WalkFrame(chapter.id, step_index, p, camera)
    frame.model = step.model or chapter.model
    frame.step_camera, frame.framing = cam_to, framing
    frame.t = focus_position(step, model)

    # what is computed when this step starts: the chapter's start state + earlier steps
    if model.trace is not None:
        done = set(expand(scene, chapter.revealed))
        for s in chapter.steps[:step_index]:
            done |= set(animation_tensors(scene, s))
        for k in range(len(scene.boxes)):
            if computed(scene, k) and k not in done:
                frame.reveal[k] = (0.0, 0)

    shown = set(expand(scene, step.show))
    for k in range(len(scene.boxes)):
        if k not in shown:
            frame.alpha[k] = 0.0
    for k in expand(scene, step.fade):
        frame.alpha.setdefault(k, FADED_ALPHA)
    frame.highlight = set(expand(scene, step.highlight))

    if model.trace is not None:
        pending = set(frame.reveal)
        ANIMATE[step.animation.kind](frame, step, p, model)
        if step.animation.kind in KEEPS_COMPUTED:  # a box earlier steps computed stays whole
            for k in [k for k in frame.reveal if k not in pending]:
                del frame.reveal[k]
    return frame
