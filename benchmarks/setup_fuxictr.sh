#!/usr/bin/env bash
# Creates (or completes) the separate venv the FuxiCTR DCNv2 peer of benchmarks/own_data.py
# runs in: PyTorch (CPU) + fuxictr 2.3.10 + its requirements and fastavro, pinned in
# benchmarks/requirements-fuxictr.txt. Idempotent: re-running only installs what is missing.
# The project's own venv is not touched.
#
#   bash benchmarks/setup_fuxictr.sh [VENV]   # default ~/.cache/lirank-tf/venvs/fuxictr
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${1:-$HOME/.cache/lirank-tf/venvs/fuxictr}"
python="${PYTHON:-python3.11}"
if [[ -e "$venv" && ! -f "$venv/pyvenv.cfg" ]]; then
    echo "setup_fuxictr.sh: $venv exists and is not a venv; pass another path" >&2
    exit 1
fi
if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    "$python" -m venv --clear "$venv"   # absent, or a half-made venv
fi
# fuxictr with --no-deps: its requirements are in the pinned file above
"$venv/bin/python" -m pip install -q -r "$here/requirements-fuxictr.txt"
"$venv/bin/python" -m pip install -q --no-deps fuxictr==2.3.10
"$venv/bin/python" -c "import fuxictr, torch, fastavro; from model_zoo.LongCTR import DCNv2" >/dev/null
echo "fuxictr venv ready: $venv/bin/python"
