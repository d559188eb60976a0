#!/usr/bin/env bash
# seg_imbalance: the two set-up commands of the README.
#   bash run.sh demo [seg-imbalance demo options]   create .venv, install, train on the built-in demo data
#   bash run.sh test                                create .venv, install, check notebooks/library sync, nbdev-test, pytest
set -euo pipefail
cd "$(dirname "$0")"
export NO_ALBUMENTATIONS_UPDATE=1 MPLBACKEND=Agg PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::FutureWarning}"
# OpenMP threads that spin while waiting slow torch on a busy 2-core machine by 10x (benchmarks/train_throughput.py)
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"

ensure_env() {
  local py=${PYTHON:-python3}
  [ -x .venv/bin/python ] || "$py" -m venv .venv
  # Re-install only when pyproject.toml changed since the last install.
  local stamp=".venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    echo "== installing seg_imbalance and its dependencies into .venv (a few minutes on a fresh machine)"
    # The venv takes about 7 GB (every torch build pip finds here is a CUDA build); pip's cache would double the
    # downloads on disk, so it is off.
    local free_gb; free_gb=$(df -Pk . | awk 'NR==2 {print int($4 / 1048576)}')
    [ "$free_gb" -ge 8 ] || echo "   warning: $free_gb GB free on $(df -P . | awk 'NR==2 {print $6}'); the install needs about 7 GB"
    if ! .venv/bin/pip install --disable-pip-version-check --no-cache-dir -q -e '.[dev]' > .venv/install.log 2>&1; then
      grep -v '^WARNING: Location' .venv/install.log | tail -30
      if grep -q 'No space left on device' .venv/install.log; then
        echo "pip install failed: the disk is full ($(df -Ph . | awk 'NR==2 {print $4}') free; the venv needs about 7 GB)"
      fi
      echo "pip install failed: see .venv/install.log"; exit 1
    fi
    rm -f .venv/.installed-*; touch "$stamp"
  fi
  export PATH="$PWD/.venv/bin:$PATH"
}

snapshot() { git ls-files -co --exclude-standard -- nbs seg_imbalance | sort | xargs -r sha1sum; }

check_sync() {
  echo "== nbdev-export + nbdev-clean must leave the notebooks and the library unchanged"
  local before after
  before=$(snapshot); nbdev-export; nbdev-clean; after=$(snapshot)
  if [ "$before" != "$after" ]; then
    echo "FAILED: these files changed under nbdev-export/nbdev-clean (run both, then commit):"
    diff <(echo "$before") <(echo "$after") | grep '^[<>]' | awk '{print $3}' | sort -u
    exit 1
  fi
}

case "${1:-}" in
  demo) shift; ensure_env; seg-imbalance demo "$@" ;;
  test)
    shift; ensure_env; start=$(date +%s)
    check_sync
    echo "== nbdev-test (each notebook in a fresh process, two at a time; cells flagged slow/cuda skipped)"
    # nbdev-test --n-workers reuses worker processes, so one notebook's imports (fastai patches torch.Tensor) leak
    # into the next; a fresh process per notebook tests each one as a reader runs it.
    export NBTEST_ARGS="$*"
    ls nbs/*.ipynb | grep -v '/_' | xargs -P 2 -n 1 bash -c 'out=$(nbdev-test $NBTEST_ARGS "$0" 2>&1) \
      && echo "  ok    $0" || { echo "  FAIL  $0"; echo "$out" | tail -40; exit 255; }' \
      || { echo "FAILED: nbdev-test"; exit 1; }
    echo "== pytest tests/"
    python -m pytest tests -q -p no:cacheprovider
    echo "== total $(( $(date +%s) - start )) s" ;;
  *) echo "usage: bash run.sh demo [options] | bash run.sh test"; exit 2 ;;
esac
