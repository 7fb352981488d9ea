"""Training: input pipelines, the ``model.fit`` trainer and its run directory."""
