"""The Jobs recommendation model (LiRank §5.3, §A.8, Fig. 10): Job Search + JYMBII.

One model serves both products. About 40 categorical features (member, job and query
titles, skills, companies, industries, seniorities) go through 5 shared QR-hash embedding
tables (title, skill, company, industry, seniority); the embeddings are shared by the two
products, and each product has its own tower, a 2-layer low-rank DCNv2 then an MLP, with one
logit per task (P(apply), P(click))::

    inputs -> shared embeddings + dense features (batch norm) -> concat
      -> per route value v (``model.route_values``, e.g. job_search, jymbii):
         DCNv2 (``interaction``, ``cross_layers``) -> MLP (``hidden_units``) -> logit per task
      -> per example, the tower of its ``route_feature`` value (``SelectByHash``; unknown
         values use the first tower) -> [isotonic calibration] -> sigmoid

Without ``route_feature`` there is one tower. ``multitask`` and ``tower_units`` do not apply.
"""

from __future__ import annotations

import keras

from lirank_tf.config import ConfigError, ExperimentConfig
from lirank_tf.models.calibration import calibration_ids, output_probabilities
from lirank_tf.models.inputs import model_inputs
from lirank_tf.models.registry import register_model
from lirank_tf.models.routing import SelectByHash, id_hashes
from lirank_tf.models.trunk import dense_tower, input_features, masknet_block


def build_jobs_model(config: ExperimentConfig) -> keras.Model:
    """The Jobs model of ``config``: shared embeddings, one DCNv2 tower per route value."""
    model_config = config.model
    inputs = model_inputs(config.features)
    x = masknet_block(input_features(inputs, config), model_config)
    routes = model_config.route_values or ["shared"]
    if model_config.route_feature:
        single_ids = {f.name for f in config.features.ids if f.kind == "id"}
        if model_config.route_feature not in single_ids:
            raise ConfigError(f"model.route_feature: {model_config.route_feature!r} is not a "
                              f"single-id feature; choices: {sorted(single_ids)}")
    tower_logits: dict[str, list] = {task.name: [] for task in config.tasks}
    for route in routes:
        tower = dense_tower(x, model_config, prefix=route)
        for task in config.tasks:
            tower_logits[task.name].append(
                keras.layers.Dense(1, name=f"{route}_{task.name}_logit")(tower))
    if model_config.route_feature:
        hashes = id_hashes(routes)
        route_ids = inputs[model_config.route_feature]
        logits = {name: SelectByHash(hashes, name=f"{name}_route")(route_ids, towers)
                  for name, towers in tower_logits.items()}
    else:
        logits = {name: towers[0] for name, towers in tower_logits.items()}
    outputs = output_probabilities(logits, model_config,
                                   calibration_ids(inputs, config.features, model_config))
    return keras.Model(inputs=inputs, outputs=outputs, name=config.name)


register_model("jobs", build_jobs_model)
