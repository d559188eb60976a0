"""Whole-scene inference (`interpret.predict_scene`) against the model's bare forward over the same windows, and its
peak memory as the scene grows.

    nice -n 10 python benchmarks/predict_scene.py                 # scenes of 2,000² and 8,000² px
    python benchmarks/predict_scene.py --quick                    # 512² and 1,024² (a smoke run)
    python benchmarks/predict_scene.py --sizes 2000 --repeats 3   # choose sizes, median of interleaved rounds
    python benchmarks/predict_scene.py --out FILE.json            # also write the rows, commit, versions, device

Setup: SMP Unet-resnet18 (random weights, 6 classes, eval mode, float32, CPU, torch's default threads), 128 px windows
at overlap 0.25 (step 96), `bs` 8, Gaussian blending, labels returned (int64). The scene is an RGB uint8 array (the
512 px demo scene tiled), made before anything is measured. Each scene size runs in a fresh process, which:

1. warms up (one `predict_scene` on a 256² scene), reads its RSS, runs `predict_scene` on the scene, and reads the
   kernel's RSS high-water mark (VmHWM). `peak Δ` = high-water mark − RSS before the call: everything
   the call held at its worst moment. `labels` = the returned array (H·W·8 bytes); `working` = peak Δ − labels: the
   windows in flight, the model's activations for one batch and the band of blended scores (C · 128 · W floats —
   it grows with the scene's width, not its area). tracemalloc is not used: it does not see torch's allocations.
   The model is wrapped in a timer, so the same call also gives `model in call`, the time spent inside the model's
   forward during `predict_scene`: same windows, same batches, same moment — immune to the load of a shared machine.
2. times the bare forward (`--bare-max` px scenes and smaller; default 2,000²): `model(x)` under `torch.no_grad()` on
   the same number of windows in the same batches of `bs`, cut inside the scene (no padding), the input tensors made
   outside the timer; then `predict_scene` again, `--repeats` interleaved rounds, medians.

Times are process CPU seconds (all threads; `time.process_time`) with wall seconds in brackets: on a shared machine
the wall clock of a pass swings with the other processes' load (separate passes then disagree by tens of %), the CPU
time the pass used much less. overhead in call = call / model in call − 1; overhead vs bare = predict_scene rerun /
bare forward − 1 (separate passes). Both are the cost of cutting windows through the reflect maps, normalising,
softmax, weighting and stitching. Goal: ≤ 15 %. Throughput `Mpx/s` is scene pixels per wall second of the first call.
"""
import argparse, json, os, subprocess, sys, time, warnings
os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')
warnings.filterwarnings('ignore')
import numpy as np
from _common import parser, run_info, write_results, print_table, rss_mb, peak_rss_mb, clocks, timed_module



