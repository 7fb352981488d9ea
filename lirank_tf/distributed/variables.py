"""Which variables are model-parallel (one worker's rows) and which are replicated, and the
optimizer slots of each: what the broadcast, the gradient averaging and the checkpoints need.

Keras has no public API for either question, so both answers are isolated here:

* the layers of a model, recursively, come from ``Layer._flatten_layers`` (private; the
  public ``Model.layers`` only lists top-level layers);
* Keras 3 optimizers name the slot of variable ``v`` ``f"{v.path.replace('/', '_')}_{slot}"``
  (``BaseOptimizer.add_variable_from_reference``); ``optimizer_slots`` inverts that rule
  (longest matching prefix, equal shape) and is tested against Adam and SGD slots.
"""

from __future__ import annotations

import keras

from lirank_tf.distributed.sharded_layers import ShardedTables


def all_layers(model: keras.layers.Layer) -> list[keras.layers.Layer]:
    """``model`` and all its sub-layers, recursively (private Keras API, see module doc)."""
    return list(model._flatten_layers(include_self=True, recursive=True))


def sharded_layers(model: keras.layers.Layer) -> list[ShardedTables]:
    """The model-parallel embedding layers of ``model``."""
    return [layer for layer in all_layers(model) if isinstance(layer, ShardedTables)]


def model_parallel_variables(model: keras.layers.Layer) -> list[keras.Variable]:
    """Variables that hold one worker's rows (``shard_rows`` of the sharded layers)."""
    return [layer.shard_rows for layer in sharded_layers(model) if layer.built]


def replicated_weights(model: keras.layers.Layer) -> list[keras.Variable]:
    """Weights that every worker holds in full (all but the model-parallel ones)."""
    local = {id(v) for v in model_parallel_variables(model)}
    return [v for v in model.weights if id(v) not in local]


def optimizer_slots(optimizer: keras.optimizers.Optimizer,
                    variables: list[keras.Variable]) -> dict[int, dict[str, keras.Variable]]:
    """``{id(variable): {slot name: optimizer variable}}`` for the slots of ``variables``.

    ``variables`` should be all the trainable variables the optimizer was built with, so
    that a slot is never attributed to a variable whose path is a prefix of its owner's.
    """
    prefixes = sorted(((v.path.replace("/", "_") + "_", v) for v in variables),
                      key=lambda item: -len(item[0]))
    slots: dict[int, dict[str, keras.Variable]] = {}
    for slot in optimizer.variables:
        for prefix, variable in prefixes:
            if slot.name.startswith(prefix) and tuple(slot.shape) == tuple(variable.shape):
                slots.setdefault(id(variable), {})[slot.name[len(prefix):]] = slot
                break
    return slots


def replicated_optimizer_variables(model: keras.Model) -> list[keras.Variable]:
    """Optimizer variables that are the same on every worker: all but the slots of the
    model-parallel variables (iteration count, learning rate, slots of replicated weights)."""
    optimizer = model.optimizer
    local_slots = optimizer_slots(optimizer, model.trainable_variables)
    local = {id(slot) for v in model_parallel_variables(model)
             for slot in local_slots.get(id(v), {}).values()}
    return [v for v in optimizer.variables if id(v) not in local]
