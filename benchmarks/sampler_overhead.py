"""Sampler overhead as a share of a training epoch, against the plain (unweighted) epoch measured in the same run.

    python benchmarks/sampler_overhead.py                          # demo data: 16 scenes of 512 px, 64 px patches, bs 16
    python benchmarks/sampler_overhead.py --repeats 5 --camvid ../shared/data/camvid  # + the first 60 CamVid scenes, 96 px
    python benchmarks/sampler_overhead.py --quick --out /tmp/so                        # smoke run: 4 scenes, 1 round

Run from the repository root. Each run writes its tables (one row per dataset and sampler) to
`nbs/results/sampler_overhead.csv` and the header facts (command, machine, patches, batches, plain epoch, model step)
to `nbs/results/sampler_overhead.json` (with the run's commit, versions and device under `run`), which
`nbs/04b_sample.ipynb` reads; `--out PREFIX` writes `PREFIX.csv` and
`PREFIX.json` instead, `--out ''` (and `--quick` without `--out`) writes nothing.

For each table it builds the plain training loader (`data.patch_dataloaders` without weights: fastai's shuffling) and
one per sampler — `uniform`, `presence` (×3 on the rare classes), `repeat_factor`, `rcs`, `inverse_freq` weights and
class-balanced batches — all drawing one patch per training patch per epoch. Then, over `--repeats` interleaved rounds,
after one untimed warm-up pass over each, it times one full pass over each training loader (median; `spread %` = (max − min) / median over the rounds, the
noise of the shared machine) and, separately, the sampler's own work per epoch:
`sampler.draw()` for the whole epoch (what `SamplerDL.get_idxs` adds), plus the one-off `patch_weights` call.

Denominators, both measured in this run:
- `load`: one epoch of data loading only — reading the windows, flips, normalisation, collation, `num_workers=0`, no
  model. The strictest denominator: a training epoch is this plus the model's forward and backward passes.
- `train`: `load` plus the model time of the epoch, estimated as batches × the median time of `--model-steps` training
  steps of an SMP Unet (resnet18, no pretrained weights) on one batch (0 to skip).
The hard-example-mining row times `learner.rare_error` + `data.batch_items` + the per-patch sums for every batch of an
epoch on random logits (the callback's per-batch work; its per-epoch update is timed too).
Goal: the sampler's cost under 2 % of the epoch.
"""
import os, statistics, time, warnings
from pathlib import Path
os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')
warnings.filterwarnings('ignore')
import numpy as np, pandas as pd, torch
from seg_imbalance.io import read_scene_folder, SceneSet
from seg_imbalance.synth import synth_sceneset
from seg_imbalance.crop import tile, table_counts
from seg_imbalance.sample import patch_weights, table_classes
from seg_imbalance.data import patch_dataloaders, batch_items
from seg_imbalance.callbacks import rare_error, hem_update
from _common import parser, run_info, write_results, print_table, timeit, interleaved, RESULTS

OUT = RESULTS/'sampler_overhead'


def rare_classes(table, k: int) -> list[str]:
    "The `k` classes held by the fewest patches (ignore index left out)"
    codes, ign = list(table.attrs['codes']), table.attrs.get('ignore_index')
    pres = (table_counts(table) > 0).sum(0)
    order = [c for c in np.argsort(pres, kind='stable') if c != ign and pres[c] > 0]
    return [codes[c] for c in order[:k]]


def loaders(table, scenes, bs, rare, seed=0) -> dict:
    "Training loaders: plain, one per weight scheme, class-balanced; and the seconds `patch_weights` took"
    out, wtime = {'plain': patch_dataloaders(table, scenes, bs=bs, seed=seed).train}, {}
    for s in ('uniform', 'presence', 'repeat_factor', 'rcs', 'inverse_freq'):
        t = time.perf_counter(); w = patch_weights(table, s, **({'targets': rare} if s == 'presence' else {})); wtime[s] = time.perf_counter() - t
        out[s] = patch_dataloaders(table, scenes, bs=bs, seed=seed, sample_weights=w).train
    out['class-balanced'] = patch_dataloaders(table, scenes, bs=bs, seed=seed, balance=rare).train
    wtime['class-balanced'] = 0.
    return out, wtime


