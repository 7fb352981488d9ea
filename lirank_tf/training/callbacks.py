"""Training callbacks driven by a validation metric."""

from __future__ import annotations

import keras


class ReduceLearningRateOnPlateau(keras.callbacks.Callback):
    """Multiplies the learning rate of every sub-optimizer whose rate is a variable (not a
    schedule) by ``factor`` after ``patience`` epochs without improvement of ``monitor``.

    Works with ``DenseSparseOptimizer`` (Adam + AdaGrad in one step), which Keras's own
    ``ReduceLROnPlateau`` cannot scale.

    Args:
        monitor: str, a key of the epoch logs, e.g. ``"val_click_auc"``.
        mode: ``"max"`` or ``"min"``.
        factor: float in (0, 1), default 0.5.
        patience: int >= 1, default 1.
        min_learning_rate: float >= 0, default 1e-6.
    """

    def __init__(self, monitor: str, mode: str = "max", factor: float = 0.5, patience: int = 1,
                 min_learning_rate: float = 1e-6) -> None:
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1), got {factor!r}")
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience!r}")
        self.monitor, self.mode, self.factor = monitor, mode, factor
        self.patience, self.min_learning_rate = patience, min_learning_rate
        self.best: float | None = None
        self.wait = 0

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def _optimizers(self) -> list:
        optimizer = self.model.optimizer
        return list(getattr(optimizer, "optimizers", None) or [optimizer])

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise ValueError(f"monitor {self.monitor!r} is not in the epoch logs "
                             f"{sorted(logs or {})}; is there validation data?")
        if self._improved(float(value)):
            self.best, self.wait = float(value), 0
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        self.wait = 0
        for optimizer in self._optimizers():
            if isinstance(optimizer._learning_rate, keras.optimizers.schedules.LearningRateSchedule):
                continue
            rate = max(float(optimizer.learning_rate) * self.factor, self.min_learning_rate)
            optimizer.learning_rate.assign(rate)
        if logs is not None:
            logs["learning_rate_scaled"] = 1.0
