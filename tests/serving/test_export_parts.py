"""What an export holds is the base signatures plus the parts given to it
(lirank_tf.serving.parts): score adjusters change every signature's outputs, in order, and an
extra signature is served through the module's checks, transformation and adjusters. Checked
against the Keras model with the adjustments computed in NumPy."""

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from serving_test_models import build_serving_parts, keras_scores, make_records

from lirank_tf.data.records import records_to_examples, records_to_request
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.serving import export_serving_model
from lirank_tf.serving.parts import base_signatures
from lirank_tf.wide import RootObjectEffects, root_object_adjuster


class Scale(tf.Module):
    """Multiplies every output by ``factor`` (plus ``seed / 1000`` when a seed is given) and
    writes a marker asset."""

    def __init__(self, factor: float, marker: str) -> None:
        super().__init__()
        self.factor = factor
        self.marker = marker

    def adjust(self, results, raw, seed=None):
        shift = 0.0 if seed is None else tf.cast(seed, tf.float32) / 1000.0
        return {name: value * self.factor + shift for name, value in results.items()}

    def write_assets(self, export_dir: Path) -> None:
        (export_dir / "assets.extra").mkdir(exist_ok=True)
        (export_dir / "assets.extra" / self.marker).write_text("written")


class FirstTaskOnly(tf.Module):
    """An extra signature ``serve_first`` (inputs: the raw features and an int64 ``seed``):
    the first task's probability of the plain model, then the adjusters with the seed."""

    name = "serve_first"

    def input_signature(self, specs):
        return dict(specs, seed=tf.TensorSpec([], tf.int64, name="seed"))

    def serve(self, module, request):
        request = dict(request)
        seed = request.pop("seed")
        raw = module.checked(request)
        task = module.config.tasks[0].name
        outputs = module.model(module.transform(raw), training=False)
        return module.adjust({task: tf.reshape(outputs[task], [-1])}, raw, seed)

    def write_assets(self, export_dir: Path) -> None:
        pass


@pytest.fixture(scope="module")
def composed(tmp_path_factory):
    config, transform, model = build_serving_parts(amortized=True)
    root = tmp_path_factory.mktemp("parts")
    export_dir = export_serving_model(
        config, transform, model, root / "export", warmup_records=make_records(config, 20, seed=4),
        adjusters=[Scale(0.5, "first"), Scale(3.0, "second")], extras=[FirstTaskOnly()])
    records = make_records(config, 9, seed=11)
    return config, transform, model, tf.saved_model.load(str(export_dir)), export_dir, records


def test_the_export_holds_the_base_signatures_and_the_extra_one(composed):
    *_, loaded, export_dir, _ = composed
    assert sorted(loaded.signatures) == sorted(base_signatures(True) + ("serve_first",))
    assert (export_dir / "assets.extra" / "first").read_text() == "written"
    assert (export_dir / "assets.extra" / "second").exists()


def test_adjusters_apply_in_order_to_every_base_signature(composed):
    config, transform, model, loaded, _, records = composed
    request = records_to_request(records, raw_fields(config))
    expected = {k: v * 0.5 * 3.0 for k, v in keras_scores(config, transform, model, request).items()}
    served = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in request.items()})
    examples = loaded.signatures["serve_examples"](
        examples=tf.constant(records_to_examples(records, raw_fields(config))))
    for name, value in expected.items():
        np.testing.assert_allclose(served[name].numpy(), value, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(examples[name].numpy(), value, rtol=1e-5, atol=1e-6)


def test_an_extra_signature_serves_through_checks_and_adjusters_with_its_seed(composed):
    config, transform, model, loaded, _, records = composed
    request = records_to_request(records, raw_fields(config))
    task = config.tasks[0].name
    plain = keras_scores(config, transform, model, request)[task]
    served = loaded.signatures["serve_first"](
        **{k: tf.constant(v) for k, v in request.items()}, seed=tf.constant(250, tf.int64))
    assert sorted(served) == [task]
    np.testing.assert_allclose(served[task].numpy(), (plain * 0.5 + 0.25) * 3.0 + 0.25,
                               rtol=1e-5, atol=1e-6)
    bad = {k: tf.constant(v) for k, v in request.items()}
    name = next(iter(bad))
    bad[name] = bad[name][:3]            # rows that disagree: the module's checks refuse it
    with pytest.raises(tf.errors.InvalidArgumentError, match=name):
        loaded.signatures["serve_first"](**bad, seed=tf.constant(1, tf.int64))


def test_two_signatures_of_one_name_are_refused(tmp_path):
    config, transform, model = build_serving_parts(amortized=False)
    extra = FirstTaskOnly()
    extra.name = "serve_examples"
    with pytest.raises(ValueError, match="serve_examples"):
        export_serving_model(config, transform, model, tmp_path / "export", extras=[extra])
    assert not (tmp_path / "export").exists()


def test_the_root_object_adjuster_writes_its_settings_and_checks_its_scale(tmp_path):
    config, transform, model = build_serving_parts(amortized=False)
    effects = RootObjectEffects(tasks=[config.tasks[0].name], l2=2.0)
    effects.table = {"post:1": np.array([0.5])}
    with pytest.raises(ValueError, match="new_id_scale must be >= 0"):
        root_object_adjuster(config, effects, tmp_path, new_id_scale=-1.0)
    export_dir = export_serving_model(
        config, transform, model, tmp_path / "export", quantize="none",
        warmup_records=make_records(config, 5),
        adjusters=[root_object_adjuster(config, effects, tmp_path, new_id_scale=0.5)])
    settings = json.loads((export_dir / "assets" / "root_object_effects.json").read_text())
    assert settings == {"tasks": [config.tasks[0].name], "l2": 2.0, "new_id_scale": 0.5}
    assert (export_dir / "assets" / "root_object_effects.tsv").exists()
