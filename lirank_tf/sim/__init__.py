"""Data for demos, tests and benchmarks, not library code: simulators that write
LinkedIn-like Feed / Ads / Jobs data sets as Avro files from a known generative model (every
record also carries the true probabilities, ``oracle_*``), and the MovieLens-100K converter
(`lirank_tf.sim.movielens`). Only the demo (`lirank_tf.pipeline`) imports it."""

from lirank_tf.sim.ads import AdsSimulatorConfig, simulate_ads
from lirank_tf.sim.feed import FeedSimulatorConfig, simulate_feed
from lirank_tf.sim.jobs import JobsSimulatorConfig, simulate_jobs
from lirank_tf.sim.movielens import fetch_movielens_100k, movielens_ctr_records, write_movielens_ctr

__all__ = ["AdsSimulatorConfig", "FeedSimulatorConfig", "JobsSimulatorConfig",
           "fetch_movielens_100k", "movielens_ctr_records", "simulate_ads", "simulate_feed",
           "simulate_jobs", "write_movielens_ctr"]
