"""Runs a SavedModel the way TensorFlow Serving does: the TF1 loader restores the MetaGraph
into a ``Session`` from the ``saver_def`` (not the TF2 object graph ``tf.saved_model.load``
uses), and a signature is a ``Session.run`` of its SignatureDef's tensor names.

Keras 3 exports have failed there while loading fine in TF2: the graph held two handles per
variable and only one of them was restored ("Could not find variable ... uninitialized").
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from lirank_tf.serving.session import SessionExport


def assert_session_matches_tf2(export_dir, requests: dict[str, dict], rtol=1e-6, atol=1e-7):
    """Every variable restored, and each ``{signature: request}`` served in a TF1 session
    equals ``tf.saved_model.load``'s outputs."""
    loaded = tf.saved_model.load(str(export_dir))
    with SessionExport(export_dir) as session:
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
