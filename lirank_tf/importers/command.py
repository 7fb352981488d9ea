"""``lirank-tf import``: CSV / TSV, Parquet and libFM / libFFM files -> Avro parts."""

from __future__ import annotations

import argparse

from lirank_tf.console import ListFlag, RenamedFlag, positive_int
from lirank_tf.importers import FORMATS, import_table


def _run(args: argparse.Namespace) -> int:
    result = import_table(args.inputs, args.output_dir, fmt=args.format,
                          rows_per_file=args.rows_per_file, codec=args.codec, prefix=args.prefix,
                          overwrite=args.overwrite, dense_columns=args.dense_columns or (),
                          string_columns=args.string_columns or (),
                          list_columns=args.list_columns or (),
                          list_separator=args.list_separator, label=args.label)
    print(f"wrote {result.rows} rows to {len(result.files)} Avro file(s) in {args.output_dir}:")
    for field in result.schema["fields"]:
        print(f"  {field['name']}: {field['type']}")
    return 0


def add_import_command(commands) -> None:
    """Registers ``import`` on the ``lirank-tf`` sub-command parsers ``commands``."""
    parser = commands.add_parser(
        "import", help="convert CSV/TSV, Parquet or libFM/libFFM files to Avro for init-config",
        description="Converts the input files into Avro parts that `lirank-tf init-config` maps. "
                    "CSV / TSV column types are inferred over every row (integers -> long, "
                    "other numbers -> double, the rest -> string); the column flags override "
                    "them.",
        epilog="example:\n  lirank-tf import 'raw/train-*.csv' --output-dir data/train "
               "--list-columns tags --string-columns zip")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="files or quoted globs")
    parser.add_argument("--output-dir", "-o", "--output", action=RenamedFlag, required=True,
                        deprecated=("-o", "--output"), metavar="DIR",
                        help="directory of the Avro parts to write")
    parser.add_argument("--format", choices=FORMATS, help="input format (default: from the file "
                                                          "suffix)")
    parser.add_argument("--prefix", default="part", help="file name prefix")
    parser.add_argument("--rows-per-file", type=positive_int, default=100_000,
                        help="rows per Avro part")
    parser.add_argument("--codec", choices=["deflate", "snappy", "null"], default="deflate",
                        help="Avro block compression")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier import's parts")
    text = parser.add_argument_group("CSV / TSV columns (repeatable, comma-separated names)")
    text.add_argument("--dense-columns", action=ListFlag, help="write as double")
    text.add_argument("--string-columns", action=ListFlag,
                      help="write as string (e.g. zip codes with leading zeros)")
    text.add_argument("--list-columns", action=ListFlag, help="split into id lists")
    text.add_argument("--list-separator", default="|", help="separator of list cells")
    parser.add_argument("--label", default="label", help="label field name of libFM / libFFM files")
    parser.set_defaults(handler=_run)
