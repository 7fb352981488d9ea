"""The ``lirank-tf`` command line (``python -m lirank_tf`` works too)."""

from __future__ import annotations

import argparse
import sys


def _demo(args: argparse.Namespace) -> int:
    from lirank_tf.pipeline.demo import DemoOptions, run_demo
    run_demo(DemoOptions(output_dir=args.output_dir, days=args.days,
                         impressions_per_day=args.impressions_per_day, seed=args.seed,
                         epochs=args.epochs, batch_size=args.batch_size))
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
