"""Does the calibration hold on scenes it did not see? Full biases against biases scaled by their cross-fitted share.

    nice python benchmarks/crossfit.py --seeds 0 1 2                       # the demo: train what --models lacks, then measure
    python benchmarks/crossfit.py --runs R1 R2 --data ../shared/data/camvid --size 128   # saved `train` outputs (model.pkl)
    python benchmarks/crossfit.py --seeds 0 --steps 10 --out /tmp/c.jsonl --models /tmp/cm   # a smoke run

`calibrate_learner` fits one bias per class on the held-back scenes and, cut into two runs of consecutive names, fits
each run's biases on the other and scores them there (`crossfit_share`): the out-of-fold change of every class at
shares 0, ¼, ½, ¾, 1 of the biases, and the share with the best out-of-fold mIoU where no class loses more than 0.02.
This measures, on the whole evaluation scenes, what each way does against the uncalibrated model (and, on the demo,
against the baseline): `full` (the default: the biases at full strength) and `shrunk` (`shrink=True`, `train
--calibration-shrink`). The demo's models are `demo_floor.py`'s (the same split, recipes and steps, saved in
--models); `--runs` reads `train` output folders (their model.pkl, summary.json's held-back part). One line a model,
with the commit and device of its training (where known) and of this measurement.
"""
import json, sys, ast
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from _common import parser, run_info, print_table, jsonl_records, append_record

def _ways(model, ss, valid, hb, rare, ref=None) -> dict:
    "Raw, full and shrunk: scores on the evaluation scenes, per-class change against raw (and `ref`'s table)"
    from seg_imbalance.fit import calibrate_heldback
    from seg_imbalance.interpret import evaluate_scenes
    out, tabs = {}, {}
    for way in ('raw', 'full', 'shrunk'):
        model.seg_info.calibration = None
        cal = calibrate_heldback(model, ss, hb, progress=False, shrink=way == 'shrunk') if way != 'raw' else None
        tabs[way] = t = evaluate_scenes(model, ss, valid, rare=rare or None, progress=False)
        g = (t['IoU'] - tabs['raw']['IoU']).astype(float)
        out[way] = {'miou': t.attrs['summary']['mIoU'], 'rare_miou': t.attrs['summary'].get('rare_miou'),
                    'iou': t['IoU'].astype(float).to_dict(), 'gain_vs_raw': g.to_dict(), 'worst_vs_raw': float(g.min()),
                    'biases': model.seg_info.calibration}
        if ref is not None:
            gb = (t['IoU'] - ref['IoU']).astype(float)
            out[way].update(gain_vs_baseline=gb.to_dict(), worst_vs_baseline=float(gb.min()))
        if cal is not None: out['crossfit'] = cal.attrs['crossfit']
    return out

def demo_models(d:Path, seed:int) -> tuple:
    "The demo's data for `seed` and its two saved models in `d`: scenes, evaluation scenes, held-back part, rare classes, baseline table, recommended model"
    from seg_imbalance.demo import demo_split
    from seg_imbalance.predict import load_model
    from seg_imbalance.interpret import evaluate_scenes
    ss, _, valid, hb, rec = demo_split(seed); rare = list(rec.rare)
    base = evaluate_scenes(load_model(d/'baseline'), ss, valid, rare=rare, progress=False)
    return ss, valid, hb, rare, base, load_model(d/'recommended')

def measure_demo(d:Path, seed:int) -> dict:
    ss, valid, hb, rare, base, model = demo_models(d, seed)
    return {'data': 'demo', 'seed': seed, 'rare': rare, 'baseline': {'miou': base.attrs['summary']['mIoU'],
            'rare_miou': base.attrs['summary']['rare_miou']}, **_ways(model, ss, valid, hb, rare, base)}

