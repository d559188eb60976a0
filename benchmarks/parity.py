"""Is the toolkit's base path at parity with a plain PyTorch + SMP loop? (issue 17 item 1)

Trains, on the same data, patch size, batch size, steps, device and seeds, scored by the same whole-scene
`interpret.evaluate_scenes` (every labelled pixel of the validation scenes once):
  toolkit   `recipes.run_recipe('baseline')` as a user gets it (fastai `fit_one_cycle` at the recipe's lr, fastai Adam
            with wd 0.01, per-dataset normalisation, scSE decoder attention, the default augmentation of
            `data.patch_dataloaders`), and single-change variants of it (`tk-*`) made by the recipe's fields or, for
            what a recipe cannot say, by the `Probe` callback passed to `fit_recipe` (augmentation family, schedule,
            normalisation, weight decay, Adam's betas/eps)
  plain     a plain loop written here: a Dataset reading the same windows (image / 255, ImageNet statistics,
            horizontal flips), `DataLoader(shuffle=True, drop_last=True)`, `smp.Unet(resnet18)` without attention,
            `torch.optim.Adam(lr=1e-3)` at a constant lr, `nn.CrossEntropyLoss(ignore_index=...)`; `plain-*` variants
            change one thing to match the toolkit
Every model is also scored with windows twice the patch size (`*_2x`): the scoring-window question.
One JSON line per finished run (resumable: runs already in the file are skipped), then a table:
config, seeds, mIoU mean ± std, rare mIoU mean ± std, Δ vs the plain loop. Parity: toolkit ≥ plain − 1 std.

  python benchmarks/parity.py --data demo   [--seeds 0 1] [--configs toolkit plain tk-hflip ...]
  python benchmarks/parity.py --data camvid [--seeds 0 1] [--configs toolkit plain tk-hflip]
  python benchmarks/parity.py --data demo --table      # print the table of the results file only
"""
import argparse, functools, json, math, platform, subprocess, sys, time
from pathlib import Path
from types import SimpleNamespace
import numpy as np, torch

REPO = Path(__file__).resolve().parents[1]
# `../shared` beside the project (or beside the folder of a git worktree under it)
SHARED = next((d for d in (REPO.parent / 'shared', REPO.parent.parent / 'shared') if d.exists()), REPO.parent / 'shared')
DATA = {'demo': dict(data={'source': 'demo', 'size': 64}, steps=300, bs=16),
        'camvid': dict(data={'source': str(SHARED / 'data/camvid'), 'size': 128,
                             'rare': ['Pole', 'SignSymbol', 'Fence', 'Pedestrian', 'Bicyclist']}, steps=300, bs=16)}
# toolkit side: `recipe` = fields of the baseline recipe; `probe` = what `Probe` changes. plain side: loop settings.
CONFIGS = {
    'toolkit': dict(side='toolkit'),
    'plain': dict(side='plain'),
    'tk-hflip': dict(side='toolkit', recipe={'aug': 'hflip'}),
    'tk-flips': dict(side='toolkit', recipe={'aug': 'flips'}),
    'tk-noaug': dict(side='toolkit', recipe={'aug': 'none'}),
    'tk-batch-hflip': dict(side='toolkit', probe={'aug': 'hflip'}), # batch-level flips in place of Dihedral
    'tk-lr1e-3': dict(side='toolkit', recipe={'lr': 1e-3}),
    'tk-constant': dict(side='toolkit', probe={'schedule': 'constant'}),
    'tk-constant-1e-3': dict(side='toolkit', recipe={'lr': 1e-3}, probe={'schedule': 'constant'}),
    'tk-imagenet': dict(side='toolkit', probe={'norm': 'imagenet'}),
    'tk-255': dict(side='toolkit', probe={'norm': '255'}),
    'tk-noscse': dict(side='toolkit', recipe={'attention': False}),
    'tk-wd0': dict(side='toolkit', probe={'wd': 0.}),
    'tk-torch-adam': dict(side='toolkit', probe={'adam': 'torch'}),
    'tk-hflip-lr1e-3': dict(side='toolkit', recipe={'lr': 1e-3, 'aug': 'hflip'}),
    'plain-dihedral': dict(side='plain', aug='dihedral'),
    'plain-flips': dict(side='plain', aug='flips'),
    'plain-onecycle': dict(side='plain', lr=3e-3, schedule='one-cycle'),
    'plain-scse': dict(side='plain', attention=True),
    'plain-wd': dict(side='plain', wd=0.01),
    'plain-datastats': dict(side='plain', norm='data'),
}
IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])

