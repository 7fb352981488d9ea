"""Wide popularity features (LiRank §3.9): the root-object random-effect model."""

from lirank_tf.wide.export import (RootObjectTables, export_with_root_object_table,
                                   root_object_adjuster, update_root_object_table)
from lirank_tf.wide.root_object import RootObjectEffects, impression_hours

__all__ = ["RootObjectEffects", "RootObjectTables", "export_with_root_object_table",
           "impression_hours", "root_object_adjuster", "update_root_object_table"]
