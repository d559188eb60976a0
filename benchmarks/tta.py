"""Test-time flips on street frames: none, left–right only (what an `hflip` model trained with), or left–right and up–down.

    python benchmarks/tta.py --runs R1 R2 --data ../shared/data/camvid --size 128   # saved `train` outputs (model.pkl)

For each saved model and each way of flipping (`none`, `hflip`, `flips`): one bias per class fitted on its held-back
frames from the probabilities of that way (`calibrate_heldback(folds=0)`: one pixel sample, no cross-fit), then the whole
evaluation frames predicted once that way and scored without and with the biases. Before this benchmark `tta=True`
always meant `flips`; it now follows the model's training augmentation (`stitch.tta_flips`). One line a model, with the
commit and device of this measurement.
"""
import json, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from _common import parser, run_info, print_table, jsonl_records, append_record
from crossfit import _heldback

def _scores(cm, codes:list, ign, rare:list) -> dict:
    "mIoU (`metrics.summary`), per-class IoU of the classes with a defined score, and the mean IoU of `rare`"
    from seg_imbalance.metrics import summary, per_class_iou
    iou = per_class_iou(cm)
    return {'miou': summary(cm, ign)['mIoU'], 'rare_miou': float(iou[[codes.index(c) for c in rare]].nanmean()) if rare else None,
            'iou': {c: float(iou[i]) for i, c in enumerate(codes) if i != ign and iou[i] == iou[i]}}

def measure(run:Path, data:str, size:int, ways=('none', 'hflip', 'flips')) -> dict:
    import ast, time, numpy as np, torch
    from seg_imbalance.experiments import load_data
    from seg_imbalance.predict import load_model
    from seg_imbalance.fit import calibrate_heldback
    from seg_imbalance.metrics import confusion
    from seg_imbalance.stitch import predict_scene
    s = json.loads((run/'summary.json').read_text())
    hb = _heldback(s['holdback'] if isinstance(s['holdback'], dict) else ast.literal_eval(s['holdback']))
    ss, *_ = load_data({'source': data if data == 'demo' else str(Path(data).resolve()), 'size': size, 'valid_pct': 0.2})
    learn = load_model(run/'model.pkl'); codes, ign, n = list(ss.codes), ss.ignore_index, len(ss.codes)
    out = {'data': Path(data).name, 'run': run.name, 'seed': s.get('seed'), 'rare': s.get('rare'),
           'aug': (learn.seg_info.recipe or {}).get('aug')}
    for way in ways:
        tta = False if way == 'none' else way; t0 = time.perf_counter()
        calibrate_heldback(learn, ss, hb, tta=tta, folds=0, progress=False) # one pixel sample of that way's probabilities
        b = torch.tensor(learn.seg_info.calibration)[:, None, None]
        cms = {k: 0 for k in ('raw', 'calibrated')}
        for i in s['valid_scenes']: # the run's own evaluation scenes, predicted once that way
            p = torch.from_numpy(predict_scene(learn, ss[i], tta=tta, probs=True, calibrate=False)).log()[None]
            m = torch.from_numpy(ss[i].read_mask().astype(np.int64))[None]
            for key, bb in (('raw', 0.), ('calibrated', b)): cms[key] = cms[key] + confusion(p + bb, m, n, ign)
        out[way] = {k: _scores(cm, codes, ign, s.get('rare') or []) for k, cm in cms.items()}
        out[way].update(biases=list(learn.seg_info.calibration), seconds=round(time.perf_counter() - t0, 1))
        print(f"{run.name} {way}: mIoU raw {out[way]['raw']['miou']:.3f} calibrated {out[way]['calibrated']['miou']:.3f}", flush=True)
    return out

def table(recs:list) -> list[dict]:
    return [{'model': r['run'], 'trained aug': r['aug'], 'flips': w, 'raw mIoU': r[w]['raw']['miou'],
             'calibrated mIoU': r[w]['calibrated']['miou'], 'calibrated rare mIoU': r[w]['calibrated']['rare_miou'],
             's': r[w]['seconds']} for r in recs for w in ('none', 'hflip', 'flips') if w in r]

if __name__ == '__main__':
    p = parser(__doc__.split('\n')[0], out='nbs/results/tta.jsonl')
    p.add_argument('--runs', nargs='+', required=True, help='`train` output folders (model.pkl, summary.json)')
    p.add_argument('--data', required=True, help='the scene folder they trained on')
    p.add_argument('--size', type=int, default=128, help='their patch size')
    a = p.parse_args()
    out, recs = jsonl_records(a.out)
    info = run_info('cpu')
    for run in map(Path, a.runs):
        if any(r['run'] == run.name for r in recs): continue
        append_record(out, {**measure(run, a.data, a.size), 'measured': info}, recs)
    print_table(table(recs))
