"""Live training and checkpoint replay in the scene (pure glue between the training session /
replay and the home model; the UI edits the fields, the app's tick calls update() each frame
and shows the model it returns)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model.config import preset
from .loaded import LoadedModel, load_model, with_params
from .replay import Replay, ReplayError, open_replay
from .training import LiveTraining

VIEWS = ("weights", "gradients", "update")  # what the weight boxes show
REFRESH_S = 0.1  # re-trace and re-upload the training model at most this often


@dataclass
class Learning:
    training: LiveTraining | None = None
    replay: Replay | None = None
    replay_step: float = 0.0
    replay_playing: bool = False
    replay_speed: float = 1.0  # checkpoints per second
    view: str = "weights"
    base: LoadedModel | None = None  # input, sampling and layout the weights are put into
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
        self.training.start()

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
                return with_params(
                    self.base, params, label=f"replay: step {self.replay_step:,.0f}{loss}"
                )
            return None
        t = self.training
        if t is None or self.base is None:
            return None
        if t.version == self._version and self._shown == ("train", self.view):
            return None
        if now - self._last_refresh < REFRESH_S and t.running:
            return None
        snap = t.snapshot()
        display = {"weights": None, "gradients": snap.grads, "update": snap.update}[self.view]
        if display is not None and not display:
            display = None  # no step taken yet: nothing but the weights to show
        label = f"training: step {snap.step:,}"
        self._version, self._shown, self._last_refresh = t.version, ("train", self.view), now
        return with_params(self.base, snap.params, display, label)

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


__all__ = ["Learning", "VIEWS", "ReplayError"]
