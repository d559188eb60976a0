"""Peak memory and time of building the patch table of a large GeoTIFF, read window by window against read whole;
and training patches per second read from GeoTIFF windows against decoded PNG scenes.

    nice -n 10 python benchmarks/geotiff.py            # 20,000 × 20,000, 4-band uint16 image + uint8 label raster
    python benchmarks/geotiff.py --quick               # 4,000 × 4,000 (a minute or so)
    python benchmarks/geotiff.py --out FILE.json       # also write the tables, commit, versions, device

The benchmark writes, in a temporary folder (removed at the end; `--keep` keeps it): a 4-band uint16 image, tiled
256 px and deflate-compressed (horizontal predictor), with a nodata collar (0 in every band) on its left 3 % of
columns, and an aligned uint8 label raster (6 classes in 37 px blocks, a rare class in 1 % of blocks, nodata 255 on
a top-right corner), both written strip by strip so the writer never holds either whole.

Table 1 — `crop.tile(scenes, 128)` on that scene (one `io.Scene`, `ignore_index=255`), each variant in a fresh
process: `windowed` (the default: row blocks of `max_block_px` = 2^23 pixels, each a windowed read of the mask
rows its windows need), `windowed + image nodata` (`image_nodata=0`: the image's row blocks are read too, to find
the collar), `whole` (`max_block_px` ≥ the scene: the whole label raster read at once, the path every scene took
before) and, when the image fits in 2 GB, `whole + image nodata`. Peak memory is the process's peak resident set
size (VmHWM from /proc, which also counts what GDAL and numpy allocate outside Python's allocator — tracemalloc would
miss GDAL's block cache) minus its resident size after imports, before reading. GDAL keeps decoded blocks in a
process-wide cache of up to `GDAL_CACHEMAX` (GDAL's default: 5 % of RAM); a one-pass tiling gains nothing from it
but it counts in the peak, so `windowed` and `whole` run with `GDAL_CACHEMAX` = `--gdal-cache-mb` (256 MB) and with
GDAL's default. The tables of all variants are checked to be equal. Goal: windowed peak < 1 GB.

Table 2 — training patches per second (128 px, bs 16, random windows of the table, a plain PyTorch `DataLoader`
reading `Scene.read_image(window)` / `read_mask(window)`, 2 workers, after a warm-up pass): from the big GeoTIFF
itself; from 8 scenes of 2,048² written as GeoTIFF (4-band uint16) and as PNG (RGBA uint8) read through the disk
cache (the default) and decoding the file for every patch (`cache='none'`, the old default).

Table 3 — the real GeoTIFFs in `../shared/data/geotiff` when present (`--real` to point elsewhere): label rasters
written by thresholding one band (aligned with the image's transform), `image_nodata='declared'`; table time, the
ignored share and a windowed read checked against the whole array.
"""
import argparse, hashlib, json, os, shutil, subprocess, sys, tempfile, time, warnings
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
warnings.filterwarnings('ignore')
from pathlib import Path
import numpy as np
from _common import parser, run_info, write_results, print_table, rss_mb, peak_rss_mb, ROOT

CODES = ['soil', 'grass', 'water', 'building', 'road', 'car']
MEANS = np.array([[900, 1100, 1300, 2500], [600, 900, 700, 3800], [400, 500, 350, 150],
                  [1800, 1900, 2000, 2200], [1400, 1450, 1500, 1700], [3000, 800, 700, 2600]], np.float32)


def labels(rows: slice, W: int, seed: int = 0) -> np.ndarray:
    "Rows of a blocky 6-class label map (37 px blocks; class 5 'car' in 1 % of blocks), deterministic per block"
    by = np.arange(rows.start, rows.stop) // 37
    bx = np.arange(W) // 37
    h = (by[:, None].astype(np.uint64) * np.uint64(2654435761) + bx[None].astype(np.uint64) * np.uint64(40503) +
         np.uint64(seed)) % np.uint64(1000)
    return np.where(h < 10, 5, h % 5).astype(np.uint8)


