"""A small Feed model (grouped towers, isotonic calibration by platform and content type) on a
few simulated days, for the Neural-Linear tests (imported by name, see tests/conftest.py)."""

from __future__ import annotations

from lirank_tf.config import get_experiment
from lirank_tf.sim import FeedSimulatorConfig, simulate_feed
from lirank_tf.models import build_model
from lirank_tf.training.pipeline import training_dataset
from lirank_tf.training.trainer import fit_transformation

SMALL_MODEL = {"hidden_units": [24], "tower_units": [8], "history_encoder": False,
               "interaction": "none", "sparse_moe": False}


def simulated_days(root, *, impressions_per_day, num_members, posts_per_day, seed):
    """Three small simulated Feed days under ``root / "data"``: two train days, one test day.
    Returns the `simulate_feed` manifest."""
    return simulate_feed(root / "data", FeedSimulatorConfig(
        num_days=3, valid_days=0, test_days=1, impressions_per_day=impressions_per_day,
        num_members=num_members, posts_per_day=posts_per_day, seed=seed))


def small_config(files, model=None, **sections):
    """The Feed experiment with `SMALL_MODEL` (+ ``model``) trained one epoch on ``files``
    (fastavro reader, batch 128), other ``sections`` (e.g. ``explore``) merged in."""
    return get_experiment("feed", {
        "data": {"train": files, "reader": "fastavro"}, "model": dict(SMALL_MODEL, **(model or {})),
        "training": {"epochs": 1, "batch_size": 128, "verbose": 0}, **sections})


def small_feed(root, **model_overrides):
    manifest = simulated_days(root, impressions_per_day=400, num_members=150, posts_per_day=60,
                              seed=8)
    config = get_experiment("feed", {"data": {"train": manifest["train"], "reader": "fastavro"},
                                     "model": dict(SMALL_MODEL, **model_overrides)})
    transform = fit_transformation(config, manifest["train"])
    return config, manifest, transform, build_model(config)


def batches(config, files, transform, batch_size=100):
    """The ``(inputs, labels)`` batches of ``files``, read once into memory."""
    return list(training_dataset(config, files, transform, shuffle=False, batch_size=batch_size))


def served_draws(explorer, seed, exploration_scale=1.0):
    """The last-layer weights ``serve_explore`` draws for ``seed``, in NumPy: per explored task
    t (its index), mean + scale * L @ stateless_normal([d], seed=(seed, t))."""
    import tensorflow as tf

    draws = {}
    for index, task in enumerate(explorer.tasks):
        posterior = explorer.posteriors[task]
        noise = tf.random.stateless_normal([posterior.dim], seed=[seed, index]).numpy()
        draws[task] = posterior.mean + exploration_scale * posterior.scale_tril() @ noise
    return draws
