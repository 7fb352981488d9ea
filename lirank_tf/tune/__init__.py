"""``lirank-tf tune``: hyper-parameter search with Optuna (TPE sampler, trials ranked and
median-pruned epoch by epoch on the run's own validation score, ``training.monitor``; a SQLite
study that a killed search resumes).

    space     what is searched and over which ranges, applied to a config as ``--set`` values
    pruning   the per-epoch report to the trial and the median-pruning stop
    trial     one trial: train a sampled config, its objective value
    records   trials.csv, best.yaml and the printed lines
    search    the study: create or resume, run the remaining trials
    command   the ``tune`` sub-command

The package imports nothing heavy itself, so registering the command costs the CLI nothing.
"""