def epoch(dl):
    "One pass over the loader"
    for _ in dl: pass


def draw_time(dl, n: int = 20) -> float:
    "Median seconds of one epoch draw (`sampler.draw()`), the sampler's cost per epoch"
    return statistics.median(timeit(dl.sampler.draw, n, warmup=0))


def model_step_time(dl, n_classes: int, steps: int, ignore_index=None) -> float:
    "Median seconds of one training step of an SMP Unet-resnet18 on one batch of `dl`"
    if steps <= 0: return 0.
    from seg_imbalance.models import seg_model
    model = seg_model(n_classes, 'Unet', 'resnet18'); opt = torch.optim.Adam(model.parameters(), 1e-3)
    xb, yb = dl.one_batch()
    xb, yb = xb.as_subclass(torch.Tensor), yb.as_subclass(torch.Tensor).long()
    def step():
        loss = torch.nn.functional.cross_entropy(model(xb), yb, ignore_index=-100 if ignore_index is None else ignore_index); loss.backward(); opt.step(); opt.zero_grad()
    return statistics.median(timeit(step, steps, warmup=1))


def hem_time(dl, n_classes: int, rare_idx: list[int], ignore_index) -> float:
    "Seconds of hard-example mining's work over one epoch of `dl` (random logits), per-epoch update included"
    bs, n = dl.bs, len(dl.sampler.weights)
    dl.get_idxs(); nb = len(dl)
    yb = [torch.randint(0, n_classes, (bs, *dl.one_batch()[1].shape[1:])) for _ in range(2)]
    logits = torch.randn(bs, n_classes, *yb[0].shape[1:])
    dl.get_idxs()
    t = time.perf_counter()
    err_sum, cnt = np.zeros(n), np.zeros(n)
    for i in range(nb):
        pos = batch_items(dl, i, table_positions=False)
        e, s = (x.numpy() for x in rare_error(logits, yb[i % 2], rare_idx, ignore_index))
        np.add.at(err_sum, pos[s], e[s]); np.add.at(cnt, pos[s], 1)
    m = hem_update(np.ones(n), np.divide(err_sum, cnt, out=np.zeros(n), where=cnt > 0), cnt > 0)
    dl.sampler.set_weights(dl.sampler.weights * m)
    return time.perf_counter() - t


def bench(name: str, table: pd.DataFrame, scenes: SceneSet, bs: int, repeat: int, model_steps: int, n_rare: int) -> tuple[pd.DataFrame, dict]:
    rare = rare_classes(table, n_rare)
    dls, wtime = loaders(table, scenes, bs, rare)
    plain = dls['plain']
    print(f"\n== {name}: {len(table):,} patches of {table.h.iloc[0]}×{table.w.iloc[0]} px, {len(plain.dataset):,} training patches, "
          f"bs {bs}, {len(plain)} batches per epoch; rare classes {rare}")
    # warm-up pass over each (file cache, first-batch setup), then interleaved, the starting loader rotating each round
    times = interleaved({k: (lambda dl=dl: epoch(dl)) for k, dl in dls.items()}, repeat, warmup=1, rotate=True)
    load = {k: statistics.median(v) for k, v in times.items()}
    step = model_step_time(plain, len(table.attrs['codes']), model_steps, table.attrs.get('ignore_index'))
    train = load['plain'] + len(plain) * step
    rows = {}
    for k, dl in dls.items():
        d = 0. if k == 'plain' else draw_time(dl)
        rows[k] = {'epoch load s': load[k], 'spread %': 100 * (max(times[k]) - min(times[k])) / load[k],
                   'load / plain load': load[k] / load['plain'], 'draw ms': 1e3 * d,
                   'draw % of load': 100 * d / load['plain'], 'draw % of train': 100 * d / train, 'weights ms (once)': 1e3 * wtime.get(k, 0.)}
    h = hem_time(dls['uniform'], len(table.attrs['codes']), table_classes(table, rare), table.attrs.get('ignore_index'))
    rows['hard-example mining'] = {'epoch load s': np.nan, 'spread %': np.nan, 'load / plain load': np.nan, 'draw ms': 1e3 * h,
                                   'draw % of load': 100 * h / load['plain'], 'draw % of train': 100 * h / train, 'weights ms (once)': np.nan}
    res = pd.DataFrame(rows).T
    print(f"plain epoch: load {load['plain']:.2f} s (median of {repeat}); model step {step:.3f} s × {len(plain)} batches "
          f"-> train epoch ≈ {train:.1f} s")
    print_table(res)
    info = dict(name=name, patches=len(table), patch_px=int(table.h.iloc[0]), train_patches=len(plain.dataset), bs=bs,
                batches=len(plain), rare=rare, repeat=repeat, model_steps=model_steps,
                plain_load_s=round(load['plain'], 4), model_step_s=round(step, 4), train_epoch_s=round(train, 3))
    return res, info


