"""The root-object random-effect model (LiRank §3.9): MAP fit, shrinkage, and its effect on the
simulator's viral posts."""

import doctest

import numpy as np
import pytest

import lirank_tf.wide.root_object as root_object_module
from lirank_tf.sim.feed import FeedSimulator, FeedSimulatorConfig
from lirank_tf.evaluation.metrics import log_loss
from lirank_tf.wide import RootObjectEffects, impression_hours


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def map_effect_by_bisection(offsets, labels, l2, prior_mean=0.0):
    """The root of sum(l - s(o + b)) - l2 (b - mu), decreasing in b, found by bisection."""
    low, high = -30.0, 30.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        if np.sum(labels - sigmoid(offsets + middle)) - l2 * (middle - prior_mean) > 0:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def test_fit_is_the_map_effect_of_each_id():
    ids = np.array(["a"] * 6 + ["b"] * 3 + ["c"])
    p_like = np.array([0.1, 0.2, 0.3, 0.2, 0.1, 0.4, 0.5, 0.6, 0.2, 0.3])
    p_click = np.full(10, 0.3)
    likes = np.array([1, 1, 0, 1, 0, 1, 0, 0, 0, 1])
    clicks = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 0])
    effects = RootObjectEffects(tasks=["like", "click"], l2=0.7).fit(
        ids, {"like": p_like, "click": p_click}, {"like": likes, "click": clicks})
    for task, p, y in (("like", p_like, likes), ("click", p_click, clicks)):
        got = effects.effects(np.array(["a", "b", "c", "zzz"]))[task]
        for k, root in enumerate("abc"):
            mask = ids == root
            expected = map_effect_by_bisection(np.log(p[mask] / (1 - p[mask])), y[mask], 0.7)
            assert got[k] == pytest.approx(expected, abs=1e-8), (task, root)
        assert got[3] == 0.0
    adjusted = effects.adjust(ids, {"like": p_like, "click": p_click, "comment": p_like})
    b = effects.effects(ids)["like"]
    np.testing.assert_allclose(adjusted["like"], sigmoid(np.log(p_like / (1 - p_like)) + b), rtol=1e-12)
    np.testing.assert_array_equal(adjusted["comment"], p_like)


def test_posterior_variances_and_thompson_draws():
    ids = np.array(["a"] * 6 + ["b"] * 30)
    p = np.full(36, 0.3)
    likes = (np.arange(36) % 3 == 0).astype(int)
    effects = RootObjectEffects(tasks=["like"], l2=2.0).fit(ids, {"like": p}, {"like": likes})
    for root, count in (("a", 6), ("b", 30)):
        b = effects.table[root][0]
        q = sigmoid(np.log(0.3 / 0.7) + b)
        assert effects.variances[root][0] == pytest.approx(1 / (2.0 + count * q * (1 - q)), rel=1e-9)
    draws = effects.sample(np.array(["a"] * 20_000 + ["b"] * 20_000 + ["new"] * 20_000), seed=4)["like"]
    for k, root in enumerate(["a", "b", "new"]):
        part = draws[20_000 * k:20_000 * (k + 1)]
        mean = effects.table.get(root, [0.0])[0]
        variance = effects.variances.get(root, [1 / 2.0])[0]
        assert np.mean(part) == pytest.approx(mean, abs=0.03)
        assert np.std(part) == pytest.approx(np.sqrt(variance), rel=0.03)
    assert np.std(draws[40_000:]) > np.std(draws[:20_000]) > np.std(draws[20_000:40_000])
    np.testing.assert_array_equal(effects.sample(np.array(["a"]), seed=1)["like"],
                                  effects.sample(np.array(["a"]), seed=1)["like"])
    fixed = effects.adjust(np.array(["a"]), {"like": np.array([0.3])}, {"like": np.array([1.0])})
    assert fixed["like"][0] == pytest.approx(sigmoid(np.log(0.3 / 0.7) + 1.0))


def test_prior_shrinks_ids_with_few_impressions_and_carry_over_sets_the_prior_mean():
    ids = np.array(["few"] * 2 + ["many"] * 200)
    likes = np.tile([1, 0], 101)                     # both ids: half of the impressions liked
    global_p = np.full(202, 0.2)
    effects = RootObjectEffects(tasks=["like"], l2=2.0).fit(ids, {"like": global_p}, {"like": likes})
    few, many = effects.effects(np.array(["few", "many"]))["like"]
    assert 0 < few < many < np.log(0.5 / 0.5) - np.log(0.2 / 0.8) + 1e-9
    stiff = RootObjectEffects(tasks=["like"], l2=1e6, carry_over=0.5)
    stiff.table = {"many": np.array([2.0])}
    stiff.fit(ids, {"like": global_p}, {"like": likes})
    assert stiff.effects(np.array(["many"]))["like"][0] == pytest.approx(1.0, abs=1e-3)
    assert stiff.effects(np.array(["few"]))["like"][0] == pytest.approx(0.0, abs=1e-3)


