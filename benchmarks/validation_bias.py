"""How biased was the old validation number? One CamVid model, four ways to score it.

Trains plain cross-entropy (Unet-resnet18 from scratch, 128 px patches, batch 16) on CamVid's 367 training images and
scores the same model on the 101 validation images:
  old_selection_void  the old path: validation = the guided selection (stride 64) of the validation scenes, and
                      `summary` without the ignore index (Void's column counted in mIoU)
  old_selection       the same patches, Void left out
  grid                the new default validation of `patch_dataloaders`: a plain grid of the validation scenes
  whole_scenes        `evaluate_scenes`: every labelled pixel of the 101 images once (the number to trust)
Writes a JSON file (default nbs/results/validation_bias.json) with the run's commit, versions and device.  Usage:
  python benchmarks/validation_bias.py [--steps 300] [--out nbs/results/validation_bias.json]
  python benchmarks/validation_bias.py --quick     # smoke run: 2 training steps, writes nothing unless --out
"""
import time
from pathlib import Path
from _common import parser, device, run_info, write_results, print_table

def main():
    p = parser(__doc__, quick='2 training steps; writes nothing unless --out')
    p.add_argument('--steps', type=int, default=300); p.add_argument('--seed', type=int, default=0)
    p.add_argument('--data', default='../shared/data/camvid')
    a = p.parse_args()
    if a.quick: a.steps = 2
    if a.out is None and not a.quick: a.out = 'nbs/results/validation_bias.json'
    if not Path(a.data).exists(): print(f"{a.data} not found: nothing to measure"); return
    from seg_imbalance.recipes import load_data, fit_recipe
    from seg_imbalance.crop import tile, guided_select
    from seg_imbalance.data import patch_dataloaders
    from seg_imbalance.metrics import evaluate, summary
    from seg_imbalance.interpret import evaluate_scenes
    rare = ['Pole', 'SignSymbol', 'Fence', 'Pedestrian', 'Bicyclist']
    ss, table, valid, _ = load_data({'source': str(Path(a.data).resolve()), 'size': 128})
    t0 = time.time()
    learn = fit_recipe('baseline', ss, table, valid, steps=a.steps, bs=16, seed=a.seed, quiet=True)
    train_s = time.time() - t0
    sel = guided_select(tile(ss, 128, stride=64), rare, neg_frac=0.1, seed=a.seed)
    old = patch_dataloaders(sel, ss, bs=16, valid_scenes=valid, valid_table='table')
    cm_old = evaluate(learn, old.valid)
    cm_grid = evaluate(learn, learn.dls.valid)
    tab = evaluate_scenes(learn, ss, valid, progress=False, rare=rare)
    ign = ss.ignore_index
    res = {'steps': learn.steps, 'seed': a.seed, 'train_s': round(train_s, 1),
           'n_valid_images': len(valid), 'rare': rare,
           'old_selection_void': {'miou': summary(cm_old, ignore_index=-1)['mIoU'], 'pixels': int(cm_old.sum())},
           'old_selection': {'miou': summary(cm_old, ign)['mIoU'], 'pixels': int(cm_old.sum())},
           'grid': {'miou': summary(cm_grid, ign)['mIoU'], 'pixels': int(cm_grid.sum())},
           'whole_scenes': {'miou': tab.attrs['summary']['mIoU'], 'rare_miou': tab.attrs['summary']['rare_miou'],
                            'pixels': tab.attrs['summary']['pixels']},
           'valid_labelled_pixels': int(sum((s.read_mask() != ign).sum() for s in (ss[i] for i in valid)))}
    print_table([{'validation': k, 'mIoU': res[k]['miou'], 'pixels': res[k]['pixels']}
                 for k in ('old_selection_void', 'old_selection', 'grid', 'whole_scenes')])
    print(f"labelled validation pixels: {res['valid_labelled_pixels']:,}")
    write_results(a.out, res, run_info(device()))  # fit_recipe trains on its default device (a GPU when present)

if __name__ == '__main__': main()
