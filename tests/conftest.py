"""Test-suite setup: quiet TensorFlow, small thread pools, and test helpers importable by name."""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

TESTS_DIR = Path(__file__).resolve().parent
for folder in sorted(p for p in TESTS_DIR.rglob("*") if p.is_dir() and "__pycache__" not in p.parts):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
