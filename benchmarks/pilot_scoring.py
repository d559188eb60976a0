"""What scoring a search pilot from its calibration's pixel sample saves, and how close it is to a second whole-scene pass.

`choose.search_recipe` scores every pilot after calibrating it on the held-back part. It used to predict the held-back
scenes twice per pilot: once for the calibration's pixel sample (`calibrate_heldback`), once more to score the
calibrated model on every pixel (`evaluate_heldback`). It now reads the scores from the calibration's sample
(`choose.calibrated_table`). Per data set (the demo scenes; CamVid when ../shared/data/camvid is present), this trains
one pilot as `train --recipe search` would (the baseline, `--steps` steps, the held-back part `train` makes) and, for
each seed, times both ways on it and compares their per-class IoU, precision and recall:

  two_passes   calibrate_heldback + evaluate_heldback (the old `_measure_pilot`)
  one_pass     calibrate_heldback + calibrated_table  (the new one)

Writes a JSON file (default nbs/results/pilot_scoring.json) with the run's commit, versions and device.  Usage:
  python benchmarks/pilot_scoring.py [--steps 25] [--seeds 0 1] [--data demo ../shared/data/camvid]
  python benchmarks/pilot_scoring.py --quick      # smoke run: the demo, 2 steps, 4 small scenes; writes nothing unless --out
"""
import time
from pathlib import Path
import numpy as np
from _common import parser, run_info, write_results, print_table

def _pilot(data:str, size:int, steps:int, seed:int, quick:bool):
    "The data `train` would load, its held-back part, and a baseline pilot of `steps` steps on the rest"
    from seg_imbalance.experiments import load_data
    from seg_imbalance.data import holdback
    from seg_imbalance.fit import fit_recipe
    spec = {'source': data if data == 'demo' else str(Path(data).resolve()), 'size': size, 'valid_pct': 0.2}
    if quick: spec.update(n_scenes=4, scene_size=128)
    ss, table, valid, _ = load_data(spec)
    hb = holdback(table, valid, 0.15, seed)
    return ss, hb, fit_recipe('baseline', ss, table, valid, steps, 16 if not quick else 4, seed, holdback=hb, quiet=True)

def _compare(ss, hb, learn) -> dict:
    "Both ways on one pilot: seconds of each, and the largest per-class differences of their tables"
    from seg_imbalance.fit import calibrate_heldback, evaluate_heldback
    from seg_imbalance.choose import calibrated_table
    t0 = time.perf_counter(); cal = calibrate_heldback(learn, ss, hb, progress=False); t1 = time.perf_counter()
    one = calibrated_table(cal); t2 = time.perf_counter()
    whole = evaluate_heldback(learn, ss, hb); t3 = time.perf_counter()
    learn.seg_info.calibration = None
    d = {m: float(np.nanmax(np.abs(one[m] - whole.loc[one.index, m]))) for m in ('IoU', 'precision', 'recall')}
    both = one.index[(one['pixels %'] > 0)]
    return {'two_passes_s': round(t1 - t0 + t3 - t2, 2), 'one_pass_s': round(t2 - t0, 2),
            'saved_share': round((t3 - t2) / (t1 - t0 + t3 - t2), 3),
            'max_abs_diff_iou': d['IoU'], 'max_abs_diff_precision': d['precision'], 'max_abs_diff_recall': d['recall'],
            'miou_sample': float(one.loc[both, 'IoU'].mean()), 'miou_whole': float(whole.loc[both, 'IoU'].mean()),
            'sampled_pixels': int(cal.attrs['pixels']), 'heldback_scenes': len(cal.attrs['scenes'])}

def main():
    p = parser(__doc__, quick='the demo only, 2 steps, 4 scenes of 128 px; writes nothing unless --out', seeds=[0, 1])
    p.add_argument('--steps', type=int, default=25, help="the pilot's steps (CamVid's search ran pilots of 25)")
    p.add_argument('--data', nargs='+', default=['demo', '../shared/data/camvid'])
    a = p.parse_args()
    if a.quick: a.steps, a.data, a.seeds = 2, ['demo'], a.seeds[:1]
    if a.out is None and not a.quick: a.out = 'nbs/results/pilot_scoring.json'
    rows = []
    for data in a.data:
        if data != 'demo' and not Path(data).exists(): print(f"{data} not found: skipped"); continue
        size = 64 if data == 'demo' else 128
        for s in a.seeds:
            ss, hb, learn = _pilot(data, size, a.steps, s, a.quick)
            rows.append({'data': Path(data).name, 'size': size, 'steps': a.steps, 'seed': s, **_compare(ss, hb, learn)})
            print_table(rows[-1:])
    print_table(rows, title='Scoring a pilot after calibration: two prediction passes against one')
    if rows: write_results(a.out, rows, run_info('cpu'))

if __name__ == '__main__': main()
