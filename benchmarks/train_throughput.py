"""Training steps per second of `data.patch_dataloaders` + `learner.seg_learner` at their default settings against a
plain PyTorch loop with the same SMP model, batch, patch size and loss, measured in the same run; and data-only time
per batch with 0 and 2 loader workers.

    nice -n 10 python benchmarks/train_throughput.py                 # CamVid (when present) + demo scenes, 128 px, bs 16
    python benchmarks/train_throughput.py --quick                    # 64 px patches, bs 8, fewer steps (a few minutes)
    python benchmarks/train_throughput.py --out FILE.json            # also write the tables, commit, versions, device

Data sets, both read from folders with `io.read_scene_folder` at its defaults (the disk cache of decoded scenes):
CamVid from `../shared/data/camvid` (701 scenes of 360 × 480 JPG, ignore index 11; skipped when absent) and
`--demo-n` demo scenes of `--demo-size` px (`synth.synth_sceneset`, written as PNG to a temporary folder).
Patch table: `crop.tile(scenes, patch)`.

- `fastai`: `patch_dataloaders(table, scenes, bs=bs)` (defaults: scene split 20 %, dihedral flips, normalisation by the
  training scenes' channel statistics, `num_workers=0`) and `seg_learner(dls)` (Unet-resnet18 with scSE attention,
  no pretrained weights, `WeightedCrossEntropy` with the ignore index, fastai's Adam), `learn.fit(1, 1e-3)` stopped
  after `--steps` training steps.
- `plain`: the same model (`models.seg_model(n_classes)`, same seed), the same loss object type, `torch.optim.AdamW`
  (lr 1e-3, weight decay 0.01 — fastai's Adam defaults), a `torch.utils.data.DataLoader` (shuffled, `drop_last`,
  `num_workers=0`) over the same training rows, each patch cut from scenes decoded into memory up front (the
  fastest thing a plain loop can do), normalised by the same statistics, a random flip per batch.
Step time = wall time between consecutive steps (data + forward + backward + optimiser), the first 2 steps of each
run left out; the runs alternate fastai / plain for `--rounds` rounds and the table shows the median step.
Goal: fastai / plain ≥ 0.9.

Data-only table: seconds per training batch of each loader alone (no model), over `--data-batches` batches after the
first, with 0 and 2 workers, for the fastai loader on the default disk cache, on `cache='none'` (every patch
decodes its scene, the old default), and the plain loader — each measured in a fresh process with
`OMP_WAIT_POLICY=PASSIVE` and with OpenMP's default (threads spin while they wait), since spinning threads of several
processes on a small machine make multi-threaded torch ops (e.g. `torch.stack` in the collate) very slow.
The training table runs with `OMP_WAIT_POLICY=PASSIVE` (set by this script unless the environment sets it).
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time, shutil, warnings
os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')
if '--omp' not in sys.argv: os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
warnings.filterwarnings('ignore')
from pathlib import Path
import numpy as np
from _common import parser, device, run_info, write_results, print_table, ROOT


def datasets(a, tmp: Path) -> dict:
    "name -> (SceneSet read from a folder with read_scene_folder defaults, cache kwargs for the 'none' variant)"
    from seg_imbalance.io import read_scene_folder, save_scene_folder
    from seg_imbalance.synth import synth_sceneset
    out = {}
    if a.camvid.exists() and not a.no_camvid: out['CamVid'] = a.camvid
    demo = tmp/'demo'
    if not demo.exists(): save_scene_folder(synth_sceneset(a.demo_n, a.demo_size, seed=0), demo)
    out[f'demo {a.demo_n} × {a.demo_size}²'] = demo
    return out


def build(folder: Path, a, cache='disk'):
    "scenes, table and the default fastai DataLoaders of a scene folder"
    from seg_imbalance.io import read_scene_folder
    from seg_imbalance.crop import tile
    from seg_imbalance.data import patch_dataloaders
    scenes = read_scene_folder(folder, cache=cache)
    table = tile(scenes, a.patch)
    dls = patch_dataloaders(table, scenes, bs=a.bs)
    return scenes, table, dls


class PlainDS:
    "Training windows of the table cut from scenes decoded into memory: (image CHW float 0–1, mask HW int64)"
    def __init__(self, arrays, win): self.arrays, self.win = arrays, win
    def __len__(self): return len(self.win)
    def __getitem__(self, i):
        import torch
        s, y, x, h, w = (int(v) for v in self.win[i])
        im, m = self.arrays[s]
        return (torch.from_numpy(np.ascontiguousarray(im[y:y + h, x:x + w].transpose(2, 0, 1))).float().div_(255.),
                torch.from_numpy(m[y:y + h, x:x + w].astype(np.int64)))


def plain_loader(scenes, dls, workers: int = 0, seed: int = 0):
    import torch
    rows = np.asarray(dls.train.dataset.items)
    win = dls.table[['scene', 'y', 'x', 'h', 'w']].to_numpy()[rows]
    used = np.unique(win[:, 0])
    arrays = {int(s): (np.array(scenes[s].read_image()), np.array(scenes[s].read_mask())) for s in used}
    return torch.utils.data.DataLoader(PlainDS(arrays, win), dls.train.bs, shuffle=True, drop_last=True, num_workers=workers,
                                       generator=torch.Generator().manual_seed(seed))


def fastai_steps(dls, steps: int, seed: int = 0) -> list[float]:
    "Seconds between consecutive training steps of seg_learner(dls).fit(1), stopped after `steps` steps"
    import torch
    from fastai.callback.core import Callback, CancelFitException
    from seg_imbalance.learner import seg_learner
    class Timer(Callback):
        order = 100
        def before_fit(self): self.ts = []
        def after_batch(self):
            if not self.training: return
            self.ts.append(time.perf_counter())
            if len(self.ts) > steps: raise CancelFitException()
    torch.manual_seed(seed)
    learn = seg_learner(dls, cbs=Timer())
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    return np.diff(learn.timer.ts).tolist()


def plain_steps(scenes, dls, steps: int, seed: int = 0) -> list[float]:
    "Seconds between consecutive steps of a plain PyTorch loop with the same model, loss, batch and patches"
    import torch
    from seg_imbalance.models import seg_model
    from seg_imbalance.losses import WeightedCrossEntropy
    torch.manual_seed(seed)
    model = seg_model(len(dls.codes)); model.train()
    loss_fn = WeightedCrossEntropy(ignore_index=dls.ignore_index)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in dls.norm_stats)
    g, ts = torch.Generator().manual_seed(seed), []
    for xb, yb in plain_loader(scenes, dls, 0, seed):
        if torch.rand(1, generator=g) < 0.5: xb, yb = xb.flip(-1), yb.flip(-1)
        loss = loss_fn(model((xb - mean) / std), yb)
        opt.zero_grad(); loss.backward(); opt.step()
        ts.append(time.perf_counter())
        if len(ts) > steps: break
    return np.diff(ts).tolist()


def data_only(folder: Path, a, workers: int) -> dict:
    "Seconds per training batch of the fastai loader (disk cache, cache='none') and the plain loader"
    res = {}
    for name, cache in (('fastai, disk cache (default)', 'disk'), ("fastai, cache='none' (old default)", 'none'), ('plain', 'disk')):
        scenes, table, dls = build(folder, a, cache)
        dl = plain_loader(scenes, dls, workers) if name == 'plain' else dls.train.new(num_workers=workers)
        n = a.data_batches if cache != 'none' else max(3, a.data_batches // 4)
        it = iter(dl); next(it); t0 = time.perf_counter()
        for i, _ in zip(range(n), it): pass
        res[name] = (time.perf_counter() - t0) / (i + 1)
        del it, dl
    return res


def main():
    p = parser(__doc__, quick='64 px patches, bs 8, 8 steps, 1 round, 8 demo scenes of 512 px')
    p.add_argument('--steps', type=int, default=20); p.add_argument('--rounds', type=int, default=2)
    p.add_argument('--patch', type=int, default=128); p.add_argument('--bs', type=int, default=16)
    p.add_argument('--demo-n', type=int, default=16); p.add_argument('--demo-size', type=int, default=1024)
    p.add_argument('--data-batches', type=int, default=20)
    p.add_argument('--camvid', type=Path, default=ROOT.parent/'shared'/'data'/'camvid')
    p.add_argument('--no-camvid', action='store_true')
    p.add_argument('--skip-train', action='store_true'); p.add_argument('--skip-data', action='store_true')
    p.add_argument('--tmp', type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument('--omp', default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.quick: a.patch, a.bs, a.steps, a.rounds, a.demo_n, a.demo_size, a.data_batches = 64, 8, 8, 1, 8, 512, 10
    import torch
    if a.omp is not None: # child: data-only timings under one OpenMP wait policy
        print(json.dumps({name: {w: data_only(f, a, w) for w in (0, 2)} for name, f in datasets(a, a.tmp).items()})); return
    tmp = Path(tempfile.mkdtemp(prefix='train_tp_'))
    res = dict(patch=a.patch, bs=a.bs, steps=a.steps, rounds=a.rounds, torch_threads=torch.get_num_threads(), cpus=os.cpu_count(),
               omp_wait_policy=os.environ.get('OMP_WAIT_POLICY'), train=[], data=[])
    try:
        ds = datasets(a, tmp)
        print(f"patch {a.patch}, bs {a.bs}, {a.steps} steps × {a.rounds} rounds, torch threads {torch.get_num_threads()}, "
              f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}", flush=True)
        for name, folder in ([] if a.skip_train else ds.items()):
            scenes, table, dls = build(folder, a)
            fa, pl = [], []
            for r in range(a.rounds):
                fa += fastai_steps(dls, a.steps, r)[2:]; pl += plain_steps(scenes, dls, a.steps, r)[2:]
                print(name, 'round', r, f'fastai {statistics.median(fa):.3f} s/step, plain {statistics.median(pl):.3f} s/step', flush=True)
            f_s, p_s = 1 / statistics.median(fa), 1 / statistics.median(pl)
            res['train'].append({'data': name, 'scenes': len(scenes), 'train patches': len(dls.train.dataset),
                                 'fastai steps/s': f_s, 'plain steps/s': p_s, 'fastai / plain': f_s / p_s})
        if res['train']: print_table(res['train'], title=f"### Training steps per second ({a.patch} px, bs {a.bs}, median step)")
        for pol in ([] if a.skip_data else ['PASSIVE', 'default']):
            env = dict(os.environ); env.pop('OMP_WAIT_POLICY', None)
            if pol == 'PASSIVE': env['OMP_WAIT_POLICY'] = 'PASSIVE'
            cmd = [sys.executable, __file__, '--omp', pol, '--tmp', str(tmp), '--patch', str(a.patch), '--bs', str(a.bs),
                   '--demo-n', str(a.demo_n), '--demo-size', str(a.demo_size), '--data-batches', str(a.data_batches),
                   '--camvid', str(a.camvid)] + (['--no-camvid'] if a.no_camvid else [])
            out = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if out.returncode: print(out.stderr[-3000:]); raise SystemExit('data-only child failed')
            for name, by_w in json.loads(out.stdout.strip().splitlines()[-1]).items():
                for loader in next(iter(by_w.values())):
                    res['data'].append({'data': name, 'OMP_WAIT_POLICY': pol, 'loader': loader,
                                        's/batch, 0 workers': by_w['0'][loader], 's/batch, 2 workers': by_w['2'][loader]})
            print(f'data-only done ({pol})', flush=True)
        if res['data']: print_table(res['data'], title=f"### Data only: seconds per training batch ({a.patch} px, bs {a.bs})")
        write_results(a.out, res, run_info(device()))  # fastai's loaders go to its default device (a GPU when present)
    finally: shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__': main()
