"""Soak: many frames of scripted use through one headless session, watching for growth.

`run_soak(frames)` drives a `HeadlessSession` (the window's frame, headless) through a
deterministic script: every ACTION_EVERY frames the next action of the cycle SCRIPT runs —

- camera: pan, orbit and zoom gestures (each a drag that moves the camera every frame until the
  next camera action; later undone by its mirror gesture), and resets to the overview;
- hover: the cursor on random pixels or on a random tensor, jittering each frame; clicks pin or
  unpin the cell under it (as the window's click does); the cursor leaves;
- walkthrough: set_chapter (the scale chapter, which shows GPT-2 and GPT-3, every third time),
  goto_step, seek backward and forward, play at speed (the player advances each frame), and
  leaving the walkthrough;
- input: valid and invalid texts, checked with input_problem and loaded with load_model as the
  window's input box does (letters upper-cased for character vocabularies);
- model: nano-sort -> gpt2-xl -> gpt3 -> nano-sort, each loaded once and cached; switching
  assigns state.home, unpins and resets the camera like the window;
- training: LiveTraining stepped on this thread with step_now(k) while paused (no training
  thread: deterministic), the view (weights / gradients / update) cycled, now and then a reset;
  Learning.update puts the weights into the scene every frame, as in the window;
- display: help, labels, symmetric-log colours, global normalisation toggled.

Each frame then runs as the window's on_render does: player.advance, learning.update,
Stage.frame, render. The clock is simulated (FRAME_TIME a frame), so a run is reproducible.

Every `sample_every` frames (after a gc.collect()) the live GL objects (render.gl_objects) and
the resident memory (VmRSS) are recorded; `SoakReport.growth()` compares the end of the run
with the first sample after warm-up.

A pin that outlives its scene (the walkthrough or training changed the model under it) is the
app's to drop (hover.HoverTracker); the script leaves it to the app.
"""

from __future__ import annotations

import gc
import math
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from llmviz_desktop.scene.camera import Camera

FRAME_TIME = 1.0 / 60.0
ACTION_EVERY = 4  # frames between scripted actions
SCRIPT = (  # one cycle: 13 actions, 52 frames
    "camera",
    "hover",
    "walkthrough",
    "input",
    "camera",
    "hover",
    "walkthrough",
    "training",
    "camera",
    "hover",
    "walkthrough",
    "display",
    "model",
)
MODELS = ("nano-sort", "gpt2-xl", "gpt3")  # switched through in this order, and back
SCALE_CHAPTER = "scale"  # the chapter that shows other models (gpt2, gpt3)
GL_METRICS = ("buffers", "textures", "vertex_arrays", "programs", "framebuffers", "renderbuffers")
METRICS = (*GL_METRICS, "rss")
RSS_WINDOW = 3  # samples: RSS is the max over this many, first after warm-up vs last
ACTION_KINDS = (  # every one of these must happen in a run of a few hundred frames
    "camera.pan",
    "camera.orbit",
    "camera.zoom",
    "camera.reset",
    "hover.pixel",
    "hover.tensor",
    "hover.leave",
    "hover.pin",
    "hover.unpin",
    "walk.set_chapter",
    "walk.goto_step",
    "walk.seek_back",
    "walk.seek_forward",
    "walk.play",
    "walk.leave",
    "input.valid",
    "input.invalid",
    "model.nano-sort",
    "model.gpt2-xl",
    "model.gpt3",
    "training.start",
    "training.step",
    "training.view",
    "display.toggle",
)


