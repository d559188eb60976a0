"""Do averaged weights (`callbacks.WeightAverage`) beat the last weights of a run? Decided on held-back scenes, shown on evaluation ones.

    nice python benchmarks/weight_average.py --seeds 0 1 2                                   # the demo (`demo_split`)
    nice python benchmarks/weight_average.py --data ../shared/data/camvid --seeds 0 1        # a scene folder, as `train` splits it
    python benchmarks/weight_average.py --seeds 0 --steps 8 --ways 'mean last ½' --out /tmp/w.jsonl   # a smoke run

One training run per seed gives every way at once: the default recipe (the demo's recommended recipe; `train`'s `auto`
pick on a folder, with `train`'s split: its evaluation scenes, `--holdback` 0.15 of the training side held back) is
trained for `--steps` with one-cycle, while `WeightAverage` callbacks keep, without touching the run, an exponential
average (decay 0.95 and 0.99, warmed up: the decay used at step n is min(decay, n/(9+n)), so at 300 steps 0.99 is
never reached and that average follows the warm-up alone; 0.995 would give the same weights) and the plain mean of the weights over the last half and the last quarter of
the steps. Each way's weights are then put into the model, which is calibrated on the held-back scenes
(`calibrate_heldback`, `train`'s default) and scored on the whole held-back scenes (raw and calibrated) and on the whole
evaluation scenes. The rule, fixed before measuring: a way becomes `train`'s default only if its calibrated held-back
mIoU beats the last weights' on average on both data sets and its held-back rare mIoU does not fall on average; the
evaluation scenes only report what that choice does. One line per model, with commit and device.
"""
import json, sys, ast
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from _common import parser, run_info, print_table, jsonl_records, append_record

WAYS = {'ema 0.95': dict(decay=0.95), 'ema 0.99': dict(decay=0.99), 'mean last ½': dict(start=0.5),
        'mean last ¼': dict(start=0.75)}

def split(data:str, size:int, seed:int, bs:int) -> tuple:
    "Scenes, patch table, evaluation scenes, held-back part and default recipe: `demo_split`, or `run_train`'s for a folder"
    if data == 'demo':
        from seg_imbalance.demo import demo_split
        return demo_split(seed, bs=bs)
    from seg_imbalance.experiments import load_data
    from seg_imbalance.data import holdback
    from seg_imbalance.stats import imbalance_report
    from seg_imbalance.choose import recommend
    ss, table, valid, _ = load_data({'source': str(Path(data).resolve()), 'size': size, 'valid_pct': 0.2})
    hb = holdback(table, valid, 0.15, seed); train = table.iloc[hb.train]; train.attrs = dict(table.attrs)
    return ss, table, valid, hb, recommend(imbalance_report(train, batch_sizes=(bs,)), bs=bs)

def scores(learn, ss, valid, hb, rare) -> dict:
    "The model as it is: held-back (raw, then calibrated) and evaluation (calibrated) scores"
    from seg_imbalance.fit import evaluate_heldback, calibrate_heldback
    from seg_imbalance.interpret import evaluate_scenes
    s = lambda t: {'miou': t.attrs['summary']['mIoU'], 'rare_miou': t.attrs['summary'].get('rare_miou'),
                   'iou': t['IoU'].astype(float).to_dict()}
    learn.seg_info.calibration = None
    raw = s(evaluate_heldback(learn, ss, hb, rare=rare))
    calibrate_heldback(learn, ss, hb, progress=False)
    return {'heldback_raw': raw, 'heldback': s(evaluate_heldback(learn, ss, hb, rare=rare)),
            'eval': s(evaluate_scenes(learn, ss, valid, rare=rare, progress=False)), 'biases': learn.seg_info.calibration}

