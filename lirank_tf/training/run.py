"""The life of a training run in its directory, with one owner: open (lock, decide), start,
record each epoch, finish or fail; and `load_run`, what a finished run holds.

    with Run(output_dir, config, overwrite=overwrite) as run:   # lock; refuse a finished run
        ...check the data, fit statistics, build and compile the model...
        run.start(statistics)                  # only now does the directory hold the run
        model.fit(..., callbacks=[run.history_callback(), ...])
        run.save_model(model)
        run.finish()

States (``DIR/run.json``, written atomically): new -> running -> finished | failed. Opening:

- a *finished* run refuses a new ``train`` (`FileExistsError`) unless ``overwrite``;
- an unfinished run (*running* after a kill, or *failed*) of the same config is resumed; of
  another config it is refused unless ``overwrite``, except when it trained no epoch (a start
  that died early), which is simply started again;
- nothing is written before `Run.start`, and a fresh run that fails before its first epoch is
  finished is removed again, so a failed start leaves the directory as it was.

Per-epoch logs are saved at each epoch's end (``run.json`` and ``history.json``); a resumed run
keeps those of the epochs before the one it resumes at, so its history holds every epoch.
"""

from __future__ import annotations

import datetime
import os
import shutil
import socket
import sys
from pathlib import Path

import keras

import lirank_tf.layers  # noqa: F401  (registers the serializable layers load_run reads)
import lirank_tf.models  # noqa: F401
import lirank_tf.training.optimizers  # noqa: F401  (registers the optimizer model.keras holds)
from lirank_tf.config import ExperimentConfig
from lirank_tf.training.atomic import write_json_atomic
from lirank_tf.training.lock import DirectoryLock
from lirank_tf.training.run_directory import (FAILED, FINISHED, FOREIGN, NEW, RUNNING,
                                              RunDirectory)
