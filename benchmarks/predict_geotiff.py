"""Windowed GeoTIFF prediction (`predict.predict_geotiff`, the engine of `seg-imbalance predict`): peak memory as the
scene grows, and the cost of reading, stitching and writing against the model's own forward passes.

    nice -n 10 python benchmarks/predict_geotiff.py            # scenes of 5,000² and 20,000² px
    nice -n 10 python benchmarks/predict_geotiff.py --quick    # 2,000² and 4,000² px
    python benchmarks/predict_geotiff.py --sizes 3000 --window 256 --bs 8

Setup: a synthetic 4-band uint16 GeoTIFF (EPSG:32633, 1 m pixels, tiled 256², deflate, nodata 0 in a 64 px border),
written strip by strip in its own process (never whole in memory): the 512 px demo scene tiled, its bands scaled to
uint16 plus a fourth. Model: SMP Unet with a small encoder (resnet18 cut to depth 3, decoder 64/32/16 with scSE;
random weights, 6 classes, eval, float32, CPU, torch's default threads) — small so that a 20,000² scene (~11,000
windows of 256 px) runs in CPU time one can wait for. Windows of `--window` px at overlap 0.25, `bs` per batch,
Gaussian blending, the class raster plus probabilities and confidence rasters written (`--probs/--confidence` of the
command). Each scene size runs in a fresh process, which loads the model, warms up on a small GeoTIFF, reads its RSS,
predicts the scene, and reads the kernel's RSS high-water mark (`resource.getrusage`): `peak Δ` = high-water mark −
RSS before the call. Goal: < 1.5 GB and flat in the scene size.

Stitching ratio = time of the whole windowed prediction (read strips, cut windows, normalise, forward, softmax, blend,
write three GeoTIFFs) / time spent in the model's forward during the same call — the bare forward over exactly the
same windows in the same batches, timed by a wrapper around the model, so the two times see the same machine load.
Times are process CPU seconds (all threads), wall seconds alongside. Goal: ≤ 1.15. With `--max-windows K`, a scene
with more windows is cut to its first rows (a GeoTIFF of the same width, K windows or a few more) for the ratio, and
the output says so; the memory is always measured on the whole scene.
"""
import argparse, json, os, resource, subprocess, sys, tempfile, time, warnings
os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')
warnings.filterwarnings('ignore')
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).parent))
from _common import clocks, timed_module

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT/'nbs'/'results'/'predict_geotiff.json'


def rss_mb() -> float:
    "Resident set size now, MB"
    with open('/proc/self/statm') as f: return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def peak_mb() -> float:
    "RSS high-water mark of this process, MB"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_scene(path: str, h: int, w: int, rows: int = 512):
    "A 4-band uint16 GeoTIFF of h × w px, written `rows` rows at a time (the demo scene tiled), nodata 0 at the border"
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window
    from seg_imbalance.synth import make_scene
    t, _ = make_scene(512, seed=0)
    t = t.astype(np.uint16)
    tile4 = np.stack([t[..., 0] * 200 + 100, t[..., 1] * 200 + 100, t[..., 2] * 200 + 100, t[..., 1] * 150 + 50], 0)
    with rasterio.Env(GDAL_CACHEMAX=64), rasterio.open(
            path, 'w', driver='GTiff', width=w, height=h, count=4, dtype='uint16', nodata=0, crs='EPSG:32633',
            transform=from_origin(400000, 5300000, 1, 1), tiled=True, blockxsize=256, blockysize=256,
            compress='deflate', BIGTIFF='IF_SAFER') as f:
        for r0 in range(0, h, rows):
            r1 = min(h, r0 + rows)
            ys, xs = np.arange(r0, r1) % 512, np.arange(w) % 512
            a = tile4[:, ys][:, :, xs].copy()
            b = 64
            if r0 < b: a[:, :b - r0] = 0
            if r1 > h - b: a[:, max(0, h - b - r0):] = 0
            a[:, :, :b] = 0; a[:, :, -b:] = 0
            f.write(a, window=Window(0, r0, w, r1 - r0))


def make_model(a):
    "The benchmark's model and its `seg_info`"
    import torch
    from seg_imbalance.models import seg_model
    torch.manual_seed(0)
    m = seg_model(6, 'Unet', 'resnet18', in_channels=4, encoder_depth=3, decoder_channels=(64, 32, 16)).eval()
    info = dict(codes=[f'c{i}' for i in range(6)], ignore_index=None, mean=[0.5] * 4, std=[0.25] * 4, scale=255.,
                patch_size=a.window, colors=None, in_channels=4, band_range=[[100.] * 4, [51100.] * 4])
    return m, info


