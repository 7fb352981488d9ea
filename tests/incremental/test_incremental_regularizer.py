"""The incremental-training regulariser (LiRank §3.6, eq. 2-3) and warm start, against NumPy."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from incremental_tiny_model import TASKS, build_tiny_model, dataset, fixed_weights, tiny_data

from lirank_tf.incremental import (Anchor, FisherInformation, FisherPenalty, attach_fisher_penalty,
                                   detach_fisher_penalty, fisher_penalty, incremental_anchors,
                                   model_weights, set_warm_start_weights)

EMBEDDING = "item_embedding/embeddings"


def shifted(weights, amount):
    return {k: v + np.float32(amount) * np.cos(np.arange(v.size)).reshape(v.shape).astype(np.float32)
            for k, v in weights.items()}


def fisher_of(weights, scale, rows=(0, 2, 3)):
    """Hand-made Fisher: dense ramps for dense variables, sparse rows for the embedding."""
    dense = {k: (scale * np.linspace(0.1, 1.0, v.size).reshape(v.shape)).astype(np.float32)
             for k, v in weights.items() if k != EMBEDDING}
    rows = np.array(rows, np.int64)
    values = (scale * np.linspace(0.5, 2.0, len(rows) * 2).reshape(len(rows), 2)).astype(np.float32)
    return FisherInformation(dense=dense, sparse={EMBEDDING: (rows, values)}, num_examples=10)


def numpy_penalty_and_gradient(w, anchors):
    """sum_a c_a/2 sum F_a (w - w_a)^2 and its gradient, with sparse Fisher as full arrays."""
    value, gradient = 0.0, {k: np.zeros_like(v, np.float64) for k, v in w.items()}
    for weights, fisher, coefficient in anchors:
        for key in w:
            full = fisher.full(key, w[key].shape).astype(np.float64)
            diff = w[key].astype(np.float64) - weights[key]
            value += 0.5 * coefficient * np.sum(full * diff ** 2)
            gradient[key] += coefficient * full * diff
    return value, gradient


@pytest.fixture
def setup():
    current = fixed_weights()
    cold, previous = shifted(current, 0.3), shifted(current, -0.2)
    return current, (cold, fisher_of(cold, 1.0)), (previous, fisher_of(previous, 3.0, rows=(1, 2)))


@pytest.mark.parametrize("cold_weight", [0.0, 0.25, 1.0])
def test_penalty_value_and_gradient_match_numpy(setup, cold_weight):
    current, (cold, cold_fisher), (previous, previous_fisher) = setup
    lam = 0.7
    anchors = incremental_anchors(cold, cold_fisher, previous, previous_fisher, cold_weight, lam)
    model = build_tiny_model(current)
    attach_fisher_penalty(model, anchors)
    with tf.GradientTape() as tape:
        total = tf.add_n(model.losses)
    grads = tape.gradient(total, model.trainable_variables)
    expected, expected_grad = numpy_penalty_and_gradient(current, [
        (cold, cold_fisher, lam * cold_weight), (previous, previous_fisher, lam * (1 - cold_weight))])
    assert float(total) == pytest.approx(expected, rel=1e-5)
    assert fisher_penalty(model, anchors) == pytest.approx(expected, rel=1e-5)
    for variable, grad in zip(model.trainable_variables, grads):
        if variable.path == EMBEDDING:
            assert isinstance(grad, tf.IndexedSlices)   # sparse: only rows with Fisher information
            touched = set()
            if cold_weight > 0:
                touched |= set(cold_fisher.sparse[EMBEDDING][0].tolist())
            if cold_weight < 1:
                touched |= set(previous_fisher.sparse[EMBEDDING][0].tolist())
            assert set(np.asarray(grad.indices).tolist()) == touched
        np.testing.assert_allclose(tf.convert_to_tensor(grad).numpy(), expected_grad[variable.path],
                                   rtol=1e-5, atol=1e-7, err_msg=variable.path)


def test_cold_weight_zero_is_equation_2_and_ignores_the_cold_start_model(setup):
    current, (cold, cold_fisher), (previous, previous_fisher) = setup
    model = build_tiny_model(current)
    first = fisher_penalty(model, incremental_anchors(cold, cold_fisher, previous, previous_fisher, 0.0, 2.0))
    other_cold = shifted(cold, 5.0)
    second = fisher_penalty(model, incremental_anchors(other_cold, cold_fisher, previous,
                                                       previous_fisher, 0.0, 2.0))
    equation_2, _ = numpy_penalty_and_gradient(current, [(previous, previous_fisher, 2.0)])
    assert first == second == pytest.approx(equation_2, rel=1e-5)
    assert incremental_anchors(cold, cold_fisher, previous, previous_fisher, 0.0, 0.0) == []


def test_fit_and_evaluate_add_the_penalty_to_the_loss(setup):
    current, (cold, cold_fisher), (previous, previous_fisher) = setup
    anchors = incremental_anchors(cold, cold_fisher, previous, previous_fisher, 0.5, 1.0)
    inputs, labels = tiny_data(10)
    model = build_tiny_model(current)
    model.compile(optimizer="sgd", loss={t.name: "binary_crossentropy" for t in TASKS},
                  loss_weights={t.name: t.loss_weight for t in TASKS})
    plain = model.evaluate(inputs, labels, batch_size=10, verbose=0, return_dict=True)["loss"]
    attach_fisher_penalty(model, anchors)
    model.compile(optimizer="sgd", loss={t.name: "binary_crossentropy" for t in TASKS},
                  loss_weights={t.name: t.loss_weight for t in TASKS})
    regularised = model.evaluate(inputs, labels, batch_size=10, verbose=0, return_dict=True)["loss"]
    expected, _ = numpy_penalty_and_gradient(current, [(cold, cold_fisher, 0.5), (previous, previous_fisher, 0.5)])
    assert regularised - plain == pytest.approx(expected, rel=1e-4)
    detach_fisher_penalty(model)
    assert all(v.regularizer is None for v in model.trainable_variables)


def test_a_strong_penalty_holds_weights_with_fisher_information_at_the_anchor():
    current = fixed_weights()
    anchor_weights = {k: v.copy() for k, v in current.items()}
    fisher = FisherInformation(
        dense={k: np.full(v.shape, 1.0 if k.startswith("hidden") else 0.0, np.float32)
               for k, v in current.items() if k != EMBEDDING},
        sparse={EMBEDDING: (np.array([0], np.int64), np.ones((1, 2), np.float32))}, num_examples=1)
    inputs, labels = tiny_data(10)
    model = build_tiny_model(current)
    attach_fisher_penalty(model, [Anchor(anchor_weights, fisher, 1e4)])
    model.compile(optimizer=keras.optimizers.SGD(1e-4), loss={t.name: "binary_crossentropy" for t in TASKS})
    model.fit(dataset(inputs, labels, 5), epochs=5, verbose=0, shuffle=False)
    after = model_weights(model)
    held = np.abs(after["hidden/kernel"] - current["hidden/kernel"]).max()
    free = np.abs(after["click_logit/kernel"] - current["click_logit/kernel"]).max()
    assert held < 0.05 * free and free > 0


def test_warm_start_mixes_cold_start_and_previous_weights(setup):
    _, (cold, _), (previous, _) = setup
    model = build_tiny_model()
    set_warm_start_weights(model, cold, previous, 0.25)
    for path, value in model_weights(model).items():
        np.testing.assert_allclose(value, 0.25 * cold[path] + 0.75 * previous[path], rtol=1e-6)
    set_warm_start_weights(model, cold, previous, 0.0)
    for path, value in model_weights(model).items():
        np.testing.assert_array_equal(value, previous[path])


def test_invalid_arguments_name_the_problem(setup):
    current, (cold, cold_fisher), (previous, previous_fisher) = setup
    with pytest.raises(ValueError, match=r"cold_weight must be a number in \[0, 1\], got 1.5"):
        incremental_anchors(cold, cold_fisher, previous, previous_fisher, 1.5, 1.0)
    with pytest.raises(ValueError, match="forgetting_factor must be a finite number >= 0, got -1"):
        incremental_anchors(cold, cold_fisher, previous, previous_fisher, 0.5, -1)
    with pytest.raises(ValueError, match="coefficient"):
        Anchor(cold, cold_fisher, float("nan"))
    model = build_tiny_model()
    wrong = dict(previous, **{"hidden/bias": np.zeros(7, np.float32)})
    with pytest.raises(ValueError, match="'hidden/bias' has shape"):
        set_warm_start_weights(model, cold, wrong, 0.5)
    with pytest.raises(ValueError, match="cold-start model has no weight 'item_embedding/embeddings'"):
        set_warm_start_weights(model, {}, previous, 0.5)
    with pytest.raises(ValueError, match="Fisher information has no variable 'item_embedding/embeddings'"):
        attach_fisher_penalty(model, [Anchor(cold, FisherInformation({}, {}, 1), 1.0)])
    with pytest.raises(NotImplementedError, match="not serialisable"):
        FisherPenalty([]).get_config()
