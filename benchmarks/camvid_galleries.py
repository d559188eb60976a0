"""Error galleries of the rarest CamVid class under plain CE and the recipe with the best rare-class mIoU of the grid.

Retrains both configs of nbs/results/camvid_ablation.toml (seed 0, the grid's budget) and draws, for the rarest class
of the training pixels among the grid's rare classes, the validation windows with the most errors (image, truth,
prediction, TP/FP/FN map). Writes nbs/results/camvid_ablation/errors_<config>.png and galleries.json (what was run and
the whole-image scores of these reruns). About 20 minutes on 2 CPU cores.

    python benchmarks/camvid_galleries.py [--best CONFIG] [--n 4]
"""
import argparse, json, time
from pathlib import Path
import numpy as np
import matplotlib; matplotlib.use('Agg')
from seg_imbalance.ablate import load_configs, read_results, summarize
from seg_imbalance.recipes import load_data, config_recipe, fit_recipe, CONFIG_KEYS
from seg_imbalance.table import table_counts, count_columns
from seg_imbalance.interpret import evaluate_scenes, error_gallery

root = Path(__file__).resolve().parents[1]
res = root/'nbs/results/camvid_ablation'

if __name__ == '__main__':
    p = argparse.ArgumentParser(); p.add_argument('--best', default=None); p.add_argument('--n', type=int, default=4)
    a = p.parse_args()
    spec = load_configs(root/'nbs/results/camvid_ablation.toml', allowed_keys=CONFIG_KEYS)
    data = dict(spec['data']); data['source'] = str((root/data['source']).resolve()) if not Path(data['source']).is_absolute() else data['source']
    recs = read_results(res/'results.jsonl'); rare = recs[0]['rare']
    s = summarize(recs, rare=rare)
    recipes = [c['name'] for c in spec['configs'] if 'pipeline' not in c]
    best = a.best or s.loc[s.index.isin(recipes), 'rare_miou_mean'].idxmax()
    ss, table, valid, _ = load_data(data)
    tr = ~table.scene.isin(valid).to_numpy(); codes = count_columns(table)
    px = table_counts(table)[tr].sum(0)
    rarest = min(rare, key=lambda c: px[codes.index(c)])
    out = {'rarest': rarest, 'budget': spec['budget'], 'seed': 0, 'runs': {}}
    for name in ('baseline', best):
        r = config_recipe(next(c for c in spec['configs'] if c['name'] == name), table, valid, spec['budget']['bs'])
        t0 = time.time()
        learn = fit_recipe(r, ss, table, valid, spec['budget']['steps'], spec['budget']['bs'], seed=0, quiet=True)
        tab = evaluate_scenes(learn, ss, valid, progress=False, rare=rare)
        fig = error_gallery(learn, ss, rarest, idxs=valid, n=a.n)
        fig.suptitle(f"{name}: the {a.n} validation windows with the most '{rarest}' errors", fontsize=10, y=1.0)
        fig.savefig(res/f'errors_{name}.png', dpi=70, bbox_inches='tight')
        out['runs'][name] = {'miou': tab.attrs['summary']['mIoU'], 'rare_miou': tab.attrs['summary']['rare_miou'],
                             f'iou_{rarest}': float(tab.loc[rarest, 'IoU']), 'seconds': time.time() - t0}
        print(name, out['runs'][name], flush=True)
    (res/'galleries.json').write_text(json.dumps(out, indent=1))
