"""Simulators that write LinkedIn-like data sets as Avro files from a known generative model."""

from lirank_tf.data.synthetic.ads import AdsSimulatorConfig, simulate_ads
from lirank_tf.data.synthetic.feed import FeedSimulatorConfig, simulate_feed
from lirank_tf.data.synthetic.jobs import JobsSimulatorConfig, simulate_jobs

__all__ = ["AdsSimulatorConfig", "FeedSimulatorConfig", "JobsSimulatorConfig", "simulate_ads",
           "simulate_feed", "simulate_jobs"]
