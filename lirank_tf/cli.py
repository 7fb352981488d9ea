"""The ``lirank-tf`` command line (``python -m lirank_tf ...`` works too), in workflow order.

    lirank-tf import INPUT... --output-dir DIR [--format csv|tsv|parquet|libfm|libffm]
    lirank-tf init-config --train GLOB --labels a,b [--valid GLOB] [--test GLOB] [--model NAME]
                          [--dense-columns a,b] [--id-columns c,d] -o run.yaml
    lirank-tf train --config run.yaml --output-dir DIR [--overwrite]
    lirank-tf train --config day.yaml --output-dir DIR --incremental-from PREV [--cold-start COLD]
                    [--cold-weight A] [--forgetting-factor L]   incremental training (LiRank §3.6)
    lirank-tf evaluate --run DIR [--data GLOB] [--replay-top-n N]
    lirank-tf export --run DIR [--output-dir DIR] [--quantize int8] [--root-object-table TABLE]
    lirank-tf tune --config run.yaml --output-dir DIR [--trials N]   hyper-parameter search
    lirank-tf explore --run DIR [--previous PREV]   the Neural-Linear posterior (LiRank §3.8)
    lirank-tf root-objects fit --run DIR --data GLOB -o TABLE [--tasks like,click] [--l2 1]
    lirank-tf root-objects update --export DIR --table TABLE   (RO model of LiRank §3.9)
    lirank-tf demo [--output-dir DIR]   simulate Feed data -> train -> evaluate -> export -> score

One flag vocabulary (`FLAG_RULES`, also the epilog of ``lirank-tf --help``): a directory a
command writes is ``--output-dir``, a file it writes ``-o/--output``; inputs are named for what
they are (``--config``, ``--run``, ``--export``, ``--table``, ``--data``); list flags (labels,
tasks, column names) are repeatable and each value may be a comma-separated list; globs and
paths are repeatable only (a glob may hold a comma). Renamed flags (``export --export-dir``,
``import -o/--output``) still work for one release, hidden from help, with a warning line.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Callable

from lirank_tf import __version__
from lirank_tf.config.experiments import INIT_CONFIG_MODELS
from lirank_tf.console import (CommandParser, ListFlag, RenamedFlag, quiet_dependencies,
                               user_error_message)

FLAG_RULES = ("flags: a directory a command writes is --output-dir, a file it writes "
              "-o/--output; inputs are named for what they are (--config, --run, "
              "--export, --table, --data); list flags (--labels, --tasks, --*-columns) "
              "are repeatable and take comma-separated values; globs and paths are "
              "repeatable only.")


def _demo(args: argparse.Namespace) -> int:
    from lirank_tf.pipeline.demo import DemoOptions, run_demo
    run_demo(DemoOptions(output_dir=args.output_dir, days=args.days,
                         impressions_per_day=args.impressions_per_day, seed=args.seed,
                         epochs=args.epochs, batch_size=args.batch_size,
                         replay_top_n=args.replay_top_n, overrides=tuple(args.set or ())))
    return 0


def _init_config(args: argparse.Namespace) -> int:
    from lirank_tf.init_config import check_output, propose, write_config
    check_output(args.output, args.overwrite)     # before reading any data
    proposal = propose(args.train, args.labels, args.valid or [], args.test or [], args.model,
                       dense_columns=args.dense_columns or [], id_columns=args.id_columns or [])
    path = write_config(proposal, args.output, overwrite=args.overwrite)
    print(proposal.table())
    print(f"wrote {path}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from lirank_tf import workflow
    from lirank_tf.config import ExperimentConfig
    from lirank_tf.distributed.context import current_context
    from lirank_tf.training.platt import calibration_lines
    from lirank_tf.training.report import end_summary
    config = ExperimentConfig.load(args.config, args.set or ())
    if args.incremental_from is None:
        started = time.perf_counter()
        result = workflow.train(config, args.output_dir, overwrite=args.overwrite)
        context = current_context()     # Horovod: the summary on rank 0, one line elsewhere
        if context.is_chief:
            print(end_summary(result.history, result.run.path, epochs=config.training.epochs,
                              stopping=result.stopping, seconds=time.perf_counter() - started,
                              tasks=[t.name for t in config.tasks]))
            for line in calibration_lines(result.calibration or {}):
                print(line)
        else:
            print(f"trained model: {result.run.model_path} (worker {context.rank} of "
                  f"{context.size})")
        return 0
    workflow.check_finished_run(args.incremental_from, "--incremental-from")
    if args.cold_start is not None:
        workflow.check_finished_run(args.cold_start, "--cold-start")
    result = workflow.train_incremental(
        config, args.output_dir, args.incremental_from, args.cold_start,
        cold_weight=args.cold_weight, forgetting_factor=args.forgetting_factor,
        overwrite=args.overwrite)
    print(f"trained model: {result.run.model_path} (incremental from "
          f"{result.metadata['previous_run']}, cold start {result.metadata['cold_start_run']}, "
          f"alpha={args.cold_weight:g}, lambda_f={args.forgetting_factor:g}; "
          f"fit {result.train_seconds:.1f}s, Fisher {result.fisher_seconds:.1f}s)")
    if result.fisher is not None:
        print(f"saved its Fisher information: {result.run.path / 'fisher.npz'}")
    for line in calibration_lines(result.calibration or {}):
        print(line)
    return 0


def _number_in(low: float, high: float | None) -> Callable[[str], float]:
    """An argparse type: a finite float in [low, high] (no upper bound when high is None)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (math.isfinite(value) and value >= low and (high is None or value <= high)):
            bounds = f"[{low:g}, {high:g}]" if high is not None else f">= {low:g}"
            raise argparse.ArgumentTypeError(f"must be a number {'in ' if high is not None else ''}"
                                             f"{bounds}, got {text!r}")
        return value
    return parse


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def _evaluate(args: argparse.Namespace) -> int:
    from lirank_tf import workflow
    workflow.evaluate_run(args.run, data=args.data, replay_top_n=args.replay_top_n,
                          overrides=tuple(args.set or ()))
    return 0


