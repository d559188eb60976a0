"""Does a calibration floored at the baseline's held-back IoU remove the demo's trade, or only move it?

    nice python benchmarks/demo_floor.py --seeds 0 1 2            # train what --models lacks, then measure (~10 min a seed on 2 CPU cores)
    python benchmarks/demo_floor.py --seeds 0 --steps 10 --out /tmp/f.jsonl --models /tmp/fm   # a smoke run

Per seed, as `seg-imbalance demo` does (`demo.run_demo`): the demo scenes, the same evaluation scenes, the same held-back
scenes (`data.holdback`, 0.15) and training rows; the baseline and the recommended recipe trained uncalibrated at the
same steps and saved (`--models`, so a rerun measures again without training). Then the recommended model is scored on
the whole evaluation scenes three ways: raw, calibrated (`calibrate_heldback`, mIoU ascent: `demo`'s default) and
calibrated with a floor (`floor=iou_floor(baseline's held-back table)`). Each line of the results file holds, per way,
the per-class IoU change against the baseline on the evaluation scenes *and* on the held-back scenes: the floor can
only act on what the held-back scenes show. The commit and device of the training and of the measuring are recorded.

    python benchmarks/demo_floor.py --runs /tmp/cal/auto_0=/tmp/cal/baseline_0 --data ../shared/data/camvid --size 128 \
        --out nbs/results/camvid_floor.jsonl          # saved `train` runs: REMEDY=BASELINE of one seed and held-back part

With `--runs`, the same three ways for a saved `train` run against the baseline run that held back the same frames and
evaluates the same ones. The baseline is taken as `train` stored it (with its biases), as `--recipe search` takes the
baseline pilot: the floor is its held-back IoU after its biases.
"""
import json, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).parent))
from _common import parser, run_info, print_table, append_record

def train(d:Path, seed:int, steps:int, info:dict, bs:int=16) -> dict:
    "Train and save the demo's two runs for `seed` into `d` (skipped when there); the steps and the training facts"
    from seg_imbalance.demo import demo_split
    from seg_imbalance.recipe import get_recipe
    from seg_imbalance.fit import run_recipe
    from seg_imbalance.predict import save_model
    if (d/'meta.json').exists(): return json.loads((d/'meta.json').read_text())
    d.mkdir(parents=True, exist_ok=True)
    ss, table, valid, hb, rec = demo_split(seed, bs=bs) # `run_demo`'s data, split and recipe
    for n, r in (('baseline', 'baseline'), ('recommended', rec)):
        res = run_recipe(get_recipe(r), ss, table, valid, rare=list(rec.rare), steps=steps, bs=bs, seed=seed, holdback=hb)
        save_model(res['learn'], d/n)
    meta = {'steps': steps, 'trained': info} # the split is `demo_split(seed)`'s: derived again, never stored
    (d/'meta.json').write_text(json.dumps(meta))
    return meta

def measure(d:Path, seed:int, meta:dict) -> dict:
    "The recommended model raw, calibrated and calibrated with the baseline's floor, against the baseline"
    from seg_imbalance.demo import demo_split
    from seg_imbalance.predict import load_model
    ss, _, valid, hb, rec = demo_split(seed)
    return {'seed': seed, 'steps': meta['steps'], **_three(load_model(d/'recommended'), load_model(d/'baseline'), ss, valid,
                                                           hb, list(rec.rare))}

def _three(model, base, ss, valid, hb, rare:list) -> dict:
    "`model` raw, calibrated and calibrated with `base`'s held-back floor: scores and per-class IoU changes against `base`"
    from seg_imbalance.fit import evaluate_heldback, calibrate_heldback
    from seg_imbalance.interpret import evaluate_scenes
    from seg_imbalance.calibrate import iou_floor
    ev = lambda m: evaluate_scenes(m, ss, valid, rare=rare, progress=False)
    hbt = lambda m: evaluate_heldback(m, ss, hb, rare=rare)
    evb, hbb = ev(base), hbt(base)
    out = {'rare': rare, 'baseline': {'miou': evb.attrs['summary']['mIoU'], 'rare_miou': evb.attrs['summary']['rare_miou']}}
    for way, kw in (('raw', None), ('calibrated', {}), ('floor', {'floor': iou_floor(hbb, ss.codes)})):
        model.seg_info.calibration = None
        if kw is not None: calibrate_heldback(model, ss, hb, progress=False, **kw)
        e, h = ev(model), hbt(model)
        g, gh = (e['IoU'] - evb['IoU']).astype(float), (h['IoU'] - hbb['IoU']).astype(float)
        out[way] = {'miou': e.attrs['summary']['mIoU'], 'rare_miou': e.attrs['summary']['rare_miou'],
                    'iou_gain': g.to_dict(), 'worst': float(g.min()), 'heldback_iou_gain': gh.to_dict(),
                    'heldback_worst': float(gh.min()), 'biases': model.seg_info.calibration}
    return out

