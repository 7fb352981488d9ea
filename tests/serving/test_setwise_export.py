"""A Feed model with set-wise scoring (``model.setwise_group: viewer_id``) exported for TF
Serving: a request's rows are scored together, so in a fresh TensorFlow-only process the
SavedModel gives the Keras model's scores for a request of several members' candidates, and a
candidate's score moves when another candidate of its member is swapped, not when another
member's candidate is.

Tolerance: rtol 1e-5, atol 1e-6 (float32; the same graph traced twice)."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from serving_test_models import build_serving_parts, keras_scores, make_records

from lirank_tf.data.raw_features import raw_fields
from lirank_tf.serving import export_serving_model
from lirank_tf.data.records import (records_to_candidates_request, records_to_examples,
                                    records_to_request)

SIZES = [4, 3, 5]                  # candidates of members 0, 1 and 2, in one request
SAME_MEMBER = range(0, 4)          # member 0's rows
SWAPPED = 1                        # the candidate of member 0 that is swapped
OTHER_MEMBER_ROW = 9               # a candidate of member 2


def request_records(config) -> dict[str, list[dict]]:
    records = make_records(config, sum(SIZES) + 2, seed=31)
    spares = records[sum(SIZES):]
    records = records[:sum(SIZES)]
    for record, member in zip(records, np.repeat(np.arange(len(SIZES)), SIZES)):
        record["viewer_id"] = f"member:{member}"
    variants = {"base": records}
    for name, row, spare in (("same_member", SWAPPED, spares[0]),
                             ("other_member", OTHER_MEMBER_ROW, spares[1])):
        swapped = [dict(r) for r in records]
        swapped[row] = dict(spare, viewer_id=records[row]["viewer_id"])   # another post, same member
        variants[name] = swapped
    return variants


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Keras scores and fresh-process SavedModel scores of every request variant."""
    root = tmp_path_factory.mktemp("setwise_export")
    config, transform, model = build_serving_parts(amortized=False, setwise_group="viewer_id")
    export_dir = export_serving_model(config, transform, model, root / "export")
    fields = raw_fields(config)
    expected = {}
    for name, records in request_records(config).items():
        request = records_to_request(records, fields)
        np.savez(root / f"{name}.npz", **request)
        (root / f"{name}.examples").write_bytes(json.dumps(
            [e.hex() for e in records_to_examples(records, fields)]).encode())
        expected[name] = keras_scores(config, transform, model, request)
    script = textwrap.dedent(f"""
        import json, sys, numpy as np, tensorflow as tf
        loaded = tf.saved_model.load({str(export_dir)!r})
        for name in ("base", "same_member", "other_member"):
            request = dict(np.load({str(root)!r} + f"/{{name}}.npz", allow_pickle=True))
            out = loaded.signatures["serving_default"](
                **{{k: tf.constant(v) for k, v in request.items()}})
            np.savez({str(root)!r} + f"/{{name}}_served.npz", **{{k: v.numpy() for k, v in out.items()}})
            with open({str(root)!r} + f"/{{name}}.examples") as handle:
                examples = [bytes.fromhex(e) for e in json.load(handle)]
            out = loaded.signatures["serve_examples"](examples=tf.constant(examples))
            np.savez({str(root)!r} + f"/{{name}}_examples.npz", **{{k: v.numpy() for k, v in out.items()}})
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("lirank"))))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []   # TensorFlow only
    actual = {name: {kind: dict(np.load(root / f"{name}_{kind}.npz"))
                     for kind in ("served", "examples")} for name in expected}
    return config, expected, actual


def test_the_savedmodel_gives_the_keras_scores_of_a_multi_member_request(served):
    config, expected, actual = served
    for name in expected:
        for kind in ("served", "examples"):
            assert sorted(actual[name][kind]) == sorted(expected[name])
            for output, values in expected[name].items():
                assert actual[name][kind][output].shape == (sum(SIZES),)
                np.testing.assert_allclose(actual[name][kind][output], values, rtol=1e-5,
                                           atol=1e-6, err_msg=f"{name} {kind} {output}")


def test_swapping_a_candidate_moves_only_its_members_scores(served):
    _, _, actual = served
    base = actual["base"]["served"]["score"]
    same = actual["same_member"]["served"]["score"]
    other = actual["other_member"]["served"]["score"]
    neighbours = [i for i in SAME_MEMBER if i != SWAPPED]
    assert np.all(np.abs(same[neighbours] - base[neighbours]) > 1e-5), (same, base)
    outside = [i for i in range(sum(SIZES)) if i not in SAME_MEMBER]
    np.testing.assert_allclose(same[outside], base[outside], rtol=1e-6, atol=1e-7)
    kept = [i for i in range(sum(SIZES)) if i != OTHER_MEMBER_ROW]
    assert np.abs(other[OTHER_MEMBER_ROW] - base[OTHER_MEMBER_ROW]) > 1e-5
    np.testing.assert_allclose(other[list(SAME_MEMBER)], base[list(SAME_MEMBER)], rtol=1e-6,
                               atol=1e-7)
    assert not np.allclose(other[kept], base[kept])   # member 2's other rows did move


def test_keras_export_of_the_setwise_model_round_trips(tmp_path):
    config, transform, model = build_serving_parts(amortized=False, setwise_group="viewer_id")
    records = request_records(config)["base"]
    inputs = transform({k: tf.constant(v) for k, v in
                        records_to_request(records, raw_fields(config)).items()})
    expected = model(inputs, training=False)
    model.export(str(tmp_path / "keras_export"), verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "keras_export"))   # owns the variables
    reloaded = loaded.serve(inputs)
    for task in config.tasks:
        np.testing.assert_allclose(np.asarray(reloaded[task.name]),
                                   np.asarray(expected[task.name]), rtol=1e-5, atol=1e-6)


def test_serve_candidates_scores_one_members_candidates_as_one_set(tmp_path):
    """With the amortized history encoder too, ``serve_candidates`` (one member's history row,
    N candidate rows, a shared viewer id broadcast) gives the set-wise Keras scores."""
    config, transform, model = build_serving_parts(amortized=True, setwise_group="viewer_id")
    history = config.features.history
    records = make_records(config, 6, seed=41)
    member, candidates = records[0], records[1:]
    for candidate in candidates:
        for name in ("viewer_id", history.item_field, history.action_field):
            candidate[name] = member[name]
    expected = keras_scores(config, transform, model,
                            records_to_request(candidates, raw_fields(config)))
    fewer = keras_scores(config, transform, model,
                         records_to_request(candidates[:2], raw_fields(config)))
    assert abs(fewer["score"][0] - expected["score"][0]) > 1e-5     # the set matters
    loaded = tf.saved_model.load(str(export_serving_model(config, transform, model,
                                                          tmp_path / "export")))
    request = records_to_candidates_request(member, candidates, raw_fields(config), history)
    request["viewer_id"] = request["viewer_id"][:1]                  # one row shared by all
    served = loaded.signatures["serve_candidates"](**{k: tf.constant(v) for k, v in request.items()})
    for name, values in expected.items():
        np.testing.assert_allclose(served[name].numpy(), values, rtol=1e-5, atol=1e-6,
                                   err_msg=name)
