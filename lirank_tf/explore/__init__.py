"""Explore / exploit (LiRank §3.8): Neural-Linear Thompson sampling on the last layer."""

from lirank_tf.explore.bayesian_linear import BayesianLinearRegression, logistic_working_response
from lirank_tf.explore.export import ThompsonSampling, export_explore_model
from lirank_tf.explore.neural_linear import NeuralLinear

__all__ = ["BayesianLinearRegression", "NeuralLinear", "ThompsonSampling",
           "export_explore_model", "logistic_working_response"]
