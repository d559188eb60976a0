"""Step time of the model options (architectures, scSE, dilated context, auxiliary heads) and fp32 vs bfloat16 on CPU.

Run from the repository root (each writes its results file, with the run's commit, versions and device; `--quick`
for a short smoke run that writes nothing unless `--out` is given):
  nice -n 10 python benchmarks/models.py steps --threads 1 --repeats 7 --warmup 1   # -> nbs/results/model_steps.csv
  nice -n 10 python benchmarks/models.py bf16 --threads 1 --repeats 9               # -> nbs/results/bf16.json

What is measured
- steps: wall-clock of one training step (forward, loss, backward, SGD step) of each model on a batch of 8 random
  128×128 RGB images with 6 classes, resnet18 encoder, no pretrained weights; median of `--repeats` steps after
  `--warmup` steps. The models take turns, one step each per round, so that load from other processes hits all
  alike; `ratio` is the median step time over plain Unet's (no scSE) measured in the same run, `ratio_min` the
  same for the fastest step of each (on a loaded machine the minimum is the better estimate of the model's own cost).
- bf16, speed: the same step for `seg_model`'s default Unet-resnet18 (scSE) at batch 16, 128 px, float32 against
  `torch.autocast('cpu', dtype=torch.bfloat16)` (the loss runs in float32 either way), alternating.
- bf16, accuracy: a plain PyTorch loop trains that model from scratch on the demo data (`synth_sceneset`, random
  64 px crops, batch 16, AdamW, `WeightedCrossEntropy(weight='batch')`) in each precision from the same seed and the
  same crops, then scores per-class IoU on held-out whole demo scenes (`iou`, `miou`: evaluated in the training
  precision; `miou_eval_fp32` / `miou_eval_bf16`: each model evaluated in each precision). 4 seeds by default.
"""
from __future__ import annotations
import json, os, statistics, time
import numpy as np, torch
from _common import parser, run_info, write_results, interleaved, cpu_name, RESULTS
from seg_imbalance.models import seg_model, AuxLoss
from seg_imbalance.losses import WeightedCrossEntropy
from seg_imbalance.synth import synth_sceneset

STEP_CONFIGS = [  # (name, seg_model kwargs); `decoder_attention_type=None` turns off seg_model's scSE default
    ('Unet', dict(arch='Unet', decoder_attention_type=None)),
    ('Unet+scSE', dict(arch='Unet')),
    ('Unet+dilated', dict(arch='Unet', decoder_attention_type=None, context='dilated')),
    ('Unet+aux', dict(arch='Unet', decoder_attention_type=None, aux=2)),
    ('Unet+scSE+dilated+aux', dict(arch='Unet', context='dilated', aux=2)),
    ('UnetPlusPlus', dict(arch='UnetPlusPlus', decoder_attention_type=None)),
    ('FPN', dict(arch='FPN')),
    ('PSPNet', dict(arch='PSPNet')),
    ('DeepLabV3Plus', dict(arch='DeepLabV3Plus')),
]


def load1() -> float: return round(os.getloadavg()[0], 2)


def cpu_flags() -> set[str]:
    try: return set(next(l.split(':', 1)[1].split() for l in open('/proc/cpuinfo') if l.startswith('flags')))
    except (OSError, StopIteration): return set()


def make_step(model, loss, bs, size, n_classes=6, seed=0, bf16=False):
    "A function running one training step on a fixed random batch"
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(bs, 3, size, size, generator=g), torch.randint(0, n_classes, (bs, size, size), generator=g)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    model.train()
    def step():
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16): l = loss(model(x), y)
        opt.zero_grad(); l.backward(); opt.step()
    return step


def run_steps(a):
    torch.manual_seed(0)
    models = {name: seg_model(6, encoder_name='resnet18', **kw) for name, kw in STEP_CONFIGS}
    loss = AuxLoss(WeightedCrossEntropy())
    steps = {k: make_step(m, loss, a.bs, a.size) for k, m in models.items()}
    l0 = load1()
    times = interleaved(steps, a.repeats, a.warmup, progress=True)
    base = statistics.median(times['Unet'])
    rows = []
    for name, kw in STEP_CONFIGS:
        med = statistics.median(times[name])
        rows.append(dict(model=name, options=' '.join(f'{k}={v!r}' for k, v in kw.items()),
                         params_M=round(sum(p.numel() for p in models[name].parameters()) / 1e6, 2),
                         step_s=round(med, 3), ratio=round(med / base, 2), min_s=round(min(times[name]), 3),
                         ratio_min=round(min(times[name]) / min(times['Unet']), 2), max_s=round(max(times[name]), 3),
                         batch=a.bs, size=a.size, repeats=a.repeats,
                         threads=torch.get_num_threads(), load1=f'{l0}-{load1()}'))
    for r in rows: print(f"{r['model']:24s} {r['params_M']:6.2f}M {r['step_s']:7.3f}s ×{r['ratio']:.2f}")
    write_results(a.out, rows, run_info('cpu'))