def load_run(run:Path, data:str, size:int, with_table:bool=False) -> tuple:
    "A saved `train` output: its model, the scenes, its evaluation scenes, its held-back part, its summary (and the patch table)"
    from seg_imbalance.experiments import load_data
    from seg_imbalance.predict import load_model
    s = json.loads((run/'summary.json').read_text())
    hb = s['holdback'] if isinstance(s['holdback'], dict) else ast.literal_eval(s['holdback'])
    ss, table, *_ = load_data({'source': data if data == 'demo' else str(Path(data).resolve()), 'size': size, 'valid_pct': 0.2})
    return (load_model(run/'model.pkl'), ss, s['valid_scenes'], _heldback(hb), s) + ((table,) if with_table else ())

def run_trained(sm:dict, commit:str|None, run) -> dict:
    "Where a saved `train` run trained: its summary.json's commit, dirty flag, host and device; else the `commit` typed"
    rec = {k: sm[k] for k in ('commit', 'dirty', 'host', 'device') if k in sm}
    if 'commit' not in rec: return {'commit': commit}
    if commit and not (str(rec['commit']).startswith(commit) or commit.startswith(str(rec['commit']))):
        raise SystemExit(f"{run}: its summary.json says it trained at {rec['commit']}, not at {commit} as the command line says")
    return rec

def measure_run(run:Path, data:str, size:int) -> dict:
    model, ss, valid, hb, s = load_run(run, data, size)
    return {'data': Path(data).name, 'run': run.name, 'seed': s.get('seed'), 'rare': s.get('rare'),
            'trained_steps': s.get('steps'), **_ways(model, ss, valid, hb, s.get('rare'))}

def _heldback(d:dict):
    "The `HeldBack` of a run's summary (what `heldback_scenes` reads: its scenes or regions)"
    import numpy as np
    from seg_imbalance.split import HeldBack
    return HeldBack(list(d['scenes']), [tuple(r[k] for k in ('scene', 'y', 'x', 'h', 'w')) for r in d['regions']],
                    np.zeros(0, np.int64), d['frac'], d['seed'])

def table(recs:list) -> list[dict]:
    rows = []
    for r in recs:
        for way in ('raw', 'full', 'shrunk'):
            w = r[way]; worst = min(w['gain_vs_raw'], key=w['gain_vs_raw'].get)
            rows.append({'model': r.get('run') or f"{r['data']} seed {r['seed']}", 'way': way, 'mIoU': w['miou'],
                         'rare mIoU': w['rare_miou'], 'worst class vs raw': f"{w['worst_vs_raw']:+.3f} ({worst})",
                         'share': '' if way == 'raw' else r['crossfit']['applied'] if way == 'shrunk' else 1.})
    return rows

def main(doc:str, out:str, measure_demo, measure_run, table):
    "The command line shared with prior_match.py: the demo's seeds (models trained when missing) or saved `train` runs"
    p = parser(doc.split('\n')[0], seeds=[0, 1, 2], out=out)
    p.add_argument('--steps', type=int, default=300)
    p.add_argument('--models', default='/tmp/demo_floor_models', help='where the demo models are kept (demo_floor.py)')
    p.add_argument('--runs', nargs='+', default=None, help='`train` output folders to measure instead of the demo')
    p.add_argument('--data', default=None, help='with --runs: the scene folder they trained on')
    p.add_argument('--size', type=int, default=128, help='with --runs: their patch size')
    a = p.parse_args()
    out, recs = jsonl_records(a.out)
    info = run_info('cpu') # once: a commit made while this runs does not split its models across commits
    todo = [(run, None) for run in map(Path, a.runs)] if a.runs else [(None, s) for s in a.seeds]
    for run, s in todo:
        if any((r.get('run') == run.name) if run else (r['data'] == 'demo' and r['seed'] == s and r['steps'] == a.steps)
               for r in recs): continue
        if run is None:
            from demo_floor import train
            d = Path(a.models)/f'seed{s}_steps{a.steps}'; meta = train(d, s, a.steps, info)
            r = {**measure_demo(d, s), 'steps': a.steps, 'trained': meta['trained'], 'measured': info}
        else: r = {**measure_run(run, a.data, a.size), 'measured': info}
        append_record(out, r, recs); print(f"{run or f'seed {s}'} done", flush=True)
    print_table(table(recs))

if __name__ == '__main__': main(__doc__, 'nbs/results/crossfit.jsonl', measure_demo, measure_run, table)
