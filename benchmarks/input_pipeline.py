"""Training patches per second of the augmented input pipeline, against the plain pipeline and against what one
Unet-resnet18 training step consumes, all measured in the same run.

    nice -n 10 python benchmarks/input_pipeline.py            # 24 demo scenes of 512 px, 128 px patches, bs 16
    python benchmarks/input_pipeline.py --quick               # smoke run (small, a minute or so)
    python benchmarks/input_pipeline.py --out FILE.json       # also write both tables, commit, versions, device

Pipelines (fastai `DataBlock` over the rows of `crop.tile(scenes, 128)`, in-memory demo scenes, scene split
train / valid, training loader shuffled, `drop_last`):
- `plain`: each row's window is read (`PILImage` / `PILMask`) — no augmentation;
- `full`: training rows are read with a 64 px margin and cut around a rare-class pixel (`augment.RareCentredWindow`,
  class probabilities ∝ 1/√pixel share), then `augment.AlbumentationsTransform` (seeded) runs `augment.default_aug()`
  followed by `augment.CopyPaste` (1–3 cars / water bodies / buildings from the training scenes' bank, cars and
  others onto any class, blend σ = 1).
Each is timed over `--batches` training batches with 0 and with 2 workers; the first batch of a pass (worker start-up)
is left out, so the figure is steady-state patches per second (median over `--repeats` passes).

Denominator: the patches per second one training step of an SMP Unet-resnet18 (no pretrained weights, Adam,
cross-entropy) consumes at bs 16 and 128 px = 16 / median step time over `--steps` steps (CPU, torch threads as set).
Second table: the cost of each transform alone in ms per 128 px patch (median over `--patches` patches).
Goals: `full` with 2 workers ≥ 3× what training consumes; copy-paste ≤ 2 ms per patch.
`--device cuda` (alias `--train-device`) times the step on a GPU instead (the default when one is present).
Notes: on a small machine the loader workers and the model share the same cores during real training. The script sets
`OMP_WAIT_POLICY=PASSIVE` unless the environment sets it: with OpenMP's default (spinning) waits, an oversubscribed
machine makes multi-threaded torch ops orders of magnitude slower and the table would measure the contention.
"""
import os, statistics, time, warnings
os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')
# OpenMP threads that spin while they wait make every multi-threaded torch op (even torch.stack in the collate) up to
# 1000x slower on an oversubscribed machine (measured on the shared 2-core box: 280 ms vs 0.1 ms to stack 16 patches)
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
warnings.filterwarnings('ignore')
import numpy as np, pandas as pd, torch
import albumentations as A
from fastai.vision.all import DataBlock, ImageBlock, MaskBlock, PILImage, PILMask
from seg_imbalance.synth import synth_sceneset
from seg_imbalance.crop import tile
from seg_imbalance.stats import class_counts, class_weights
from seg_imbalance.augment import (AlbumentationsTransform, default_aug, RareCentredWindow, LocalRareAug, ObjectBank,
                                   CopyPaste)
from _common import parser, device, run_info, write_results, print_table, timeit


class Reader:
    "get_x / get_y of a table row: its window, or for training rows (with `rare`) a rare-centred window read with a margin"
    def __init__(self, scenes, table, train_rows, rare=None, margin=64):
        self.scenes, self.win = scenes, table[['scene', 'y', 'x', 'h', 'w']].to_numpy(np.int64)
        self.train, self.rare, self.margin, self.epoch, self.last = set(train_rows), rare, margin, 0, (None, None)
    def window(self, i):
        if self.last[0] != i:
            s, *w = (int(v) for v in self.win[i])
            if self.rare is not None and i in self.train:
                w = self.rare.scene_window(self.scenes[s], w, self.margin, self.epoch, i)
            self.last = (i, (s, tuple(w)))
        return self.last[1]
    def image(self, i): s, w = self.window(i); return PILImage.create(self.scenes[s].read_image(w))
    def mask(self, i): s, w = self.window(i); return PILMask.create(self.scenes[s].read_mask(w))


class Get:
    "Picklable getter `i -> reader.<what>(i)` (fastai wants callables that are not bound methods)"
    def __init__(self, reader, what): self.reader, self.what = reader, what
    def __call__(self, i): return getattr(self.reader, self.what)(i)


