"""Keras layers of lirank-tf (one public layer or layer family per module)."""

from lirank_tf.layers.low_rank_cross import CrossNetwork, LowRankCross  # noqa: F401
from lirank_tf.layers.attention_cross import AttentionLowRankCross  # noqa: F401
from lirank_tf.layers.residual_dcn import ResidualDCN  # noqa: F401
from lirank_tf.layers.isotonic import IsotonicCalibration  # noqa: F401
from lirank_tf.layers.platt import PlattScaling  # noqa: F401
from lirank_tf.layers.gating import DenseGate, GatedMLP  # noqa: F401
from lirank_tf.layers.sparse_moe import SparseMoE  # noqa: F401
from lirank_tf.layers.masknet import MaskBlock, ParallelMaskNet  # noqa: F401
from lirank_tf.layers.qr_hash import QRHashEmbedding  # noqa: F401
from lirank_tf.layers.quantized import QuantizedEmbedding  # noqa: F401
from lirank_tf.layers.transact import TransActEncoder  # noqa: F401
from lirank_tf.layers.amortized_history import AmortizedHistoryEncoder  # noqa: F401
from lirank_tf.layers.setwise_attention import SetwiseAttention  # noqa: F401
from lirank_tf.layers.parallel_dense import ParallelDense  # noqa: F401
from lirank_tf.layers.task_towers import GroupedTaskHeads, HardSharingHeads  # noqa: F401
from lirank_tf.layers.mmoe import MMoEHeads  # noqa: F401
from lirank_tf.layers.ple import PLEHeads  # noqa: F401
from lirank_tf.layers.quantized import Int8QRHashEmbedding, QuantizedQRHashEmbedding  # noqa: F401
