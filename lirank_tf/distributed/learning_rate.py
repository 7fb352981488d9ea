"""Learning rate for N workers: scale by N (the global batch is N times larger), reached by a
gradual warm-up (Goyal et al. 2017, as Horovod's examples do)."""

from __future__ import annotations

import keras

from lirank_tf.distributed.context import DistributedContext, current_context


def scale_learning_rate(learning_rate: float, context: DistributedContext | None = None) -> float:
    """``learning_rate * world size``: the global batch is ``world size`` times larger."""
    context = context if context is not None else current_context()
    return learning_rate * context.size  # Horovod: scale the learning rate by the world size


@keras.saving.register_keras_serializable(package="lirank_tf")
class WorldSizeWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Multiplies a single-worker learning rate (or schedule) by a factor that grows linearly
    from 1 to ``world_size`` over ``warmup_steps``::

        lr(step) = base(step) * (1 + (world_size - 1) * min(1, step / warmup_steps))

    Args:
        base_learning_rate: float or ``LearningRateSchedule``, the single-worker rate.
        world_size: positive int, number of workers.
        warmup_steps: int >= 0 (0: the full factor from the first step).

    Example:
        >>> schedule = WorldSizeWarmup(0.1, world_size=4, warmup_steps=10)
        >>> [round(float(schedule(s)), 3) for s in (0, 5, 10, 20)]
        [0.1, 0.25, 0.4, 0.4]

    References: LiRank §6.2 (long warm-up scaled with the batch size); Goyal et al. 2017.
    """

    def __init__(self, base_learning_rate, world_size: int, warmup_steps: int) -> None:
        if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
            raise ValueError(f"world_size must be a positive int, got {world_size!r}")
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an int >= 0, got {warmup_steps!r}")
        if not isinstance(base_learning_rate, (int, float,
                                               keras.optimizers.schedules.LearningRateSchedule)) \
                or isinstance(base_learning_rate, bool):
            raise ValueError("base_learning_rate must be a number or a LearningRateSchedule, "
                             f"got {base_learning_rate!r}")
        self.base_learning_rate = base_learning_rate
        self.world_size, self.warmup_steps = world_size, warmup_steps

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        base = self.base_learning_rate
        base = base(step) if callable(base) else keras.ops.cast(base, "float32")
        progress = 1.0 if self.warmup_steps == 0 else keras.ops.minimum(
            1.0, step / float(self.warmup_steps))
        # Horovod: warm up from the single-worker rate to the rate scaled by the world size.
        return base * (1.0 + (self.world_size - 1) * progress)

    def get_config(self) -> dict:
        base = self.base_learning_rate
        if isinstance(base, keras.optimizers.schedules.LearningRateSchedule):
            base = keras.saving.serialize_keras_object(base)
        return {"base_learning_rate": base, "world_size": self.world_size,
                "warmup_steps": self.warmup_steps}

    @classmethod
    def from_config(cls, config: dict) -> "WorldSizeWarmup":
        config = dict(config)
        if isinstance(config["base_learning_rate"], dict):
            config["base_learning_rate"] = keras.saving.deserialize_keras_object(
                config["base_learning_rate"])
        return cls(**config)
