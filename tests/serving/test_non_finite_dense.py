"""Non-finite and huge dense values in a serving request, for every model family (dcnv2, feed,
ads, jobs): +inf, -inf and NaN take the feature default, finite values are clipped to the
training range (statistics without a range: the standardised value is bounded), so the
scores are finite probabilities equal to those of the request with the values replaced, and
to the Keras model fed the replaced values' dense input computed with NumPy (an independent
path). The stitched serving function is traced in process for every family; the saved
export of the session fixture is checked through ``serving_default`` and ``serve_examples``.

Tolerance: rtol 1e-5, atol 1e-6 (float32; the same graph with the same inputs)."""

import numpy as np
import pytest
import tensorflow as tf
from serving_test_models import make_records, small_config

from lirank_tf.config import ExperimentConfig, get_experiment
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.models import build_model
from lirank_tf.serving import ServingModule
from lirank_tf.data.records import records_to_examples, records_to_request
from lirank_tf.transform import DenseStatistics, TransformationModel
from lirank_tf.transform.normalization import MAX_ABS_STANDARDISED

SPECIALS = [np.inf, -np.inf, np.nan, 1e38, -1e38]
# a fixed-length float vector, a heavy-tailed count, an untransformed position, and a
# nullable field with its own default (init-config maps nullable unions to a default)
DENSE = [{"name": "dense_vector", "size": 3},
         {"name": "follower_count", "size": 1, "transform": "log1p", "default": 10.0},
         {"name": "position", "size": 1, "transform": "none", "default": 1.0},
         {"name": "nullable_ratio", "size": 1, "transform": "signed_log1p", "default": -0.5}]
SMALL = {"model": {"hidden_units": [32, 16], "cross_rank": 8}}


def dcnv2_config() -> ExperimentConfig:
    """An ``init-config --model dcnv2`` config at small widths."""
    return ExperimentConfig.from_dict({
        "name": "dcnv2_experiment",
        "features": {"tables": [{"name": t, "dim": 8, "num_quotient_buckets": 64,
                                 "num_remainder_buckets": 8} for t in ("user", "item", "genres")],
                     "ids": [{"name": "user", "table": "user"}, {"name": "item", "table": "item"},
                             {"name": "genres", "table": "genres", "kind": "id_list",
                              "max_length": 4}],
                     "dense": DENSE, "history": None},
        "tasks": [{"name": "click", "label": "click", "group": "main"}],
        "model": {"name": "dcnv2", "hidden_units": [32, 32], "tower_units": [],
                  "interaction": "dcnv2", "cross_layers": 3, "cross_rank": 8, "dropout": 0.1,
                  "multitask": "hard_sharing"}})


def feed_config() -> ExperimentConfig:
    """The small Feed config of the serving tests (TransAct history) with ``DENSE``."""
    config = small_config("early")
    dense = get_experiment("feed", {"features": {"dense": DENSE}}).features.dense
    return config.replace(features=config.features.replace(dense=dense))


FAMILIES = {
    "dcnv2": dcnv2_config,
    "feed": feed_config,
    "ads": lambda: get_experiment("ads", {**SMALL, "features": {"dense": DENSE}}),
    "jobs": lambda: get_experiment("jobs", {**SMALL, "features": {"dense": DENSE}}),
}


def range_statistics(config: ExperimentConfig) -> DenseStatistics:
    """Statistics as ``fit_dense_statistics`` writes them today (with the training range);
    std 0.25 makes an untransformed 1e38 overflow float32 when standardised."""
    dense = config.features.dense
    return DenseStatistics(mean={f.name: [0.5] * f.size for f in dense},
                           std={f.name: [0.25 if f.transform == "none" else 2.0] * f.size
                                for f in dense},
                           minimum={f.name: [-3.0 + i for i in range(f.size)] for f in dense},
                           maximum={f.name: [40.0 + i for i in range(f.size)] for f in dense})


