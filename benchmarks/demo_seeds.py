"""`seg-imbalance demo` over several seeds: does the toolkit's default path fix the demo, or trade classes?

    nice python benchmarks/demo_seeds.py --seeds 0 1 2                 # the default budget (300 steps), ~3 runs
    python benchmarks/demo_seeds.py --seeds 0 --steps 20 --out /tmp/x.jsonl   # a smoke run

Each seed runs `demo.run_demo` (baseline vs the recommended recipe calibrated on held-back scenes, same rows, same
steps, scored on the whole validation scenes) and appends one JSON line to the results file (resumable: a seed already
there is skipped), with the commit and device. The table printed: per seed and mean ± std, rare-class mIoU gain and the
largest IoU loss of any class against the baseline. Goal (issue 17): gain >= +0.15, no class losing more than 0.02.
"""
import json, sys, tempfile
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).parent))
from _common import parser, run_info, print_table

def run(seed:int, steps:int) -> dict:
    from seg_imbalance.demo import run_demo
    with tempfile.TemporaryDirectory() as d:
        res = run_demo(d, steps=steps, seed=seed, quiet=True)
    comp, s = res['table'], res['summary']
    classes = [c for c in comp.index if c not in ('mIoU', 'rare-class mIoU')]
    gain = comp.loc[classes, 'IoU gain'].astype(float)
    return {'seed': seed, 'steps': steps, 'miou': {n: s[n]['miou'] for n in ('baseline', 'recommended')},
            'rare_miou': {n: s[n]['rare_miou'] for n in ('baseline', 'recommended')},
            'steps_done': {n: s[n]['steps'] for n in ('baseline', 'recommended')},
            'iou_gain': {c: float(v) for c, v in gain.items()}, 'worst_loss': float(np.nanmin(gain.values)),
            'warnings': s['warnings'], 'calibration': s.get('calibration'), 'recipe': s['recipe'].get('name')}

def table(recs:list) -> list[dict]:
    rows = [{'seed': r['seed'], 'rare mIoU gain': r['rare_miou']['recommended'] - r['rare_miou']['baseline'],
             'mIoU gain': r['miou']['recommended'] - r['miou']['baseline'], 'worst class IoU change': r['worst_loss'],
             'steps': r['steps_done']['recommended']} for r in recs]
    if len(rows) > 1:
        rows.append({'seed': 'mean ± std', **{k: f"{np.mean([x[k] for x in rows]):+.3f} ± {np.std([x[k] for x in rows], ddof=1):.3f}"
                                            for k in ('rare mIoU gain', 'mIoU gain', 'worst class IoU change')}, 'steps': rows[0]['steps']})
    return rows

if __name__ == '__main__':
    p = parser(__doc__.split('\n')[0], seeds=[0, 1, 2], out='nbs/results/demo_seeds.jsonl')
    p.add_argument('--steps', type=int, default=300)
    a = p.parse_args()
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    recs = [json.loads(l) for l in out.read_text().splitlines()] if out.exists() else []
    info = run_info('cpu')
    for s in a.seeds:
        if any(r['seed'] == s and r['steps'] == a.steps for r in recs): continue
        r = {**run(s, a.steps), 'run': info}
        with out.open('a') as f: f.write(json.dumps(r) + '\n')
        recs.append(r); print(f"seed {s} done", flush=True)
    print(f"commit {info.get('commit')} · {info.get('device_name', info.get('device'))}")
    print_table(table([r for r in recs if r['steps'] == a.steps]))
