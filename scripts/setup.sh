#!/usr/bin/env bash
# Sets up lirank-tf on a fresh Linux machine: a virtual environment in the repo (.venv), the
# pinned stack of constraints.txt, horovod 0.28.1 built from source with Gloo + TensorFlow, and
# the project's C++ ops. Idempotent: every step is skipped when its inputs have not changed,
# so a second run on a set-up machine takes seconds.
#
# LIRANK_DEVICE=cpu|gpu|auto (default auto: gpu when `nvidia-smi -L` lists a GPU). gpu installs
# tensorflow[and-cuda] 2.16.2 instead of tensorflow-cpu and builds horovod with NCCL for the
# GPU allreduce / allgather / alltoall (needs the CUDA toolkit, nvcc, on the host; NCCL comes
# from the nvidia-nccl-cu12 wheel that tensorflow[and-cuda] installs).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LIRANK_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3.11}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/lirank-tf"
STAMPS="$VENV/.lirank-stamps"
cd "$ROOT"

log() { printf '[setup] %s\n' "$*"; }
# TensorFlow's C++ start-up lines (oneDNN, CPU features) say nothing about the set-up
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"

DEVICE="${LIRANK_DEVICE:-auto}"
if [ "$DEVICE" = auto ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
    DEVICE=gpu
  else
    DEVICE=cpu
  fi
fi
case "$DEVICE" in
  cpu|gpu) log "device: $DEVICE" ;;
  *) echo "[setup] LIRANK_DEVICE must be cpu, gpu or auto, got '$DEVICE'" >&2; exit 1 ;;
esac
digest() { cat "$@" | sha256sum | cut -c1-16; }

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "[setup] $PYTHON not found: lirank-tf needs Python 3.11 (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi

# 1. Virtual environment.
if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
mkdir -p "$STAMPS" "$CACHE/wheels"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
# pip's noise about absent mirror folders of this machine's pip.conf says nothing about us.
quiet() { "$@" 2>&1 | { grep -v -e "is ignored: it is neither a file nor a directory" -e "DEPRECATION: Legacy editable" || true; }; }

# 2. The pinned stack.
deps_key="$DEVICE-$(digest constraints.txt requirements.txt requirements-dev.txt)"
if [ "$(cat "$STAMPS/deps" 2>/dev/null)" != "$deps_key" ]; then
  log "installing the pinned stack (constraints.txt)"
  quiet "${PIP[@]}" install -q --upgrade "pip<25" "setuptools<76" wheel
  requirements="requirements.txt"
  if [ "$DEVICE" = gpu ]; then   # the same stack with the CUDA build of TensorFlow
    requirements="$STAMPS/requirements-gpu.txt"
    sed 's/^tensorflow-cpu$/tensorflow[and-cuda]/' requirements.txt > "$requirements"
    "${PIP[@]}" uninstall -q -y tensorflow-cpu >/dev/null 2>&1 || true
  fi
  quiet "${PIP[@]}" install -q -c constraints.txt -r "$requirements" -r requirements-dev.txt
  # TF Serving's PredictionLog protos (tests of the export's warm-up file), without the
  # `tensorflow` distribution its wheel requires
  quiet "${PIP[@]}" install -q --no-deps -c constraints.txt tensorflow-serving-api
  echo "$deps_key" > "$STAMPS/deps"
else
  log "pinned stack up to date"
fi

# 3. Horovod from source, with Gloo and TensorFlow, no MPI. The built wheel is cached per
#    TensorFlow version so that a rebuilt venv does not compile it again.
hvd_version="$(grep -E '^horovod==' constraints.txt | cut -d= -f3)"
tf_version="$("$VENV/bin/python" -c 'import importlib.metadata as m
for name in ("tensorflow-cpu", "tensorflow"):
    try:
        print(m.version(name)); break
    except m.PackageNotFoundError:
        pass')"
hvd_check="import horovod.tensorflow as h, sys; sys.exit(0 if h.gloo_built() else 1)"
hvd_env=()
if [ "$DEVICE" = gpu ]; then
  hvd_check="import horovod.tensorflow as h, sys; sys.exit(0 if h.gloo_built() and h.nccl_built() else 1)"
  # NCCL of the nvidia-nccl-cu12 wheel; horovod's CMake looks for libnccl.so
  nccl_home="$("$VENV/bin/python" -c 'import nvidia.nccl as n; print(list(n.__path__)[0])')"
  [ -e "$nccl_home/lib/libnccl.so" ] || ln -s libnccl.so.2 "$nccl_home/lib/libnccl.so"
  hvd_env=(HOROVOD_GPU_OPERATIONS=NCCL HOROVOD_NCCL_HOME="$nccl_home" HOROVOD_NCCL_LINK=SHARED)
fi
if "$VENV/bin/python" -c "$hvd_check" >/dev/null 2>&1; then
  log "horovod $hvd_version (Gloo, TensorFlow${hvd_env:+, NCCL}) already built"
else
  wheel_dir="$CACHE/wheels/horovod-$hvd_version-tf$tf_version${hvd_env:+-nccl}"
  if ! ls "$wheel_dir"/horovod-*.whl >/dev/null 2>&1; then
    log "building horovod $hvd_version from source with Gloo${hvd_env:+ and NCCL} (takes about 4 minutes)"
    mkdir -p "$wheel_dir"
    env "${hvd_env[@]}" HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1 \
    HOROVOD_WITHOUT_PYTORCH=1 HOROVOD_WITHOUT_MXNET=1 MAKEFLAGS="-j$(nproc)" \
      "${PIP[@]}" wheel -q --no-deps --no-build-isolation --no-cache-dir \
      -w "$wheel_dir" "horovod==$hvd_version" 2>&1 | \
      { grep -v -e "is ignored: it is neither a file nor a directory" || true; }
  fi
  quiet "${PIP[@]}" install -q --no-deps --force-reinstall "$wheel_dir"/horovod-*.whl
  quiet "${PIP[@]}" install -q -c constraints.txt cloudpickle psutil pyyaml
  "$VENV/bin/python" -c "$hvd_check" || { echo "[setup] horovod was built without Gloo${hvd_env:+ or NCCL}" >&2; exit 1; }
fi

# 4. The project itself (editable) and its C++ ops, rebuilt only when their sources change.
ops_key="$(digest setup.py $(find custom_ops -type f \( -name '*.cc' -o -name '*.h' \) | sort))"
if [ "$(cat "$STAMPS/project" 2>/dev/null)" != "$ops_key" ] || \
   ! "$VENV/bin/python" -c "import lirank_tf.ops.library as l; l.load_ops_library()" >/dev/null 2>&1; then
  log "building the C++ ops and installing lirank-tf (editable)"
  "$VENV/bin/python" setup.py -q build_custom_ops
  quiet "${PIP[@]}" install -q --no-deps --no-build-isolation -e .
  echo "$ops_key" > "$STAMPS/project"
else
  log "lirank-tf and its C++ ops up to date"
fi

# 5. Debian's chromium, which the test of the evaluation's report.html renders it with
#    (headless). Optional: without root or apt-get, or when apt fails, that test is skipped.
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  log "chromium present (report.html test)"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  log "installing Debian's chromium (headless rendering of report.html in the tests)"
  apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1; }
  if ! apt_install && ! { apt-get update -q >/dev/null 2>&1 && apt_install; }; then
    log "apt-get could not install chromium: the report.html browser test will be skipped"
  fi
else
  log "chromium not installed (needs root and apt-get): the report.html browser test will be skipped"
fi
log "ready: $VENV"