from lirank_tf.transform import DenseStatistics, IdVocabulary, TransformationModel


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class Run(RunDirectory):
    """A run directory owned by this process from `open` (or ``with``) to `close`.

    Args:
        path: str or Path, the run directory (created by `start`).
        config: the `ExperimentConfig` to train.
        overwrite: bool, default False. Replace a finished run or an unfinished one of
            another config (only once `start` is reached: a failed start keeps it).

    Attributes (after `open`):
        resuming: True when an interrupted run of this config is continued.
        epochs: list of dict, the logs of every epoch trained so far.
    """

    def __init__(self, path: str | Path, config: ExperimentConfig, *,
                 overwrite: bool = False) -> None:
        super().__init__(path)
        self.config, self.overwrite = config, overwrite
        self.lock = DirectoryLock(self.path, "run directory")
        self.resuming = False
        self.epochs: list[dict] = []
        self._record: dict = {}
        self._replace = False
        self._existed = False
        self._started = False
        self._new_epochs = 0

    def open(self) -> "Run":
        """Locks the directory and decides: new, resume or replace (see the module doc)."""
        self.lock.acquire()
        try:
            self._decide()
        except BaseException:
            self.lock.release()
            raise
        return self

    def _decide(self) -> None:
        state, where = self.state(), self.path
        self._existed = where.exists()
        if state == NEW:
            return
        if state == FOREIGN and not self.overwrite:
            raise FileExistsError(f"{where} is not empty and holds no run; pass --overwrite to "
                                  "replace its contents, or choose another --output-dir")
        if state == FINISHED and not self.overwrite:
            raise FileExistsError(
                f"{where} holds a finished run; train does not retrain it: pass --overwrite to "
                f"train it again from scratch, choose another --output-dir for a new run, or "
                f"continue from it with --incremental-from {where} --output-dir NEW_DIR")
        if state in (RUNNING, FAILED) and not self.overwrite and self.has_progress():
            if self.load_config().to_dict() != self.config.to_dict():
                raise FileExistsError(
                    f"{where} holds an unfinished run of another config ({self.config_path}, "
                    f"{self.epochs_done()} epoch(s) trained); resume it with `lirank-tf train "
                    f"--config {self.config_path} --output-dir {where}`, pass --overwrite to "
                    "replace it, or choose another --output-dir")
            self.resuming = True
            self._record = self.read_state()
            self.epochs = list(self._record.get("epochs", []))
            print(f"lirank-tf: resuming the unfinished run in {where} ({state}, "
                  f"{len(self.epochs)} epoch(s) trained)", file=sys.stderr, flush=True)
            return
        if state in (RUNNING, FAILED) and not self.overwrite:
            print(f"lirank-tf: {where} holds a start that trained no epoch ({state}); "
                  "starting the run again", file=sys.stderr, flush=True)
        self._replace = True

    def close(self) -> None:
        self.lock.release()

    def __enter__(self) -> "Run":
        return self.open()

    def __exit__(self, kind, error, traceback) -> None:
        try:
            if error is not None and self._started:
                self._fail(error)
        finally:
            self.close()

    def start(self, statistics: DenseStatistics | None = None,
              vocabulary: IdVocabulary | None = None) -> None:
        """From here the directory holds the run: clears what it replaces, writes the state
        (running), the resolved config, ``statistics`` (None: keep the saved ones) and the
        min-count ``vocabulary`` (None: none, or keep the saved one)."""
        if not self.lock.held:
            raise RuntimeError("Run.start before Run.open")
        if self._replace and self.path.exists():
            _clear(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._started = True
        self._record = {**self._record, "state": RUNNING, "pid": os.getpid(),
                        "host": socket.gethostname(), "updated": _now(), "epochs": self.epochs}
        self._record.setdefault("started", _now())
        if self.resuming:
            self._record["resumes"] = self._record.get("resumes", 0) + 1
        self._record.pop("error", None)
        self.write_state(self._record)
        if not self.resuming:
            self.save_config(self.config)
        if vocabulary is not None:   # before the statistics, whose file says "fitted" on resume
            self.save_vocabulary(vocabulary)
        if statistics is not None:
            self.save_statistics(statistics)

    @property
    def history(self) -> dict[str, list[float]]:
        """The epochs' logs as Keras' ``History.history``: each key's values, epoch by epoch."""
        history: dict[str, list[float]] = {}
        for logs in self.epochs:
            for key, value in logs.items():
                history.setdefault(key, []).append(value)
        return history

    def history_callback(self) -> keras.callbacks.Callback:
        """The callback that records each epoch into this run (put it after the callbacks
        that add to the epoch logs, and before ``BackupAndRestore``)."""
        return RunHistory(self)

    def record_epoch(self, epoch: int, logs: dict) -> None:
        """Saves the logs of ``epoch`` (0-based), dropping any saved for it or later."""
        self.epochs = self.epochs[:epoch] + [{k: float(v) for k, v in logs.items()}]
        self._new_epochs += 1
        self._record.update(epochs=self.epochs, updated=_now())
        self.write_state(self._record)
        write_json_atomic(self.history_path, self.history)

    def resume_at(self, epoch: int) -> None:
        """Forgets saved logs of epochs from ``epoch`` on (their training is redone)."""
        self.epochs = self.epochs[:epoch]

    def save_model(self, model: keras.Model) -> None:
        """Saves ``model.keras`` whole or not at all."""
        temporary = self.path / f".model.tmp-{os.getpid()}.keras"
        try:
            model.save(temporary)
            os.replace(temporary, self.model_path)
        finally:
            temporary.unlink(missing_ok=True)

    def finish(self, stopping: dict | None = None,
               calibration: dict | None = None) -> dict[str, list[float]]:
        """Marks the run finished (after everything it writes is written); returns its
        history, saved as ``history.json``. ``stopping`` (how ``model.fit`` ended,
        `lirank_tf.training.callbacks.stopping_record`) and ``calibration`` (the fitted Platt
        scaling, `lirank_tf.training.platt`) go into ``run.json``."""
        history = self.history
        write_json_atomic(self.history_path, history)
        shutil.rmtree(self.backup_dir, ignore_errors=True)
        if stopping is not None:
            self._record["stopping"] = stopping
        if calibration is not None:
            self._record["calibration"] = calibration
        self._record.update(state=FINISHED, finished=_now(), updated=_now())
        self.write_state(self._record)
        return history

    def _fail(self, error: BaseException) -> None:
        """A fresh run that trained no epoch is removed again (the directory as it was);
        otherwise the run is marked failed, resumable with the same config."""
        if not self.resuming and self._new_epochs == 0:
            if self._existed:
                _clear(self.path)
            else:
                shutil.rmtree(self.path, ignore_errors=True)
            return
        reason = "interrupted" if isinstance(error, KeyboardInterrupt) else str(error)
        self._record.update(state=FAILED, error=f"{type(error).__name__}: {reason}"[:2000],
                            updated=_now())
        self.write_state(self._record)


def check_finished_run(run_dir: str | Path, name: str = "run") -> Path:
    """``run_dir`` as a Path; ValueError naming ``name`` unless it holds a finished run."""
    run = RunDirectory(run_dir)
    if not run.path.is_dir():
        raise ValueError(f"{name} {str(run_dir)!r} is not a directory")
    if not run.config_path.exists():
        raise ValueError(f"{name} {str(run_dir)!r} is not a run directory of `lirank-tf train` "
                         f"({run.config_path.name} is missing)")
    if run.state() != FINISHED or not run.model_path.exists():
        raise ValueError(f"{name} {str(run_dir)!r} holds no finished run ({run.state()}"
                         f"{'' if run.model_path.exists() else ', no ' + run.model_path.name}): "
                         "run `lirank-tf train` on it again to resume it")
    return run.path


def load_run(run_dir: str | Path) -> tuple[ExperimentConfig, TransformationModel, keras.Model]:
    """The config, transformation model and trained ranking model of a finished run."""
    run = RunDirectory(run_dir)
    config = run.load_config()
    if run.state() != FINISHED or not run.model_path.exists():
        raise FileNotFoundError(f"{run.path} has no trained model ({run.model_path}): the run did "
                                f"not finish ({run.state()}); run `lirank-tf train` again to "
                                "resume it")
    transform = run.load_transformation(config)
    model = keras.saving.load_model(run.model_path)
    return config, transform, model


def _clear(directory: Path) -> None:
    """Removes everything in ``directory`` (not the directory itself)."""
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


class RunHistory(keras.callbacks.Callback):
    """Records every epoch's logs into a `Run` as training goes (``run.json`` and
    ``history.json``, atomically). At the first epoch of a resumed ``fit`` (Keras'
    ``BackupAndRestore`` or ``initial_epoch`` say which) the saved logs of that epoch and later
    ones are dropped, so the history matches the restored state.

    Args:
        run: the `Run` being trained.
    """

    def __init__(self, run: Run) -> None:
        super().__init__()
        self.run = run
        self._aligned = False

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if not self._aligned:
            self.run.resume_at(epoch)
            self._aligned = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.run.record_epoch(epoch, logs or {})
