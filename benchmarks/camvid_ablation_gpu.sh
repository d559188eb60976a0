#!/usr/bin/env bash
# The CamVid ablation grid (nbs/results/camvid_ablation.toml) on one GPU machine: K shards side by side, each an
# independent `seg-imbalance ablate --shard k/K` process (the runs of index ≡ k mod K of the grid, seed by seed), for at
# most T seconds; then `seg-imbalance ablate --merge` joins the finished runs of all shards (each run once) with those
# already in OUT/results.jsonl, and writes the summary, figures, warnings.txt and history/ into OUT. Each shard starts
# from OUT/results.jsonl, so runs finished earlier are skipped. Runs left unfinished resume with a second call, or with
#   seg-imbalance ablate nbs/results/camvid_ablation.toml --out nbs/results/camvid_ablation
# Expects ../shared/data/camvid and the library importable.  Usage: bash benchmarks/camvid_ablation_gpu.sh OUT [K] [T]
set -uo pipefail
out=$1; K=${2:-8}; T=${3:-450}; grid=${GRID:-nbs/results/camvid_ablation.toml}; tmp=$(mktemp -d)
export OMP_NUM_THREADS=2 PYTHONUNBUFFERED=1
cli="python3 -c 'import sys; from seg_imbalance.cli import main; sys.exit(main())'"
mkdir -p "$out"
# decode every scene once into the shared disk cache before the shards start
python3 -c "
import time; t = time.time()
from seg_imbalance.ablate import load_configs
from seg_imbalance.experiments import load_data
ss, table, valid, rare = load_data(load_configs('$grid')['data'])
for s in ss: s.read_image(); s.read_mask()
print(f'{len(ss)} scenes, {len(table)} patches, {len(valid)} validation scenes, cached in {time.time() - t:.0f} s')
" || exit 1
for k in $(seq 0 $((K - 1))); do
  mkdir -p "$tmp/s$k"; [ -f "$out/results.jsonl" ] && cp "$out/results.jsonl" "$tmp/s$k/results.jsonl"
  timeout "$T" bash -c "$cli ablate '$grid' --shard $k/$K --out '$tmp/s$k'" > "$tmp/log$k" 2>&1 &
done
wait
for k in $(seq 0 $((K - 1))); do echo "== shard $k"; tail -n 30 "$tmp/log$k"; done > "$out/logs.txt"
bash -c "$cli ablate '$grid' --merge $(for k in $(seq 0 $((K - 1))); do printf "'%s' " "$tmp/s$k"; done) --out '$out'"
echo "$(wc -l < "$out/results.jsonl") runs finished"