def flip_masks(n:int, family:str, gen:torch.Generator):
    "Per item: horizontal flip, vertical flip, transpose (booleans `(3, n)`) of augmentation `family`"
    if family not in ('none', 'hflip', 'flips', 'dihedral'): raise ValueError(f"unknown augmentation family {family!r}")
    r = torch.rand(3, n, generator=gen) < .5
    if family in ('none', 'hflip'): r[1] = False
    if family != 'dihedral': r[2] = False
    if family == 'none': r[0] = False
    return r

def apply_flips(x:torch.Tensor, r:torch.Tensor) -> torch.Tensor:
    "Items of `x` (`(N, ..., H, W)`) flipped left-right, up-down and transposed where `r` says (dihedral: all 8)"
    x = x.clone()
    for k, f in enumerate((lambda t: t.flip(-1), lambda t: t.flip(-2), lambda t: t.transpose(-1, -2))):
        if r[k].any(): x[r[k]] = f(x[r[k]])
    return x

def make_probe(aug=None, norm=None, wd=None, schedule=None, adam=None, lr=None, seed=0):
    "A fastai callback changing one thing of `fit_recipe`'s training (what a `Recipe` cannot say)"
    from fastai.callback.core import Callback
    from fastai.vision.all import Dihedral, Normalize, RandTransform, TensorImage, TensorMask
    class BatchFlips(RandTransform):
        "Training-batch flips of one augmentation family, drawn per item from a seeded generator"
        split_idx, order = 0, 30
        def __init__(self, family): super().__init__(p=1.); self.family, self.gen = family, torch.Generator().manual_seed(seed)
        def before_call(self, b, split_idx):
            super().before_call(b, split_idx); self.r = flip_masks(b[0].shape[0], self.family, self.gen)
        def encodes(self, x:TensorImage): return apply_flips(x, self.r)
        def encodes(self, x:TensorMask): return apply_flips(x, self.r)
    class Probe(Callback):
        order = 65 # after ParamScheduler (60): a constant schedule overrides it
        def before_fit(self):
            dls = self.learn.dls
            if aug is not None:
                pl = dls.train.after_batch
                pl.fs = pl.fs.filter(lambda f: not isinstance(f, Dihedral))
                if aug != 'none': pl.add(BatchFlips(aug))
            if norm is not None:
                m, s = (IMAGENET if norm == 'imagenet' else ([0.] * 3, [1.] * 3))
                for dl in (dls.train, dls.valid):
                    for f in dl.after_batch.fs:
                        if isinstance(f, Normalize):
                            f.mean, f.std = (torch.tensor(v, device=f.mean.device).view(1, -1, 1, 1) for v in (m, s))
                info = self.learn.seg_info
                if isinstance(info, dict): info.update(mean=list(m), std=list(s))
                else: info.mean, info.std = list(m), list(s)
            if wd is not None: self.opt.set_hypers(wd=wd)
            if adam == 'torch': self.opt.set_hypers(sqr_mom=0.999, eps=1e-8)
        def before_batch(self):
            if schedule == 'constant' and self.training: self.opt.set_hypers(lr=lr, mom=0.9)
    return Probe()

def run_toolkit(cfg, seed, spec, ss, table, valid, rare):
    from seg_imbalance.recipes import run_recipe, get_recipe
    r = get_recipe('baseline', **cfg.get('recipe', {}))
    probe = cfg.get('probe', {})
    cbs = [make_probe(**probe, lr=r.lr, seed=seed)] if probe else []
    out = run_recipe(r, ss, table, valid, rare=rare, steps=spec['steps'], bs=spec['bs'], seed=seed, cbs=cbs)
    return out['learn'], out['record']['train_s'], out['learn'].steps

class Windows(torch.utils.data.Dataset):
    "Training windows `(uint8 image (C, h, w), mask (h, w))` of the table rows `rows`, as a plain loop reads them"
    def __init__(self, ss, table, rows):
        self.ss, self.win = ss, table[['scene', 'y', 'x', 'h', 'w']].to_numpy(np.int64)[np.asarray(rows, np.int64)]
    def __len__(self): return len(self.win)
    def __getitem__(self, i):
        s, y, x, h, w = (int(v) for v in self.win[i])
        img, m = self.ss[s].read_image((y, x, h, w)), self.ss[s].read_mask((y, x, h, w))
        return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))), torch.from_numpy(m.astype(np.int64))

