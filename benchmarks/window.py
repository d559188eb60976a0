"""Is the training patch the right inference window? Larger windows, decided on held-back scenes, shown on evaluation ones.

    nice python benchmarks/window.py --seeds 0 1 2                     # the demo: train the default recipe per seed (kept in --models), then measure
    python benchmarks/window.py --runs R0 R1 --data ../shared/data/camvid --size 128 [--trained C]   # saved `train` outputs (model.pkl)
    python benchmarks/window.py --seeds 0 --steps 8 --factors 1 2 --out /tmp/w.jsonl --models /tmp/wm   # a smoke run

`predict_scene` slides windows of the training patch's side over a scene. A fully convolutional model takes larger
windows as well: each pixel then sees more of its surroundings, and fewer pixels lie near a window's edge, where the
padding stands in for the scene. For each model and each window of `--factors` × the patch side, the per-class biases
are fitted again at that window (`calibrate_heldback(size=...)`, `train`'s default calibration, cross-fitted on two
runs of held-back scenes), and the model is scored on the whole held-back scenes — raw, and out of fold (each class's
raw IoU plus its cross-fitted change under the biases at full strength: what the biases do on held-back scenes they
were not fitted on) — and on the whole evaluation scenes, raw and calibrated. Models: the demo's default recipe
(`weight_average.split`: `demo_split`'s scenes, split and recommended recipe), trained here per seed and kept in
`--models`; or `train` output folders (`--runs`, their model.pkl and summary.json's held-back part).

The rule, fixed before measuring: a factor above 1 becomes `train`'s default window only if its out-of-fold calibrated
held-back mIoU beats the patch window's on average on both data sets, and its out-of-fold held-back rare mIoU does not
fall on average on either. The evaluation scenes only report what that choice does. One line per model, with the
commit and device of its training and of this measurement.
"""
import json, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).parent))
from _common import parser, run_info, print_table, jsonl_records, append_record

def _s(iou:dict, rare) -> dict:
    "mIoU (mean over the classes with an IoU), rare-class mIoU and the per-class IoU"
    v = {k: float(x) for k, x in iou.items() if x is not None and x == x}
    r = [v[c] for c in rare or [] if c in v]
    return {'miou': float(np.mean(list(v.values()))), 'rare_miou': float(np.mean(r)) if r else None, 'iou': v}

def _oof(raw:dict, cal, rare) -> dict:
    "Held-back scores out of fold: each class's raw IoU plus its cross-fitted change at full strength (none: raw)"
    cf = cal.attrs.get('crossfit'); g = {} if cf is None else next(v for t, v in cf['per_class'].items() if float(t) == 1.)
    return _s({k: v + g.get(k, 0.) for k, v in raw['iou'].items()}, rare)

def windows(model, ss, valid, hb, rare, factors) -> dict:
    "Per factor: the window, the biases fitted at it, held-back (raw, out of fold) and evaluation (raw, calibrated) scores"
    from seg_imbalance.fit import calibrate_heldback, heldback_scenes
    from seg_imbalance.interpret import evaluate_scenes
    hss, hidx = heldback_scenes(ss, hb); p, out = int(model.seg_info.patch_size), {}
    iou = lambda *a, **k: _s(evaluate_scenes(model, *a, size=w, rare=rare, progress=False, **k)['IoU'].to_dict(), rare)
    for f in factors:
        w = p * f; model.seg_info.calibration = None
        hraw = iou(hss, hidx, calibrate=False)
        cal = calibrate_heldback(model, ss, hb, size=w, progress=False)
        out[str(f)] = {'window': w, 'heldback_raw': hraw, 'heldback_oof': _oof(hraw, cal, rare),
                       'eval_raw': iou(ss, valid, calibrate=False), 'eval': iou(ss, valid),
                       'biases': model.seg_info.calibration, 'share': (cal.attrs.get('crossfit') or {}).get('share')}
        o = out[str(f)]
        print(f"  window {w}: held-back raw {hraw['miou']:.3f}, out of fold {o['heldback_oof']['miou']:.3f}; "
              f"evaluation raw {o['eval_raw']['miou']:.3f}, calibrated {o['eval']['miou']:.3f}", flush=True)
    return out

def demo_model(d:Path, seed:int, steps:int, bs:int, info:dict, **change):
    "The demo's default-recipe model of `seed` (trained and saved in `d` when missing; `change`: recipe fields), its data and split, the training facts"
    from dataclasses import replace
    from weight_average import split
    from seg_imbalance.fit import fit_recipe
    from seg_imbalance.predict import save_model, load_model
    ss, table, valid, hb, rec = split('demo', 64, seed, bs)
    rec = replace(rec, **change)
    if not (d/'meta.json').exists():
        learn = fit_recipe(rec, ss, table, valid, steps, bs, seed, quiet=True, holdback=hb)
        save_model(learn, d/'model'); (d/'meta.json').write_text(json.dumps({'steps': learn.steps, 'trained': info, 'change': change}))
    if json.loads((d/'meta.json').read_text()).get('change', {}) != change:
        raise SystemExit(f"{d} holds a model trained with other recipe changes than {change}: use another --models folder")
    return load_model(d/'model'), ss, table, valid, hb, list(rec.rare), json.loads((d/'meta.json').read_text())