def write_scene(folder: Path, H: int, W: int, strip: int = 512, tile: int = 256):
    "A 4-band uint16 image (nodata collar 0 on the left 3 %) and its label raster (nodata 255, top-right corner)"
    import rasterio
    from rasterio.transform import from_origin
    common = dict(driver='GTiff', height=H, width=W, crs='EPSG:32618', transform=from_origin(500000, 4e6, 1, 1),
                  tiled=True, blockxsize=tile, blockysize=tile, compress='deflate', predictor=2, zlevel=1, BIGTIFF='IF_SAFER')
    rng = np.random.default_rng(0)
    collar, corner = int(W * 0.03), (H // 10, W - W // 10)
    with rasterio.open(folder/'image.tif', 'w', count=4, dtype='uint16', nodata=0, **common) as di, \
         rasterio.open(folder/'labels.tif', 'w', count=1, dtype='uint8', nodata=255, **common) as dl:
        for r0 in range(0, H, strip):
            r1 = min(H, r0 + strip)
            lab = labels(slice(r0, r1), W)
            img = (MEANS[lab] + rng.normal(0, 25, (r1 - r0, W, 4)).astype(np.float32)).clip(1, 65535).astype(np.uint16)
            img[:, :collar] = 0
            if r0 < corner[0]: lab[:max(0, min(r1, corner[0]) - r0), corner[1]:] = 255
            win = rasterio.windows.Window(0, r0, W, r1 - r0)
            di.write(np.moveaxis(img, -1, 0), window=win); dl.write(lab, 1, window=win)
    return folder/'image.tif', folder/'labels.tif'


def child_tile(image: str, mask: str, variant: str) -> dict:
    "In a fresh process: build the patch table of the scene, report time, peak memory and a hash of the table"
    from seg_imbalance.io import Scene, SceneSet
    from seg_imbalance.crop import tile
    base = rss_mb()
    s = Scene(image, mask, 'big', ignore_index=255, image_nodata=0 if 'nodata' in variant else None)
    H, W = s.shape
    t0 = time.perf_counter()
    t = tile(SceneSet([s], CODES, 255), 128, max_block_px=H * W if variant.startswith('whole') else 1 << 23)
    sec = time.perf_counter() - t0
    return dict(variant=variant, seconds=sec, peak_mb=peak_rss_mb() - base, base_mb=base, patches=len(t),
                ignored=int(t['ignore'].sum()), hash=hashlib.sha1(t.to_numpy().tobytes()).hexdigest()[:12])


class Patches:
    "Dataset of random table windows: (image CHW float32, mask HW int64), read through `Scene` windows"
    def __init__(self, scenes, win): self.scenes, self.win = scenes, win
    def __len__(self): return len(self.win)
    def __getitem__(self, i):
        import torch
        s, y, x, h, w = (int(v) for v in self.win[i])
        im = self.scenes[s].read_image((y, x, h, w)).astype(np.float32)
        return torch.from_numpy(np.ascontiguousarray(im.transpose(2, 0, 1))), torch.from_numpy(self.scenes[s].read_mask((y, x, h, w)).astype(np.int64))


def patches_per_s(scenes, n_batches: int, bs: int = 16, workers: int = 2, seed: int = 0) -> float:
    "Steady-state patches per second of a shuffled 2-worker loader over random 128 px windows (warm-up pass left out)"
    import torch
    from seg_imbalance.crop import tile
    t = tile(scenes, 128, cover=False)
    win = t[['scene', 'y', 'x', 'h', 'w']].to_numpy()[np.random.default_rng(seed).permutation(len(t))[:bs * n_batches]]
    ts = []
    for rep in range(2): # the first pass warms the caches (disk cache files, GDAL blocks) and starts the workers
        dl = torch.utils.data.DataLoader(Patches(scenes, win), bs, num_workers=workers, persistent_workers=False)
        it = iter(dl); next(it)
        t0 = time.perf_counter()
        for _ in it: pass
        ts.append((len(dl) - 1) * bs / (time.perf_counter() - t0))
    return ts[-1]


def loader_table(folder: Path, big, n_batches: int) -> list[dict]:
    "Patches per second from the big GeoTIFF, 8 GeoTIFF scenes and the same 8 as PNG (disk cache / decoded per patch)"
    import rasterio
    from PIL import Image
    from seg_imbalance.io import Scene, SceneSet, SceneCache
    rows = [dict(source=f'big GeoTIFF windows', patches_s=patches_per_s(SceneSet([Scene(*big, ignore_index=255)], CODES, 255), n_batches))]
    (folder/'g').mkdir(); (folder/'p').mkdir()
    geo, png_disk, png_none = [], [], []
    cache = SceneCache(folder/'cache')
    with rasterio.open(big[0]) as d: n = min(2048, (d.width - 700) // 4, d.height // 2)
    for k in range(8):
        win = rasterio.windows.Window(n * (k % 4) + 700, n * (k // 4), n, n) # right of the nodata collar
        with rasterio.open(big[0]) as d: img = d.read(window=win)
        with rasterio.open(big[1]) as d: lab = d.read(1, window=win)
        prof = dict(driver='GTiff', height=n, width=n, tiled=True, blockxsize=256, blockysize=256, compress='deflate', predictor=2)
        with rasterio.open(folder/'g'/f'{k}.tif', 'w', count=4, dtype='uint16', **prof) as d: d.write(img)
        with rasterio.open(folder/'g'/f'{k}_m.tif', 'w', count=1, dtype='uint8', nodata=255, **prof) as d: d.write(lab, 1)
        Image.fromarray((np.moveaxis(img, 0, -1) // 16).clip(0, 255).astype(np.uint8)).save(folder/'p'/f'{k}.png')
        Image.fromarray(lab).save(folder/'p'/f'{k}_m.png')
        geo.append(Scene(folder/'g'/f'{k}.tif', folder/'g'/f'{k}_m.tif', ignore_index=255))
        png_disk.append(Scene(folder/'p'/f'{k}.png', folder/'p'/f'{k}_m.png', cache=cache, ignore_index=255))
        png_none.append(Scene(folder/'p'/f'{k}.png', folder/'p'/f'{k}_m.png', cache='none', ignore_index=255))
    for name, sc in ((f'8 GeoTIFF scenes {n:,}², 4-band uint16', geo), (f'8 PNG scenes {n:,}², RGBA, disk cache (default)', png_disk),
                     (f"8 PNG scenes {n:,}², RGBA, cache='none' (decoded per patch)", png_none)):
        rows.append(dict(source=name, patches_s=patches_per_s(SceneSet(sc, CODES, 255), n_batches if 'none' not in name else max(3, n_batches // 8))))
    return rows


def label_raster(tif: Path, out: Path, band: int, cuts) -> Path:
    "Label raster of `tif`: classes by thresholds `cuts` of `band`, same transform/CRS, nodata 255"
    import rasterio
    with rasterio.open(tif) as d: b, prof = d.read(band), d.profile
    prof.update(count=1, dtype='uint8', nodata=255, compress='deflate')
    with rasterio.open(out, 'w', **prof) as d: d.write(np.digitize(b, cuts).astype(np.uint8), 1)
    return out


def real_table(real: Path, folder: Path) -> list[dict]:
    from seg_imbalance.io import Scene, SceneSet
    from seg_imbalance.crop import tile
    rows = []
    for f, band, cuts in (('LC08_232066_20190727.tif', 4, [500, 1500]), ('RGB.byte.tif', 1, [60, 120])):
        if not (real/f).exists(): continue
        s = Scene(real/f, label_raster(real/f, folder/f'lab_{f}', band, cuts), f, ignore_index=255, image_nodata='declared')
        t0 = time.perf_counter(); t = tile(SceneSet([s], ['low', 'mid', 'high'], 255), 64, 32); sec = time.perf_counter() - t0
        full = s.read_image(); ok = np.array_equal(s.read_image((37, 41, 64, 64)), full[37:101, 41:105])
        rows.append(dict(file=f, bands=s.n_bands, dtype=str(s.image_dtype), size=f'{s.shape[1]} × {s.shape[0]}',
                         patches=len(t), tile_ms=1e3 * sec, ignored_pct=100 * float((s.read_mask() == 255).mean()),
                         window_read_ok=ok, values=f'{int(full.min())}…{int(full.max())}'))
    return rows


def main():
    p = parser(__doc__, quick='a 4,000² scene and fewer batches')
    p.add_argument('--side', type=int, default=20000)
    p.add_argument('--batches', type=int, default=40, help='batches per loader measurement')
    p.add_argument('--gdal-cache-mb', type=int, default=256, help='GDAL_CACHEMAX (MB) of the tiling runs that set it')
    p.add_argument('--files', type=Path, default=None, help='reuse image.tif + labels.tif written by an earlier --keep run')
    p.add_argument('--tables', default='tile,loader,real', help='which tables to make (comma-separated)')
    p.add_argument('--real', type=Path, default=ROOT.parent/'shared'/'data'/'geotiff')
    p.add_argument('--tmp', type=Path, default=None, help='where to write the files (default: the system temp folder)')
    p.add_argument('--keep', action='store_true')
    p.add_argument('--child', nargs=3, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child: print(json.dumps(child_tile(*a.child))); return
    side, nb = (4000, 10) if a.quick else (a.side, a.batches)
    env = {k: v for k, v in os.environ.items() if k != 'GDAL_CACHEMAX'}
    folder = Path(tempfile.mkdtemp(prefix='geotiff_bench_', dir=a.tmp))
    res = dict(side=side, cpus=os.cpu_count())
    try:
        t0 = time.perf_counter()
        big = (a.files/'image.tif', a.files/'labels.tif') if a.files else write_scene(folder, side, side)
        if a.files:
            import rasterio
            with rasterio.open(big[0]) as d: side = res['side'] = d.width
        res['write_s'] = time.perf_counter() - t0
        res['file_mb'] = {p.name: p.stat().st_size / 2**20 for p in big}
        print(f"{'reused' if a.files else 'wrote'} {side:,}² 4-band uint16 + labels in {res['write_s']:.0f} s: "
              + ', '.join(f'{k} {v:,.0f} MB' for k, v in res['file_mb'].items())
              + f" (raw {side * side * 8 / 2**30:.2f} GiB + {side * side / 2**30:.2f} GiB)", flush=True)
        mb = str(a.gdal_cache_mb)
        variants = [('windowed', mb), ('windowed + image nodata', mb), ('whole', mb), ('windowed', None),
                    ('windowed + image nodata', None), ('whole', None)]
        if side * side * 8 <= 2 * 2**30: variants.append(('whole + image nodata', mb))
        rows = []
        for v, cm in (variants if 'tile' in a.tables else []):
            out = subprocess.run([sys.executable, __file__, '--child', str(big[0]), str(big[1]), v], capture_output=True,
                                 text=True, env={**env, 'GDAL_CACHEMAX': cm} if cm else env)
            if out.returncode: print(out.stderr[-2000:]); raise SystemExit(f"child {v} failed")
            rows.append({**json.loads(out.stdout.strip().splitlines()[-1]), 'GDAL_CACHEMAX': f'{cm} MB' if cm else 'GDAL default (5 % of RAM)'})
            print(rows[-1], flush=True)
        same = {r['hash'] for r in rows if 'nodata' not in r['variant']}, {r['hash'] for r in rows if 'nodata' in r['variant']}
        if any(len(s) > 1 for s in same): raise SystemExit(f"tables differ between variants: {rows}")
        res['tile'] = rows
        if rows: print_table([dict(variant=r['variant'], GDAL_CACHEMAX=r['GDAL_CACHEMAX'], seconds=r['seconds'], peak_MB=r['peak_mb'],
                                   after_imports_MB=r['base_mb'], patches=r['patches'], ignored_px=r['ignored']) for r in rows],
                             title=f"### Patch table of a {side:,}² 4-band uint16 GeoTIFF, 128 px windows (fresh process each)")
        if 'loader' in a.tables:
            res['loader'] = loader_table(folder, big, nb)
            print_table(res['loader'], title="### Training patches per second, 128 px, bs 16, 2 workers (plain PyTorch DataLoader over `Scene` windows)")
        if 'real' in a.tables:
            res['real'] = real_table(a.real, folder) if a.real.exists() else []
            print(f"\n### Real GeoTIFFs ({a.real})\n")
            print_table(res['real']) if res['real'] else print('not present: skipped')
        write_results(a.out, res, run_info('cpu'))
    finally:
        if a.keep: print('kept', folder)
        else: shutil.rmtree(folder, ignore_errors=True)


if __name__ == '__main__': main()
