"""``lirank-tf tune``: search the hyper-parameters of a config (`lirank_tf.tune.search`)."""

from __future__ import annotations

import argparse

from lirank_tf.console import positive_int

EXAMPLE = """example:
  lirank-tf tune --config run.yaml --output-dir runs/tune --trials 20
      trial 0 trains run.yaml as it is; the others draw learning rates, batch size, dropout,
      embedding L2 and dim, cross layers / rank and early-stopping patience (TPE); a trial's
      value is the run's validation score (training.monitor, by default val AUC - val log
      loss) at the epoch it keeps; trials below the median of the others at the same epoch
      are pruned.
  then: lirank-tf train --config runs/tune/best.yaml --output-dir runs/best
  killed? run the same command again: it resumes the study (runs/tune/study.db)."""


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text!r}")
    return value


def _run(args: argparse.Namespace) -> int:
    import optuna

    from lirank_tf.config import ExperimentConfig
    from lirank_tf.tune.search import run_search

    optuna.logging.set_verbosity(optuna.logging.WARNING)   # one line per trial is ours
    config = ExperimentConfig.load(args.config, args.set or ())
    run_search(config, args.output_dir, args.trials, timeout=args.timeout, seed=args.seed,
               log=lambda line: print(line, flush=True))
    return 0


def add_tune_command(commands) -> None:
    """Registers ``tune`` on the ``lirank-tf`` sub-command parsers ``commands``."""
    parser = commands.add_parser(
        "tune", help="hyper-parameter search (Optuna TPE, median pruning; resumable)",
        description="Searches the hyper-parameters of a config with Optuna and writes into DIR:\n"
                    "  best.yaml      the best trial's complete config (for `lirank-tf train`)\n"
                    "  trials.csv     a row per trial: state, value, parameters, epochs, seconds\n"
                    "  trials/NNNN/   each trial's run directory\n"
                    "  study.db       the Optuna study (SQLite): the same command resumes it\n"
                    "Needs validation files (data.valid): a trial's value is its mean validation\n"
                    "AUC over the tasks at the epoch its model keeps.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="experiment config (.yaml or .json)")
    parser.add_argument("--output-dir", required=True, metavar="DIR",
                        help="the study directory (study.db, trials/, trials.csv, best.yaml)")
    parser.add_argument("--trials", type=positive_int, default=20, metavar="N",
                        help="finished trials wanted in the study, the untouched config's "
                             "included (default 20); a resumed study runs only the missing ones")
    parser.add_argument("--timeout", type=_positive_seconds, metavar="SECONDS",
                        help="start no trial after this many seconds")
    parser.add_argument("--seed", type=int, default=0, help="seed of the TPE sampler (default 0)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override a value of the config file, e.g. --set training.epochs=3 "
                             "(repeatable; typed and checked like the YAML)")
    parser.set_defaults(handler=_run)
