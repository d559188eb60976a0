"""Free per-class biases against one-parameter prior matching: which transfers from the held-back scenes to unseen ones?

    nice python benchmarks/prior_match.py --seeds 0 1 2          # the demo models of crossfit.py / demo_floor.py (--models)
    python benchmarks/prior_match.py --runs R1 R2 --data ../shared/data/camvid --size 128   # saved `train` outputs

A remedy (oversampling, class weights) shifts the class prior the model learned: its mean predicted probability of a
class `q_c` differs from the class's share `π_c` of the labelled pixels. The default calibration fits one free bias per
class on the held-back scenes (`fit_class_biases`: 12 parameters on CamVid); the cross-fit (`crossfit.py`) showed its
biases lose some class more than 0.02 IoU on unseen scenes. Prior matching has one parameter: `b_c = τ · log(π_c / q_c)`
(τ = 1 makes the mean prediction match the labelled shares to first order), τ chosen on the held-back pixels by mIoU
with no class below its raw IoU − 0.02. Ways, all fitted on the held-back scenes' pixel sample that `calibrate_learner`
draws (two runs of consecutive names, one sample each), all scored on the whole evaluation scenes of one prediction
pass: `raw`, `full` (the default fit), `prior` (τ chosen), `prior+fit` (the free fit on top of the chosen prior).
`oof` holds each way's out-of-fold score (fitted on one run, scored on the other): what a choice made on the held-back
scenes alone would see. One line a model, with the commit and device of this measurement (and of its training).
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from crossfit import demo_models, load_run, main

TAUS = tuple(k / 4 for k in range(13)) # 0, ¼, … 3

def _ious(lp, y, w, b, n:int):
    import torch
    from seg_imbalance.calibrate import _wcm, _rates
    return _rates(_wcm((lp + torch.as_tensor(b, dtype=lp.dtype)).argmax(1), y, w, n))['IoU']

def prior_direction(lp, y, w, n:int):
    "log(π_c / q_c): labelled share over mean predicted probability, 0 where a class has no pixel or no probability"
    import torch
    pi = torch.bincount(y, w, minlength=n) / w.sum()
    q = (lp.double().exp() * w[:, None]).sum(0) / w.sum()
    d = torch.where((pi > 0) & (q > 0), (pi / q.clamp_min(1e-300)).log(), torch.zeros_like(pi))
    return d.float()

def fit_prior(lp, y, w, n:int, keep:list, max_drop:float=0.02):
    "The biases τ·log(π/q) with the τ of `TAUS` of best mIoU where no class of `keep` loses more than `max_drop`"
    import torch
    d = prior_direction(lp, y, w, n); i0 = _ious(lp, y, w, torch.zeros(n), n)
    best = (float(i0[keep].nanmean()), 0.)
    for t in TAUS[1:]:
        i = _ious(lp, y, w, t * d, n)
        if bool(((i[keep] >= i0[keep] - max_drop - 1e-12) | i0[keep].isnan()).all()) and float(i[keep].nanmean()) > best[0] + 1e-6:
            best = (float(i[keep].nanmean()), t)
    return (best[1] * d).numpy(), best[1]

def fit_ways(data, n:int, ign) -> dict:
    "Biases of each way fitted on `data` (log-probabilities, labels, weights); `prior` records its τ"
    import numpy as np, torch
    from seg_imbalance.calibrate import fit_class_biases, _fit_inputs
    from seg_imbalance.table import counted_classes
    lp, y, w = _fit_inputs(data[0], data[1], n, ign, data[2])
    keep = [c for c in counted_classes(n, ign) if bool((y == c).any())]
    full, _ = fit_class_biases(lp, y, n, ign, w)
    pb, tau = fit_prior(lp, y, w, n, keep)
    pf, _ = fit_class_biases(lp + torch.as_tensor(pb), y, n, ign, w)
    return {'raw': np.zeros(n, np.float32), 'full': full, 'prior': pb, 'prior+fit': pb + pf, 'tau': tau}

def oof(datas:list, n:int, ign) -> dict:
    "Each way's out-of-fold mean IoU change and worst class change over the runs (fitted on the other runs)"
    import torch
    from seg_imbalance.calibrate import _fit_inputs
    from seg_imbalance.table import counted_classes
    gains = {}
    for f, d in enumerate(datas):
        rest = [torch.cat(x) for x in zip(*[e for g, e in enumerate(datas) if g != f])]
        ways = fit_ways(rest, n, ign); lp, y, w = _fit_inputs(d[0], d[1], n, ign, d[2])
        i0 = _ious(lp, y, w, ways['raw'], n)
        for k in ('full', 'prior', 'prior+fit'): gains.setdefault(k, []).append(_ious(lp, y, w, ways[k], n) - i0)
    keep = counted_classes(n, ign); res = {}
    for k, g in gains.items():
        m = torch.stack(g)[:, keep].nanmean(0); ok = ~m.isnan()
        res[k] = {'d_miou': float(m[ok].mean()), 'worst': float(m[ok].min())}
    return res

def measure(model, ss, valid, hb, rare, base=None) -> dict:
    "Fit every way on the held-back sample (as `calibrate_learner` draws it), score all on one pass over `valid`"
    import numpy as np, torch
    from seg_imbalance.fit import heldback_scenes
    from seg_imbalance.calibrate import held_back_samples
    from seg_imbalance.stitch import predict_scene
    from seg_imbalance.metrics import confusion, per_class_iou, summary
    model.seg_info.calibration = None
    hss, idxs = heldback_scenes(ss, hb); codes, ign = list(ss.codes), ss.ignore_index; n = len(codes)
    pss, _ = held_back_samples(model, hss, idxs, 2, hb.scene_groups or None, progress=False) # as `calibrate_heldback` draws them
    datas = [p.data() for p in pss]
    datas = [d for d in datas if len(d[1])]
    ways = fit_ways([torch.cat(x) for x in zip(*datas)], n, ign); tau = ways.pop('tau')
    cms = {k: 0 for k in ways}
    for i in valid:
        s = ss[i]; p = predict_scene(model, s, probs=True, calibrate=False)
        with np.errstate(divide='ignore'): lp = torch.from_numpy(np.log(p))
        t = torch.from_numpy(np.asarray(s.read_mask()).astype(np.int64))
        for k, b in ways.items(): cms[k] = cms[k] + confusion((lp + torch.as_tensor(b)[:, None, None]).argmax(0)[None], t[None], n, ign)
    out = {'tau': tau, 'oof': oof(datas, n, ign) if len(datas) > 1 else None}
    keep = [c for c in range(n) if c != ign]
    raw = per_class_iou(cms['raw'])
    for k, cm in cms.items():
        iou = per_class_iou(cm); g = iou - raw; r = [codes.index(c) for c in rare or []]
        out[k] = {'miou': summary(cm, ign)['mIoU'], 'rare_miou': float(iou[r].nanmean()) if r else None,
                  'iou': dict(zip([codes[c] for c in keep], iou[keep].tolist())),
                  'worst_vs_raw': float(g[keep].nan_to_num(0.).min()), 'biases': [float(v) for v in ways[k]]}
        if base is not None:
            gb = iou[keep] - torch.tensor([base[codes[c]] for c in keep], dtype=iou.dtype)
            out[k]['worst_vs_baseline'] = float(gb.nan_to_num(0.).min())
    return out

def measure_demo(d:Path, seed:int) -> dict:
    ss, valid, hb, rare, base, model = demo_models(d, seed)
    return {'data': 'demo', 'seed': seed, 'rare': rare, 'baseline': {'miou': base.attrs['summary']['mIoU'],
            'rare_miou': base.attrs['summary']['rare_miou']},
            **measure(model, ss, valid, hb, rare, base['IoU'].astype(float).to_dict())}

def measure_saved(run:Path, data:str, size:int) -> dict:
    model, ss, valid, hb, s = load_run(run, data, size)
    return {'data': Path(data).name, 'run': run.name, 'seed': s.get('seed'), 'rare': s.get('rare'),
            **measure(model, ss, valid, hb, s.get('rare'))}

def table(recs:list) -> list[dict]:
    rows = []
    for r in recs:
        for way in ('raw', 'full', 'prior', 'prior+fit'):
            w = r[way]; o = (r.get('oof') or {}).get(way)
            rows.append({'model': r.get('run') or f"{r['data']} seed {r['seed']}", 'way': way, 'mIoU': w['miou'],
                         'rare mIoU': w['rare_miou'], 'worst vs raw': w['worst_vs_raw'],
                         'worst vs baseline': w.get('worst_vs_baseline'), 'τ': r['tau'] if way == 'prior' else None,
                         'oof Δ mIoU': o and o['d_miou'], 'oof worst': o and o['worst']})
    return rows

if __name__ == '__main__': main(__doc__, 'nbs/results/prior_match.jsonl', measure_demo, measure_saved, table)
