"""What the ``lirank-tf`` command shows on the terminal: quiet dependencies, one-line errors.

* `quiet_dependencies` silences TensorFlow's C++ log lines and the Python warnings of other
  packages before TensorFlow is imported (``-v/--verbose`` keeps them);
* `user_error_message` tells a user's mistake (bad flag, path, config, corrupt file) from a bug
  and gives its one-line message;
* `CommandParser` is an ``argparse`` parser whose usage errors are one line too, and which adds
  ``-v/--verbose`` and ``--debug`` to every sub-command;
* `HelpFormatter` keeps descriptions and examples as written and shows each flag's default;
* `ListFlag` is the one list rule (repeatable, each value a comma-separated list) and
  `RenamedFlag` keeps an old flag name working for one release, hidden, with a warning.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import textwrap
import warnings
from pathlib import Path

from lirank_tf.errors import UserError

# Path-like problems a user fixes by passing another path or flag.
_PATH_ERRORS = (FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError,
                PermissionError)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and ``example:`` epilogs keep their lines; a flag's help ends with
    "(default: X)" unless it says its default itself or has none worth showing (None, off for
    a switch, an empty list); renamed flags' old names (`RenamedFlag`) are not shown.
    Description and epilog lines are wrapped to the terminal, indented lines kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines = []
        for line in text.splitlines():
            if not line or line[0].isspace():
                lines.append(indent + line)
            else:
                lines += textwrap.wrap(line, width, initial_indent=indent,
                                       subsequent_indent=indent)
        return "\n".join(lines)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (not action.option_strings or "default" in text.lower()
                or default is None or default is argparse.SUPPRESS or default is False
                or (isinstance(default, (list, tuple)) and not default)):
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"

    def _format_action_invocation(self, action: argparse.Action) -> str:
        hidden = getattr(action, "deprecated", ())
        if not hidden:
            return super()._format_action_invocation(action)
        shown = argparse.Action([s for s in action.option_strings if s not in hidden],
                                action.dest, nargs=action.nargs, metavar=action.metavar)
        return super()._format_action_invocation(shown)


class ListFlag(argparse.Action):
    """A list flag: repeatable, and each value may be a comma-separated list, so
    ``--labels like,click`` equals ``--labels like --labels click`` (empty items are dropped).
    Globs and paths are repeatable only (``action="append"``): a glob may hold a comma."""

    def __init__(self, option_strings, dest, **kwargs) -> None:
        kwargs.setdefault("metavar", "A[,B...]")
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        items = list(getattr(namespace, self.dest, None) or [])
        items += [item.strip() for item in str(values).split(",") if item.strip()]
        setattr(namespace, self.dest, items)


class RenamedFlag(argparse.Action):
    """Stores one value like ``store``; the option strings in ``deprecated`` are the flag's old
    names: they still work for one release, are hidden from ``--help``, and print one warning
    line on stderr naming the new flag (the first option string)."""

    def __init__(self, option_strings, dest, deprecated: tuple[str, ...] = (), **kwargs) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.deprecated = tuple(deprecated)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if option_string in self.deprecated:
            print(f"{parser.prog}: warning: {option_string} is deprecated, use "
                  f"{self.option_strings[0]} (the old name goes in the next release)",
                  file=sys.stderr)
        setattr(namespace, self.dest, values)


class CommandParser(argparse.ArgumentParser):
    """``argparse`` with one-line usage errors (exit 2) and ``-v`` / ``--debug`` everywhere.

    The flags may be given before or after the sub-command (``lirank-tf --debug train ...`` and
    ``lirank-tf train ... --debug``): sub-commands leave them unset unless given, and the top
    level parser sets both to False (`with_common_defaults`)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                          help="show TensorFlow's log lines and dependency warnings")
        self.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                          help="show the traceback of an error (also: LIRANK_DEBUG=1)")

    def with_common_defaults(self) -> "CommandParser":
        self.set_defaults(verbose=False, debug=False)
        return self

    def error(self, message: str):  # one line: what is wrong, and where to read more
        for action in self._actions:    # a renamed flag by its current name(s) only
            if getattr(action, "deprecated", ()):
                current = [s for s in action.option_strings if s not in action.deprecated]
                message = message.replace("/".join(action.option_strings), "/".join(current))
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def quiet_dependencies(verbose: bool = False) -> None:
    """Silences TensorFlow's C++ logs (``TF_CPP_MIN_LOG_LEVEL``, unless the user set it), its
    Python logger and other packages' warnings; call before TensorFlow is imported. With
    ``verbose`` nothing is silenced."""
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    warnings.filterwarnings("default", module=r"lirank_tf(\.|$)")


def _tensorflow_user_error(error: BaseException) -> str | None:
    """The first line of a TensorFlow op error raised by bad data: ``DataLossError`` (corrupt
    or truncated data) or an ``InvalidArgumentError`` whose message starts with an existing
    file's path (data that does not fit the config, as the Avro op reports it)."""
    tf = sys.modules.get("tensorflow")
    if tf is None or not isinstance(error, tf.errors.OpError):
        return None
    first = str(error.message).strip().splitlines()[0] if error.message else ""
    # TensorFlow's decorations: "{{function_node ...}} ", " [Op:IteratorGetNext] name: ", "[[...]]"
    first = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", first)
    first = re.sub(r"\s*(\[Op:[^\]]*\]( name:.*)?|\[\[.*)$", "", first).strip()
    if isinstance(error, tf.errors.DataLossError):
        return first
    if isinstance(error, tf.errors.InvalidArgumentError):
        path = first.split(": ", 1)[0]
        if path and Path(path).is_file():
            return first
    return None


def user_error_message(error: BaseException) -> str | None:
    """The one-line message of a user's mistake, or None when ``error`` is a bug (keep its
    traceback). User errors: `UserError` (configs, Avro files, runs), other ``ValueError``
    (argument checks throughout the library), path errors, and TensorFlow data errors."""
    if isinstance(error, (UserError, ValueError, *_PATH_ERRORS)):
        text = str(error)
        if isinstance(error, OSError) and error.filename and error.strerror:
            text = f"{error.filename}: {error.strerror}"  # not "[Errno 2] ...: 'path'"
        return " ".join(text.split()) or type(error).__name__
    message = _tensorflow_user_error(error)
    return " ".join(message.split()) if message else None
