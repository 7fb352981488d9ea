"""Every user error of the ``lirank-tf`` command: exit status 2, one line on stderr naming what is
wrong, no traceback; ``--debug`` / ``LIRANK_DEBUG=1`` show the traceback; bugs keep theirs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tiny_run import write_rows

from lirank_tf.cli import main
from lirank_tf.init_config import init_config
from lirank_tf.console import user_error_message


def _write(path: Path, n: int, seed: int) -> Path:
    write_rows(path, n, seed, codec="deflate", sync_interval=1000)  # several blocks a file
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_errors")
    _write(root / "train" / "a.avro", 400, 1)
    _write(root / "valid" / "a.avro", 100, 2)
    config = init_config(train=[str(root / "train/*.avro")], valid=[str(root / "valid/*.avro")],
                         labels=["clicked"], output=root / "run.yaml")
    text = yaml.safe_load(Path(config).read_text())
    text["training"].update(epochs=1, batch_size=64, verbose=0)
    Path(config).write_text(yaml.safe_dump(text))
    return root


def _derived_config(root: Path, name: str, edit) -> Path:
    text = yaml.safe_load((root / "run.yaml").read_text())
    edit(text)
    path = root / name
    path.write_text(yaml.safe_dump(text))
    return path


def run_cli(argv, capsys) -> tuple[int, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:  # argparse usage errors
        code = stop.code
    return code, capsys.readouterr().err


def _cases(root: Path) -> list[tuple[str, list, str]]:
    bad_yaml = root / "bad.yaml"
    bad_yaml.write_text("training:\n  epochs: [1, 2\n  batch_size: 3\n")
    unknown_key = _derived_config(root, "unknown.yaml",
                                  lambda c: c["training"].update(epoch_count=3))
    wrong_dtype = _derived_config(
        root, "dtype.yaml",
        lambda c: [f.update(dtype="string") for f in c["features"]["ids"] if f["name"] == "item"])
    truncated = root / "truncated" / "a.avro"
    truncated.parent.mkdir(exist_ok=True)
    blob = (root / "train" / "a.avro").read_bytes()
    truncated.write_bytes(blob[: len(blob) - 200])
    truncated_config = _derived_config(
        root, "truncated.yaml", lambda c: c["data"].update(train=[str(truncated)]))
    no_train = _derived_config(root, "no_train.yaml", lambda c: c["data"].update(train=[]))
    no_model = root / "no_model"
    no_model.mkdir(exist_ok=True)
    train = ["train", "--output-dir"]
    return [
        ("no command", [], "required: COMMAND"),
        ("unknown command", ["fly"], "invalid choice: 'fly'"),
        ("missing flag", ["train", "--config", root / "run.yaml"], "--output-dir"),
        ("bad number", ["train", "--config", root / "run.yaml", "--output-dir", root / "x",
                        "--incremental-from", root, "--cold-weight", "2"], "'2'"),
        ("flag without its partner", ["train", "--config", root / "run.yaml", "--output-dir",
                                      root / "x", "--cold-weight", "0.3"], "--incremental-from"),
        ("missing config", [*train, root / "r1", "--config", root / "none.yaml"], "none.yaml"),
        ("YAML syntax", [*train, root / "r2", "--config", bad_yaml], "bad.yaml: line 3, column"),
        ("unknown config key", [*train, root / "r3", "--config", unknown_key], "epoch_count"),
        ("dtype mismatch", [*train, root / "r4", "--config", wrong_dtype], "field 'item'"),
        ("truncated Avro in train", [*train, root / "r5", "--config", truncated_config],
         "truncated/a.avro: byte "),
        ("no training files", [*train, root / "r6", "--config", no_train], "data.train: no "),
        ("glob matching nothing", ["init-config", "--train", root / "nope/*.avro", "--labels",
                                   "clicked", "-o", root / "c.yaml"], "nope/*.avro"),
        ("label not in the schema", ["init-config", "--train", root / "train/*.avro",
                                     "--labels", "bought", "-o", root / "c2.yaml"], "bought"),
        ("evaluate a missing run", ["evaluate", "--run", root / "ghost"], "ghost"),
        ("export a run without model", ["export", "--run", no_model], "no_model"),
        ("explore a missing run", ["explore", "--run", root / "ghost"], "ghost"),
        ("fit root objects of a missing run", ["root-objects", "fit", "--run", root / "ghost",
                                               "--data", root / "train/a.avro", "-o",
                                               root / "ro.tsv"], "ghost"),
        ("import a missing file", ["import", root / "missing.csv", "--output-dir", root / "imp"],
         "missing.csv"),
        ("demo into a used directory", ["demo", "--output-dir", root / "train"],
         "is not empty"),
    ]


CASE_NAMES = ["no command", "unknown command", "missing flag", "bad number",
              "flag without its partner", "missing config", "YAML syntax", "unknown config key",
              "dtype mismatch", "truncated Avro in train", "no training files",
              "glob matching nothing",
              "label not in the schema", "evaluate a missing run", "export a run without model",
              "explore a missing run", "fit root objects of a missing run",
              "import a missing file", "demo into a used directory"]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_each_user_error_is_one_line_and_exit_2(data, capsys, name):
    cases = {case[0]: case for case in _cases(data)}
    assert sorted(cases) == sorted(CASE_NAMES)
    _, argv, expected = cases[name]
    code, err = run_cli(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("lirank-tf")
    assert expected in lines[0], lines[0]


def _subprocess(argv, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lirank_tf", *map(str, argv)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_the_entry_point_prints_one_line_and_debug_shows_the_traceback(data):
    bad_yaml = data / "bad_entry.yaml"
    bad_yaml.write_text("tasks: [click\n")
    argv = ["train", "--config", bad_yaml, "--output-dir", data / "entry"]
    plain = _subprocess(argv)
    assert plain.returncode == 2
    assert plain.stderr.strip().splitlines() == [
        f"lirank-tf train: error: {bad_yaml}: line 2, column 1: invalid YAML: expected ',' or ']', "
        "but got '<stream end>' (while parsing a flow sequence)"]
    for debug_argv, env in ((argv + ["--debug"], None), (["--debug", *argv], None),
                            (argv, {"LIRANK_DEBUG": "1"})):
        debug = _subprocess(debug_argv, env)
        assert debug.returncode == 1
        assert "Traceback" in debug.stderr and "ConfigError" in debug.stderr
    assert not (data / "entry").exists()


def test_bugs_are_not_user_errors():
    assert user_error_message(KeyError("features")) is None
    assert user_error_message(TypeError("unsupported operand")) is None
    assert user_error_message(ValueError("batch_size must be positive")) == \
        "batch_size must be positive"
    missing = FileNotFoundError(2, "No such file or directory", "/data/x.avro")
    assert user_error_message(missing) == "/data/x.avro: No such file or directory"


def test_tensorflow_errors_count_as_user_errors_only_when_they_name_a_file(tmp_path):
    import tensorflow as tf

    existing = tmp_path / "day.avro"
    existing.write_bytes(b"")
    named = tf.errors.InvalidArgumentError(
        None, None, "{{function_node __wrapped__IteratorGetNext_device_/job:localhost}} "
        f"{existing}: field 'x': bad [Op:IteratorGetNext] name: ")
    assert user_error_message(named) == f"{existing}: field 'x': bad"
    assert user_error_message(tf.errors.InvalidArgumentError(
        None, None, "Incompatible shapes: [2] vs. [3]")) is None
    assert user_error_message(tf.errors.DataLossError(
        None, None, "corrupt deflate data: the stream is truncated\n\t [[{{node X}}]]")) == \
        "corrupt deflate data: the stream is truncated"
