"""One shard of an ablation grid: configs k, k+K, k+2K, ... of a TOML file, every seed, into their own results file.

Several shards run side by side as independent processes (a failing config stops only its shard); their results
files are then concatenated into one (`ablate.read_results` reads it like any other). Used by
`benchmarks/camvid_ablation_gpu.sh`:  python benchmarks/ablate_shard.py GRID.toml K_INDEX K RESULTS.jsonl
"""
import sys
from seg_imbalance.ablate import load_configs, ablate
from seg_imbalance.recipes import run_one, CONFIG_KEYS

if __name__ == '__main__':
    toml, k, n, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    spec = load_configs(toml, allowed_keys=CONFIG_KEYS)
    spec['configs'] = spec['configs'][k::n]
    for r in ablate(**spec, run_fn=run_one, results=out, progress=False):
        print(f"{r['name']:24s} seed {r['seed']}  mIoU {r['miou']:.3f}  rare {r['rare_miou']:.3f}  "
              f"{r['wall_time']:.0f} s", flush=True)