def _export(args: argparse.Namespace) -> int:
    from lirank_tf import workflow
    from lirank_tf.serving.export import saved_signature_names
    from lirank_tf.serving.warmup import read_warmup_requests
    from lirank_tf.training.run_directory import RunDirectory
    path = workflow.export_run(args.run, args.output_dir,
                               quantize=None if args.quantize == "none" else args.quantize,
                               overwrite=args.overwrite, root_object_table=args.root_object_table,
                               overrides=tuple(args.set or ()),
                               check_serving=not args.skip_serving_check)
    signatures = saved_signature_names(path)
    notes = {}
    if "serve_explore" in signatures:
        new_ids = (RunDirectory(args.run).load_config().explore.root_object_scale
                   if args.root_object_table else 0)
        notes["serve_explore"] = (" (Thompson sampling; new root objects drawn from the RO "
                                  f"prior x {new_ids:g})" if new_ids > 0
                                  else " (Thompson sampling)")
    names = ", ".join(name + notes.get(name, "") for name in signatures)
    wide = f"; root-object effects from {args.root_object_table}" if args.root_object_table else ""
    print(f"exported SavedModel: {path} ({names}{wide})")
    if not args.skip_serving_check:
        warmup = len(read_warmup_requests(path))
        print(f"checked as TF Serving loads it: every variable restored in a TF1 session, "
              f"{warmup} warm-up requests replayed")
    return 0


def _root_objects(args: argparse.Namespace) -> int:
    from lirank_tf import workflow
    if args.action == "update":
        path = workflow.update_root_objects(args.export, args.table)
        print(f"replaced the root-object table of {args.export} ({path}); servers pick it up "
              "when they load the export")
        return 0
    effects = workflow.fit_root_objects(
        args.run, args.data, args.output,
        tasks=args.tasks,
        l2=args.l2, previous=args.previous, carry_over=args.carry_over,
        root_object_field=args.field, overwrite=args.overwrite)
    print(f"fitted {len(effects.table)} root objects ({', '.join(effects.tasks)}): {args.output}")
    return 0


def _explore(args: argparse.Namespace) -> int:
    from lirank_tf import workflow
    explorer, target = workflow.explore_run(args.run, args.previous)
    print(f"Neural-Linear posterior of {', '.join(explorer.tasks)} over "
          f"{explorer.posteriors[explorer.tasks[0]].num_observations} examples: {target} "
          "(`lirank-tf export` now adds serve_explore)")
    return 0