def crops(scenes, n, size, rng):
    "`n` random `size` crops (images uint8 (n, H, W, 3), masks (n, H, W)) from `(image, mask)` pairs"
    xs, ys = [], []
    for _ in range(n):
        img, msk = scenes[rng.integers(len(scenes))]
        y0, x0 = rng.integers(0, msk.shape[0] - size + 1), rng.integers(0, msk.shape[1] - size + 1)
        xs.append(img[y0:y0 + size, x0:x0 + size]); ys.append(msk[y0:y0 + size, x0:x0 + size])
    return np.stack(xs), np.stack(ys)


def to_input(img:np.ndarray, mean, std) -> torch.Tensor:
    return ((torch.from_numpy(img).float() - mean) / std).permute(0, 3, 1, 2).contiguous()


def train_eval(seed, bf16, train, valid, n_classes, steps, bs, size, lr):
    "Train `seg_model(n_classes)` for `steps` steps in one precision; per-class IoU on the whole validation scenes"
    torch.manual_seed(seed)
    model, loss = seg_model(n_classes), WeightedCrossEntropy(weight='batch')
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    pix = np.concatenate([im.reshape(-1, 3) for im, _ in train]).astype(np.float64)
    mean, std = torch.tensor(pix.mean(0)).float(), torch.tensor(pix.std(0)).float()
    rng, t0 = np.random.default_rng(np.random.SeedSequence([seed, 0])), time.perf_counter()
    model.train()
    for _ in range(steps):
        xi, yi = crops(train, bs, size, rng)
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
            l = loss(model(to_input(xi, mean, std)), torch.from_numpy(yi).long())
        opt.zero_grad(); l.backward(); opt.step()
    train_s = time.perf_counter() - t0
    ev = {p: evaluate(model, valid, mean, std, n_classes, p == 'bf16') for p in ('fp32', 'bf16')}
    own = 'bf16' if bf16 else 'fp32'
    return dict(seed=seed, precision=own, iou=ev[own][0], miou=ev[own][1], train_s=round(train_s, 1),
                final_loss=round(l.item(), 4), miou_eval_fp32=ev['fp32'][1], miou_eval_bf16=ev['bf16'][1])


def evaluate(model, valid, mean, std, n_classes, bf16):
    "Per-class IoU (NaN for a class absent from truth and prediction) and mIoU of `model` on whole scenes"
    model.eval(); cm = torch.zeros(n_classes, n_classes, dtype=torch.long)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
        for im, m in valid:
            p = model(to_input(im[None], mean, std)).float().argmax(1)[0]
            cm += torch.bincount(torch.from_numpy(m).long().flatten() * n_classes + p.flatten(),
                                 minlength=n_classes ** 2).view(n_classes, n_classes)
    tp = cm.diag().double(); den = cm.sum(0) + cm.sum(1) - cm.diag()
    iou = torch.where(den > 0, tp / den.clamp_min(1), torch.nan)
    return [round(float(v), 4) for v in iou], round(float(iou.nanmean()), 4)


