"""Runs an export the way TensorFlow Serving does, to check it before it ships.

TF Serving's C++ loader restores the MetaGraph into a TF1 ``Session`` from the ``saver_def``
(not the TF2 object graph that ``tf.saved_model.load`` uses), replays
``assets.extra/tf_serving_warmup_requests`` through the session while loading (a failing
request fails the load), and answers a Predict request with one ``Session.run`` of the
signature's tensor names. An export can load in Python and still fail there: Keras 3 exports
did, with a second, never restored, handle per variable ("Could not find variable ...").
`check_serving_load` is what ``lirank-tf export`` runs on every export before publishing it.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from lirank_tf.serving.warmup import read_warmup_requests


class ServingLoadError(RuntimeError):
    """An export that TF Serving would fail to load or to answer (a bug of the export code,
    not of the user's input: it keeps its traceback)."""


def variable_handles(export_dir: str | Path) -> dict[str, str]:
    """``{VarHandleOp node name: shared name}`` of the export's MetaGraph."""
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((Path(export_dir) / "saved_model.pb").read_bytes())
    graph = saved.meta_graphs[0].graph_def
    return {node.name: node.attr["shared_name"].s.decode() for node in graph.node
            if node.op == "VarHandleOp"}


def first_error_line(error: tf.errors.OpError) -> str:
    """The first informative line of a TF runtime error (not "Graph execution error")."""
    lines = [line.strip() for line in error.message.splitlines() if line.strip()]
    return next((line for line in lines if "Graph execution error" not in line),
                lines[0] if lines else type(error).__name__)


class SessionExport:
    """An export loaded into a TF1 session, as TF Serving loads it. ``threads``: intra- and
    inter-op threads of the session (0 = TensorFlow's default)."""

    def __init__(self, export_dir: str | Path, threads: int = 0) -> None:
        self.export_dir = Path(export_dir)
        self.graph = tf.Graph()
        config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=threads,
                                          inter_op_parallelism_threads=threads)
        with self.graph.as_default():
            self.session = tf.compat.v1.Session(graph=self.graph, config=config)
            try:
                self.meta_graph = tf.compat.v1.saved_model.loader.load(
                    self.session, ["serve"], str(self.export_dir))
            except BaseException:
                self.session.close()
                raise

    def __enter__(self) -> SessionExport:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def signatures(self) -> list[str]:
        return sorted(set(self.meta_graph.signature_def) - {"__saved_model_init_op"})

    def uninitialized_variables(self) -> list[str]:
        """Shared names of the graph's variables the loader left uninitialized."""
        handles = variable_handles(self.export_dir)
        with self.graph.as_default():
            checks = [tf.raw_ops.VarIsInitializedOp(
                resource=self.graph.get_operation_by_name(name).outputs[0]) for name in handles]
            initialized = self.session.run(checks) if checks else []
        return sorted(shared for shared, ok in zip(handles.values(), initialized) if not ok)

    def run(self, signature: str, request: dict, outputs: list[str] | None = None
            ) -> dict[str, np.ndarray]:
        """``{output name: value}`` of ``signature`` for ``request`` ({input name: array}); only
        ``outputs`` when given."""
        if signature not in self.meta_graph.signature_def:
            raise KeyError(f"{self.export_dir}: no signature {signature!r}; it has "
                           f"{self.signatures}")
        definition = self.meta_graph.signature_def[signature]
        feeds = {definition.inputs[name].name: np.asarray(value)
                 for name, value in request.items()}
        fetches = {name: tensor.name for name, tensor in definition.outputs.items()
                   if outputs is None or name in outputs}
        return self.session.run(fetches, feeds)

    def close(self) -> None:
        self.session.close()


def check_serving_load(export_dir: str | Path) -> tuple[int, float]:
    """Loads ``export_dir`` as TF Serving does and replays its warm-up requests there.

    Returns (warm-up requests replayed, seconds). Raises `ServingLoadError` naming the first
    uninitialized variable, or the warm-up request (signature, rows) that failed and why."""
    started = time.perf_counter()
    try:
        session = SessionExport(export_dir)
    except (tf.errors.OpError, RuntimeError, ValueError) as error:
        reason = first_error_line(error) if isinstance(error, tf.errors.OpError) else str(error)
        raise ServingLoadError(f"{export_dir}: TF Serving's loader cannot load the export: "
                               f"{reason}") from error
    with session:
        missing = session.uninitialized_variables()
        if missing:
            raise ServingLoadError(
                f"{export_dir}: {len(missing)} variable(s) are not restored when loaded as TF "
                f"Serving loads it (TF1 session), e.g. {missing[0]!r}")
        requests = read_warmup_requests(export_dir)
        for index, (signature, inputs) in enumerate(requests):
            rows = max((len(v) for v in inputs.values() if np.ndim(v)), default=1)
            try:
                session.run(signature, inputs)
            except (tf.errors.OpError, KeyError) as error:
                reason = first_error_line(error) if isinstance(error, tf.errors.OpError) \
                    else str(error)
                raise ServingLoadError(
                    f"{export_dir}: warm-up request {index} ({signature}, {rows} rows) fails "
                    f"in a TF1 session, which fails TF Serving's load: {reason}") from error
    return len(requests), time.perf_counter() - started
