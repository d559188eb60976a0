"""Error galleries of the rarest CamVid class under plain CE and the recipe with the best rare-class mIoU of the grid.

Retrains both configs of nbs/results/camvid_ablation.toml (seed 0, the grid's budget) and draws, for the rarest class
of the training pixels among the grid's rare classes, the validation windows with the most errors (image, truth,
prediction, TP/FP/FN map). Writes nbs/results/camvid_ablation/errors_<config>.png and galleries.json (what was run and
the whole-image scores of these reruns, with the run's commit, versions and device). About 20 minutes on 2 CPU cores.

    python benchmarks/camvid_galleries.py [--best CONFIG] [--n 4] [--data CAMVID_FOLDER] [--out FOLDER]
    python benchmarks/camvid_galleries.py --quick --out /tmp/gal    # smoke run: 2 training steps
"""
import time
from pathlib import Path
import matplotlib; matplotlib.use('Agg')
from seg_imbalance.ablate import load_configs, read_results, summarize
from seg_imbalance.recipes import load_data, config_recipe, fit_recipe, CONFIG_KEYS
from seg_imbalance.table import table_counts, count_columns
from seg_imbalance.interpret import evaluate_scenes, error_gallery
from _common import parser, device, run_info, write_results, RESULTS, ROOT

res = RESULTS/'camvid_ablation'

if __name__ == '__main__':
    p = parser(__doc__, quick='2 training steps (write them elsewhere with --out)', out=str(res),
               out_help='folder of errors_<config>.png and galleries.json (default nbs/results/camvid_ablation)')
    p.add_argument('--best', default=None); p.add_argument('--n', type=int, default=4)
    p.add_argument('--data', default=None, help="CamVid folder (default: the grid's data source)")
    a = p.parse_args()
    out_dir = Path(a.out); out_dir.mkdir(parents=True, exist_ok=True)
    spec = load_configs(RESULTS/'camvid_ablation.toml', allowed_keys=CONFIG_KEYS)
    if a.quick: spec['budget']['steps'] = 2
    data = dict(spec['data'], source=a.data or spec['data']['source'])
    if not Path(data['source']).is_absolute(): data['source'] = str((ROOT/data['source']).resolve())
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
        fig.savefig(out_dir/f'errors_{name}.png', dpi=70, bbox_inches='tight')
        out['runs'][name] = {'miou': tab.attrs['summary']['mIoU'], 'rare_miou': tab.attrs['summary']['rare_miou'],
                             f'iou_{rarest}': float(tab.loc[rarest, 'IoU']), 'seconds': time.time() - t0}
        print(name, out['runs'][name], flush=True)
    write_results(out_dir/'galleries.json', out, run_info(device()))  # fit_recipe trains on its default device