def rss_bytes() -> int:
    """Resident set size of this process (VmRSS in /proc/self/status); 0 where unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class Sample:
    frame: int  # frames rendered when the sample was taken
    seconds: float  # since the first frame
    gl: dict[str, int]  # live GL objects by kind
    rss: int  # bytes

    def value(self, metric: str) -> float:
        return float(self.rss if metric == "rss" else self.gl[metric])


@dataclass
class SoakReport:
    frames: int
    width: int
    height: int
    seconds: float  # the frame loop, sampling included
    sample_seconds: float  # of which spent counting GL objects and reading memory
    samples: list[Sample]
    actions: dict[str, int]  # scripted actions by kind (ACTION_KINDS)
    coverage: dict[str, int]  # frames by what they showed (model, hover, pinned, walkthrough)
    gl_errors: list[tuple[int, str]]  # (frame, error) found at a sample
    gl_error: str  # ctx.error after the last frame
    renderer: str = ""

    @property
    def fps(self) -> float:
        """Frames per second of the scripted frames (the sampling excluded)."""
        busy = self.seconds - self.sample_seconds
        return self.frames / busy if busy > 0 else math.inf

    def series(self, metric: str) -> list[tuple[int, float]]:
        return [(s.frame, s.value(metric)) for s in self.samples]

    def growth(
        self, after_warmup_fraction: float = 0.2, window: int = RSS_WINDOW
    ) -> dict[str, dict[str, float]]:
        """Per metric: the value after warm-up, at the end, the peak, and `growth`, the largest
        relative rise over the after-warm-up value (0.05 = 5 %).

        GL objects: the first sample at or after `after_warmup_fraction` of the frames, against
        the largest sample from there to the end. RSS: the floor (the least) over the first
        `window` samples after warm-up against the floor over the last `window` samples. A
        leak raises the floor; what a moment shows does not (the four-model scale scene keeps
        ~25 MB of instance and path buffers while it is on screen and gives them back after),
        nor do allocator pools and numpy buffers coming and going."""
        start = after_warmup_fraction * self.frames
        post = [s for s in self.samples if s.frame >= start]
        if len(post) < 2:
            raise ValueError(
                f"{len(post)} sample(s) after warm-up: run more frames or sample more often"
            )
        out: dict[str, dict[str, float]] = {}
        for metric in METRICS:
            values = [s.value(metric) for s in post]
            if metric == "rss":
                k = max(1, min(window, len(values) // 3))
                base, peak = min(values[:k]), min(values[-k:])
            else:
                base, peak = values[0], max(values)
            if base > 0:
                rise = (peak - base) / base
            else:
                rise = 0.0 if peak <= base else math.inf
            out[metric] = {
                "after_warmup": base,
                "end": values[-1],
                "peak": peak,
                "growth": max(rise, 0.0),
                "from_frame": float(post[0].frame),
            }
        return out


@dataclass
class _Gesture:
    kind: str  # "pan", "orbit" or "zoom"
    dx: float = 0.0
    dy: float = 0.0
    factor: float = 1.0


@dataclass
class SoakDriver:
    """The scripted user: owns the session, the app state and the window-side objects."""

    width: int
    height: int
    seed: int = 0
    actions: Counter = field(default_factory=Counter)
    coverage: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        from llmviz_desktop.app.headless import HeadlessSession
        from llmviz_desktop.scene.framing import camera_preset
        from llmviz_desktop.session.learning import Learning
        from llmviz_desktop.session.loaded import load_model
        from llmviz_desktop.session.state import AppState
        from llmviz_desktop.walkthrough.chapters import load_chapters
        from llmviz_desktop.walkthrough.player import Player

        self.rng = np.random.default_rng(self.seed)
        self.session = HeadlessSession(self.width, self.height)
        self.shells = {spec: load_model(spec) for spec in MODELS}  # loaded once: switch = assign
        first = self.shells[MODELS[0]]
        self.state = AppState.create(
            first,
            camera_preset("overview", first.scene, self.width, self.height),
            width=self.width,
            height=self.height,
        )
        self.state.view.show_stats = False  # fps text changes every frame: nothing to learn from it
        self.state.controllers.player = Player(load_chapters())
        self.state.controllers.learning = Learning()
        ids = [c.id for c in self.state.controllers.player.chapters.chapters]
        scale = ids.index(SCALE_CHAPTER) if SCALE_CHAPTER in ids else None
        others = [i for i in range(len(ids)) if i != scale]
        order: list[int] = []
        for k, i in enumerate(others):  # the scale chapter every third time
            if scale is not None and k % 2 == 0:
                order.append(scale)
            order.append(i)
        self.chapter_order = order or [0]
        self.gesture: _Gesture | None = None
        self.undo: list[_Gesture] = []
        self.turn: Counter = Counter()  # per SCRIPT entry: how many times it ran before
        self.model_turn = 0
        self.now = 0.0

    # ---- the frame -------------------------------------------------------------------------

    def frame(self, index: int) -> None:
        s = self.state
        if index % ACTION_EVERY == 0:
            kind = SCRIPT[(index // ACTION_EVERY) % len(SCRIPT)]
            getattr(self, f"_{kind}")()
            self.turn[kind] += 1
        self._continue_gestures()
        self.now += FRAME_TIME
        player = s.controllers.player
        assert player is not None and s.controllers.learning is not None
        self.session.render(s, FRAME_TIME)  # the window's tick: player, training, walkthrough
        shown = self.session.last
        assert shown is not None
        self.coverage[f"model:{shown.model.name}"] += 1
        self.coverage["hovered"] += shown.hover is not None
        self.coverage["pinned"] += s.pointer.pinned is not None
        self.coverage["walkthrough"] += shown.walk is not None
        self.coverage["playing"] += bool(player.playing and player.active)
        self.coverage["trained weights"] += shown.model.label.startswith("training")

    def _shown(self):
        """The model on screen (the last frame's: a walkthrough step may show its own)."""
        last = self.session.last
        return last.model if last is not None else self.state.home

    def _count(self, kind: str) -> None:
        self.actions[kind] += 1

    def _take_camera(self) -> None:
        if self.state.controllers.player is not None:
            self.state.controllers.player.free_camera = (
                True  # as a press or scroll in the window does
            )

    # ---- camera ----------------------------------------------------------------------------

    def _camera(self) -> None:
        n = self.turn["camera"]
        if n % 7 == 6:  # pan, orbit, zoom, their mirrors, then back to the overview
            from llmviz_desktop.scene.framing import camera_preset

            self._count("camera.reset")
            s = self.state
            s.view.camera = camera_preset(
                "overview", self._shown().scene, s.view.width, s.view.height
            )
            self._take_camera()
            self.gesture, self.undo = None, []
            return
        if n % 7 >= 3 and self.undo:
            g = self.undo.pop(0)
            self._count(f"camera.{g.kind}")
            self.gesture = _Gesture(g.kind, -g.dx, -g.dy, 1.0 / g.factor)
        else:
            kind = ("pan", "orbit", "zoom")[n % 3]
            self._count(f"camera.{kind}")
            dx, dy = (float(v) for v in self.rng.uniform(-25.0, 25.0, 2))
            factor = float(self.rng.uniform(0.9, 0.97))
            self.gesture = _Gesture(kind, dx, dy, factor)
            self.undo.append(self.gesture)
        self._take_camera()

    def _continue_gestures(self) -> None:
        s = self.state
        g = self.gesture
        if g is not None:
            cam: Camera = s.view.camera
            if g.kind == "pan":
                s.view.camera = cam.panned(g.dx, g.dy, s.view.height)
            elif g.kind == "orbit":
                s.view.camera = cam.orbited(g.dx, g.dy)
            else:
                mx, my = (
                    s.pointer.mouse
                    if s.pointer.mouse is not None
                    else (s.view.width / 2, s.view.height / 2)
                )
                anchor = cam.point_on_target_plane(mx, my, s.view.width, s.view.height)
                s.view.camera = cam.zoomed(g.factor, anchor)
        if s.pointer.mouse is not None:  # the cursor drifts a little each frame
            mx, my = s.pointer.mouse
            jx, jy = self.rng.uniform(-3.0, 3.0, 2)
            s.pointer.mouse = (
                float(np.clip(mx + jx, 0, s.view.width - 1)),
                float(np.clip(my + jy, 0, s.view.height - 1)),
            )

    # ---- hover -----------------------------------------------------------------------------

    def _hover(self) -> None:
        from llmviz_desktop.scene.picking import pick_cell

        s = self.state
        n = self.turn["hover"]
        step = n % 5  # 5 against the 3 hover slots of SCRIPT: each step meets every slot
        if step == 0:
            self._count("hover.pixel")
            s.pointer.mouse = (
                float(self.rng.uniform(0, s.view.width - 1)),
                float(self.rng.uniform(0, s.view.height - 1)),
            )
        elif step == 3 and s.pointer.pinned is not None:  # Esc
            self._count("hover.unpin")
            s.pointer.pinned = None
        elif step in (1, 3):
            self._count("hover.tensor")
            s.pointer.mouse = self._tensor_pixel()
        elif step == 2:  # a click: unpin, or pin the cell under a tensor
            if s.pointer.pinned is not None:
                self._count("hover.unpin")
                s.pointer.pinned = None
            else:
                s.pointer.mouse = self._tensor_pixel()
                s.pointer.pinned = pick_cell(
                    self._shown().scene,
                    s.view.camera,
                    *s.pointer.mouse,
                    s.view.width,
                    s.view.height,
                )
                self._count("hover.pin" if s.pointer.pinned is not None else "hover.miss")
        else:
            self._count("hover.leave")
            s.pointer.mouse = None

    def _tensor_pixel(self) -> tuple[float, float]:
        """The screen position of the front centre of a random tensor in view whose cell is
        under it (a random pixel when none of the few tried is)."""
        from llmviz_desktop.scene.picking import pick_cell

        s = self.state
        boxes = self._shown().scene.boxes
        centres = np.array(
            [(b.origin[0] + b.size[0] / 2, b.origin[1] - b.size[1] / 2, b.origin[2]) for b in boxes]
        )
        x, y, depth = s.view.camera.project(centres, s.view.width, s.view.height).T
        seen = np.flatnonzero(
            (depth > 0) & (x >= 0) & (x < s.view.width) & (y >= 0) & (y < s.view.height)
        )
        size = (s.view.width, s.view.height)
        for k in self.rng.permutation(seen)[:8]:
            if pick_cell(self._shown().scene, s.view.camera, x[k], y[k], *size) is not None:
                return float(x[k]), float(y[k])
        return (
            float(self.rng.uniform(0, s.view.width - 1)),
            float(self.rng.uniform(0, s.view.height - 1)),
        )

    # ---- walkthrough -----------------------------------------------------------------------

    def _walkthrough(self) -> None:
        player = self.state.controllers.player
        assert player is not None
        n = self.turn["walkthrough"]
        step = n % 8
        if step == 0:
            self._count("walk.set_chapter")
            chapter = self.chapter_order[(n // 8) % len(self.chapter_order)]
            player.set_chapter(chapter)
        elif step in (1, 5):
            self._count("walk.play")
            player.active = True
            player.speed = float(self.rng.choice([1.0, 2.0, 4.0]))
            if not player.playing:
                player.toggle()
        elif step == 2:
            self._count("walk.goto_step")
            player.active = True
            k = int(self.rng.integers(0, len(player.chapter.steps)))
            player.goto_step(k, float(self.rng.uniform(0.0, 1.0)))
        elif step in (3, 6):
            self._count("walk.seek_back")
            player.seek(player.time - float(self.rng.uniform(0.5, 8.0)))
        elif step == 4:
            self._count("walk.seek_forward")
            player.seek(player.time + float(self.rng.uniform(0.5, 8.0)))
        else:
            self._count("walk.leave")  # free exploration: the home model comes back
            player.playing = False
            player.active = False

    # ---- input -----------------------------------------------------------------------------

    def _input(self) -> None:
        from llmviz_desktop.session.loaded import input_problem, load_model, random_input

        s = self.state
        home = s.home
        assert home is not None
        n = self.turn["input"]
        chars = home.config.vocab is not None
        if chars:
            valid = random_input(home.config, self.rng)
            texts = (valid, valid + "!", valid.lower(), valid[:3], "   ")
        else:
            words = ("The quick brown fox", "Hello world", "Once upon a time")
            texts = (words[n // 5 % 3], "", f"  {words[(n + 1) % 3]} ", "   ", "\t")
        text = texts[n % len(texts)].strip()
        if chars:
            text = text.upper()
        problem = input_problem(text, home.config)
        if problem:
            self._count("input.invalid")
            s.messages.input_error = f"{text!r}: {problem}"
            return
        self._count("input.valid")
        s.messages.input_error = ""
        s.home = load_model(home.name, text, home.sampling)
        s.messages.status = ""
        s.pointer.pinned = None

    # ---- model switches ----------------------------------------------------------------------

    def _model(self) -> None:
        from llmviz_desktop.scene.framing import camera_preset

        s = self.state
        self.model_turn += 1
        spec = MODELS[self.model_turn % len(MODELS)]
        self._count(f"model.{spec}")
        s.home = self.shells[spec]
        s.messages.status = ""
        s.pointer.pinned = None
        s.view.camera = camera_preset("overview", s.home.scene, s.view.width, s.view.height)
        self.gesture, self.undo = None, []

    # ---- training ----------------------------------------------------------------------------

    def _training(self) -> None:
        from llmviz_desktop.model.config import preset
        from llmviz_desktop.session.learning import VIEWS
        from llmviz_desktop.session.training import LiveTraining

        s = self.state
        learning = s.controllers.learning
        assert learning is not None
        n = self.turn["training"]
        if learning.training is None:  # Learning.start_training without its thread
            self._count("training.start")
            learning.training = LiveTraining(preset("nano-sort"), seed=self.seed)
            home = s.home
            learning.base = home if home.config.vocab else self.shells["nano-sort"]
            learning.replay = None
            return
        t = learning.training
        if n % 6 == 5:
            self._count("training.view")
            learning.view = VIEWS[(n // 6) % len(VIEWS)]
        if n % 30 == 29:
            self._count("training.reset")  # the panel's Reset button
            t.reset()
            learning._version = -1
        self._count("training.step")
        t.step_now(int(self.rng.integers(1, 4)))

    # ---- display toggles -----------------------------------------------------------------------

    def _display(self) -> None:
        s = self.state
        n = self.turn["display"]
        self._count("display.toggle")
        which = n % 4
        if which == 0:
            s.view.show_help = not s.view.show_help
        elif which == 1:
            s.view.show_labels = not s.view.show_labels
        elif which == 2:
            s.view.colors.symlog = not s.view.colors.symlog
        else:
            s.view.colors.normalise = "global" if s.view.colors.normalise == "tensor" else "tensor"

    # ---- measuring ---------------------------------------------------------------------------

    def sample(self, frame: int, t0: float, errors: list[tuple[int, str]]) -> Sample:
        from llmviz_desktop.render.gl_objects import gl_object_counts

        gc.collect()
        ctx = self.session.ctx
        error = ctx.error
        if error != "GL_NO_ERROR":
            errors.append((frame, error))
        return Sample(frame, time.perf_counter() - t0, gl_object_counts(ctx), rss_bytes())

    def close(self) -> None:
        learning = self.state.controllers.learning
        if learning is not None and learning.training is not None:
            learning.training.stop()
        self.session.release()


def run_soak(
    frames: int, width: int = 640, height: int = 360, sample_every: int = 50, seed: int = 0
) -> SoakReport:
    """Render `frames` frames of the scripted use and sample GL objects and RSS every
    `sample_every` frames (and before the first and after the last)."""
    if frames < 1 or sample_every < 1:
        raise ValueError("frames and sample_every must be at least 1")
    driver = SoakDriver(width, height, seed)
    try:
        samples: list[Sample] = []
        errors: list[tuple[int, str]] = []
        t0 = time.perf_counter()
        sample_seconds = 0.0

        def take(frame: int) -> None:
            nonlocal sample_seconds
            start = time.perf_counter()
            samples.append(driver.sample(frame, t0, errors))
            sample_seconds += time.perf_counter() - start

        take(0)
        for index in range(frames):
            driver.frame(index)
            if (index + 1) % sample_every == 0 or index + 1 == frames:
                take(index + 1)
        seconds = time.perf_counter() - t0
        ctx = driver.session.ctx
        return SoakReport(
            frames=frames,
            width=width,
            height=height,
            seconds=seconds,
            sample_seconds=sample_seconds,
            samples=samples,
            actions=dict(driver.actions),
            coverage=dict(driver.coverage),
            gl_errors=errors,
            gl_error=ctx.error,
            renderer=ctx.info.get("GL_RENDERER", ""),
        )
    finally:
        driver.close()


__all__ = [
    "ACTION_KINDS",
    "METRICS",
    "GL_METRICS",
    "Sample",
    "SoakReport",
    "rss_bytes",
    "run_soak",
]
