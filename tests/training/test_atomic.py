"""`lirank_tf.training.atomic`: files written whole, directories published without a moment
where the target is missing or half written."""

import pytest

from lirank_tf.training import atomic
from lirank_tf.training.atomic import publish_directory, recover_publish, write_json_atomic


def _directory(path, name, text):
    path.mkdir()
    (path / name).write_text(text)
    return path


def test_a_json_file_is_replaced_whole_and_no_temporary_is_left(tmp_path):
    write_json_atomic(tmp_path / "run.json", {"state": "running"})
    write_json_atomic(tmp_path / "run.json", {"state": "finished"})
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]
    assert '"finished"' in (tmp_path / "run.json").read_text()


def test_publishing_never_replaces_a_target_without_replace(tmp_path):
    staged = _directory(tmp_path / ".export.partial", "new.txt", "new")
    publish_directory(staged, tmp_path / "export")
    assert (tmp_path / "export" / "new.txt").read_text() == "new" and not staged.exists()
    staged = _directory(tmp_path / ".export.partial", "newer.txt", "newer")
    with pytest.raises(FileExistsError, match="--overwrite"):
        publish_directory(staged, tmp_path / "export")
    assert [p.name for p in (tmp_path / "export").iterdir()] == ["new.txt"]


@pytest.mark.parametrize("kernel_exchange", [True, False], ids=["renameat2", "two-renames"])
def test_replace_swaps_in_the_new_directory_and_removes_the_old(tmp_path, monkeypatch,
                                                                 kernel_exchange):
    if not kernel_exchange:
        monkeypatch.setattr(atomic, "_exchange", lambda first, second: False)
    _directory(tmp_path / "export", "old.txt", "old")
    staged = _directory(tmp_path / ".export.partial", "new.txt", "new")
    publish_directory(staged, tmp_path / "export", replace=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]
    assert [p.name for p in (tmp_path / "export").iterdir()] == ["new.txt"]


def test_a_swap_cut_short_is_recovered(tmp_path):
    _directory(tmp_path / ".export.old-123", "old.txt", "old")     # killed between the renames
    _directory(tmp_path / ".export.partial-123", "new.txt", "new")
    recover_publish(tmp_path / "export")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]
    assert (tmp_path / "export" / "old.txt").read_text() == "old"