def measure_pair(remedy:Path, base:Path, data:str, size:int) -> dict:
    "A saved `train` run against the baseline run of its seed (the same held-back and evaluation frames): the three ways"
    from crossfit import load_run, run_trained
    model, ss, valid, hb, s = load_run(remedy, data, size)
    bmodel, _, bvalid, _, bs = load_run(base, data, size)
    if (s['holdback'], valid) != (bs['holdback'], bvalid):
        raise SystemExit(f"{remedy} and {base} hold back or evaluate different frames: the baseline cannot floor it")
    return {'run': remedy.name, 'baseline_run': base.name, 'seed': s.get('seed'), 'steps': s.get('steps'),
            'data': Path(data).name, **_three(model, bmodel, ss, valid, hb, s.get('rare') or []),
            'trained': run_trained(s, None, remedy), 'baseline_trained': run_trained(bs, None, base)}

def table(recs:list) -> list[dict]:
    rows = []
    for r in recs:
        for way in ('raw', 'calibrated', 'floor'):
            w = r[way]
            rows.append({'seed': r['seed'], 'way': way, 'rare mIoU gain': w['rare_miou'] - r['baseline']['rare_miou'],
                         'worst class (eval)': f"{w['worst']:+.3f} ({min(w['iou_gain'], key=w['iou_gain'].get)})",
                         'worst class (held-back)': f"{w['heldback_worst']:+.3f} ({min(w['heldback_iou_gain'], key=w['heldback_iou_gain'].get)})"})
    return rows

if __name__ == '__main__':
    p = parser(__doc__.split('\n')[0], seeds=[0, 1, 2], out='nbs/results/demo_floor.jsonl')
    p.add_argument('--steps', type=int, default=300)
    p.add_argument('--models', default='/tmp/demo_floor_models', help='where the trained models are kept')
    p.add_argument('--runs', nargs='+', default=None, help='REMEDY=BASELINE pairs of `train` output folders, instead of the demo')
    p.add_argument('--data', default=None, help='with --runs: the scene folder they trained on')
    p.add_argument('--size', type=int, default=128, help='with --runs: their patch size')
    a = p.parse_args()
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    recs = [json.loads(l) for l in out.read_text().splitlines()] if out.exists() else []
    info = run_info('cpu') # once: a commit made while this runs does not split its seeds across commits
    if a.runs:
        if not a.data: raise SystemExit('--runs needs --data, the scene folder they trained on')
        for pair in a.runs:
            if pair.count('=') != 1: raise SystemExit(f"--runs: {pair!r} is not REMEDY=BASELINE")
            rem, base = map(Path, pair.split('='))
            if any(r.get('run') == rem.name and r.get('baseline_run') == base.name for r in recs): continue
            append_record(out, {**measure_pair(rem, base, a.data, a.size), 'run_info': info}, recs)
            print(f"{rem.name} done", flush=True)
        print_table(table(recs)); sys.exit()
    for s in a.seeds:
        if any(r['seed'] == s and r['steps'] == a.steps for r in recs): continue
        d = Path(a.models)/f'seed{s}_steps{a.steps}'
        meta = train(d, s, a.steps, info)
        r = {**measure(d, s, meta), 'trained': meta['trained'], 'run': info}
        with out.open('a') as f: f.write(json.dumps(r, default=float) + '\n')
        recs.append(r); print(f"seed {s} done", flush=True)
    print_table(table([r for r in recs if r['steps'] == a.steps]))
