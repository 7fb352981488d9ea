"""The ``lirank-tf`` flag vocabulary: commands in workflow order, an example and the defaults in
every sub-command's help, one list rule, and renamed flags that still work with a warning."""

import argparse
import re

import pytest

from lirank_tf.cli import build_parser, main
from lirank_tf.config.experiments import INIT_CONFIG_MODELS

WORKFLOW_ORDER = ["import", "init-config", "train", "evaluate", "export", "tune", "explore",
                  "root-objects", "demo"]


def _sub_commands(parser: argparse.ArgumentParser, prefix=()):
    """(argv prefix, parser) of every (nested) sub-command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _sub_commands(sub, (*prefix, name))


def _help(argv, capsys) -> str:
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


def test_commands_are_listed_in_workflow_order(capsys):
    text = _help([], capsys)
    listed = text[text.index("COMMAND\n"):text.index("options:")]
    names = [line.split()[0] for line in listed.splitlines()[1:]
             if line.startswith("    ") and not line.startswith("     ")]
    assert names == [n for n in WORKFLOW_ORDER if n != "tune" or "tune" in names]
    assert "a directory a command writes is --output-dir" in " ".join(text.split())


def _entry(text: str, option: str) -> str:
    """The help entry of ``option``: its line and the indented lines that continue it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith(option + " ")
                 or line.lstrip().startswith(option + ",") or line.strip() == option)
    entry = [lines[start]]
    for line in lines[start + 1:]:
        if not line.startswith("      ") or line.lstrip().startswith("-"):
            break
        entry.append(line)
    return " ".join(" ".join(entry).split())


def test_every_sub_command_has_a_description_an_example_and_shows_its_defaults(capsys):
    commands = list(_sub_commands(build_parser()))
    assert len(commands) >= 10
    checked = 0
    for argv, parser in commands:
        text = _help(list(argv), capsys)
        assert parser.description, argv
        assert "\nexample:\n  lirank-tf " + " ".join(argv) in text, argv
        for action in parser._actions:
            default = action.default
            if (not action.option_strings or default is None or default is False
                    or default == argparse.SUPPRESS or default == []):
                continue
            entry = _entry(text, action.option_strings[0])
            assert re.search(rf"\(default:? {re.escape(str(default))}[);]", entry), (argv, entry)
            checked += 1
    assert checked >= 16       # the flags with a default (not None) across the commands


def test_choices_are_shown(capsys):
    text = _help(["init-config"], capsys)
    assert "{" + ",".join(INIT_CONFIG_MODELS) + "}" in text
    assert "{csv,tsv,parquet,libfm,libffm}" in _help(["import"], capsys)
    with pytest.raises(SystemExit) as stop:
        main(["init-config", "--train", "x", "--labels", "c", "-o", "y", "--model", "xgboost"])
    assert stop.value.code == 2
    assert "invalid choice: 'xgboost'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, dest", [
    (["init-config", "--train", "t", "-o", "c.yaml", "{flag}"], "labels"),
    (["init-config", "--train", "t", "--labels", "y", "-o", "c.yaml", "{flag}"], "dense_columns"),
    (["init-config", "--train", "t", "--labels", "y", "-o", "c.yaml", "{flag}"], "id_columns"),
    (["root-objects", "fit", "--run", "r", "--data", "d", "-o", "t.tsv", "{flag}"], "tasks"),
    (["import", "in.csv", "--output-dir", "d", "{flag}"], "dense_columns"),
    (["import", "in.csv", "--output-dir", "d", "{flag}"], "string_columns"),
    (["import", "in.csv", "--output-dir", "d", "{flag}"], "list_columns"),
])
def test_list_flags_take_repeats_and_comma_lists_alike(argv, dest):
    flag = "--" + dest.replace("_", "-")

    def parsed(*values):
        args = [a for a in argv if a != "{flag}"]
        for value in values:
            args += [flag, value]
        return getattr(build_parser().parse_args(args), dest)

    assert parsed("like,click") == parsed("like", "click") == ["like", "click"]
    assert parsed("like,click", "share") == parsed("like", "click,share") == \
        ["like", "click", "share"]
    assert parsed("a,,b,") == ["a", "b"]


def test_glob_flags_are_repeatable_only():
    args = build_parser().parse_args(["init-config", "--train", "a/{x,y}.avro", "--train", "b",
                                      "--labels", "c", "-o", "c.yaml"])
    assert args.train == ["a/{x,y}.avro", "b"]


@pytest.mark.parametrize("old, new", [
    (["export", "--run", "r", "--export-dir", "e"], ["export", "--run", "r", "--output-dir", "e"]),
    (["import", "x.csv", "-o", "d"], ["import", "x.csv", "--output-dir", "d"]),
    (["import", "x.csv", "--output", "d"], ["import", "x.csv", "--output-dir", "d"]),
])
def test_renamed_flags_still_work_with_one_warning_line(capsys, old, new):
    from_old = build_parser().parse_args(old)
    warning = capsys.readouterr().err.strip().splitlines()
    from_new = build_parser().parse_args(new)
    assert capsys.readouterr().err == ""
    assert vars(from_old) == vars(from_new)
    assert len(warning) == 1
    assert warning[0] == (f"lirank-tf {old[0]}: warning: {old[-2]} is deprecated, use "
                          "--output-dir (the old name goes in the next release)")
    text = _help([old[0]], capsys)
    assert f"{old[-2]} " not in text.replace("--output-dir", "")


def test_the_old_import_flag_writes_the_same_files(tmp_path, capsys):
    source = tmp_path / "rows.csv"
    source.write_text("user,clicked\nu1,1\nu2,0\n")
    assert main(["import", str(source), "-o", str(tmp_path / "old")]) == 0
    assert main(["import", str(source), "--output-dir", str(tmp_path / "new")]) == 0
    err = capsys.readouterr().err
    assert err.count("warning: -o is deprecated") == 1
    assert [p.read_bytes() != b"" for p in (tmp_path / "old").iterdir()] == [True]
    assert sorted(p.name for p in (tmp_path / "old").iterdir()) == \
        sorted(p.name for p in (tmp_path / "new").iterdir())


def test_usage_errors_name_a_renamed_flag_by_its_new_name(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["import", "x.csv"])
    assert stop.value.code == 2
    assert capsys.readouterr().err == ("lirank-tf import: error: the following arguments are "
                                       "required: --output-dir (see `lirank-tf import --help`)\n")