def loader(scenes, table, train_rows, valid_rows, bs, workers, full, bank, probs):
    "The training DataLoader of the plain or full pipeline"
    rare = RareCentredWindow(int(table.h.iloc[0]), probs, seed=0) if full else None
    r = Reader(scenes, table, train_rows, rare)
    tfms = [AlbumentationsTransform(A.Compose([default_aug(), CopyPaste(bank, k=(1, 3), blend_sigma=1., p=1.)]), seed=0)] if full else None
    db = DataBlock(blocks=(ImageBlock, MaskBlock(scenes.codes)), get_x=Get(r, 'image'), get_y=Get(r, 'mask'), item_tfms=tfms,
                   splitter=lambda items: (list(train_rows), list(valid_rows)))
    return db.dataloaders(list(range(len(table))), bs=bs, num_workers=workers, device='cpu').train


def patches_per_s(dl, n_batches, repeat):
    "Median steady-state patches/s over `repeat` passes of `n_batches` batches (first batch of each pass not timed)"
    rates = []
    for _ in range(repeat):
        it, n = iter(dl), 0
        next(it); t = time.perf_counter()
        for _ in range(n_batches - 1):
            try: xb, _ = next(it)
            except StopIteration: break
            n += len(xb)
        rates.append(n / (time.perf_counter() - t))
        del it
    return statistics.median(rates), rates


def train_rate(dl, n_classes, steps, bs, device):
    "Patches/s one Unet-resnet18 training step consumes: bs / median step seconds"
    from seg_imbalance.models import seg_model
    model = seg_model(n_classes, 'Unet', 'resnet18').to(device); opt = torch.optim.Adam(model.parameters(), 1e-3)
    xb, yb = dl.one_batch()
    xb, yb = xb.as_subclass(torch.Tensor).float().to(device), yb.as_subclass(torch.Tensor).long().to(device)
    def step():
        loss = torch.nn.functional.cross_entropy(model(xb), yb); loss.backward(); opt.step(); opt.zero_grad()
    med = statistics.median(timeit(step, steps, warmup=1, dev=device))
    return bs / med, med


def transform_costs(scenes, table, train_rows, bank, probs, n):
    "Median ms per patch of each transform alone, on `n` training patches"
    rows = np.asarray(train_rows)[np.random.default_rng(0).integers(0, len(train_rows), n)]
    w = table[['scene', 'y', 'x', 'h', 'w']].to_numpy(np.int64)
    pairs = [(scenes[w[i, 0]].read_image(tuple(w[i, 1:])), scenes[w[i, 0]].read_mask(tuple(w[i, 1:]))) for i in rows]
    rare = RareCentredWindow(int(table.h.iloc[0]), probs, seed=0)
    da = AlbumentationsTransform(default_aug(), seed=0)
    tfms = {'read window (plain)': lambda i, im, mk: (scenes[w[i, 0]].read_image(tuple(w[i, 1:])), scenes[w[i, 0]].read_mask(tuple(w[i, 1:]))),
            'rare-centred window (64 px margin)': lambda i, im, mk: rare.scene_window(scenes[w[i, 0]], tuple(w[i, 1:]), 64, 0, int(i)),
            'default_aug (AlbumentationsTransform)': lambda i, im, mk: da((im, mk), split_idx=0),
            'CopyPaste k=1': (lambda t: lambda i, im, mk: t(image=im, mask=mk))(CopyPaste(bank, k=1, p=1., seed=0)),
            'CopyPaste k=1-3, σ=1 (as in full)': (lambda t: lambda i, im, mk: t(image=im, mask=mk))(CopyPaste(bank, k=(1, 3), blend_sigma=1., p=1., seed=0)),
            'CopyPaste k=3, scale 0.8-1.2, onto road': (lambda t: lambda i, im, mk: t(image=im, mask=mk))(
                CopyPaste(bank, k=3, scale=(0.8, 1.2), onto='road', p=1., seed=0)),
            'LocalRareAug (car, building)': (lambda t: lambda i, im, mk: t(image=im, mask=mk))(
                LocalRareAug(['car', 'building'], codes=scenes.codes, seed=0))}
    res = {}
    for name, f in tfms.items():
        ts = []
        for i, (im, mk) in zip(rows, pairs):
            t = time.perf_counter(); f(i, im, mk); ts.append(time.perf_counter() - t)
        res[name] = {'ms / patch (median)': 1e3 * statistics.median(ts), 'ms / patch (mean)': 1e3 * float(np.mean(ts))}
    return pd.DataFrame(res).T


