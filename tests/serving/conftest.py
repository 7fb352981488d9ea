"""Session fixture shared by the serving tests: one export of the small amortized-history model."""

import pytest
from serving_test_models import build_serving_parts

from lirank_tf.serving import export_serving_model


@pytest.fixture(scope="session")
def amortized_export(tmp_path_factory):
    """``(config, transform, model, export_dir)`` of the small Feed model with the amortized
    history encoder (signatures serving_default, serve_examples and serve_candidates)."""
    config, transform, model = build_serving_parts(amortized=True)
    export_dir = export_serving_model(config, transform, model,
                                      tmp_path_factory.mktemp("amortized") / "export")
    return config, transform, model, export_dir