def records(config: ExperimentConfig, count: int, seed: int = 0) -> list[dict]:
    """Records of any family: ids from small pools (route values for the routing feature),
    numeric values within the statistics' range."""
    rng = np.random.default_rng(seed)
    route = config.model.route_feature
    result = []
    for _ in range(count):
        record = {}
        for field in raw_fields(config):
            if field.name == route:
                record[field.name] = str(rng.choice(config.model.route_values))
            elif field.kind == "string":
                record[field.name] = f"{field.name}:{rng.integers(30)}"
            elif field.kind == "string_list":
                record[field.name] = [f"{field.name}:{rng.integers(30)}"
                                      for _ in range(int(rng.integers(0, 4)))]
            elif field.kind == "int_list":   # history action types, set below
                record[field.name] = []
            elif field.kind == "float":
                record[field.name] = float(rng.uniform(0.0, 20.0))
            else:
                record[field.name] = rng.uniform(-2.0, 5.0, size=field.size).round(3).tolist()
        history = config.features.history
        if history is not None:   # one valid action type per history item
            record[history.action_field] = [0] * len(record[history.item_field])
        result.append(record)
    return result


def with_specials(config: ExperimentConfig, base: list[dict]) -> list[dict]:
    """``base`` (one record per special value, plus ordinary ones) with special value i in
    every scalar dense feature of record i and in component i % size of every vector."""
    bad = [dict(record) for record in base]
    for index, value in enumerate(SPECIALS):
        for feature in config.features.dense:
            if feature.size == 1:
                bad[index][feature.name] = value
            else:
                vector = list(bad[index][feature.name])
                vector[index % feature.size] = value
                bad[index][feature.name] = vector
    return bad


def documented(config: ExperimentConfig, statistics: DenseStatistics, request: dict) -> dict:
    """The request with every dense value replaced as documented: NaN / +-inf -> the feature
    default, finite values clipped to [minimum, maximum] when the statistics have a range."""
    replaced = dict(request)
    for feature in config.features.dense:
        values = request[feature.name].astype(np.float64)
        finite = np.isfinite(values)
        if statistics.minimum is not None:
            shape = values.shape[1:]
            values = np.clip(np.where(finite, values, 0.0),
                             np.reshape(statistics.minimum[feature.name], shape),
                             np.reshape(statistics.maximum[feature.name], shape))
        replaced[feature.name] = np.where(finite, values, feature.default).astype(np.float32)
    return replaced


def reference_dense(config: ExperimentConfig, statistics: DenseStatistics,
                    request: dict) -> np.ndarray:
    """NumPy: the documented replacement, squash, standardise, bound."""
    replaced = documented(config, statistics, request)
    squash = {"none": lambda v: v, "log1p": lambda v: np.log1p(np.maximum(v, 0.0)),
              "signed_log1p": lambda v: np.sign(v) * np.log1p(np.abs(v))}
    parts = []
    for feature in config.features.dense:
        values = replaced[feature.name].astype(np.float64).reshape(-1, feature.size)
        standardised = ((squash[feature.transform](values) - statistics.mean[feature.name])
                        / statistics.std[feature.name])
        parts.append(np.clip(standardised, -MAX_ABS_STANDARDISED, MAX_ABS_STANDARDISED))
    return np.concatenate(parts, axis=1).astype(np.float32)


def keras_reference(config, transform, model, statistics, request) -> dict[str, np.ndarray]:
    """The Keras model fed the ids of the transformation model and the NumPy dense input."""
    inputs = dict(transform({k: tf.constant(v) for k, v in request.items()}))
    inputs["dense"] = tf.constant(reference_dense(config, statistics, request))
    outputs = model(inputs, training=False)
    scores = {t.name: np.asarray(outputs[t.name]).reshape(-1) for t in config.tasks}
    scores["score"] = sum(t.score_weight * scores[t.name] for t in config.tasks)
    return scores


def assert_finite_probabilities(config: ExperimentConfig, served: dict) -> None:
    for task in config.tasks:
        values = np.asarray(served[task.name])
        assert np.isfinite(values).all() and (values >= 0).all() and (values <= 1).all(), \
            (task.name, values)
    score = np.asarray(served["score"])
    assert np.isfinite(score).all() and (score >= 0).all(), score
    assert (score <= sum(t.score_weight for t in config.tasks) + 1e-6).all(), score