def paired_table(recs:list, key:str, base:str) -> list[dict]:
    "One row per model and way of `r[key]`: held-back and evaluation scores, each change paired with way `base`'s"
    rows = []
    for r in recs:
        b = r[key][base]
        for way, w in r[key].items():
            d = lambda part, k='miou': None if w[part][k] is None else w[part][k] - b[part][k]
            rows.append({'data': r['data'], 'seed': r['seed'], 'way': way, 'held-back oof mIoU': w['heldback_oof']['miou'],
                         'Δ held-back oof': d('heldback_oof'), 'Δ held-back oof rare': d('heldback_oof', 'rare_miou'),
                         'Δ held-back raw': d('heldback_raw'), 'eval mIoU': w['eval']['miou'], 'eval rare mIoU': w['eval']['rare_miou'],
                         'Δ eval': d('eval'), 'Δ eval rare': d('eval', 'rare_miou'), 'Δ eval raw': d('eval_raw')})
    return rows

def paired_summary(rows:list, base:str) -> tuple[list[dict], list]:
    "Per data set and way: mean ± std over models of `paired_table`'s scores and changes; the ways the rule adopts"
    ms = lambda v: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else float('nan'))
    out, ok = [], {}
    for data, way in dict.fromkeys((r['data'], r['way']) for r in rows):
        g = [r for r in rows if r['data'] == data and r['way'] == way]
        out.append({'data': data, 'way': way, 'models': len(g),
                    **{k: ms([r[k] for r in g]) for k in g[0] if k not in ('data', 'seed', 'way', 'window') and g[0][k] is not None}})
        if way != base: ok[way] = ok.get(way, True) and out[-1]['Δ held-back oof'][0] > 0 and out[-1]['Δ held-back oof rare'][0] >= 0
    return out, [w for w, v in ok.items() if v and len({r['data'] for r in rows}) > 1] # both data sets or nothing

def table(recs:list) -> list[dict]:
    "One row per model and window, each change paired with the patch window's"
    return [{'data': r['data'], 'seed': r['seed'], 'window': rec['windows'][r['way']]['window'], 'factor': int(r['way']),
             **{k: v for k, v in r.items() if k not in ('data', 'seed', 'way')}}
            for rec in recs for r in paired_table([rec], 'windows', '1')]

def summary(recs:list) -> tuple[list[dict], list[int]]:
    "Per data set and factor: mean ± std over models of `table`'s scores and paired changes; the factors the rule adopts"
    rows, adopted = paired_summary(paired_table(recs, 'windows', '1'), '1')
    return [{'factor': int(r['way']), **{k: v for k, v in r.items() if k != 'way'}} for r in rows], [int(f) for f in adopted]

def model_args(p):
    "The flags of the benchmarks that measure `train`'s default models: the demo's seeds, or saved `train` runs"
    p.add_argument('--steps', type=int, default=300)
    p.add_argument('--models', default='/tmp/window_models', help='where the demo models are kept')
    p.add_argument('--runs', nargs='+', default=None, help='`train` output folders to measure instead of the demo')
    p.add_argument('--data', default=None, help='with --runs: the scene folder they trained on')
    p.add_argument('--size', type=int, default=128, help='with --runs: their patch size')
    p.add_argument('--trained', default=None, help='with --runs: the commit they trained at (read from their summary.json when it records it)')
    p.add_argument('--threads', type=int, default=None)
    return p

def each_model(a, recs:list, info:dict):
    "`(record head, model, scenes, patch table, evaluation scenes, held-back part, rare)` of each model not in `recs`"
    if a.threads: import torch; torch.set_num_threads(a.threads)
    for run, s in [(Path(r), None) for r in a.runs] if a.runs else [(None, s) for s in a.seeds]:
        if any(r.get('run') == run.name if run else r['data'] == 'demo' and r['seed'] == s and r['steps_asked'] == a.steps
               for r in recs): continue
        print(run or f'demo seed {s}', flush=True)
        if run is None:
            model, ss, tab, valid, hb, rare, meta = demo_model(Path(a.models)/f'seed{s}_steps{a.steps}', s, a.steps, 16, info)
            yield ({'data': 'demo', 'seed': s, 'steps_asked': a.steps, 'steps': meta['steps'], 'trained': meta['trained']},
                   model, ss, tab, valid, hb, rare)
            continue
        from crossfit import load_run, run_trained
        model, ss, valid, hb, sm, tab = load_run(run, a.data, a.size, with_table=True) # the table: `train`'s patch rows
        yield ({'data': Path(a.data).name, 'run': run.name, 'seed': sm.get('seed'), 'steps': sm.get('steps'),
                'recipe': sm.get('recipe'), 'trained': run_trained(sm, a.trained, run)}, model, ss, tab, valid, hb, sm.get('rare'))

if __name__ == '__main__':
    p = model_args(parser(__doc__.split('\n')[0], seeds=[0, 1, 2], out='nbs/results/window.jsonl'))
    p.add_argument('--factors', type=int, nargs='+', default=[1, 2, 4], help='windows as multiples of the patch side (1 first)')
    a = p.parse_args()
    if a.factors[0] != 1: raise SystemExit('--factors must start with 1 (the patch window every change is paired with)')
    out, recs = jsonl_records(a.out)
    info = run_info('cpu') # once: a commit made while this runs does not split its models across commits
    for r, model, ss, _, valid, hb, rare in each_model(a, recs, info):
        append_record(out, {**r, 'rare': rare, 'windows': windows(model, ss, valid, hb, rare, a.factors), 'measured': info}, recs)
    print_table(table(recs))
