"""Live training and checkpoint replay in the scene (pure glue between the training session /
replay and the home model; the UI edits the fields, the app's tick calls update() each frame
and shows the model it returns)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..model.config import preset
from ..model.params import Params
from .loaded import LoadedModel, load_model, with_params
from .replay import Replay, ReplayError, open_replay
from .training import LiveTraining

# what the weight boxes show; "change" (the weights minus those at the start of training or
# of the replay) is the default: the weights themselves move too little to see while learning
VIEWS = ("change", "weights", "gradients", "update")
VIEW_LEGENDS = {  # what the weight boxes show, said in full (the training panel) and short
    "change": ("weight change since step {origin:,}", "change"),  # (the colour legend)
    "weights": ("weights", "weights"),
    "gradients": ("gradients of the loss", "gradients"),
    "update": ("the last step's update", "update"),
}
REFRESH_S = 0.1  # re-trace and re-upload the training model at most this often


@dataclass
class Learning:
    training: LiveTraining | None = None
    replay: Replay | None = None
    replay_step: float = 0.0
    replay_playing: bool = False
    replay_speed: float = 1.0  # checkpoints per second
    view: str = "change"
    base: LoadedModel | None = None  # input, sampling and layout the weights are put into
    # the weights "change" is measured from: (what they belong to, step, weights); the trainer
    # object (a Reset makes a new one) or the replay
    origin: tuple[object, int, Params] | None = None
    last: LoadedModel | None = None  # the model update() returned last
    last_view: str = "weights"  # what its weight boxes show (a key of VIEW_LEGENDS)
    _version: int = -1
    _shown: tuple | None = None
    _last_refresh: float = -1e9
    message: str = ""
    _warned: list[str] = field(default_factory=list)  # replay warnings already in message
    recent: list[str] = field(default_factory=list)  # replayed folders, latest first (settings)

    def start_training(self, home: LoadedModel) -> None:
        if self.training is None:
            cfg = preset("nano-sort")
            self.training = LiveTraining(cfg)
        self.replay = None
        self.base = home if home.config.vocab else load_model("nano-sort")
        self._training_origin()
        self._shown = None
        self.training.start()

    def reset_training(self, seed: int | None = None) -> None:
        """Fresh random weights (paused); the change is measured from them."""
        assert self.training is not None
        self.training.reset(seed)
        self._version, self._shown = -1, None
        self._training_origin()

    def _training_origin(self) -> Params:
        """The weights at the start of this training run (taken again after a Reset)."""
        t = self.training
        assert t is not None
        with t.lock:
            trainer = t.trainer
            if self.origin is None or self.origin[0] is not trainer:
                copy = {k: np.array(v) for k, v in trainer.params.items()}
                self.origin = (trainer, trainer.step_count, copy)
        return self.origin[2]

    def legend(self, model: LoadedModel, short: bool = False) -> str:
        """What the weight boxes of `model` show (short: the colour legend's word)."""
        view = self.last_view if model is self.last and model.display is not None else "weights"
        origin = self.origin[1] if self.origin is not None else 0
        return VIEW_LEGENDS[view][short].format(origin=origin)

    def _shown_as(self, model: LoadedModel, view: str) -> LoadedModel:
        self.last, self.last_view = model, view if model.display is not None else "weights"
        return model

    def open(self, directory: str, home: LoadedModel) -> None:
        try:
            self.replay = open_replay(directory)
        except ReplayError as e:
            self.message = str(e)
            return
        if self.training is not None:
            self.training.pause()
        folder = str(self.replay.directory)
        self.recent = [folder] + [f for f in self.recent if f != folder]
        self.message = "; ".join(self.replay.warnings + self.replay.metrics_warnings)
        self._warned = list(self.replay.warnings)
        first = load_model(str(self.replay.checkpoints[0].path), home.input_text or "CBABBC")
        self.base = first
        assert first.params is not None
        self.origin = (self.replay, self.replay.first, first.params)
        self.replay_step = float(self.replay.first)
        self._shown = None

    def update(self, now: float, dt: float) -> LoadedModel | None:
        """The home model with the current weights (training snapshot or replay moment), or
        None when nothing changed."""
        if self.replay is not None:
            r = self.replay
            if self.replay_playing:
                self.replay_step = self._advance(r, dt)
            key = ("replay", self.replay_step, self.view)
            if key != self._shown and self.base is not None:
                try:
                    params = r.params_at(self.replay_step)
                except ReplayError as e:  # every checkpoint vanished since it was opened
                    self.message, self.replay, self._shown = str(e), None, None
                    return None
                if r.warnings != self._warned:  # a checkpoint that stopped loading
                    self.message = "; ".join(r.warnings + r.metrics_warnings)
                    self._warned = list(r.warnings)
                m = r.metrics_at(self.replay_step)
                loss = f" · loss {m['loss']:.4f}" if m and "loss" in m else ""
                self._shown = key
                display: Params | None = None
                if self.view == "change" and self.origin is not None and self.origin[0] is r:
                    display = _minus(params, self.origin[2])
                label = f"replay: step {self.replay_step:,.0f}{loss}"
                return self._shown_as(with_params(self.base, params, display, label), self.view)
            return None
        t = self.training
        if t is None or self.base is None:
            return None
        if t.version == self._version and self._shown == ("train", self.view):
            return None
        if now - self._last_refresh < REFRESH_S and t.running:
            return None
        origin = self._training_origin()
        snap = t.snapshot()
        display = None
        if self.view == "change":
            display = _minus(snap.params, origin) if snap.step > self.origin_step else None
        elif self.view in ("gradients", "update"):
            display = snap.grads if self.view == "gradients" else snap.update
        if display is not None and not display:
            display = None  # no step taken yet: nothing but the weights to show
        label = f"training: step {snap.step:,}"
        self._version, self._shown, self._last_refresh = t.version, ("train", self.view), now
        return self._shown_as(with_params(self.base, snap.params, display, label), self.view)

    @property
    def origin_step(self) -> int:
        return self.origin[1] if self.origin is not None else 0

    def _advance(self, r: Replay, dt: float) -> float:
        """Move through the checkpoints at replay_speed checkpoints per second."""
        steps = r.steps
        if len(steps) < 2:
            return float(steps[0])
        i = max(k for k, s in enumerate(steps) if s <= self.replay_step)
        i = min(i, len(steps) - 2)
        span = steps[i + 1] - steps[i]
        nxt = self.replay_step + dt * self.replay_speed * span
        if nxt >= steps[-1]:
            self.replay_playing = False
            return float(steps[-1])
        return nxt


def _minus(params: Params, origin: Params) -> Params:
    """params - origin, tensor by tensor (float32, as the weights)."""
    return {k: np.subtract(v, origin[k], dtype=np.float32) for k, v in params.items()}


__all__ = ["Learning", "VIEWS", "VIEW_LEGENDS", "ReplayError"]
