"""Helpers of benchmarks/serving.py: where the time of a serving request goes.

* ``stage_times``: the serving graph cut into transformation, embedding lookups, history
  encoder, trunk (cross network, gating, MLP, MoE) and heads + calibration, each timed in
  this process as a ``tf.function`` (Grappler on, as in TF Serving). The model stages are
  timed as prefixes of the Keras model (up to the embeddings, up to the feature concat,
  up to the heads' input, whole) and reported as differences of consecutive prefixes.
* ``matmul_flops``: the multiply-add FLOPs of a request (MatMul, BatchMatMul, Einsum of the
  model graph traced at the request's shapes).
* ``matmul_peak_gflops``: this CPU's float32 matmul rate, measured now.

Reads the Keras 3 functional graph through ``Node.input_tensors`` of a layer's first
inbound node (``layer._inbound_nodes``, private), isolated here.
"""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

STAGES = ("transformation", "embedding lookups", "history encoder", "trunk",
          "heads + calibration")


def _inputs_of(layer: keras.layers.Layer) -> list:
    return list(layer._inbound_nodes[0].input_tensors)  # noqa: SLF001 (see module docstring)


def _outputs(model: keras.Model, names: list[str]) -> list:
    return [model.get_layer(name).output for name in names]


def model_prefixes(model: keras.Model) -> list[keras.Model]:
    """[up to the embeddings, up to the feature concat, up to the heads' input] of a Feed
    model (history encoder ``transact``, ``feature_concat``, ``*_heads``)."""
    history = model.get_layer("transact")
    concat = model.get_layer("feature_concat")
    heads = next(layer for layer in model.layers if layer.name.endswith("_heads"))
    history_output = history.output
    embeddings = [t for t in _inputs_of(concat) if t is not history_output]
    embeddings += [t for t in _inputs_of(history) if t not in embeddings]
    ends = [embeddings, concat.output, _inputs_of(heads)]
    return [keras.Model(model.input, end) for end in ends]


def _run(function, argument) -> None:
    tf.nest.map_structure(lambda value: value.numpy(), function(argument))


def stage_times(module, request: dict, rounds: int = 30) -> tuple[dict, dict]:
    """``({stage: median seconds}, {stage: op count})`` of each of ``STAGES`` and of the
    whole serving function (``"whole"``, with the request checks and the score) for one
    ``request`` (tensors of ``serving_default``) through ``module`` (a ``ServingModule``)."""
    model, transform = module.model, module.transform
    inputs = transform(request)
    parts = {"transformation": (tf.function(transform), request)}
    for index, prefix in enumerate(model_prefixes(model) + [model]):
        parts[f"prefix{index}"] = (tf.function(lambda x, p=prefix: p(x, training=False)), inputs)
    parts["whole"] = (module.serve, request)
    seconds: dict[str, list[float]] = {name: [] for name in parts}
    for round_ in range(rounds + 2):
        for name, (function, argument) in parts.items():
            started = time.perf_counter()
            _run(function, argument)
            if round_ >= 2:
                seconds[name].append(time.perf_counter() - started)
    median = {name: float(np.median(values)) for name, values in seconds.items()}
    ops = {name: _op_count(function, argument) for name, (function, argument) in parts.items()}
    stages, stage_ops = {}, {}
    for values, out in ((median, stages), (ops, stage_ops)):
        cumulative = [0] + [values[f"prefix{i}"] for i in range(4)]
        out["transformation"] = values["transformation"]
        for name, before, after in zip(STAGES[1:], cumulative[:-1], cumulative[1:]):
            out[name] = max(after - before, 0)
        out["whole"] = values["whole"]
    return stages, stage_ops


_BOOKKEEPING_OPS = {"Const", "NoOp", "Identity", "ReadVariableOp", "Placeholder"}


def _op_count(function, argument) -> int:
    """Ops of ``function``'s traced graph (with the bodies of its loops and conditionals),
    before Grappler, without constants and other bookkeeping."""
    concrete = (function.get_concrete_function() if function.input_signature
                else function.get_concrete_function(argument))
    graph_def = concrete.graph.as_graph_def()
    nodes = list(graph_def.node) + [node for f in graph_def.library.function
                                    for node in f.node_def]
    return sum(node.op not in _BOOKKEEPING_OPS for node in nodes)


def _dim(value) -> int:
    return 1 if value is None else int(value)


def matmul_flops(model: keras.Model, inputs: dict) -> int:
    """FLOPs (2 x multiply-adds) of the MatMul / BatchMatMul / Einsum ops of ``model`` on
    ``inputs``, traced at their shapes (a dimension unknown at trace time, e.g. the number
    of distinct histories, counts 1)."""
    specs = {name: tf.TensorSpec(value.shape, value.dtype) for name, value in inputs.items()}
    graph = tf.function(lambda x: model(x, training=False)).get_concrete_function(specs).graph
    total = 0
    for op in graph.get_operations():
        if op.type == "MatMul":
            a, b = op.inputs[0].shape, op.inputs[1].shape
            rows = a[1] if op.get_attr("transpose_a") else a[0]
            inner = a[0] if op.get_attr("transpose_a") else a[1]
            cols = b[0] if op.get_attr("transpose_b") else b[1]
            total += 2 * _dim(rows) * _dim(inner) * _dim(cols)
        elif op.type.startswith("BatchMatMul"):
            a = op.inputs[0].shape
            inner = a[-2] if op.get_attr("adj_x") else a[-1]
            total += 2 * int(np.prod([_dim(d) for d in op.outputs[0].shape])) * _dim(inner)
        elif op.type == "Einsum":
            equation = op.get_attr("equation").decode()
            sizes: dict[str, int] = {}
            for letters, tensor in zip(equation.split("->")[0].split(","), op.inputs):
                for letter, size in zip(letters.replace("...", ""), tensor.shape):
                    sizes[letter] = max(sizes.get(letter, 1), _dim(size))
            total += 2 * int(np.prod(list(sizes.values())))
    return total


def matmul_peak_gflops(size: int = 1024, repeats: int = 10) -> float:
    """Best float32 GFLOP/s of a ``size`` x ``size`` matmul on this CPU, now."""
    a = tf.random.normal([size, size])
    matmul = tf.function(lambda x: tf.matmul(x, x))
    matmul(a).numpy()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        matmul(a).numpy()
        best = min(best, time.perf_counter() - started)
    return 2 * size ** 3 / best / 1e9
