#!/usr/bin/env bash
# The CamVid ablation grid (nbs/results/camvid_ablation.toml) on one GPU machine: K shards side by side, each an
# independent process over every K-th config (benchmarks/ablate_shard.py), for at most T seconds; the finished runs
# of all shards are concatenated into OUT/results.jsonl. Runs left unfinished resume later with
#   seg-imbalance ablate nbs/results/camvid_ablation.toml --out nbs/results/camvid_ablation
# Expects ../shared/data/camvid and the library importable.  Usage: bash benchmarks/camvid_ablation_gpu.sh OUT [K] [T]
set -uo pipefail
out=$1; K=${2:-8}; T=${3:-450}; grid=${GRID:-nbs/results/camvid_ablation.toml}; tmp=$(mktemp -d)
export OMP_NUM_THREADS=2 PYTHONUNBUFFERED=1
mkdir -p "$out"
# decode every scene once into the shared disk cache before the shards start
python3 -c "
import time; t = time.time()
from seg_imbalance.ablate import load_configs
from seg_imbalance.recipes import load_data
ss, table, valid, rare = load_data(load_configs('$grid')['data'])
for s in ss: s.read_image(); s.read_mask()
print(f'{len(ss)} scenes, {len(table)} patches, {len(valid)} validation scenes, cached in {time.time() - t:.0f} s')
" || exit 1
for k in $(seq 0 $((K - 1))); do
  timeout "$T" python3 benchmarks/ablate_shard.py "$grid" "$k" "$K" "$tmp/r$k.jsonl" > "$tmp/log$k" 2>&1 &
done
wait
cat "$tmp"/r*.jsonl > "$out/results.jsonl" 2>/dev/null
for k in $(seq 0 $((K - 1))); do echo "== shard $k"; tail -n 30 "$tmp/log$k"; done > "$out/logs.txt"
echo "$(wc -l < "$out/results.jsonl") runs finished"