def child(a) -> dict:
    "Predict one GeoTIFF; run in a fresh process"
    import torch
    from torch import nn
    from seg_imbalance.predict import predict_geotiff, SegModel
    from seg_imbalance.interpret import window_starts


    m, info = make_model(a)
    model = timed_module(m)
    learn = SegModel(model, info)
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    (out/'warm').mkdir(exist_ok=True)
    predict_geotiff(learn, a.warm, out/'warm', bs=a.bs, probs=True, confidence=True, progress=False)
    before, model.t = rss_mb(), np.zeros(2)
    t = clocks()
    areas = predict_geotiff(learn, a.scene, out, bs=a.bs, probs=True, confidence=True, progress=False)
    call = clocks() - t
    import rasterio
    with rasterio.open(a.scene) as f: h, w = f.height, f.width
    n_win = len(window_starts(h, a.window, 0.25)[0]) * len(window_starts(w, a.window, 0.25)[0])
    return dict(height=h, width=w, windows=n_win, call_s=call.tolist(), model_s=model.t.tolist(),
                ratio_cpu=call[1] / model.t[1], ratio_wall=call[0] / model.t[0], rss_before_mb=before,
                peak_delta_mb=peak_mb() - before, classified_px=int(areas.pixels.sum()),
                threads=torch.get_num_threads())


def run(cmd: list) -> dict:
    "Run this script with `cmd` in a fresh process, its JSON answer"
    env = {**os.environ, 'PYTHONPATH': str(ROOT)}
    r = subprocess.run([sys.executable, __file__, *cmd], capture_output=True, text=True, env=env)
    if r.returncode: raise RuntimeError(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--quick', action='store_true', help='scenes of 2,000² and 4,000² px')
    p.add_argument('--sizes', type=int, nargs='+', default=None, help='scene sides (default 5000 20000)')
    p.add_argument('--window', type=int, default=256); p.add_argument('--bs', type=int, default=8)
    p.add_argument('--max-windows', type=int, default=3000, help='the ratio on at most about this many windows')
    p.add_argument('--tmp', default=None, help='folder for the GeoTIFFs (default: a temporary folder)')
    p.add_argument('--child', nargs=3, metavar=('SCENE', 'WARM', 'OUT'), help=argparse.SUPPRESS)
    p.add_argument('--write', nargs=3, metavar=('PATH', 'H', 'W'), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.write: write_scene(a.write[0], int(a.write[1]), int(a.write[2])); print('{}'); return
    if a.child:
        a.scene, a.warm, a.out = a.child; print(json.dumps(child(a))); return
    sizes = a.sizes or ([2000, 4000] if a.quick else [5000, 20000])
    tmp = Path(a.tmp or tempfile.mkdtemp(prefix='predict_geotiff_')); tmp.mkdir(parents=True, exist_ok=True)
    run(['--write', str(tmp/'warm.tif'), '300', '300'])
    res, common = [], ['--window', str(a.window), '--bs', str(a.bs)]
    for n in sizes:
        src = tmp/f'scene_{n}.tif'
        t = time.perf_counter(); run(['--write', str(src), str(n), str(n)]); wrote = time.perf_counter() - t
        r = run([*common, '--child', str(src), str(tmp/'warm.tif'), str(tmp/f'out_{n}')])
        r.update(side=n, write_s=wrote, ratio_on='the whole scene')
        step = int(round(a.window * 0.75))
        if r['windows'] > a.max_windows * 1.5: # the ratio again on the first rows, same width (the memory run timed it too)
            rows = max(a.window, ((a.max_windows // max(1, n // step)) - 1) * step + a.window)
            cut = tmp/f'cut_{n}.tif'; run(['--write', str(cut), str(rows), str(n)])
            c = run([*common, '--child', str(cut), str(tmp/'warm.tif'), str(tmp/f'outcut_{n}')])
            r.update(ratio_on=f'the first {rows} rows ({c["windows"]} windows)', ratio_cut_cpu=c['ratio_cpu'],
                     ratio_cut_wall=c['ratio_wall'])
        res.append(r)
        print(f"{n:>6}² px  {r['windows']:>6} windows  peak Δ {r['peak_delta_mb']:7.1f} MB  "
              f"call {r['call_s'][1]:8.1f} s CPU ({r['call_s'][0]:.1f} s wall)  model {r['model_s'][1]:8.1f} s CPU  "
              f"ratio {r['ratio_cpu']:.3f} CPU / {r['ratio_wall']:.3f} wall  (on {r['ratio_on']}"
              + (f": {r['ratio_cut_cpu']:.3f} CPU / {r['ratio_cut_wall']:.3f} wall" if 'ratio_cut_cpu' in r else '')
              + ')', flush=True)
    import torch, platform
    out = dict(benchmark='predict_geotiff', quick=a.quick, window=a.window, bs=a.bs, overlap=0.25,
               model='Unet resnet18 depth 3, decoder (64, 32, 16), 4 bands, 6 classes', device='cpu',
               torch=torch.__version__, cpus=os.cpu_count(), machine=platform.machine(), results=res,
               goals=dict(ratio_max=1.15, peak_mb_max=1536))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    old['quick' if a.quick else 'full'] = out
    RESULTS.write_text(json.dumps(old, indent=1))
    print(f"written {RESULTS.relative_to(ROOT)} ({'quick' if a.quick else 'full'})")


if __name__ == '__main__':
    main()