def run_plain(cfg, seed, spec, ss, table, valid, rare):
    import segmentation_models_pytorch as smp
    from seg_imbalance.data import channel_stats
    torch.manual_seed(seed); np.random.seed(seed)
    dev = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    steps, bs, lr = spec['steps'], spec['bs'], float(cfg.get('lr', 1e-3))
    tr = np.flatnonzero(~table.scene.isin(valid).to_numpy())
    if cfg.get('norm') == 'data':
        m, s = channel_stats(ss, np.unique(table.scene.to_numpy()[tr])); mean, std = m.tolist(), s.tolist()
    else: mean, std = IMAGENET
    dl = torch.utils.data.DataLoader(Windows(ss, table, tr), bs, shuffle=True, drop_last=True,
                                     generator=torch.Generator().manual_seed(seed))
    n, ign = len(ss.codes), ss.ignore_index
    model = smp.Unet('resnet18', encoder_weights=None, classes=n,
                     decoder_attention_type='scse' if cfg.get('attention') else None).to(dev)
    wd = float(cfg.get('wd', 0.))
    opt = (torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd) if wd else
           torch.optim.Adam(model.parameters(), lr=lr))
    sched = (torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.25, div_factor=25.,
                                                 final_div_factor=1e5 / 25, base_momentum=0.85, max_momentum=0.95)
             if cfg.get('schedule') == 'one-cycle' else None)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=-100 if ign is None else ign)
    mt, st = (torch.tensor(v, device=dev).view(1, -1, 1, 1) for v in (mean, std))
    gen, done, t0 = torch.Generator().manual_seed(seed), 0, time.time()
    model.train()
    while done < steps:
        for x, y in dl:
            r = flip_masks(len(x), cfg.get('aug', 'hflip'), gen)
            x, y = apply_flips(x, r).to(dev).float().div(255.), apply_flips(y, r).to(dev)
            loss = loss_fn(model((x - mt) / st), y)
            opt.zero_grad(); loss.backward(); opt.step()
            if sched is not None: sched.step()
            done += 1
            if done == steps: break
    info = dict(codes=list(ss.codes), ignore_index=ign, mean=list(mean), std=list(std), scale=255.,
                patch_size=int(table['h'].max()), in_channels=3, colors=None, band_range=None)
    return SimpleNamespace(model=model, seg_info=info), time.time() - t0, done

def score(learn, ss, valid, rare, size=None) -> dict:
    from seg_imbalance.interpret import evaluate_scenes
    tab = evaluate_scenes(learn, ss, valid, size=size, progress=False, rare=rare or None)
    s = tab.attrs['summary']
    return {'miou': s['mIoU'], 'rare_miou': s.get('rare_miou', float('nan')),
            'iou': {c: float(v) for c, v in tab['IoU'].items()}}

@functools.lru_cache(maxsize=1)
def environment() -> dict:
    "Commit, device and versions, read once when the process starts its first run (the code it imported)"
    import fastai, segmentation_models_pytorch as smp, albumentations
    git = lambda *a: subprocess.run(['git', '-C', str(REPO), *a], capture_output=True, text=True).stdout.strip()
    try: # '-dirty' when the library or this script differ from the commit (results files do not count)
        commit = git('rev-parse', '--short', 'HEAD') + ('-dirty' if git('status', '--porcelain', '--untracked-files=no',
                                                                      '--', 'seg_imbalance', 'benchmarks/parity.py') else '')
    except OSError: commit = None
    dev = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    return {'commit': commit, 'device': dev, 'versions': {'torch': torch.__version__, 'fastai': fastai.__version__,
            'smp': smp.__version__, 'albumentations': albumentations.__version__, 'python': platform.python_version()}}

def run(name, seed, spec, data_name) -> dict:
    from seg_imbalance.recipes import load_data, recipe_rare, Recipe
    env = environment()
    ss, table, valid, rare = load_data(spec['data'])
    tr = np.flatnonzero(~table.scene.isin(valid).to_numpy())
    rare = list(rare) if rare else recipe_rare(Recipe(), table, tr)
    cfg = CONFIGS[name]
    learn, train_s, steps = (run_toolkit if cfg['side'] == 'toolkit' else run_plain)(cfg, seed, spec, ss, table, valid, rare)
    size = int(table['h'].max())
    s1, s2 = score(learn, ss, valid, rare), score(learn, ss, valid, rare, 2 * size)
    return {'data': data_name, 'config': name, 'seed': seed, 'settings': cfg, **s1,
            'miou_2x': s2['miou'], 'rare_miou_2x': s2['rare_miou'], 'rare': rare, 'steps': steps,
            'steps_asked': spec['steps'], 'bs': spec['bs'], 'patch': size, 'train_s': round(train_s, 1),
            **env, 'timestamp': time.strftime('%Y-%m-%d %H:%M:%S')}