def _add_set_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help=f"override a value of {what}, e.g. --set training.epochs=3 "
                             "(repeatable; typed and checked like the YAML)")


def _command(commands, name: str, summary: str, description: str, example: str):
    """A sub-command parser with its one-line summary (in ``lirank-tf --help``), a description
    and an ``example:`` epilog (kept as written)."""
    return commands.add_parser(name, help=summary, description=description,
                               epilog=f"example:\n  {example}")


def _add_init_config(commands) -> None:
    """Registers ``init-config``."""
    init = _command(
        commands, "init-config", "write a complete config for your Avro files",
        "Reads the writer schema and a sample of the training files, writes a complete, "
        "commented config and prints how each column was mapped (id, dense, id list, dense "
        "vector, label or left out) and why. An int column is dense when the sample reads as a "
        "quantity (age, count, timestamp), else an id; --dense-columns / --id-columns decide.",
        "lirank-tf init-config --train 'data/train/*.avro' --valid 'data/valid/*.avro' \\\n"
        "      --labels click --dense-columns age -o run.yaml")
    init.add_argument("--train", action="append", required=True, metavar="GLOB",
                      help="training files (repeatable)")
    init.add_argument("--valid", action="append", metavar="GLOB",
                      help="validation files (repeatable; turns on early stopping)")
    init.add_argument("--test", action="append", metavar="GLOB", help="test files (repeatable)")
    init.add_argument("--labels", action=ListFlag, required=True,
                      help="label fields, one task each")
    init.add_argument("--model", choices=INIT_CONFIG_MODELS, default="dcnv2",
                      help="the model the config trains: dcnv2 (low-rank DCNv2 + MLP, the CTR "
                           "baseline), feed (the paper's Feed model: Residual DCN, dense gating, "
                           "sparse MoE, isotonic calibration), ads, jobs; all get the same "
                           "training recipe")
    init.add_argument("--dense-columns", action=ListFlag,
                      help="numeric columns to make dense features")
    init.add_argument("--id-columns", action=ListFlag,
                      help="string, enum or int columns to make hashed ids")
    init.add_argument("-o", "--output", required=True, metavar="FILE",
                      help="config file to write (.yaml or .json)")
    init.add_argument("--overwrite", action="store_true", help="replace an existing config file")
    init.set_defaults(handler=_init_config)


def _add_train(commands) -> None:
    """Registers ``train``."""
    train = _command(
        commands, "train", "train a config with model.fit (resumes after a kill)",
        "Trains the config into a run directory (checkpoints, config.yaml, the model); run it "
        "again on the same directory to resume after a kill.",
        "lirank-tf train --config run.yaml --output-dir runs/first")
    train.add_argument("--config", required=True, help="experiment config (.yaml or .json)")
    train.add_argument("--output-dir", required=True, metavar="DIR", help="run directory to write")
    train.add_argument("--overwrite", action="store_true",
                       help="replace an earlier run in the directory")
    incremental = train.add_argument_group(
        "incremental training (LiRank §3.6)",
        "warm start from alpha*w0 + (1-alpha)*w_{t-1} with the diagonal-Fisher regulariser; "
        "the config's data.train is the new period, its features, tasks and model those of PREV")
    incremental.add_argument("--incremental-from", metavar="PREV",
                             help="run directory of the previous period (w_{t-1})")
    incremental.add_argument("--cold-start", metavar="COLD",
                             help="cold-start run directory (w0; default: PREV's cold start)")
    incremental.add_argument("--cold-weight", metavar="A", type=_number_in(0.0, 1.0), default=None,
                             help="alpha in [0, 1] (default: 0.5)")
    incremental.add_argument("--forgetting-factor", metavar="L", type=_number_in(0.0, None),
                             default=None, help="lambda_f >= 0 (default: 1.0; 0: plain warm start)")
    _add_set_flag(train, "the config file (the run records the result)")
    train.set_defaults(handler=_train)


