"""Every int8 piece of LiRank §3.13 in one place: the table math in NumPy (`tables`), lookups
dequantised with stock TF ops (`embedding`, `qr_hash`) and the post-training conversion of a
trained model's tables for export (`model`)."""

from lirank_tf.layers.quantized.embedding import QuantizedEmbedding, dequantized_gather
from lirank_tf.layers.quantized.model import (QUANTIZE_MODES, check_quantize,
                                              embedding_table_bytes, embedding_tables,
                                              quantize_embedding_tables)
from lirank_tf.layers.quantized.qr_hash import Int8QRHashEmbedding, QuantizedQRHashEmbedding
from lirank_tf.layers.quantized.tables import (MiddleMaxQuantizedTable, MinMaxQuantizedTable,
                                               dequantize_table, dequantize_table_min_max,
                                               quantize_rows, quantize_table,
                                               quantize_table_min_max)

__all__ = ["Int8QRHashEmbedding", "MiddleMaxQuantizedTable", "MinMaxQuantizedTable",
           "QUANTIZE_MODES", "QuantizedEmbedding", "QuantizedQRHashEmbedding", "check_quantize",
           "dequantize_table", "dequantize_table_min_max", "dequantized_gather",
           "embedding_table_bytes", "embedding_tables", "quantize_embedding_tables",
           "quantize_rows", "quantize_table", "quantize_table_min_max"]