def child(a) -> dict:
    "Measure one scene size; run in a fresh process"
    import torch
    from torch import nn
    from types import SimpleNamespace
    from seg_imbalance.models import seg_model
    from seg_imbalance.synth import make_scene
    from seg_imbalance.interpret import predict_scene, window_starts


    torch.manual_seed(0)
    model = timed_module(seg_model(6, 'Unet', 'resnet18').eval())
    info = dict(codes=[f'c{i}' for i in range(6)], ignore_index=None, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225],
                scale=255., patch_size=a.window, colors=None, in_channels=3)
    learn = SimpleNamespace(model=model, seg_info=info)
    n = a.size
    tile_, _ = make_scene(512, seed=0)
    img = np.tile(tile_, (n // 512 + 1, n // 512 + 1, 1))[:n, :n].copy()
    predict_scene(learn, img[:256, :256], overlap=a.overlap, bs=a.bs)          # warm-up
    before, model.t = rss_mb(), np.zeros(2)
    t = clocks(); out = predict_scene(learn, img, overlap=a.overlap, bs=a.bs); call = clocks() - t
    peak, in_call = peak_rss_mb() - before, model.t
    res = dict(size=n, windows=0, call_s=call.tolist(), model_in_call_s=in_call.tolist(), rss_before_mb=before,
               peak_delta_mb=peak, labels_mb=out.nbytes / 2**20)
    del out
    (ys, pad, _), w = window_starts(n, a.window, a.overlap), a.window
    pos = np.clip(ys - pad, 0, n - w)
    yy, xx = (v.ravel() for v in np.meshgrid(pos, pos, indexing='ij'))
    res['windows'] = len(yy)
    if n > a.bare_max: return res
    mean, std = torch.tensor(info['mean'])[:, None, None], torch.tensor(info['std'])[:, None, None]
    bare, pred = [], []
    for _ in range(a.repeats):
        tb = np.zeros(2)
        with torch.no_grad():
            for i in range(0, len(yy), a.bs):
                crops = np.stack([img[y:y + w, x:x + w] for y, x in zip(yy[i:i + a.bs], xx[i:i + a.bs])])
                xb = ((torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255 - mean) / std).contiguous()  # NCHW
                t = clocks(); model.m(xb); tb += clocks() - t
        bare.append(tb)
        t = clocks(); predict_scene(learn, img, overlap=a.overlap, bs=a.bs); pred.append(clocks() - t)
    res.update(bare_s=np.median(bare, 0).tolist(), predict_s=np.median(pred, 0).tolist(), rounds=a.repeats)
    return res


def table(rows: list[dict]) -> list[dict]:
    "The results as table rows; times as CPU s (wall s)"
    cols = ['scene px', 'windows', 'model in call s', 'predict_scene s', 'overhead in call %', 'bare forward s',
            'predict_scene rerun s', 'overhead vs bare %', 'Mpx/s', 'RSS before MB', 'peak Δ MB', 'labels MB', 'working MB']
    two = lambda v, f: f"{f(v[1])} ({f(v[0])})"
    sec, pct = lambda v: f'{v:.1f}', lambda v: f'{100 * v:.1f}'
    out = []
    for r in rows:
        c, m, bare = np.array(r['call_s']), np.array(r['model_in_call_s']), 'bare_s' in r
        b, p = (np.array(r['bare_s']), np.array(r['predict_s'])) if bare else (None, None)
        v = [f"{r['size']:,}²", r['windows'], two(m, sec), two(c, sec), two(c / m - 1, pct),
             two(b, sec) if bare else '', two(p, sec) if bare else '', two(p / b - 1, pct) if bare else '',
             f"{r['size'] ** 2 / c[0] / 1e6:.3f}", f"{r['rss_before_mb']:.0f}", f"{r['peak_delta_mb']:.0f}",
             f"{r['labels_mb']:.0f}", f"{r['peak_delta_mb'] - r['labels_mb']:.0f}"]
        out.append(dict(zip(cols, map(str, v))))
    return out


def main():
    p = parser(__doc__, quick='scenes of 512 and 1,024 px', repeats=1)
    p.add_argument('--sizes', type=int, nargs='+', default=[2000, 8000], help='scene sides in pixels')
    p.add_argument('--window', type=int, default=128)
    p.add_argument('--overlap', type=float, default=0.25)
    p.add_argument('--bs', type=int, default=8)
    p.add_argument('--bare-max', type=int, default=2000, help='time the separate bare forward on scenes up to this side')
    p.add_argument('--child', type=int, default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child is not None:
        a.size = a.child; print(json.dumps(child(a))); return
    import torch
    sizes = [512, 1024] if a.quick else a.sizes
    print(f"Unet-resnet18, {a.window} px windows, overlap {a.overlap}, bs {a.bs}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, CPU; load average {os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    for n in sizes:
        cmd = [sys.executable, __file__, '--child', str(n), '--window', str(a.window), '--overlap', str(a.overlap),
               '--bs', str(a.bs), '--repeats', str(a.repeats), '--bare-max', str(a.bare_max)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode: sys.exit(f"scene {n}: child failed\n{r.stderr[-3000:]}")
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
        print(f"scene {n:,}² done ({rows[-1]['call_s'][0]:.0f} s per call); load average {os.getloadavg()[0]:.1f}", flush=True)
    print_table(table(rows))
    write_results(a.out, dict(window=a.window, overlap=a.overlap, bs=a.bs, rows=rows), run_info('cpu'))


if __name__ == '__main__':
    main()