def write(out: str, tables: dict, infos: dict, load0: float):
    "The tables as `out`.csv (a `dataset` and a `sampler` column first) and the header facts as `out`.json"
    out = Path(out); out.parent.mkdir(parents=True, exist_ok=True)
    df = pd.concat(tables, names=['dataset', 'sampler']).reset_index()
    df.to_csv(out.with_suffix('.csv'), index=False, float_format='%.6g')
    print('wrote', out.with_suffix('.csv'))
    info = run_info('cpu')
    meta = dict(command=info['command'], machine=dict(cpu=info['cpu'], cpu_count=info['cpu_count'], threads=info['threads'],
                torch=info['torch'], load1=f'{load0:.2f}-{os.getloadavg()[0]:.2f}'), datasets=infos)
    write_results(out.with_suffix('.json'), meta, info)


def main():
    p = parser(__doc__, quick='smoke run: 4 demo scenes of 256 px, 1 round, 1 model step', repeats=3,
               out_help="write PREFIX.csv and PREFIX.json (default nbs/results/sampler_overhead, --quick: nothing; '' nothing)")
    p.add_argument('--scenes', type=int, default=16); p.add_argument('--scene-size', type=int, default=512)
    p.add_argument('--size', type=int, default=64, help='demo patch side')
    p.add_argument('--bs', type=int, default=16)
    p.add_argument('--model-steps', type=int, default=5, help='training steps timed for the train denominator (0: skip)')
    p.add_argument('--camvid', default=None, help='CamVid folder (e.g. ../shared/data/camvid); skipped when absent')
    p.add_argument('--camvid-scenes', type=int, default=60, help='the first N CamVid scenes (keeps the run short)')
    p.add_argument('--camvid-size', type=int, default=96, help='CamVid patch side')
    p.add_argument('--no-demo', action='store_true')
    a = p.parse_args()
    if a.quick: a.scenes, a.scene_size, a.repeats, a.model_steps, a.camvid_scenes = 4, 256, 1, 1, 8
    if a.out is None: a.out = '' if a.quick else str(OUT)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    load0, tables, infos = os.getloadavg()[0], {}, {}
    if not a.no_demo:
        ss = synth_sceneset(a.scenes, a.scene_size, seed=0)
        tables['demo'], infos['demo'] = bench(f'demo ({a.scenes} scenes of {a.scene_size} px)', tile(ss, a.size), ss,
                                              a.bs, a.repeats, a.model_steps, 3)
    if a.camvid:
        if not os.path.isdir(a.camvid): print(f"\n== CamVid: {a.camvid} not found, skipped")
        else:
            cv = read_scene_folder(a.camvid)
            cv = SceneSet(cv.scenes[:a.camvid_scenes], cv.codes, cv.ignore_index)
            tables['camvid'], infos['camvid'] = bench(f'CamVid (first {len(cv)} scenes)', tile(cv, a.camvid_size), cv,
                                                      a.bs, a.repeats, a.model_steps, 4)
    if a.out and tables: write(a.out, tables, infos, load0)


if __name__ == '__main__':
    main()
