"""`pip install ".[cpu]"` builds under pip's build isolation: the build requirements bring the
TensorFlow the C++ ops are compiled against, and it is the one the runtime pins."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        match = re.match(r"^\s*([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def test_build_requirements_pin_the_runtime_tensorflow():
    build = _pins(tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"])
    constraints = _pins((ROOT / "constraints.txt").read_text().splitlines())
    setup = (ROOT / "setup.py").read_text()
    assert build["tensorflow-cpu"] == constraints["tensorflow-cpu"] == constraints["tensorflow"]
    for extra in ("cpu", "gpu"):
        pinned = re.search(rf'"{extra}": \["tensorflow(?:-cpu|\[and-cuda\])==([^"]+)"\]', setup)
        assert pinned is not None and pinned.group(1) == build["tensorflow-cpu"]