def _ms(v) -> str:
    v = np.asarray(v, float)
    return f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else float('nan'):.3f}"

def table(records:list, data_name:str) -> str:
    recs = [r for r in records if r['data'] == data_name]
    if not recs: return f"no {data_name} runs yet"
    by = {}
    for r in recs: by.setdefault(r['config'], []).append(r)
    rows = []
    for name, rs in by.items():
        rows.append((name, rs, 'miou', 'rare_miou'))
        if name in ('toolkit', 'plain'): rows.append((f"{name} (window 2×)", rs, 'miou_2x', 'rare_miou_2x'))
    ref = {r['seed']: r['miou'] for r in by.get('plain', [])}
    devices, commits = sorted({r['device'] for r in recs}), sorted({r['commit'] or '?' for r in recs})
    out = [f"# parity on {data_name}: {recs[0]['steps_asked']} steps, bs {recs[0]['bs']}, {recs[0]['patch']} px patches; "
           f"commit {', '.join(commits)}; device {'; '.join(devices)}",
           f"{'config':<22}{'seeds':>6}  {'mIoU':>15}  {'rare mIoU':>15}  {'Δ mIoU vs plain':>16}  {'train s':>8}"]
    for name, rs, k, kr in rows:
        d = [r[k] - ref[r['seed']] for r in rs if r['seed'] in ref]
        out.append(f"{name:<22}{len(rs):>6}  {_ms([r[k] for r in rs]):>15}  {_ms([r[kr] for r in rs]):>15}  "
                   f"{(f'{np.mean(d):+.3f}' + (f' ({len(d)})' if d else '')) if d else '—':>16}  "
                   f"{np.mean([r['train_s'] for r in rs]):>8.0f}")
    if 'toolkit' in by and 'plain' in by:
        t, p = (np.asarray([r['miou'] for r in by[c]]) for c in ('toolkit', 'plain'))
        sd = p.std(ddof=1) if len(p) > 1 else 0.
        out.append(f"parity (toolkit ≥ plain − 1 std): {t.mean():.3f} vs {p.mean() - sd:.3f} → "
                   f"{'yes' if t.mean() >= p.mean() - sd else 'NO'}")
    return '\n'.join(out)

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', choices=list(DATA), default='demo')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--configs', nargs='+', default=['toolkit', 'plain', 'tk-hflip', 'tk-lr1e-3', 'tk-noscse'])
    p.add_argument('--steps', type=int, default=None, help='default: 300')
    p.add_argument('--seed-major', action='store_true', help='every config at the first seed, then the next seed')
    p.add_argument('--out', default=None, help='default nbs/results/parity_<data>.jsonl')
    p.add_argument('--table', action='store_true', help='only print the table of the results file')
    a = p.parse_args()
    bad = [c for c in a.configs if c not in CONFIGS]
    if bad: p.error(f"unknown config {bad[0]!r}: one of {', '.join(CONFIGS)}")
    spec = dict(DATA[a.data]); spec['steps'] = a.steps or spec['steps']
    out = Path(a.out or REPO / f'nbs/results/parity_{a.data}.jsonl')
    recs = [json.loads(l) for l in out.read_text().splitlines() if l.strip()] if out.exists() else []
    if not a.table:
        environment() # the commit of the code this process imports
        if a.data != 'demo' and not Path(spec['data']['source']).exists(): sys.exit(f"{spec['data']['source']} not found")
        commit = environment()['commit'] # runs of another commit do not pair with this one: run them again
        have = {(r['config'], r['seed'], r['steps_asked']) for r in recs if r['data'] == a.data and r['commit'] == commit}
        todo = ([(c, s) for s in a.seeds for c in a.configs] if a.seed_major else
                [(c, s) for c in a.configs for s in a.seeds])
        for c, s in todo:
            if (c, s, spec['steps']) in have: continue
            t0 = time.time(); rec = run(c, s, spec, a.data)
            out.parent.mkdir(parents=True, exist_ok=True)
            with open(out, 'a') as f: f.write(json.dumps(rec) + '\n')
            recs.append(rec)
            print(f"{c} seed {s}: mIoU {rec['miou']:.3f} rare {rec['rare_miou']:.3f} ({time.time() - t0:.0f} s)", flush=True)
    mine = (lambda r: True) if a.table else (lambda r: r['commit'] == environment()['commit']) # a run: its commit's table
    print(table([r for r in recs if r['steps_asked'] == spec['steps'] and mine(r)], a.data))

if __name__ == '__main__': main()
