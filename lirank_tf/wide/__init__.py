"""Wide popularity features (LiRank §3.9): the root-object random-effect model."""

from lirank_tf.wide.export import (RootObjectServingModule, export_with_root_object_table,
                                   update_root_object_table)
from lirank_tf.wide.root_object import RootObjectEffects, impression_hours

__all__ = ["RootObjectEffects", "RootObjectServingModule", "export_with_root_object_table",
           "impression_hours", "update_root_object_table"]