def assert_equal_scores(served: dict, expected: dict, what: str) -> None:
    assert sorted(served) == sorted(expected)
    for name, values in expected.items():
        np.testing.assert_allclose(np.asarray(served[name]), values, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{what}: {name}")


@pytest.fixture(scope="module")
def without_grappler():
    """As in tests/models/test_jobs_model.py: grappler spends tens of seconds on the stock-op
    hash of the Jobs model's 41 id features at the first call; results are the same."""
    previous = tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer", False)
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    yield
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": previous})


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_serves_finite_scores_for_non_finite_and_huge_dense_values(
        family, without_grappler):
    config = FAMILIES[family]()
    statistics = range_statistics(config)
    transform = TransformationModel(config.features, statistics)
    model = build_model(config)
    module = ServingModule(config, transform, model)
    base = records(config, len(SPECIALS) + 2, seed=3)
    fields = raw_fields(config)
    request = records_to_request(with_specials(config, base), fields)
    ordinary = records_to_request(base, fields)
    # one call for the three requests (one trace): bad, the documented replacement, ordinary
    batch = {k: np.concatenate([request[k], documented(config, statistics, request)[k],
                                ordinary[k]]) for k in request}
    outputs = module.serve({k: tf.constant(v) for k, v in batch.items()})
    served = {k: v.numpy() for k, v in outputs.items()}
    rows = len(base)
    bad, replaced, plain = ({k: v[i * rows:(i + 1) * rows] for k, v in served.items()}
                            for i in range(3))
    assert_finite_probabilities(config, bad)
    assert_equal_scores(bad, replaced, "the request with the values replaced as documented")
    assert_equal_scores(bad, keras_reference(config, transform, model, statistics, request),
                        "the Keras model fed the replaced values")
    # ordinary requests: unchanged, equal to transformation + Keras model
    assert_equal_scores(plain, keras_reference(config, transform, model, statistics, ordinary),
                        "ordinary request")
    assert not np.allclose(bad["score"][:5], plain["score"][:5])   # the specials did matter


def test_the_saved_export_treats_non_finite_values_alike_in_both_signatures(amortized_export):
    """The session export (statistics without a range, as in files saved before the range
    existed): ``serving_default`` and ``serve_examples`` (float lists holding inf / NaN)."""
    config, transform, model, export_dir = amortized_export
    loaded = tf.saved_model.load(str(export_dir))
    base = make_records(config, len(SPECIALS) + 1, seed=4)
    bad = with_specials(config, base)
    request = records_to_request(bad, raw_fields(config))
    expected = keras_reference(config, transform, model, transform.statistics, request)
    served = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in request.items()})
    assert_finite_probabilities(config, served)
    assert_equal_scores(served, expected, "serving_default")
    examples = loaded.signatures["serve_examples"](
        examples=tf.constant(records_to_examples(bad, raw_fields(config))))
    assert_equal_scores(examples, expected, "serve_examples")


def test_a_huge_untransformed_value_without_a_range_is_bounded_not_infinite(without_grappler):
    """Statistics without a range (old files): 1e38 in an untransformed feature with std 0.25
    overflows float32 when standardised; it is bounded to +-MAX_ABS_STANDARDISED."""
    config = FAMILIES["feed"]()
    model = build_model(config)
    statistics = range_statistics(config)
    statistics = DenseStatistics(mean=statistics.mean, std=statistics.std)
    transform = TransformationModel(config.features, statistics)
    request = records_to_request(with_specials(config, records(config, len(SPECIALS), seed=5)),
                                 raw_fields(config))
    position = reference_dense(config, statistics, request)[:, 4]   # after the 3-vector, count
    np.testing.assert_array_equal(position, [(1.0 - 0.5) / 0.25] * 3 + [MAX_ABS_STANDARDISED,
                                                                        -MAX_ABS_STANDARDISED])
    served = ServingModule(config, transform, model).serve(
        {k: tf.constant(v) for k, v in request.items()})
    assert_finite_probabilities(config, served)
    assert_equal_scores({k: v.numpy() for k, v in served.items()},
                        keras_reference(config, transform, model, statistics, request),
                        "the Keras model fed the bounded value")
