"""The one frame step every front end runs — the window, `llmviz render`, video export and the
soak driver: tick(state, dt) advances the controllers and derives what this frame shows.

    state ──tick──► Frame (model shown, walkthrough moment, hover, legend, Drawing)
    Frame.drawing ──► render (GL)          state + Frame ──► ui (imgui)

Each stage is contained (session/errors.contained): a failure in the walkthrough, training or
hover is shown in the error panel and logged, and the frame still comes.
"""

from __future__ import annotations

from ..scene.drawing import Drawing, Highlight, Role
from ..scene.flow import build_flows, flow_emphasis
from ..scene.framing import Framing, Rect, camera_preset, default_panels, free_rect
from ..scene.hover import HoverTracker
from ..scene.values import BoxValues, prepare_values
from ..session.errors import contained
from ..session.frame import Frame
from ..session.loaded import LoadedModel
from ..session.stage import Stage
from ..session.state import AppState, View
from ..walkthrough.timeline import expand

MAX_HIGHLIGHTS = 32  # the shader's Highlights block holds this many; the latest win


def untouched_overview(view: View, home: LoadedModel) -> bool:
    """Whether the camera is still the overview a preset gave for the size and free area it
    was last framed for (so it may follow a resize or the panels; a view the user chose is
    kept)."""
    if view.framed_for is None:
        return False
    w, h, free = view.framed_for
    return min(w, h) > 0 and view.camera == camera_preset("overview", home.scene, w, h, free=free)


class Ticker:
    """tick() with what it keeps between frames: the clock, the walkthrough's loaded models,
    the hover cache and the values prepared for the model shown."""

    def __init__(self) -> None:
        self.now = 0.0
        self.stage = Stage()
        self.hover = HoverTracker()
        self._values_key: tuple | None = None
        self._values: BoxValues | None = None

    def tick(self, state: AppState, dt: float) -> Frame:
        self.now += dt
        errors, ctl = state.messages.errors, state.controllers
        player, learning = ctl.player, ctl.learning
        if player is not None and not contained(errors, "walkthrough", player.advance, dt):
            player.playing = False
        if learning is not None:
            contained(errors, "training", self._learn, state, dt)
        free = self._frame_free_area(state)
        model, walk = state.home, None
        moment: list = []
        if contained(errors, "walkthrough", self._moment, state, free, moment):
            model, walk = moment[0]
        elif player is not None:
            player.playing = False
        view = state.view
        if walk is not None and player is not None and not player.free_camera:
            view.camera = walk.camera  # the walkthrough owns the camera until the user takes it
        found: list = []
        hover = None
        if contained(errors, "hover", self._hover, state, model, found):
            hover = found[0]
        highlights: list[Highlight] = list(walk.cells) if walk is not None else []
        if state.pointer.link_hover:  # words hovered in the walkthrough text: light tensors
            glob = state.pointer.link_hover
            highlights += [Highlight(k, Role.LINE) for k in expand(model.scene, glob)]
        highlights += hover.highlights if hover is not None else []
        values = self._values_for(model, view.colors.normalise)
        flow: list = []  # a failure leaves the frame without its flow paths
        contained(errors, "flow", self._flows, model, walk, highlights, flow)
        flows, emphasis = flow[0] if flow else (None, None)
        drawing = Drawing(
            model.scene,
            values,
            view.camera,
            view.width,
            view.height,
            view.colors,
            walk.motion if walk is not None else None,
            highlights[-MAX_HIGHLIGHTS:],
            flows=flows,
            flow_emphasis=emphasis,
        )
        return Frame(model, walk, hover, values.legend, drawing, free)

    def _learn(self, state: AppState, dt: float) -> None:
        learning = state.controllers.learning
        assert learning is not None
        new = learning.update(self.now, dt)
        if new is not None:
            state.home = new

    def _moment(self, state: AppState, free: Rect, out: list) -> None:
        framing = Framing(state.view.width, state.view.height, free)
        out.append(self.stage.moment(state.controllers.player, state.home, framing))

    def _frame_free_area(self, state: AppState) -> Rect:
        """The free area between the panels this frame; an untouched overview (the camera a
        preset gave for the previous size and free area) is framed again when it changed."""
        v = state.view
        w, h = v.width, v.height
        shown = v.panels if v.panels is not None else default_panels(w, h)
        free = free_rect(w, h, shown if v.show_ui else ())
        now = (w, h, free)
        if v.framed_for != now and min(w, h) > 0:
            if untouched_overview(v, state.home):
                v.camera = camera_preset("overview", state.home.scene, w, h, free=free)
            v.framed_for = now
        return free

    def _hover(self, state: AppState, model: LoadedModel, out: list) -> None:
        p, v = state.pointer, state.view
        info, p.pinned = self.hover.update(model, p.pinned, p.mouse, v.camera, v.width, v.height)
        out.append(info)

    def _flows(self, model: LoadedModel, walk, highlights: list[Highlight], out: list) -> None:
        """The scene's flow paths (built once per scene, kept on it) and how much each is
        brightened: into the hovered box and the walkthrough's boxes, from their sources."""
        scene = model.scene
        flows = scene.cached("_flows", lambda: build_flows(scene))
        focus = {h.box for h in highlights if h.role != Role.SOURCE}
        focus |= walk.highlight if walk is not None else set()
        sources = {h.box for h in highlights if h.role == Role.SOURCE}
        out.append((flows, flow_emphasis(flows, focus, sources) if focus or sources else None))

    def _values_for(self, model: LoadedModel, normalise: str) -> BoxValues:
        """The values drawn for this model, prepared again only when they changed."""
        key = (model.scene, model.trace, model.display, normalise)  # held: ids never reused
        old = self._values_key
        same = old is not None and all(x is y for x, y in zip(old[:3], key[:3], strict=True))
        if not same or old is None or old[3] != normalise or self._values is None:
            shown = model.display if model.display is not None else model.params
            self._values = None  # let a big model's previous values go first
            self._values = prepare_values(model.scene, model.trace, shown, normalise)
            self._values_key = key
        return self._values
