"""Checks that an exported SavedModel needs only stock TensorFlow ops (what TF Serving has)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tensorflow.core.protobuf import saved_model_pb2


def saved_model_op_types(path: str | Path) -> set[str]:
    """Every op type in the SavedModel's graphs, including inside functions and loops."""
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    ops = set()
    for meta_graph in saved_model.meta_graphs:
        ops.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    return ops


_SERVE_SCRIPT = """
import json, sys
import tensorflow as tf
path, inputs = sys.argv[1], json.loads(sys.argv[2])
loaded = tf.saved_model.load(path)  # keep a reference: it owns the variables
served = loaded.serve(tf.constant(inputs))
assert not any(name.startswith("lirank_tf") for name in sys.modules), "lirank_tf was imported"
print(json.dumps(tf.nest.map_structure(lambda t: t.numpy().tolist(), served)))
"""


def serve_in_plain_tensorflow(path: str | Path, inputs: list) -> object:
    """Runs ``serve(inputs)`` in a fresh interpreter that imports only TensorFlow.

    The op library of lirank-tf is never loaded there, so this fails if the graph holds a
    custom op. Returns the outputs as nested lists.
    """
    result = subprocess.run(
        [sys.executable, "-c", _SERVE_SCRIPT, str(path), json.dumps(inputs)],
        capture_output=True, text=True, timeout=300,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