def test_save_load_and_the_serving_table_format(tmp_path):
    effects = RootObjectEffects(tasks=["like", "click"], l2=1.5, carry_over=0.25)
    effects.table = {"post:2": np.array([0.5, -1.0]), "post:1": np.array([0.125, 2.0])}
    path = effects.save(tmp_path / "ro.tsv")
    assert path.read_text().splitlines() == ["\t0.0\t0.0", "post:1\t0.125\t2.0", "post:2\t0.5\t-1.0"]
    loaded = RootObjectEffects.load(path)
    assert (loaded.tasks, loaded.l2, loaded.carry_over) == (["like", "click"], 1.5, 0.25)
    assert sorted(loaded.table) == ["post:1", "post:2"]
    np.testing.assert_array_equal(loaded.table["post:2"], [0.5, -1.0])


def test_docstring_examples_run():
    assert doctest.testmod(root_object_module).failed == 0


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="tasks"):
        RootObjectEffects(tasks=[])
    with pytest.raises(ValueError, match="l2 must be > 0, got 0"):
        RootObjectEffects(l2=0)
    with pytest.raises(ValueError, match="carry_over"):
        RootObjectEffects(carry_over=2.0)
    with pytest.raises(ValueError, match="newton_steps"):
        RootObjectEffects(newton_steps=0)
    effects = RootObjectEffects(tasks=["like"])
    with pytest.raises(ValueError, match="labels has no task 'like'"):
        effects.fit(np.array(["a"]), {"like": np.array([0.5])}, {"click": np.array([1])})
    with pytest.raises(ValueError, match=r"global_probabilities\['like'\] has 2 values for 1"):
        effects.fit(np.array(["a"]), {"like": np.array([0.5, 0.5])}, {"like": np.array([1])})


def test_eight_hourly_refits_help_on_the_simulators_viral_posts():
    """A global model that knows no item (the like rate of each content type and position,
    from the day before) plus RO effects refitted every 8 hours on the last 8 hours: the next 8
    hours' log loss drops, most of all on the viral posts (boost decaying over ~a day)."""
    simulator = FeedSimulator(FeedSimulatorConfig(
        num_days=3, impressions_per_day=12_000, num_members=1_500, posts_per_day=300,
        viral_fraction=0.05, viral_decay_hours=24.0, seed=21))
    days = [simulator.simulate_day(day) for day in range(3)]
    viral = {f"post:{int(i)}" for _, posts in simulator.posts_by_day for i in posts.ids[posts.viral]}
    yesterday, today = days[1], days[2]

    def context(r):
        return r["content_type"], min(r["position"], 3)
    rates = {}
    for r in yesterday:
        rates.setdefault(context(r), []).append(r["like"])
    rates = {k: np.mean(v) for k, v in rates.items()}
    records = yesterday + today
    ids = np.array([r["root_object_id"] for r in records])
    time = impression_hours([r["day"] for r in records], [r["hour"] for r in records])
    likes = np.array([r["like"] for r in records])
    global_p = np.array([rates[context(r)] for r in records])
    is_viral = np.isin(ids, list(viral))

    effects = RootObjectEffects(tasks=["like"], l2=3.0)
    gains, viral_gains = [], []
    for start in (48 + 8, 48 + 16):
        window = (time >= start - 8) & (time < start)
        effects.fit(ids[window], {"like": global_p[window]}, {"like": likes[window]})
        ahead = (time >= start) & (time < start + 8)
        adjusted = effects.adjust(ids[ahead], {"like": global_p[ahead]})["like"]
        gains.append(log_loss(likes[ahead], global_p[ahead]) - log_loss(likes[ahead], adjusted))
        v = is_viral[ahead]
        viral_gains.append(log_loss(likes[ahead][v], global_p[ahead][v])
                           - log_loss(likes[ahead][v], adjusted[v]))
    assert is_viral.sum() > 100
    assert all(g > 0 for g in gains)
    assert all(v > g for v, g in zip(viral_gains, gains))
