"""lirank-tf: LinkedIn's LiRank large-scale ranking framework (KDD'24) in TensorFlow/Keras."""

__version__ = "0.1.0"
