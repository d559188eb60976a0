"""`--recipe search` against `--recipe baseline` and `--recipe auto` on the demo scenes, same budget and seeds.

    python benchmarks/search_demo.py --run          # train what is missing (nice), then collect
    python benchmarks/search_demo.py                # collect the runs already in --runs
    python benchmarks/search_demo.py --run --recipes search-trunk auto --out nbs/results/search_demo_v5.jsonl
                                                    # 'search-trunk': --recipe search --search-trunk 0.5 (--trunk)
    python benchmarks/search_demo.py --run --data ../shared/data/camvid --size 128 --recipes baseline auto \
        --rare Pole SignSymbol Fence Pedestrian Bicyclist --out nbs/results/camvid_train.jsonl
                                                    # the same on a scene folder (CamVid: its splits.csv, 101 val frames)
    python benchmarks/search_demo.py --run --data ../shared/data/camvid --size 128 --recipes auto auto-groups \
        --groups '^(.*)\d{3}$' --raw ...             # 'auto-groups': whole stretches of frames held back
    python benchmarks/search_demo.py --run ... --recipes auto dice=benchmarks/recipes/camvid_dice.toml
                                                    # 'NAME=FILE.toml': a recipe file, its runs named NAME

Each run is `seg-imbalance train demo --recipe R --steps 300 --size 64 --bs 16 --seed S --out RUNS/R_S` (every recipe
holds back the same part of the training side, 0.15 by default, so all train on the same rows; the search chooses on
that part only). Measured on the whole evaluation scenes (`summary.json`, `per_class.csv` of each run), never chosen on.
Also records each run's mIoU and rare-class mIoU on the held-back part after its calibration (`calibration.csv`), the
data the search chooses on. Writes one JSON line per run to `nbs/results/search_demo.jsonl` (commit, device, command, wall time) and prints the
per-recipe means over the seeds.
"""
import argparse, json, os, platform, subprocess, sys, time
from pathlib import Path
import numpy as np, pandas as pd
sys.path.insert(0, str(Path(__file__).parent))
from _common import cpu_name
from crossfit import run_trained

def _name(r:str) -> str:
    "The run's name: 'NAME' of a 'NAME=FILE.toml' entry of --recipes (a recipe file run under a name), else the entry"
    return r.split('=', 1)[0]

def _cmd(r, s, a, out) -> list:
    r = r.split('=', 1)[-1] # 'NAME=FILE.toml': the file is the recipe
    grp = r.endswith('-groups') # 'auto-groups': --recipe auto --holdback-groups PATTERN (whole groups held back)
    if grp and not a.groups: raise SystemExit(f"{r}: give --groups PATTERN")
    r = r.removesuffix('-groups')
    rec = ['search', '--search-trunk', str(a.trunk)] if r == 'search-trunk' else [r] # pilots branching from a baseline trunk
    rec += ['--holdback-groups', a.groups] if grp else []
    return ['seg-imbalance', 'train', a.data, '--recipe', *rec, '--steps', str(a.steps), '--size', str(a.size), '--bs',
            str(a.bs), '--seed', str(s), '--out', str(out)]

def _heldback(out:Path, rare:list) -> dict|None:
    "mIoU and rare-class mIoU on the held-back part, after the run's calibration (`calibration.csv`: the same for every recipe)"
    f = out/'calibration.csv'
    if not f.exists(): return None
    cal = pd.read_csv(f, index_col='class'); t = cal['IoU after'].dropna()
    r = [c for c in rare if c in t.index]
    return {'miou': float(t.mean()), 'rare_miou': float(t[r].mean()) if r else None,
            'iou_before': cal['IoU before'].dropna().to_dict(), 'iou_after': t.to_dict()} # per class, the biases' effect there

