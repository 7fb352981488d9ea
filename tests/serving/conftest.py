"""Session fixture shared by the serving tests: one export of the small amortized-history model."""

import pytest
from serving_test_models import WARMUP_SEED, build_serving_parts, make_records

from lirank_tf.serving import export_serving_model


@pytest.fixture(scope="session")
def amortized_export(tmp_path_factory):
    """``(config, transform, model, export_dir)`` of the small Feed model with the amortized
    history encoder (signatures serving_default, serve_examples and serve_candidates); its
    warm-up requests are built from ``make_records(config, 100, seed=WARMUP_SEED)``."""
    config, transform, model = build_serving_parts(amortized=True)
    export_dir = export_serving_model(config, transform, model,
                                      tmp_path_factory.mktemp("amortized") / "export",
                                      warmup_records=make_records(config, 100, seed=WARMUP_SEED))
    return config, transform, model, export_dir