def _add_evaluate(commands) -> None:
    """Registers ``evaluate``."""
    evaluate = _command(
        commands, "evaluate", "metrics.json, report.html, calibration and training plots",
        "Scores the run's model on the test files (or --data) and writes metrics.json, the "
        "calibration and training plots and report.html (all of it on one page, open it in a "
        "browser) into the run's eval/ directory.",
        "lirank-tf evaluate --run runs/first")
    evaluate.add_argument("--run", required=True, metavar="DIR",
                          help="run directory of `lirank-tf train`")
    evaluate.add_argument("--data", action="append", metavar="GLOB",
                          help="files to score (repeatable; default: the config's test files)")
    evaluate.add_argument("--replay-top-n", metavar="N", type=_non_negative_int, default=None,
                          help="the data's sessions were logged with their top N positions "
                               "shuffled: also report the replay contribution rate (LiRank §5.2); "
                               "0: never; default: N from the simulator's manifest.json next to "
                               "the files, if any")
    _add_set_flag(evaluate, "the run's config, for this evaluation")
    evaluate.set_defaults(handler=_evaluate)


def _add_export(commands) -> None:
    """Registers ``export``."""
    export = _command(
        commands, "export", "the serving SavedModel (raw features in, scores out)",
        "Writes the serving SavedModel of a run: serving_default and serve_examples, plus "
        "serve_explore when the run has a posterior (`lirank-tf explore`). Before it is "
        "published, the export is loaded as TF Serving loads it (a TF1 session) and its "
        "warm-up requests replayed there; one that fails is not published.",
        "lirank-tf export --run runs/first --output-dir exports/first --quantize int8")
    export.add_argument("--run", required=True, metavar="DIR",
                        help="run directory of `lirank-tf train`")
    export.add_argument("--output-dir", "--export-dir", action=RenamedFlag, metavar="DIR",
                        deprecated=("--export-dir",),
                        help="directory to write (default: RUN/export)")
    export.add_argument("--quantize", choices=["none", "int8"], default="none",
                        help="int8: middle-max row-wise embedding quantization (LiRank §3.13)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing export")
    export.add_argument("--root-object-table", metavar="TABLE",
                        help="add the root-object effects of TABLE (`lirank-tf root-objects fit`)")
    export.add_argument("--skip-serving-check", action="store_true",
                        help="publish without loading the export as TF Serving does first "
                             "(saves the few seconds of the check)")
    _add_set_flag(export, "the run's config, for this export")
    export.set_defaults(handler=_export)


def _add_explore(commands) -> None:
    """Registers ``explore``."""
    explore = _command(
        commands, "explore",
        "the Neural-Linear last-layer posterior of a run, for Thompson sampling",
        "Computes the Bayesian linear posterior of each task's last layer (LiRank §3.8) into "
        "the run directory; `lirank-tf export` then adds serve_explore.",
        "lirank-tf explore --run runs/day2 --previous runs/day1")
    explore.add_argument("--run", required=True, metavar="DIR",
                         help="run directory of `lirank-tf train`")
    explore.add_argument("--previous", metavar="PREV",
                         help="carry over PREV's posterior (earlier evidence x explore.decay)")
    explore.set_defaults(handler=_explore)


def _add_root_objects(commands) -> None:
    """Registers ``root-objects fit / update``."""
    wide = _command(
        commands, "root-objects", "the root-object random-effect model (LiRank §3.9)",
        "Per-id effects on top of a run's model, refreshed often without retraining it: `fit` "
        "writes a table, `export --root-object-table` and `update` put it in a SavedModel.",
        "lirank-tf root-objects fit --run runs/first --data 'data/last8h/*.avro' -o ro.tsv")
    actions = wide.add_subparsers(dest="action", required=True, metavar="ACTION")
    fit = _command(
        actions, "fit", "fit the effects on recent data, as the residual of a run",
        "Fits each root object's effect on DATA as the residual of the run's model; the tasks "
        "and the id field default to the run's config.",
        "lirank-tf root-objects fit --run runs/first --data 'data/last8h/*.avro' -o ro.tsv \\\n"
        "      --tasks like,click")
    fit.add_argument("--run", required=True, metavar="DIR",
                     help="run directory of `lirank-tf train`")
    fit.add_argument("--data", action="append", required=True, metavar="GLOB",
                     help="Avro files to fit on (repeatable)")
    fit.add_argument("-o", "--output", required=True, metavar="TABLE",
                     help="table to write (TSV, + .json)")
    fit.add_argument("--tasks", action=ListFlag,
                     help="tasks to fit (default: those of --previous, else every task of the run)")
    fit.add_argument("--l2", type=_number_in(0.0, None), default=1.0,
                     help="prior precision of each effect")
    fit.add_argument("--previous", metavar="TABLE", help="the previous fit, for --carry-over")
    fit.add_argument("--carry-over", type=_number_in(0.0, 1.0), default=0.0,
                     help="prior mean = this x the previous effect")
    fit.add_argument("--field", help="the root-object id field (default: the candidate field of "
                                     "the run's history, features.history.candidate_field)")
    fit.add_argument("--overwrite", action="store_true", help="replace an existing table")
    update = _command(
        actions, "update", "swap the table of an export in place",
        "Replaces the root-object table inside an export; servers pick it up when they load it.",
        "lirank-tf root-objects update --export runs/first/export --table ro_next.tsv")
    update.add_argument("--export", required=True, metavar="DIR",
                        help="export directory of `lirank-tf export`")
    update.add_argument("--table", required=True, help="table of `root-objects fit`")
    wide.set_defaults(handler=_root_objects)