def _raw(out:Path, data:str, size:int, rare:list) -> dict|None:
    "The run's saved model scored again on the same evaluation scenes without its per-class biases (what calibration did)"
    sm = json.loads((out/'summary.json').read_text())
    if not sm.get('calibration'): return None
    f = out/'raw.json' # kept beside the run: a re-collection does not score it again
    if f.exists() and f.stat().st_mtime >= (out/'model.safetensors').stat().st_mtime:
        r = json.loads(f.read_text())
        if r.get('rare') == list(rare): return r['raw']
    from seg_imbalance.experiments import load_data
    from seg_imbalance.predict import load_model
    from seg_imbalance.interpret import evaluate_scenes
    src = data if data == 'demo' else str(Path(data).resolve()) # the spec `train` loaded (`cli.run_train`)
    ss = load_data({'source': src, 'size': size, 'valid_pct': 0.2})[0] # the scene set; the split is the run's own
    t = evaluate_scenes(load_model(out/'model'), ss, sm['valid_scenes'], calibrate=False, progress=False)
    iou = t['IoU'].to_dict()
    raw = {'miou': float(t['IoU'].mean()), 'rare_miou': float(np.mean([iou[c] for c in rare])), 'iou': iou,
           'precision': t['precision'].to_dict(), 'recall': t['recall'].to_dict()}
    f.write_text(json.dumps({'rare': list(rare), 'raw': raw})); return raw

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--runs', default='/tmp/search_demo'); p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--recipes', nargs='+', default=['search', 'baseline', 'auto'])
    p.add_argument('--steps', type=int, default=300); p.add_argument('--size', type=int, default=64)
    p.add_argument('--bs', type=int, default=16); p.add_argument('--run', action='store_true')
    p.add_argument('--trunk', type=float, default=0.5, help="--search-trunk of the 'search-trunk' runs")
    p.add_argument('--out', default='nbs/results/search_demo.jsonl')
    p.add_argument('--data', default='demo', help="'demo' or a scene folder (its splits.csv decides the evaluation frames)")
    p.add_argument('--raw', action='store_true', help='also score each calibrated run without its biases (`raw`)')
    p.add_argument('--rare', nargs='+', default=None, help="the classes of 'rare mIoU' (default: each run's own rare classes)")
    p.add_argument('--groups', default=None, help="--holdback-groups of the runs named R-groups (e.g. 'auto-groups')")
    p.add_argument('--commit', default=None, help='the commit the runs were trained at, for runs whose summary.json does not '
                   'record it (default: HEAD now)')
    a = p.parse_args()
    runs = Path(a.runs); runs.mkdir(parents=True, exist_ok=True)
    commit = a.commit or subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True, text=True).stdout.strip() or None
    recs, old = [], Path(a.out)
    before = {(r['name'], r['seed']): r.get('wall_s') for r in map(json.loads, old.read_text().splitlines())} if old.exists() else {}
    for s in a.seeds:
        for r in a.recipes:
            out = runs/f'{_name(r)}_{s}'; wall = None
            if a.run and not (out/'summary.json').exists():
                t0 = time.time(); subprocess.run(['nice', '-n', '10', *_cmd(r, s, a, out)], check=True,
                                                 stdout=subprocess.DEVNULL); wall = round(time.time() - t0, 1)
            if not (out/'summary.json').exists(): print(f'missing: {out}', file=sys.stderr); continue
            sm = json.loads((out/'summary.json').read_text())
            where = run_trained(sm, a.commit, out); where['commit'] = where['commit'] or commit # where it trained
            pc = pd.read_csv(out/'per_class.csv', index_col='class'); iou = pc['IoU'].to_dict()
            rare = a.rare or sm['rare'] # a fixed set (CamVid's five) or the classes `train` found rare
            if a.rare and not set(rare) <= set(iou): raise SystemExit(f'--rare: {sorted(set(rare) - set(iou))} not in {out}')
            done = runs/'done.txt' # wall times of the shell loop that ran them, when it did
            if wall is None and done.exists():
                wall = next((float(l.split()[3]) for l in done.read_text().splitlines() if l.split()[:2] == [_name(r), str(s)]), None)
            if wall is None: wall = before.get((_name(r), s)) # a re-collection keeps the wall time of the run
            rmiou = sum(iou[c] for c in rare) / len(rare) if a.rare else sm.get('rare_miou')
            recs.append({'name': _name(r), 'seed': s, 'recipe': sm['recipe'], 'miou': sm['mIoU'], 'rare_miou': rmiou,
                         'heldback': _heldback(out, rare), 'raw': _raw(out, a.data, a.size, rare) if a.raw else None,
                         'iou': iou, 'precision': pc['precision'].to_dict(), 'recall': pc['recall'].to_dict(), 'rare': rare, 'data': a.data, 'steps': sm['steps'], 'budget': a.steps,
                         'search_steps': sm.get('search_steps'), 'search': sm.get('search'),
                         'holdback': sm.get('holdback'), 'n_valid_scenes': sm['n_valid_scenes'], 'threads': sm.get('threads'),
                         'command': ' '.join(_cmd(r, s, a, out)), 'wall_s': wall, 'commit': where['commit'],
                         'device': where.get('device') or f'cpu: {cpu_name()}, {os.cpu_count()} cores (shared)',
                         'host': where.get('host') or platform.node()})
    if not recs: raise SystemExit(f'no finished run in {runs}: add --run to train them')
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(''.join(json.dumps(r) + '\n' for r in recs))
    df = pd.DataFrame(recs)
    print(df[['name', 'seed', 'recipe', 'steps', 'miou', 'rare_miou']].to_string(index=False, float_format='{:.3f}'.format))
    print(df.groupby('name')[['miou', 'rare_miou']].agg(['mean', 'std']).to_string(float_format='{:.3f}'.format))
    print(f'written: {a.out}')

if __name__ == '__main__': main()
