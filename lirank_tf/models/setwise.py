"""LiGR-style set-wise scoring in a ranking model: the rows of one group (``model.setwise_group``)
attend to each other before the task heads.

    trunk output [batch, d] --SetwiseAttention(groups = hashed <setwise_group> id)--> [batch, d]

The group is an id feature of kind "id" whose value is shared by the rows scored together,
e.g. ``viewer_id`` in the Feed: a serving request holds one member's candidates, and in the
training data a member's session is written contiguously (the training pipeline then keeps
the rows of a batch together, ``lirank_tf.training.pipeline``). The model input of that
feature, its int64 MurmurHash3 value from the transformation model, is the group id: rows
with equal ids attend to each other, rows of other groups in the batch never interact, so a
candidate's score depends on the other candidates of its member and on nothing else in the
request. Hyper-parameters: ``model.options.setwise`` (``lirank_tf.models.options``).

References: LiGR (arXiv:2502.03417), simultaneous set-wise scoring of the ranked items.
"""

from __future__ import annotations

import keras

from lirank_tf.config import ConfigError, FeaturesConfig, IdFeatureConfig, ModelConfig
from lirank_tf.layers.setwise_attention import SetwiseAttention
from lirank_tf.models.options import block_options


def setwise_group_feature(features: FeaturesConfig, model: ModelConfig) -> IdFeatureConfig | None:
    """The id feature named by ``model.setwise_group`` (None when set-wise scoring is off).

    Raises:
        ConfigError: no id feature has that name, or it is an id list (kind "id_list").
    """
    if not model.setwise_group:
        return None
    for feature in features.ids:
        if feature.name == model.setwise_group:
            if feature.kind != "id":
                raise ConfigError(f"model.setwise_group: feature {feature.name!r} has kind "
                                  f"{feature.kind!r}; the group must be one id per row "
                                  "(kind 'id'), e.g. viewer_id")
            return feature
    raise ConfigError(f"model.setwise_group: no id feature named {model.setwise_group!r}; "
                      f"id features of kind 'id': "
                      f"{[f.name for f in features.ids if f.kind == 'id']}")


def setwise_block(x: keras.KerasTensor, inputs: dict, features: FeaturesConfig,
                  model: ModelConfig, prefix: str = "") -> keras.KerasTensor:
    """``SetwiseAttention(x, groups)`` over the rows sharing ``model.setwise_group``, else ``x``."""
    feature = setwise_group_feature(features, model)
    if feature is None:
        return x
    name = f"{prefix}_setwise_attention" if prefix else "setwise_attention"
    return SetwiseAttention(**block_options(model, "setwise"), name=name)(x, inputs[feature.name])
