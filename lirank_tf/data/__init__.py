"""Input pipeline: Avro readers and the feature specs of their outputs."""

from lirank_tf.data.avro_dataset import AvroTensorDataset, read_avro_file
from lirank_tf.data.avro_features import DenseFeature, SparseFeature, VarlenFeature
from lirank_tf.data.avro_file import AvroFile, open_avro
from lirank_tf.data.avro_schema import features_from_schema

__all__ = ["AvroFile", "AvroTensorDataset", "DenseFeature", "SparseFeature", "VarlenFeature",
           "features_from_schema", "open_avro", "read_avro_file"]
