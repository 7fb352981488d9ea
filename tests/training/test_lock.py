"""`DirectoryLock`: one writer per run or export directory; a dead holder's lock is taken over."""

import os
import subprocess
import sys

import pytest

from lirank_tf.errors import UserError
from lirank_tf.training.lock import DirectoryLock


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_the_lock_file_lies_beside_the_directory_and_holds_the_pid(tmp_path):
    target = tmp_path / "run"
    with DirectoryLock(target) as lock:
        assert lock.path == tmp_path / ".run.lock"
        assert lock.path.read_text().split()[0] == str(os.getpid())
        assert not target.exists()                    # locking creates nothing in the directory
    assert not lock.path.exists()


def test_a_second_holder_is_refused_with_the_pid_and_the_lock_file(tmp_path):
    with DirectoryLock(tmp_path / "run"):
        with pytest.raises(UserError, match=r"run directory .*run is in use by process \d+ on \S+ "
                                            r"\(lock file .*\.run\.lock\)"):
            DirectoryLock(tmp_path / "run").acquire()


def test_a_stale_lock_of_a_dead_process_is_taken_over_with_a_message(tmp_path, capsys):
    pid = _dead_pid()
    (tmp_path / ".run.lock").write_text(f"{pid} somehost\n")
    with DirectoryLock(tmp_path / "run") as lock:
        assert lock.path.read_text().split()[0] != str(pid)
    err = capsys.readouterr().err
    assert f"process {pid}" in err and "no longer" in err and "taking over" in err, err


def test_an_invalid_argument_is_named():
    with pytest.raises(ValueError, match="what must be a non-empty description"):
        DirectoryLock("x", what="")


def test_explore_and_root_object_update_wait_for_no_one(tmp_path):
    """`lirank-tf explore` and `root-objects update` take the directory's lock: while another
    process holds it they stop with the holder named, before reading or writing anything."""
    import subprocess
    import sys
    import textwrap

    from lirank_tf import workflow
    from lirank_tf.training.lock import DirectoryInUseError

    run, export = tmp_path / "run", tmp_path / "export"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from lirank_tf.training.lock import DirectoryLock
        with DirectoryLock({str(run)!r}), DirectoryLock({str(export)!r}, "export directory"):
            print("held", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        import pytest
        from unittest import mock
        with mock.patch.object(workflow, "load_run", return_value=(None, None, None)), \
                mock.patch("lirank_tf.explore.run_posterior.update_run_posterior") as update:
            with pytest.raises(DirectoryInUseError, match=str(holder.pid)):
                workflow.explore_run(run)
            update.assert_not_called()
        with mock.patch.object(workflow, "_load_root_objects", return_value=object()), \
                mock.patch("lirank_tf.wide.update_root_object_table") as update:
            with pytest.raises(DirectoryInUseError, match=str(holder.pid)):
                workflow.update_root_objects(export, tmp_path / "table.tsv")
            update.assert_not_called()
    finally:
        holder.kill()
        holder.wait()