def main():
    p = parser(__doc__, quick='smoke run: small data, one pass, one step', repeats=3)
    p.add_argument('--scenes', type=int, default=24); p.add_argument('--scene-size', type=int, default=512)
    p.add_argument('--size', type=int, default=128, help='patch side'); p.add_argument('--bs', type=int, default=16)
    p.add_argument('--batches', type=int, default=16, help='training batches per timed pass')
    p.add_argument('--steps', type=int, default=5, help='training steps timed')
    p.add_argument('--patches', type=int, default=300, help='patches for the per-transform costs')
    p.add_argument('--workers', type=int, nargs='+', default=[0, 2])
    p.add_argument('--device', '--train-device', default=None, help='device of the training step (default: cuda when present)')
    a = p.parse_args()
    if a.quick: a.scenes, a.batches, a.repeats, a.steps, a.patches = 8, 4, 1, 1, 50
    a.device = device(a.device)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    t0 = time.perf_counter()
    scenes = synth_sceneset(a.scenes, a.scene_size, seed=0)
    table = tile(scenes, a.size)
    n_valid = max(1, a.scenes // 6)
    train_rows = np.flatnonzero(table.scene < a.scenes - n_valid).tolist()
    valid_rows = np.flatnonzero(table.scene >= a.scenes - n_valid).tolist()
    train_scenes = list(range(a.scenes - n_valid))
    bank = ObjectBank.from_scenes(scenes, train_scenes, ['car', 'water', 'building'], min_pixels=6, max_pixels=3000, pad=2)
    probs = class_weights(class_counts([scenes[i].read_mask() for i in train_scenes], scenes.n_classes), 'inverse_sqrt')
    n_b = min(a.batches, len(train_rows) // a.bs)
    print(f"{a.scenes} demo scenes of {a.scene_size} px ({time.perf_counter() - t0:.1f} s to make), {len(table)} patches of "
          f"{a.size} px, {len(train_rows)} training; bank {bank}; {n_b} batches of {a.bs} per timed pass, {a.repeats} passes; "
          f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    rates, spread = {}, {}
    for workers in a.workers:
        for full in (False, True):
            dl = loader(scenes, table, train_rows, valid_rows, a.bs, workers, full, bank, probs)
            k = ('full' if full else 'plain', workers)
            rates[k], rs = patches_per_s(dl, n_b, a.repeats)
            spread[k] = 100 * (max(rs) - min(rs)) / rates[k]
    dl = loader(scenes, table, train_rows, valid_rows, a.bs, 0, False, bank, probs)
    tr, step = train_rate(dl, scenes.n_classes, a.steps, a.bs, a.device)
    rows = {f'{name}, {w} workers': {'patches/s': r, 'spread %': spread[(name, w)], '× training': r / tr,
                                     '× plain, same workers': r / rates[('plain', w)]} for (name, w), r in rates.items()}
    rows[f'training consumes (Unet-resnet18, bs {a.bs}, {a.size} px, {a.device}; step {step:.3g} s)'] = \
        {'patches/s': tr, 'spread %': np.nan, '× training': 1., '× plain, same workers': np.nan}
    rates_tab = pd.DataFrame(rows).T
    print_table(rates_tab, title='## Input pipeline, patches per second')
    costs = transform_costs(scenes, table, train_rows, bank, probs, a.patches)
    print_table(costs, title=f'## Cost per {a.size} px patch, each transform alone ({a.patches} patches)')
    if 2 in a.workers:
        full2, cp = rates[('full', 2)] / tr, costs.loc['CopyPaste k=1-3, σ=1 (as in full)', 'ms / patch (median)']
        print(f"\ngoal full pipeline, 2 workers ≥ 3× training: {full2:.1f}× -> {'met' if full2 >= 3 else 'NOT met'}")
        print(f"goal copy-paste ≤ 2 ms per patch: {cp:.2f} ms -> {'met' if cp <= 2 else 'NOT met'}")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    write_results(a.out, dict(scenes=a.scenes, scene_size=a.scene_size, size=a.size, bs=a.bs, batches=n_b, repeats=a.repeats,
                              steps=a.steps, patches=a.patches, train_step_s=step,
                              pipelines=rates_tab.rename_axis('pipeline').reset_index().to_dict('records'),
                              transforms=costs.rename_axis('transform').reset_index().to_dict('records')), run_info(a.device))


if __name__ == '__main__':
    main()
