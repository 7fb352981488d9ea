"""Public data sets converted to Avro files that ``lirank-tf init-config`` maps on its own."""

from lirank_tf.data.public.movielens import (fetch_movielens_100k, movielens_ctr_records,
                                             write_movielens_ctr)

__all__ = ["fetch_movielens_100k", "movielens_ctr_records", "write_movielens_ctr"]
