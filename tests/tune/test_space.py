"""The search space of `lirank-tf tune`: which dimensions fit which model, and sampled points
applied to a config (read back from the config, checked like the YAML)."""

import math

import optuna
import pytest

from lirank_tf.config import ExperimentConfig
from lirank_tf.config.base import ConfigError
from lirank_tf.tune.space import apply_point, config_values, search_space, suggest_point


def make_config(model=None, training=None, dims=(16, 16)):
    """A config of two id features (tables of ``dims``) and one task; no files needed."""
    return ExperimentConfig.from_dict({
        "name": "space_test",
        "data": {"train": ["train/*.avro"], "valid": ["valid/*.avro"]},
        "features": {"tables": [{"name": f"t{i}", "dim": dim} for i, dim in enumerate(dims)],
                     "ids": [{"name": f"f{i}", "table": f"t{i}"} for i in range(len(dims))]},
        "tasks": [{"name": "click", "label": "click"}],
        "model": {"name": "dcnv2", "interaction": "dcnv2", "cross_layers": 3, "cross_rank": 64,
                  "dropout": 0.1, "embedding_l2": 0.01, **(model or {})},
        "training": {"epochs": 30, "batch_size": 256, "learning_rate": 1e-3,
                     "sparse_learning_rate": 0.2, "early_stopping_patience": 2,
                     **(training or {})},
    })


# each parameter read from a config by hand (not through the space's own key table)
READ_BACK = {
    "learning_rate": lambda c: c.training.learning_rate,
    "sparse_learning_rate": lambda c: c.training.sparse_learning_rate,
    "batch_size": lambda c: c.training.batch_size,
    "dropout": lambda c: c.model.dropout,
    "embedding_l2": lambda c: c.model.embedding_l2,
    "embedding_dim": lambda c: [t.dim for t in c.features.tables],
    "cross_layers": lambda c: c.model.cross_layers,
    "cross_rank": lambda c: c.model.cross_rank,
    "early_stopping_patience": lambda c: c.training.early_stopping_patience,
    "epochs": lambda c: c.training.epochs,
}


def read_back(config, names):
    values = {name: READ_BACK[name](config) for name in names}
    if "embedding_dim" in values:
        dims = values["embedding_dim"]
        assert len(set(dims)) == 1, dims      # every table gets the one sampled dim
        values["embedding_dim"] = dims[0]
    return values


def without(config, names):
    """``config``'s mapping with the searched values blanked, to compare the rest."""
    data = config.to_dict()
    for name in names:
        if name == "embedding_dim":
            for table in data["features"]["tables"]:
                table["dim"] = None
            continue
        section = "model" if name in ("dropout", "embedding_l2", "cross_layers",
                                      "cross_rank") else "training"
        data[section][name] = None
    return data


def test_dcnv2_space_names():
    names = [d.name for d in search_space(make_config())]
    assert names == ["learning_rate", "sparse_learning_rate", "batch_size", "dropout",
                     "embedding_l2", "embedding_dim", "cross_layers", "cross_rank",
                     "early_stopping_patience"]


def test_fixed_trial_values_land_in_the_config():
    base = make_config()
    space = search_space(base)
    point = {"learning_rate": 0.0031, "sparse_learning_rate": 0.07, "batch_size": 1024,
             "dropout": 0.35, "embedding_l2": 3e-4, "embedding_dim": 32, "cross_layers": 2,
             "cross_rank": 128, "early_stopping_patience": 4}
    drawn = suggest_point(space, optuna.trial.FixedTrial(point))
    config = apply_point(base, space, drawn)
    assert read_back(config, point) == point
    assert without(config, point) == without(base, point)   # nothing else moved
    assert ExperimentConfig.from_dict(config.to_dict()) == config


def test_seeded_study_points_are_valid_configs_holding_the_sampled_values():
    base = make_config()
    space = search_space(base)
    names = [d.name for d in space]
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=5))
    for _ in range(8):
        trial = study.ask()
        config = apply_point(base, space, suggest_point(space, trial))
        assert isinstance(config, ExperimentConfig)
        assert ExperimentConfig.from_dict(config.to_dict()) == config
        assert read_back(config, names) == trial.params
        assert 1e-4 <= config.training.learning_rate <= 1e-2
        assert 0.01 <= config.training.sparse_learning_rate <= 0.5
        assert 0.0 <= config.model.dropout <= 0.5
        assert config.training.batch_size in (128, 256, 512, 1024)
        assert config.training.epochs == 30      # the cap stays with early stopping on
        study.tell(trial, 0.5)


def test_the_untouched_config_is_a_point_of_its_space():
    base = make_config(training={"learning_rate": 0.05, "batch_size": 100},
                       model={"embedding_l2": 0.02, "cross_rank": 7})
    space = search_space(base)
    own = config_values(space, base)
    assert own == read_back(base, own)
    for dimension in space:
        value = own[dimension.name]
        if dimension.kind == "choice":
            assert value in dimension.choices, dimension
        else:
            assert dimension.low <= value <= dimension.high, dimension
    assert apply_point(base, space, own) == base


def test_no_cross_parameters_without_a_cross_network():
    names = [d.name for d in search_space(make_config(model={"name": "feed",
                                                             "interaction": "none"}))]
    assert "cross_layers" not in names and "cross_rank" not in names
    names = [d.name for d in search_space(make_config(model={"name": "feed",
                                                             "interaction": "residual_dcn"}))]
    assert {"cross_layers", "cross_rank"} <= set(names)


def test_tables_of_different_dims_keep_them():
    names = [d.name for d in search_space(make_config(dims=(8, 32)))]
    assert "embedding_dim" not in names


def test_epochs_are_searched_without_early_stopping():
    base = make_config(training={"early_stopping_patience": 0, "epochs": 3})
    space = {d.name: d for d in search_space(base)}
    assert "early_stopping_patience" not in space
    assert space["epochs"].choices == (1, 2, 3, 4, 5, 6)
    config = apply_point(base, list(space.values()),
                         {**config_values(list(space.values()), base), "epochs": 5})
    assert config.training.epochs == 5


def test_a_point_outside_the_schema_is_a_config_error():
    base = make_config()
    space = search_space(base)
    point = {**config_values(space, base), "dropout": 1.5}
    with pytest.raises(ConfigError, match="model.dropout"):
        apply_point(base, space, point)


def test_float_values_survive_the_override_text_exactly():
    base = make_config()
    space = search_space(base)
    value = math.pi / 1000
    config = apply_point(base, space, {**config_values(space, base), "learning_rate": value})
    assert config.training.learning_rate == value


def test_doctests():
    import doctest

    from lirank_tf.tune import space
    assert doctest.testmod(space).failed == 0


@pytest.mark.parametrize("optimizer, low, high", [("adagrad", 0.01, 0.5), ("adam", 1e-4, 1e-2)])
def test_the_row_learning_rate_range_is_the_row_optimizers(optimizer, low, high):
    base = make_config(training={"sparse_optimizer": optimizer, "sparse_learning_rate": 2e-3
                                 if optimizer == "adam" else 0.2})
    rate = next(d for d in search_space(base) if d.name == "sparse_learning_rate")
    assert (rate.low, rate.high) == (low, high)