def _add_demo(commands) -> None:
    """Registers ``demo``."""
    demo = _command(
        commands, "demo", "simulate Feed data, train, evaluate, export, score",
        "The whole workflow on simulated Feed days: writes the data, trains the Feed model, "
        "evaluates it, exports the SavedModel and scores a request with it.",
        "lirank-tf demo --days 4 --impressions-per-day 2000 --epochs 1")
    demo.add_argument("--output-dir", metavar="DIR",
                      help="directory to write (default: runs/demo-<time>)")
    demo.add_argument("--days", type=int, default=8,
                      help="simulated days (last one is test, one before valid)")
    demo.add_argument("--impressions-per-day", type=int, default=12_000, help="data size per day")
    demo.add_argument("--seed", type=int, default=0, help="seed of the simulator and training")
    demo.add_argument("--epochs", type=int, default=2, help="training epochs")
    demo.add_argument("--batch-size", type=int, default=None,
                      help="training batch size (default: the Feed experiment's "
                           "training.batch_size)")
    demo.add_argument("--replay-top-n", metavar="N", type=_non_negative_int, default=5,
                      help="log the test day's sessions with their top N shuffled and report the "
                           "replay contribution rate (LiRank §5.2); 0: off")
    _add_set_flag(demo, "the Feed experiment's config")
    demo.set_defaults(handler=_demo)


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="lirank-tf", description="LiRank (KDD'24) ranking framework in TensorFlow/Keras. "
        "The commands, in workflow order: import (other formats -> Avro), init-config, train, "
        "evaluate, export; then tune, explore, root-objects; demo runs them all on simulated data.",
        epilog=f"{FLAG_RULES}\nA user error prints one line and exits with status 2; --debug (or "
               "LIRANK_DEBUG=1) shows its traceback.").with_common_defaults()
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    # the two commands of their own packages, imported here to keep `lirank-tf` quick to start
    from lirank_tf.importers.command import add_import_command
    from lirank_tf.tune.command import add_tune_command
    add_import_command(commands)
    for add in (_add_init_config, _add_train, _add_evaluate, _add_export, add_tune_command,
                _add_explore, _add_root_objects, _add_demo):      # workflow order
        add(commands)
    return parser


def _check_incremental_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The incremental flags need --incremental-from; fills in their defaults when given."""
    if args.incremental_from is None:
        given = [flag for flag, value in (("--cold-start", args.cold_start),
                                          ("--cold-weight", args.cold_weight),
                                          ("--forgetting-factor", args.forgetting_factor))
                 if value is not None]
        if given:
            parser.error(f"{', '.join(given)} only apply with --incremental-from PREV")
        return
    args.cold_weight = 0.5 if args.cold_weight is None else args.cold_weight
    args.forgetting_factor = 1.0 if args.forgetting_factor is None else args.forgetting_factor


def main(argv: list[str] | None = None) -> int:
    """Runs one command; a user error (`lirank_tf.errors.UserError`, a bad path, corrupt data)
    is one line on stderr and exit status 2, a bug keeps its traceback (exit 1)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("LIRANK_DEBUG", "") not in ("", "0")
    quiet_dependencies(verbose=args.verbose or debug)
    if args.command == "train":
        _check_incremental_flags(parser, args)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print(f"lirank-tf {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001  sorted into user errors and bugs below
        message = user_error_message(error)
        if message is None or debug:
            raise
        print(f"lirank-tf {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
