"""Puts a walkthrough moment on stage: the model a step shows (the home model, or a step's own
model loaded once and cached) and the timeline's frame for the player's position. It returns
them; app.tick decides what to do with them (no GL, no imgui, writes no state)."""

from __future__ import annotations

from ..scene.framing import Framing
from ..walkthrough.player import Player
from ..walkthrough.timeline import WalkFrame, frame_at
from .loaded import DEFAULT_INPUT, LoadedModel, load_model

WALK_MODEL = "nano-sort"  # the model the chapters are written for


class Stage:
    def __init__(self) -> None:
        self._models: dict[tuple, LoadedModel] = {}
        self._shells: dict[str, LoadedModel] = {}  # render-only shells: the input is not used
        self._told: LoadedModel | None = None  # nano-sort, when the user's model is not it

    def model_for(self, spec: str | None, home: LoadedModel) -> LoadedModel:
        """The home model (what the user chose, with their input) or a step's own model."""
        if spec is None or spec == home.name:
            return home
        if spec in self._shells:  # kept for good: a shell (gpt3, the scale scene) is the same
            return self._shells[spec]  # for every input, and slow to build again
        key = (spec, home.input_text, home.sampling)
        # keep only models for the current input and sampling: a new input must not leave the
        # previous ones' shells behind (found by the soak test)
        self._models = {k: v for k, v in self._models.items() if k[1:] == key[1:]}
        if key not in self._models:
            model = load_model(spec, home.input_text or DEFAULT_INPUT, home.sampling)
            if model.params is None:
                self._shells[spec] = model
                return model
            self._models[key] = model
        return self._models[key]

    def told(self, home: LoadedModel) -> LoadedModel:
        """The model the walkthrough tells about: the user's, when it is a trained model of
        the task the chapters are written for (nano-sort: sorting letters); otherwise
        nano-sort itself, on its own input (the text would have no letters, no answer, no
        values to show for gpt2 or gpt3; the panel says so)."""
        if home.params is not None and home.config.task is not None:
            return home
        if self._told is None:
            self._told = load_model(WALK_MODEL, DEFAULT_INPUT)
        return self._told

    def moment(
        self, player: Player | None, home: LoadedModel, framing: Framing
    ) -> tuple[LoadedModel, WalkFrame | None]:
        """(the model to show, this moment of the walkthrough or None outside it)."""
        if player is None or not player.active or not player.chapters.chapters:
            return home, None
        chapter = player.chapter
        k, progress = player.position()
        step = chapter.steps[k]
        home = self.told(home)

        def scene_of(s):
            return self.model_for(s.model or chapter.model, home).scene

        model = self.model_for(step.model or chapter.model, home)
        first = scene_of(chapter.steps[0])
        start = framing.preset("overview", first)
        return model, frame_at(chapter, k, progress, model, framing, start, scene_of)
