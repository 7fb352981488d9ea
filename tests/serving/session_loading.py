"""Runs a SavedModel the way TensorFlow Serving does: the TF1 loader restores the MetaGraph
into a ``Session`` from the ``saver_def`` (not the TF2 object graph ``tf.saved_model.load``
uses), and a signature is a ``Session.run`` of its SignatureDef's tensor names.

Keras 3 exports have failed there while loading fine in TF2: the graph held two handles per
variable and only one of them was restored ("Could not find variable ... uninitialized").
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2


def variable_handles(export_dir) -> dict[str, str]:
    """``{VarHandleOp node name: shared name}`` of the export's MetaGraph."""
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((export_dir / "saved_model.pb").read_bytes())
    graph = saved.meta_graphs[0].graph_def
    return {node.name: node.attr["shared_name"].s.decode() for node in graph.node
            if node.op == "VarHandleOp"}


class SessionExport:
    """The export loaded into a TF1 session, as TF Serving loads it."""

    def __init__(self, export_dir) -> None:
        self.export_dir = export_dir
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.session = tf.compat.v1.Session(graph=self.graph)
            self.meta_graph = tf.compat.v1.saved_model.loader.load(
                self.session, ["serve"], str(export_dir))

    def uninitialized_variables(self) -> list[str]:
        """Shared names of the graph's variables the loader left uninitialized."""
        handles = variable_handles(self.export_dir)
        with self.graph.as_default():
            checks = [tf.raw_ops.VarIsInitializedOp(
                resource=self.graph.get_operation_by_name(name).outputs[0]) for name in handles]
            initialized = self.session.run(checks)
        return sorted(shared for shared, ok in zip(handles.values(), initialized) if not ok)

    def run(self, signature: str, request: dict) -> dict[str, np.ndarray]:
        """``{output name: value}`` of ``signature`` for ``request`` ({input name: array})."""
        definition = self.meta_graph.signature_def[signature]
        feeds = {definition.inputs[name].name: np.asarray(value)
                 for name, value in request.items()}
        fetches = {name: tensor.name for name, tensor in definition.outputs.items()}
        return self.session.run(fetches, feeds)

    def close(self) -> None:
        self.session.close()


def assert_session_matches_tf2(export_dir, requests: dict[str, dict], rtol=1e-6, atol=1e-7):
    """Every variable restored, and each ``{signature: request}`` served in a TF1 session
    equals ``tf.saved_model.load``'s outputs."""
    loaded = tf.saved_model.load(str(export_dir))
    session = SessionExport(export_dir)
    try:
        assert session.uninitialized_variables() == []
        assert set(requests) <= set(session.meta_graph.signature_def)
        for signature, request in requests.items():
            served = session.run(signature, request)
            expected = loaded.signatures[signature](
                **{name: tf.constant(value) for name, value in request.items()})
            assert set(served) == set(expected), signature
            for name, value in expected.items():
                np.testing.assert_allclose(served[name], value.numpy(), rtol=rtol, atol=atol,
                                           err_msg=f"{signature}/{name}")
    finally:
        session.close()
