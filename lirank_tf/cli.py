"""The ``lirank-tf`` command line (``python -m lirank_tf ...`` works too).

    lirank-tf demo                      simulate Feed data -> train -> evaluate -> export -> score
    lirank-tf init-config --train GLOB --labels a,b [--valid GLOB] [--test GLOB] [--model NAME] -o run.yaml
    lirank-tf train --config run.yaml --output-dir DIR [--overwrite]
    lirank-tf evaluate --run DIR [--data GLOB]
    lirank-tf export --run DIR [--quantize int8]
"""

from __future__ import annotations

import argparse
import sys


def _demo(args: argparse.Namespace) -> int:
    from lirank_tf.pipeline.demo import DemoOptions, run_demo
    run_demo(DemoOptions(output_dir=args.output_dir, days=args.days,
                         impressions_per_day=args.impressions_per_day, seed=args.seed,
                         epochs=args.epochs, batch_size=args.batch_size))
    return 0


def _init_config(args: argparse.Namespace) -> int:
    from lirank_tf.config.init_config import init_config
    path = init_config(train=args.train, valid=args.valid, test=args.test,
                       labels=[x for x in args.labels.split(",") if x], model=args.model,
                       output=args.output, overwrite=args.overwrite)
    print(f"wrote {path}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from lirank_tf import workflow
    result = workflow.train(args.config, args.output_dir, overwrite=args.overwrite)
    print(f"trained model: {result.run.model_path}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from lirank_tf import workflow
    workflow.evaluate_run(args.run, data=args.data)
    return 0


def _export(args: argparse.Namespace) -> int:
    from lirank_tf import workflow
    path = workflow.export_run(args.run, args.export_dir,
                               quantize=None if args.quantize == "none" else args.quantize,
                               overwrite=args.overwrite)
    print(f"exported SavedModel: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lirank-tf", description="LiRank (KDD'24) ranking framework in TensorFlow/Keras.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="simulate Feed data, train, evaluate, export, score")
    demo.add_argument("--output-dir", help="where to write (default: runs/demo-<time>)")
    demo.add_argument("--days", type=int, default=8, help="simulated days (last one is test, one before valid)")
    demo.add_argument("--impressions-per-day", type=int, default=12_000, help="data size per day")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--epochs", type=int, default=2)
    demo.add_argument("--batch-size", type=int, default=512)
    demo.set_defaults(handler=_demo)

    init = commands.add_parser("init-config", help="write a complete config for your Avro files")
    init.add_argument("--train", action="append", required=True, help="glob of training files (repeatable)")
    init.add_argument("--valid", action="append", default=[], help="glob of validation files")
    init.add_argument("--test", action="append", default=[], help="glob of test files")
    init.add_argument("--labels", required=True, help="comma-separated label fields, one task each")
    init.add_argument("--model", default="dcnv2", help="dcnv2 (default), feed, ads or jobs")
    init.add_argument("-o", "--output", required=True, help="config file to write (.yaml or .json)")
    init.add_argument("--overwrite", action="store_true", help="replace an existing config file")
    init.set_defaults(handler=_init_config)

    train = commands.add_parser("train", help="train a config with model.fit (resumes after a kill)")
    train.add_argument("--config", required=True, help="experiment config (.yaml or .json)")
    train.add_argument("--output-dir", required=True, help="run directory")
    train.add_argument("--overwrite", action="store_true", help="replace an earlier run in the directory")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate", help="metrics.json, calibration and training plots")
    evaluate.add_argument("--run", required=True, help="run directory of `lirank-tf train`")
    evaluate.add_argument("--data", action="append", help="glob of files (default: the config's test files)")
    evaluate.set_defaults(handler=_evaluate)

    export = commands.add_parser("export", help="the serving SavedModel (raw features in, scores out)")
    export.add_argument("--run", required=True, help="run directory of `lirank-tf train`")
    export.add_argument("--export-dir", help="where to write (default: RUN/export)")
    export.add_argument("--quantize", choices=["none", "int8"], default="none",
                        help="int8: middle-max row-wise embedding quantization (LiRank §3.13)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing export")
    export.set_defaults(handler=_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        print(f"\nlirank-tf {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
