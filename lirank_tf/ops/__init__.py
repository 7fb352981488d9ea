"""Python wrappers of the project's C++ TensorFlow ops (training input pipeline only)."""

from lirank_tf.ops.hashing import murmur3_hash
from lirank_tf.ops.library import load_ops_library

__all__ = ["load_ops_library", "murmur3_hash"]
