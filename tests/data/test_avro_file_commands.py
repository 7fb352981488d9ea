"""``lirank-tf train`` on a corrupt Avro file: exit status 2 and one line naming the file and the
byte offset, never a segfault (issue 18, finding 1: a huge block-size varint made the
preflight check ask ``tf.io.gfile.GFile.read`` for 2**62 bytes, exit 139)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from avro_corruption import ROWS_SCHEMA, block_spans, encode_long, rows, valid_file
from avro_corruption import with_block_header
from lirank_tf.init_config import init_config


def _train(config: Path, run: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "lirank_tf", "train", "--config", str(config),
                           "--output-dir", str(run)], env=environment, capture_output=True,
                          text=True, timeout=300)


def test_train_on_a_huge_block_size_varint_exits_2_naming_file_and_offset(tmp_path):
    train = tmp_path / "train.avro"
    data = valid_file(ROWS_SCHEMA, rows(400), "deflate", sync_interval=2000)
    train.write_bytes(data)
    config = init_config([str(train)], ["clicked"], tmp_path / "run.yaml")
    block = block_spans(data)[1]
    train.write_bytes(with_block_header(data, block, size=encode_long(2**62)))
    result = _train(config, tmp_path / "run")
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    assert f"{train}: byte {block.start}: " in result.stderr, result.stderr
    assert "Traceback" not in result.stderr

