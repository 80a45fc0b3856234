"""Puts a walkthrough moment on stage: the model a step shows (loaded once and cached), and the
frame the timeline computes for it, applied to the app state (pure: no GL, no imgui)."""

from __future__ import annotations

from ..walkthrough.timeline import WalkFrame, frame_at


class Stage:
    def __init__(self) -> None:
        self._models: dict[tuple, object] = {}

    def model_for(self, spec: str | None, state):
        """The home model (what the user chose, with their input) or a step's own model."""
        home = state.home
        if spec is None or spec == home.name:
            return home
        key = (spec, home.input_text, home.sampling)
        # keep only models for the current input and sampling: a new input must not leave the
        # previous ones' shells behind (found by the soak test)
        self._models = {k: v for k, v in self._models.items() if k[1:] == key[1:]}
        if key not in self._models:
            from .state import load_model

            self._models[key] = load_model(spec, home.input_text or "CBABBC", home.sampling)
        return self._models[key]

    def frame(self, state) -> WalkFrame | None:
        """Compute this moment and apply it: the model shown, the camera (unless the user took
        it), and state.walk for the renderer and the panel."""
        player = state.player
        if player is None or not player.active or not player.chapters.chapters:
            state.walk = None
            if state.model is not state.home:
                state.model = state.home
            return None
        from .state import camera_preset

        chapter = player.chapter
        k, progress = player.position()
        step = chapter.steps[k]

        def scene_of(s):
            return self.model_for(s.model or chapter.model, state).scene

        model = self.model_for(step.model or chapter.model, state)
        first = scene_of(chapter.steps[0])
        start = camera_preset("overview", first, state.width, state.height)
        frame = frame_at(chapter, k, progress, model, state.width, state.height, start, scene_of)
        state.model = model
        state.walk = frame
        if not player.free_camera:
            state.camera = frame.camera
        return frame
