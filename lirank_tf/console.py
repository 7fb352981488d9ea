"""What the ``lirank-tf`` command shows on the terminal: quiet dependencies, one-line errors.

* `quiet_dependencies` silences TensorFlow's C++ log lines and the Python warnings of other
  packages before TensorFlow is imported (``-v/--verbose`` keeps them);
* `user_error_message` tells a user's mistake (bad flag, path, config, corrupt file) from a bug
  and gives its one-line message;
* `CommandParser` is an ``argparse`` parser whose usage errors are one line too, and which adds
  ``-v/--verbose`` and ``--debug`` to every sub-command.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import warnings
from pathlib import Path

from lirank_tf.errors import UserError

# Path-like problems a user fixes by passing another path or flag.
_PATH_ERRORS = (FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError,
                PermissionError)


class CommandParser(argparse.ArgumentParser):
    """``argparse`` with one-line usage errors (exit 2) and ``-v`` / ``--debug`` everywhere.

    The flags may be given before or after the sub-command (``lirank-tf --debug train ...`` and
    ``lirank-tf train ... --debug``): sub-commands leave them unset unless given, and the top
    level parser sets both to False (`with_common_defaults`)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                          help="show TensorFlow's log lines and dependency warnings")
        self.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                          help="show the traceback of an error (also: LIRANK_DEBUG=1)")

    def with_common_defaults(self) -> "CommandParser":
        self.set_defaults(verbose=False, debug=False)
        return self

    def error(self, message: str):  # one line: what is wrong, and where to read more
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


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