def run_bf16(a):
    torch.manual_seed(0)
    model, loss = seg_model(6), AuxLoss(WeightedCrossEntropy())
    speed = {k: make_step(model, loss, a.bs16, a.size, bf16=k == 'bf16') for k in ('fp32', 'bf16')}
    l0 = load1()
    times = interleaved(speed, a.repeats, a.warmup, progress=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"speed: fp32 {med['fp32']:.3f}s, bf16 {med['bf16']:.3f}s, ×{med['fp32'] / med['bf16']:.2f}", flush=True)
    ss_t, ss_v = synth_sceneset(a.train_scenes, a.scene, seed=0), synth_sceneset(a.valid_scenes, a.scene, seed=1000)
    train = [(s.read_image(), s.read_mask()) for s in ss_t]; valid = [(s.read_image(), s.read_mask()) for s in ss_v]
    runs = []
    for seed in a.seeds:
        for bf16 in (False, True):
            runs.append(train_eval(seed, bf16, train, valid, ss_t.n_classes, a.steps, a.train_bs, a.train_size, a.lr))
            print(runs[-1], flush=True)
    of = lambda key, p: [r[key] for r in runs if r['precision'] == p]
    mean_of = lambda key, p: round(float(np.mean(of(key, p))), 4)
    mi = {p: float(np.mean(of('miou', p))) for p in ('fp32', 'bf16')}
    diff = np.array(of('iou', 'bf16'), dtype=float) - np.array(of('iou', 'fp32'), dtype=float)
    flags = cpu_flags()
    info = run_info('cpu')
    res = dict(
        command=info['command'],
        machine=dict(cpu=cpu_name(), threads=torch.get_num_threads(), torch=torch.__version__,
                     amx_bf16='amx_bf16' in flags, avx512_bf16='avx512_bf16' in flags, load1=f'{l0}-{load1()}'),
        speed=dict(model='seg_model(6): Unet-resnet18 + scSE', batch=a.bs16, size=a.size, repeats=a.repeats,
                   fp32_s=round(med['fp32'], 3), bf16_s=round(med['bf16'], 3),
                   speedup=round(med['fp32'] / med['bf16'], 2),
                   speedup_min=round(min(times['fp32']) / min(times['bf16']), 2),
                   fp32_all=[round(t, 3) for t in times['fp32']], bf16_all=[round(t, 3) for t in times['bf16']]),
        training=dict(codes=list(ss_t.codes), train_scenes=a.train_scenes, valid_scenes=a.valid_scenes,
                      scene_size=a.scene, steps=a.steps, batch=a.train_bs, size=a.train_size, lr=a.lr,
                      loss="WeightedCrossEntropy(weight='batch')", seeds=list(a.seeds), runs=runs),
        summary=dict(miou_fp32=round(mi['fp32'], 4), miou_bf16=round(mi['bf16'], 4),
                     miou_diff=round(mi['bf16'] - mi['fp32'], 4),
                     miou_eval_fp32={p: mean_of('miou_eval_fp32', p) for p in ('fp32', 'bf16')},
                     miou_eval_bf16={p: mean_of('miou_eval_bf16', p) for p in ('fp32', 'bf16')},
                     max_abs_class_iou_diff=round(float(np.nanmax(np.abs(diff))), 4)))
    print(json.dumps(res['summary']))
    write_results(a.out, res, info)


def main(argv=None):
    ap = parser(__doc__, quick='a short smoke run that writes nothing (unless --out)', repeats=7, seeds=[0, 1, 2, 3],
                out_help='results file (default nbs/results/model_steps.csv or bf16.json; --quick: none)')
    ap.add_argument('what', choices=['steps', 'bf16'])
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--bs', type=int, default=8, help='batch of the step table')
    ap.add_argument('--bs16', type=int, default=16, help='batch of the bf16 speed test')
    ap.add_argument('--size', type=int, default=128)
    ap.add_argument('--steps', type=int, default=200, help='training steps of the bf16 accuracy test')
    ap.add_argument('--train-size', type=int, default=64, help='crop size of the bf16 accuracy test')
    ap.add_argument('--train-bs', type=int, default=16, help='batch of the bf16 accuracy test')
    ap.add_argument('--threads', type=int, default=0, help="torch threads (default: torch's choice)")
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--scene', type=int, default=256, help='side of the demo scenes')
    ap.add_argument('--train-scenes', type=int, default=8); ap.add_argument('--valid-scenes', type=int, default=8)
    a = ap.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    if a.quick: a.repeats, a.warmup, a.steps, a.seeds, a.bs16, a.size = 1, 1, 2, [0], 2, 64
    if a.out is None and not a.quick: a.out = RESULTS/('model_steps.csv' if a.what == 'steps' else 'bf16.json')
    print(f"{torch.get_num_threads()} threads, torch {torch.__version__}, load {load1()}", flush=True)
    (run_steps if a.what == 'steps' else run_bf16)(a)


if __name__ == '__main__':
    main()