def measure(data:str, size:int, seed:int, steps:int, bs:int, ways:list|None=None) -> dict:
    from seg_imbalance.fit import fit_recipe
    from seg_imbalance.callbacks import WeightAverage
    ss, table, valid, hb, rec = split(data, size, seed, bs)
    cbs = {k: WeightAverage(**WAYS[k], swap=False) for k in ways or WAYS}
    learn = fit_recipe(rec, ss, table, valid, steps, bs, seed, quiet=True, cbs=list(cbs.values()), holdback=hb)
    rare, last = learn.rare or None, {k: v.clone() for k, v in learn.model.state_dict().items()}
    out = {'data': 'demo' if data == 'demo' else Path(data).name, 'seed': seed, 'steps': learn.steps, 'recipe': rec.name,
           'rare': rare, 'ways': {}}
    for way, sd in (('last', last), *((k, cb.avg) for k, cb in cbs.items())):
        learn.model.load_state_dict(sd); out['ways'][way] = scores(learn, ss, valid, hb, rare)
        print(f"  {way}: held-back {out['ways'][way]['heldback']['miou']:.3f}, evaluation {out['ways'][way]['eval']['miou']:.3f}", flush=True)
    return out

def table(recs:list) -> list[dict]:
    rows = []
    for r in recs:
        last = r['ways']['last']
        for way, w in r['ways'].items():
            d = lambda part, k='miou': w[part][k] - last[part][k] if w[part][k] is not None else None
            rows.append({'data': r['data'], 'seed': r['seed'], 'way': way, 'held-back mIoU': w['heldback']['miou'],
                         'Δ held-back': d('heldback'), 'Δ held-back rare': d('heldback', 'rare_miou'),
                         'Δ held-back raw': d('heldback_raw'), 'eval mIoU': w['eval']['miou'], 'Δ eval': d('eval'),
                         'Δ eval rare': d('eval', 'rare_miou')})
    return rows

def summary(recs:list) -> tuple[list[dict], list[str]]:
    "Per data set and way: mean ± std over seeds of `table`'s scores and paired changes; the ways the rule adopts"
    import numpy as np
    ms = lambda v: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else float('nan'))
    rows, ok, per_seed = [], {}, table(recs)
    for data, way in dict.fromkeys((r['data'], r['way']) for r in per_seed):
        g = [r for r in per_seed if r['data'] == data and r['way'] == way]
        row = {'data': data, 'way': way, 'models': len(g), **{k: ms([r[k] for r in g]) for k in g[0] if k not in ('data', 'seed', 'way')}}
        rows.append(row)
        if way != 'last': ok[way] = ok.get(way, True) and row['Δ held-back'][0] > 0 and row['Δ held-back rare'][0] >= 0
    return rows, [w for w, v in ok.items() if v and len({r['data'] for r in recs}) > 1] # both data sets or nothing

if __name__ == '__main__':
    p = parser(__doc__.split('\n')[0], seeds=[0, 1, 2], out='nbs/results/weight_average.jsonl')
    p.add_argument('--data', default='demo', help="'demo' or a scene folder (e.g. ../shared/data/camvid)")
    p.add_argument('--steps', type=int, default=300)
    p.add_argument('--size', type=int, default=128, help='patch size of a scene folder (the demo: 64)')
    p.add_argument('--bs', type=int, default=16)
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--ways', nargs='+', choices=list(WAYS), default=list(WAYS), help='the averages to keep (a smoke run: one)')
    a = p.parse_args()
    if a.threads: import torch; torch.set_num_threads(a.threads)
    out, recs = jsonl_records(a.out)
    info = run_info('cpu') # once: a commit made while this runs does not split its seeds across commits
    name = 'demo' if a.data == 'demo' else Path(a.data).name
    for s in a.seeds:
        if any(r['data'] == name and r['seed'] == s and r['steps_asked'] == a.steps for r in recs): continue
        print(f'{name} seed {s}', flush=True)
        append_record(out, {**measure(a.data, a.size, s, a.steps, a.bs, a.ways), 'steps_asked': a.steps, 'run': info}, recs)
    print_table(table(recs))
