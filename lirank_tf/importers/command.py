"""``lirank-tf import``: CSV / TSV, Parquet and libFM / libFFM files -> Avro parts."""

from __future__ import annotations

import argparse

from lirank_tf.importers import FORMATS, import_table


def _columns(text: str) -> list[str]:
    return [name for name in text.split(",") if name]


def _run(args: argparse.Namespace) -> int:
    result = import_table(args.inputs, args.output, fmt=args.format,
                          rows_per_file=args.rows_per_file, codec=args.codec, prefix=args.prefix,
                          overwrite=args.overwrite, dense_columns=args.dense_columns,
                          string_columns=args.string_columns, list_columns=args.list_columns,
                          list_separator=args.list_separator, label=args.label)
    print(f"wrote {result.rows} rows to {len(result.files)} Avro file(s) in {args.output}:")
    for field in result.schema["fields"]:
        print(f"  {field['name']}: {field['type']}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def add_import_command(commands) -> None:
    """Registers ``import`` on the ``lirank-tf`` sub-command parsers ``commands``."""
    parser = commands.add_parser(
        "import", help="convert CSV/TSV, Parquet or libFM/libFFM files to Avro for init-config")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="files or quoted globs")
    parser.add_argument("-o", "--output", required=True, help="folder of the Avro parts")
    parser.add_argument("--format", choices=FORMATS, help="default: from the file suffix")
    parser.add_argument("--prefix", default="part", help="file name prefix (default: part)")
    parser.add_argument("--rows-per-file", type=_positive_int, default=100_000,
                        help="rows per Avro part (default: 100000)")
    parser.add_argument("--codec", choices=["deflate", "snappy", "null"], default="deflate")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier import's parts")
    text = parser.add_argument_group("CSV / TSV columns (comma-separated names)")
    text.add_argument("--dense-columns", type=_columns, default=[], help="write as double")
    text.add_argument("--string-columns", type=_columns, default=[],
                      help="write as string (e.g. zip codes with leading zeros)")
    text.add_argument("--list-columns", type=_columns, default=[], help="split into id lists")
    text.add_argument("--list-separator", default="|", help="separator of list cells (default: |)")
    parser.add_argument("--label", default="label", help="label field name of libFM / libFFM files")
    parser.set_defaults(handler=_run)
