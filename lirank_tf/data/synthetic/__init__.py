"""Simulators that write LinkedIn-like data sets as Avro files from a known generative model."""

from lirank_tf.data.synthetic.feed import FeedSimulatorConfig, simulate_feed

__all__ = ["FeedSimulatorConfig", "simulate_feed"]
