"""Packaging for lirank-tf, and the build of its C++ TensorFlow ops.

The ops in ``custom_ops/`` are compiled into one shared library,
``lirank_tf/ops/_lirank_ops.so``, with the compile and link flags that the installed
TensorFlow reports through ``tf.sysconfig`` (never a hard-coded ABI), as C++17.

    python setup.py build_custom_ops        # in place, incremental (objects are cached)
    pip install --no-build-isolation .      # builds the ops into the wheel as well
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from setuptools import Command, find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

ROOT = Path(__file__).resolve().parent
OPS_SOURCE_DIR = ROOT / "custom_ops"
OPS_LIBRARY_NAME = "_lirank_ops.so"
OPS_PACKAGE_DIR = Path("lirank_tf") / "ops"


def _op_sources() -> list[Path]:
    """Every C++ translation unit of the op library (test drivers excluded)."""
    return sorted(p for p in OPS_SOURCE_DIR.rglob("*.cc") if not p.name.endswith("_test.cc"))


def _tf_flags() -> tuple[list[str], list[str]]:
    """Compile and link flags of the TensorFlow that is installed in this interpreter."""
    import tensorflow as tf  # imported late: setup.py must parse without TensorFlow

    return list(tf.sysconfig.get_compile_flags()), list(tf.sysconfig.get_link_flags())


def compile_ops_library(output: Path, object_dir: Path, jobs: int | None = None,
                        verbose: bool = False) -> Path:
    """Compiles custom_ops/**/*.cc into ``output``; unchanged objects are reused. Prints each
    compiler command with ``verbose`` (``setup.py -v``), else one line per library."""
    compile_flags, link_flags = _tf_flags()
    cxx = os.environ.get("CXX", "g++")
    common = ["-std=c++17", "-O2", "-fPIC", "-Wall", "-Wno-sign-compare", f"-I{OPS_SOURCE_DIR}"]
    headers = sorted(OPS_SOURCE_DIR.rglob("*.h"))
    newest_header = max((h.stat().st_mtime for h in headers), default=0.0)
    object_dir.mkdir(parents=True, exist_ok=True)

    def build_object(source: Path) -> Path:
        obj = object_dir / (str(source.relative_to(OPS_SOURCE_DIR)).replace(os.sep, "__") + ".o")
        if obj.exists() and obj.stat().st_mtime >= max(source.stat().st_mtime, newest_header):
            return obj
        cmd = [cxx, *common, *compile_flags, "-c", str(source), "-o", str(obj)]
        if verbose:
            print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        return obj

    sources = _op_sources()
    if not sources:
        raise RuntimeError(f"no C++ sources found under {OPS_SOURCE_DIR}")
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        objects = list(pool.map(build_object, sources))
    output.parent.mkdir(parents=True, exist_ok=True)
    newest_object = max(o.stat().st_mtime for o in objects)
    if not output.exists() or output.stat().st_mtime < newest_object:
        cmd = [cxx, "-shared", *map(str, objects), "-o", str(output), *link_flags, "-lz"]
        print(" ".join(cmd) if verbose else f"compiled {len(sources)} C++ sources into {output}",
              flush=True)
        subprocess.run(cmd, check=True)
    return output


class BuildCustomOps(Command):
    """``python setup.py build_custom_ops``: builds the op library next to its loader."""

    description = "compile the C++ TensorFlow ops in custom_ops/ with tf.sysconfig flags"
    user_options = [("jobs=", "j", "parallel compile jobs (default: number of cores)")]

    def initialize_options(self) -> None:
        self.jobs = None

    def finalize_options(self) -> None:
        self.jobs = int(self.jobs) if self.jobs else None

    def run(self) -> None:
        compile_ops_library(ROOT / OPS_PACKAGE_DIR / OPS_LIBRARY_NAME,
                            ROOT / "build" / "ops_objects", self.jobs, verbose=self.verbose > 1)


class BuildPyWithOps(build_py):
    """Builds the op library into the wheel on a regular (non-editable) install."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            compile_ops_library(Path(self.build_lib) / OPS_PACKAGE_DIR / OPS_LIBRARY_NAME,
                                Path(self.build_temp if hasattr(self, "build_temp") else "build")
                                / "ops_objects", verbose=self.verbose > 1)


class BinaryDistribution(Distribution):
    """The wheel holds a compiled library: tag it for this Python and platform, not 'any'."""

    def has_ext_modules(self) -> bool:
        return True


setup(
    name="lirank-tf",
    version="0.1.0",
    description="LinkedIn's LiRank ranking framework (KDD'24) in TensorFlow/Keras",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8") if (ROOT / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["lirank_tf", "lirank_tf.*"]),
    package_data={"lirank_tf.ops": [OPS_LIBRARY_NAME], "lirank_tf": ["**/*.avsc", "**/*.yaml"]},
    install_requires=[
        # TensorFlow itself comes from an extra: [cpu] (the default of scripts/setup.sh) or
        # [gpu] on CUDA hosts; both pin 2.16.2 (see constraints.txt for why).
        "keras>=3.0",
        "tensorflow-io==0.37.1",
        "numpy>=1.26,<2",
        "mmh3",
        "fastavro",
        "cramjam",
        "pyyaml",
        "matplotlib",
        "psutil",
        "optuna>=4.0",  # lirank-tf tune (TPE search, median pruning, SQLite study)
    ],
    extras_require={
        "cpu": ["tensorflow-cpu==2.16.2"],
        "gpu": ["tensorflow[and-cuda]==2.16.2"],
        "distributed": ["horovod==0.28.1"],
        "parquet": ["pyarrow==20.0.0"],  # lirank-tf import of Parquet files
        "test": ["pytest", "avro", "nbformat", "nbclient", "ipykernel", "pandas", "pyarrow==20.0.0"],
        # benchmarks/own_data.py's reference DCN-V2 (DeepCTR, run under tf-keras). tf-keras
        # requires the `tensorflow` distribution, so beside tensorflow-cpu install these two
        # with `pip install -c constraints.txt --no-deps tf-keras==2.16.0 deepctr==0.9.4`
        "bench": ["tf-keras==2.16.0", "deepctr==0.9.4"],
        # TF Serving's protos, to parse an export's warm-up file (lirank_tf.serving.warmup
        # writes and reads it without them); requires `tensorflow`: beside tensorflow-cpu
        # install it with `pip install --no-deps tensorflow-serving-api==2.16.1`
        "serving": ["tensorflow-serving-api==2.16.1"],
    },
    entry_points={"console_scripts": ["lirank-tf=lirank_tf.cli:main"]},
    cmdclass={"build_custom_ops": BuildCustomOps, "build_py": BuildPyWithOps},
    distclass=BinaryDistribution,
    zip_safe=False,
)
