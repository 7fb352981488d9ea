"""`export_run` publishes an export safely (issue 18, finding 9): one export at a time per
target, a target that appeared meanwhile is never replaced, and ``overwrite`` swaps a complete
new export in before the old one is removed."""

import shutil

import pytest

from lirank_tf import workflow
from lirank_tf.errors import UserError
from lirank_tf.training.trainer import train
from lirank_tf.workflow import export_run

from tiny_run import tiny_config


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("export_publish")
    return train(tiny_config(root), root / "run").run.path


def _files(directory):
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _leftovers(target):
    return sorted(p.name for p in target.parent.iterdir()
                  if p.name.startswith(f".{target.name}") and not p.name.endswith(".lock"))


def test_an_export_in_progress_refuses_a_second_one(run, tmp_path):
    from lirank_tf.training.lock import DirectoryLock

    target = tmp_path / "export"
    with DirectoryLock(target, "export directory"):
        with pytest.raises(UserError, match="in use by process"):
            export_run(run, target)
    assert not target.exists()
    assert export_run(run, target) == target and (target / "saved_model.pb").is_file()


def test_a_target_appearing_during_the_export_is_never_replaced(run, tmp_path, monkeypatch):
    target = tmp_path / "export"
    real = workflow.export_serving_model

    def racing(*args, **kwargs):
        path = real(*args, **kwargs)
        target.mkdir()                                     # another writer got there first
        (target / "theirs.txt").write_text("not yours")
        return path

    monkeypatch.setattr(workflow, "export_serving_model", racing)
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_run(run, target)
    assert _files(target) == {"theirs.txt": b"not yours"}
    assert _leftovers(target) == []


def test_overwrite_keeps_a_complete_export_at_the_target_at_every_moment(run, tmp_path,
                                                                         monkeypatch):
    target = export_run(run, tmp_path / "export")
    old = _files(target)
    real_rmtree, states = shutil.rmtree, []

    def watched_rmtree(path, *args, **kwargs):
        real_rmtree(path, *args, **kwargs)
        states.append((target / "saved_model.pb").is_file())

    def failing(*args, **kwargs):
        raise RuntimeError("the new export failed")

    with monkeypatch.context() as patch:                   # the new export fails: old one intact
        patch.setattr(workflow, "export_serving_model", failing)
        with pytest.raises(RuntimeError, match="new export failed"):
            export_run(run, target, overwrite=True)
    assert _files(target) == old and _leftovers(target) == []

    with monkeypatch.context() as patch:
        patch.setattr(shutil, "rmtree", watched_rmtree)
        assert export_run(run, target, overwrite=True) == target
    assert states and all(states), states
    assert (target / "saved_model.pb").is_file() and _leftovers(target) == []


def test_a_failed_swap_leaves_the_old_export_in_place(run, tmp_path, monkeypatch):
    from lirank_tf.training import atomic

    target = export_run(run, tmp_path / "export")
    old = _files(target)

    def broken(*args, **kwargs):
        raise OSError("disk went away")

    monkeypatch.setattr(atomic, "_swap", broken)
    with pytest.raises(OSError, match="disk went away"):
        export_run(run, target, overwrite=True)
    assert _files(target) == old and _leftovers(target) == []


def test_an_export_tf_serving_could_not_load_is_never_published(run, tmp_path, monkeypatch):
    """The check before publishing (`check_serving_load`): an export whose variables a TF1
    session would not restore (the Keras variables tracked themselves, the bug
    `backing_variables` fixed) fails the export, and the earlier export stays in place."""
    from lirank_tf.serving import export as export_module
    from lirank_tf.serving.session import ServingLoadError

    target = export_run(run, tmp_path / "export")
    old = _files(target)
    monkeypatch.setattr(export_module, "backing_variables", lambda model: list(model.variables))
    with pytest.raises(ServingLoadError, match="not restored when loaded as TF Serving"):
        export_run(run, target, overwrite=True)
    assert _files(target) == old and _leftovers(target) == []
    fresh = tmp_path / "fresh"
    with pytest.raises(ServingLoadError):
        export_run(run, fresh)
    assert not fresh.exists() and _leftovers(fresh) == []
