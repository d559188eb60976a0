"GeoTIFF scenes through rasterio (windows, bands, nodata) and the shared disk cache of decoded PNG/JPG scenes."
import pickle, sys
from pathlib import Path
import numpy as np, pytest
from PIL import Image
import seg_imbalance.io as sio
from seg_imbalance.io import Scene, SceneSet, SceneCache, read_scene_folder, save_scene_folder, scenes_from_arrays
from seg_imbalance.stats import class_counts
from seg_imbalance.crop import tile

rasterio = pytest.importorskip('rasterio')
from rasterio.transform import from_origin

CODES = ['soil', 'grass', 'water', 'road']
IGN = 9

def write_tif(path, arr, nodata=None, tile=16):
    "Write `(H, W[, C])` as a tiled, compressed GeoTIFF in UTM 32618 with 10 m pixels"
    a = arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, 0)
    with rasterio.open(path, 'w', driver='GTiff', height=a.shape[1], width=a.shape[2], count=len(a), dtype=a.dtype,
                       nodata=nodata, crs='EPSG:32618', transform=from_origin(500000, 4e6, 10, 10), compress='deflate',
                       tiled=True, blockxsize=tile, blockysize=tile) as d: d.write(a)
    return path

@pytest.fixture
def geo(tmp_path):
    "A 4-band uint16 image with a nodata (0) region and a label raster with its own nodata (255)"
    rng = np.random.default_rng(0)
    img = rng.integers(1, 60000, (70, 90, 4)).astype(np.uint16); img[50:, :20] = 0
    lab = rng.integers(0, 4, (70, 90)).astype(np.uint8); lab[:8, 60:] = 255
    return dict(img=img, lab=lab, image=write_tif(tmp_path/'a.tif', img, nodata=0),
                mask=write_tif(tmp_path/'a_lab.tif', lab, nodata=255), tmp=tmp_path)

def test_windowed_read_equals_full_window(geo):
    s = Scene(geo['image'], geo['mask'], ignore_index=IGN)
    full = s.read_image()
    assert full.dtype == np.uint16 and full.shape == (70, 90, 4)
    np.testing.assert_array_equal(full, geo['img'])
    for win in [(0, 0, 70, 90), (3, 5, 17, 33), (53, 71, 17, 19), (16, 16, 16, 16)]:
        y, x, h, w = win
        np.testing.assert_array_equal(s.read_image(win), full[y:y + h, x:x + w])
        np.testing.assert_array_equal(s.read_mask(win), s.read_mask()[y:y + h, x:x + w])
    with pytest.raises(ValueError, match=r"outside the scene of size \(70, 90\)"): s.read_image((60, 0, 20, 5))

def test_bands_and_header(geo, monkeypatch):
    s = Scene(geo['image'], geo['mask'], bands=[4, 2], ignore_index=IGN)
    np.testing.assert_array_equal(s.read_image((1, 2, 5, 6)), geo['img'][1:6, 2:8][..., [3, 1]])
    assert Scene(geo['image'], geo['mask'], bands=[3]).read_image().shape == (70, 90)
    with pytest.raises(ValueError, match=r"bands \[5\] must be band numbers in 1\.\.4"): s.bands = [5]; s.read_image()
    def no_pixels(*a, **k): raise AssertionError("pixels read")
    monkeypatch.setattr(sio, '_geo_read', no_pixels)
    h = Scene(geo['image'], geo['mask'], bands=[1, 2, 3])
    assert (h.shape, h.image_shape, h.n_bands, h.image_dtype, h.reads_windows) == ((70, 90), (70, 90), 3, np.uint16, True)

def test_label_nodata_counts_nowhere(geo):
    s = Scene(geo['image'], geo['mask'], 's', ignore_index=IGN, image_nodata=None) # label nodata only
    m = s.read_mask()
    nod = geo['lab'] == 255
    assert (m[nod] == IGN).all() and (m[~nod] == geo['lab'][~nod]).all()
    ss = SceneSet([s], CODES, IGN).validate()
    np.testing.assert_array_equal(class_counts(m, 4, IGN), np.bincount(geo['lab'][~nod], minlength=4))
    t = tile(ss, 10)
    assert t['ignore'].sum() == nod.sum()
    assert t[CODES].to_numpy().sum() == (~nod).sum()
    alone = Scene(geo['image'], geo['mask'], 's', image_nodata=None) # no ignore_index: the label nodata is it
    np.testing.assert_array_equal(alone.read_mask(), geo['lab'])
    assert SceneSet([alone], CODES).ignore_index == 255

@pytest.mark.parametrize('image_nodata', ['declared', 0])
def test_image_nodata_becomes_ignore(geo, image_nodata):
    s = Scene(geo['image'], geo['mask'], ignore_index=IGN, image_nodata=image_nodata)
    m = s.read_mask()
    nod = (geo['lab'] == 255) | (geo['img'] == 0).all(-1)
    assert nod.sum() == 240 + 20 * 20
    np.testing.assert_array_equal(m == IGN, nod)
    np.testing.assert_array_equal(s.read_mask((45, 10, 20, 20)), m[45:65, 10:30])
    t = tile(SceneSet([s], CODES, IGN), 10, max_block_px=90 * 20)
    assert t['ignore'].sum() == nod.sum() and t[CODES].to_numpy().sum() == (~nod).sum()
    one_band_zero = geo['img'].copy(); one_band_zero[0, 0, 1] = 0 # a pixel is no data only when every band is
    s2 = Scene(write_tif(geo['tmp']/'b.tif', one_band_zero, nodata=0), geo['mask'], ignore_index=IGN, image_nodata=image_nodata)
    assert s2.read_mask()[0, 0] == geo['lab'][0, 0]

def test_image_declared_nodata_ignored_by_default(geo):
    m = Scene(geo['image'], geo['mask'], ignore_index=IGN).read_mask() # image_nodata='declared'
    np.testing.assert_array_equal(m == IGN, (geo['lab'] == 255) | (geo['img'] == 0).all(-1))

def test_label_nodata_is_the_ignore_index_of_a_folder(geo, tmp_path):
    f = tmp_path/'f'; (f/'images').mkdir(parents=True); (f/'masks').mkdir(); (f/'codes.txt').write_text('\n'.join(CODES) + '\n')
    for k in range(3): write_tif(f/'images'/f's{k}.tif', geo['img']); write_tif(f/'masks'/f's{k}.tif', geo['lab'], nodata=255)
    ss = read_scene_folder(f)
    assert ss.ignore_index == 255 and all(s.ignore_index == 255 for s in ss)
    t = tile(ss, 10)
    assert t['ignore'].sum() == 3 * (geo['lab'] == 255).sum() and t[CODES].to_numpy().sum() == 3 * (geo['lab'] != 255).sum()
    lab254 = np.where(geo['lab'] == 255, 254, geo['lab']).astype(np.uint8)
    write_tif(f/'masks'/'s2.tif', lab254, nodata=254) # one mask declares another nodata
    with pytest.raises(ValueError, match=r"different nodata values or ignore indices \(255 in .*s0\.tif, 254 in .*s2\.tif\): set ignore_index"):
        read_scene_folder(f)
    (f/'ignore_index.txt').write_text('255\n') # given: every mask's nodata pixels become it
    ss = read_scene_folder(f)
    np.testing.assert_array_equal(ss[2].read_mask(), ss[0].read_mask())
    assert tile(ss, 10)['ignore'].sum() == 3 * (geo['lab'] == 255).sum()
    np.testing.assert_array_equal(read_scene_folder(f, ignore_index=IGN)[2].read_mask((0, 60, 8, 30)), np.full((8, 30), IGN))
    write_tif(f/'masks'/'s2.tif', geo['lab'].clip(0, 3), nodata=1) # nodata 1 is the class 'grass'
    with pytest.raises(ValueError, match=r"s2\.tif declares nodata 1, class 'grass', but the ignore index is 255"): read_scene_folder(f)

def test_pair_shares_size_crs_and_transform(geo, tmp_path):
    lab = geo['lab']
    def tif(name, crs='EPSG:32618', transform=from_origin(500000, 4e6, 10, 10), arr=lab):
        with rasterio.open(tmp_path/name, 'w', driver='GTiff', height=arr.shape[0], width=arr.shape[1], count=1, dtype=arr.dtype,
                           crs=crs, transform=transform) as d: d.write(arr, 1)
        return tmp_path/name
    Scene(geo['image'], tif('same.tif'))
    with pytest.raises(ValueError, match=r"a\.tif has CRS EPSG:32618 but .*wgs\.tif has CRS EPSG:4326"):
        Scene(geo['image'], tif('wgs.tif', 'EPSG:4326', from_origin(-75, 36, 1e-4, 1e-4)))
    with pytest.raises(ValueError, match=r"a\.tif has CRS EPSG:32618 but .*utm33\.tif has CRS EPSG:32633"):
        Scene(geo['image'], tif('utm33.tif', 'EPSG:32633'))
    with pytest.raises(ValueError, match=r"a\.tif and .*shift\.tif lie on different pixel grids \(corners up to 1 pixels apart\)"):
        Scene(geo['image'], tif('shift.tif', transform=from_origin(500000, 4e6 + 10, 10, 10)))
    with pytest.raises(ValueError, match=r"different pixel grids"): Scene(geo['image'], tif('res.tif', transform=from_origin(500000, 4e6, 10.01, 10)))
    with pytest.raises(ValueError, match=r"image size \(70, 90\) and mask size \(69, 90\) differ \(.*a\.tif and .*small\.tif\)"):
        Scene(geo['image'], tif('small.tif', arr=lab[:69]))
    with pytest.warns(rasterio.errors.NotGeoreferencedWarning): plain = tif('plain.tif', None, None) # a plain TIFF: paired by pixels
    Scene(geo['image'], plain)

@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
def test_float_nan_inf_are_nodata(tmp_path, bad):
    rng = np.random.default_rng(3)
    img = rng.random((32, 40, 3)).astype(np.float32); img[5:9, 7, 2] = bad; img[20, 30, :] = bad
    lab = rng.integers(0, 4, (32, 40)).astype(np.uint8)
    s = Scene(write_tif(tmp_path/'f.tif', img), write_tif(tmp_path/'l.tif', lab), ignore_index=IGN)
    x, m = s.read_image(), s.read_mask()
    nod = ~np.isfinite(img).all(-1)
    assert np.isfinite(x).all() and (x[~np.isfinite(img)] == 0).all() and (x[np.isfinite(img)] == img[np.isfinite(img)]).all()
    np.testing.assert_array_equal(m == IGN, nod)
    np.testing.assert_array_equal(s.read_mask((4, 6, 8, 8)), m[4:12, 6:14])
    assert tile(SceneSet([s], CODES), 8)['ignore'].sum() == nod.sum() == 5
    arr = Scene(img, lab, ignore_index=IGN) # arrays too, the given array left as it was
    np.testing.assert_array_equal(arr.read_mask() == IGN, nod); assert np.isfinite(arr.read_image()).all() and not np.isfinite(img).all()
    with pytest.raises(ValueError, match=r"5 pixels have no data .*NaN/inf.* set ignore_index"): Scene(img, lab).read_mask()

def test_tile_by_blocks_equals_whole(geo):
    lab = geo['lab'].copy(); lab[lab == 255] = IGN
    mem = scenes_from_arrays([geo['img']], [lab], CODES, ignore_index=IGN)
    g = SceneSet([Scene(geo['image'], geo['mask'], image_nodata=None)], CODES, IGN)
    for size, stride, cover in [(10, 10, True), (16, 7, True), (16, 23, False), (70, 1, True)]:
        want = tile(mem, size, stride, cover)
        for px in (90, 90 * 17, 1 << 23):
            got = tile(g, size, stride, cover, max_block_px=px)
            assert got.equals(want), (size, stride, cover, px)
    lab2 = geo['lab'].copy(); lab2[69, 89] = 7 # outside every window of cover=False: still checked
    g2 = SceneSet([Scene(geo['image'], write_tif(geo['tmp']/'bad.tif', lab2, nodata=255), 'bad')], CODES, IGN)
    with pytest.raises(ValueError, match=r"bad: mask values \[7\]"): tile(g2, 16, 23, cover=False, max_block_px=90)
    with pytest.raises(ValueError, match=r"bad \(.*\): mask values \[7\]"): g2.validate() # names the label file

def test_mixed_folder(geo, tmp_path):
    rng = np.random.default_rng(1)
    png = scenes_from_arrays([rng.integers(0, 256, (40, 50, 3), np.uint8)], [rng.integers(0, 4, (40, 50), np.uint8)],
                             CODES, ignore_index=IGN, names=['p'])
    f = save_scene_folder(png, tmp_path/'mixed')
    (f/'images'/'g.tif').write_bytes(geo['image'].read_bytes()); (f/'masks'/'g.tif').write_bytes(geo['mask'].read_bytes())
    ss = read_scene_folder(f, cache=SceneCache(tmp_path/'cache'), image_nodata=0)
    assert [s.name for s in ss] == ['g', 'p'] and ss.ignore_index == IGN
    assert ss[0].read_image().dtype == np.uint16 and ss[1].read_image().dtype == np.uint8
    t = tile(ss, 10)
    assert set(t.scene) == {0, 1} and t['ignore'].sum() == 240 + 400

def test_uint16_round_trip(geo, tmp_path):
    ss = scenes_from_arrays([geo['img']], [geo['lab'].clip(0, 3)], CODES, names=['u'])
    back = read_scene_folder(save_scene_folder(ss, tmp_path/'f'))
    assert (tmp_path/'f'/'images'/'u.tif').exists()
    np.testing.assert_array_equal(back[0].read_image(), geo['img'])

def test_without_rasterio(geo, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'rasterio', None) # `import rasterio` now raises ImportError
    with pytest.raises(ImportError, match=r"needs rasterio.*pip install 'seg_imbalance\[geo\]'"): Scene(geo['image'], geo['mask'])
    (tmp_path/'f'/'images').mkdir(parents=True); (tmp_path/'f'/'masks').mkdir()
    (tmp_path/'f'/'codes.txt').write_text('a\nb\n')
    (tmp_path/'f'/'images'/'x.tif').write_bytes(geo['image'].read_bytes()); (tmp_path/'f'/'masks'/'x.tif').write_bytes(geo['mask'].read_bytes())
    with pytest.raises(ImportError, match=r"seg_imbalance\[geo\]"): read_scene_folder(tmp_path/'f')

@pytest.fixture
def pngs(tmp_path):
    rng = np.random.default_rng(2)
    ss = scenes_from_arrays([rng.integers(0, 256, (60, 80, 3), np.uint8) for _ in range(3)],
                            [rng.integers(0, 4, (60, 80), np.uint8) for _ in range(3)], CODES)
    return save_scene_folder(ss, tmp_path/'pngs'), ss

def test_disk_cache_identical_and_reused(pngs, tmp_path, monkeypatch):
    f, ss = pngs
    decoded = []
    real = sio._read_file
    monkeypatch.setattr(sio, '_read_file', lambda p, what: decoded.append((p.name, what)) or real(p, what))
    cache = SceneCache(tmp_path/'c')
    a = read_scene_folder(f, cache=cache)
    assert len(decoded) == 3 and len(cache.files()) == 3 # validation decodes each mask once
    for s, o in zip(a, ss):
        np.testing.assert_array_equal(s.read_image(), o.read_image()); np.testing.assert_array_equal(s.read_mask(), o.read_mask())
        np.testing.assert_array_equal(s.read_image((5, 6, 20, 30)), o.read_image()[5:25, 6:36])
    assert len(decoded) == 6
    win = a[0].read_image((0, 0, 4, 4)); win[0, 0] = 1 # windows are writeable copies
    assert not a[0].read_image().flags.writeable # whole reads are the read-only mapping
    decoded.clear()
    b = read_scene_folder(f, cache=SceneCache(tmp_path/'c')) # a new process would do the same: map, never decode
    for s, o in zip(b, ss): np.testing.assert_array_equal(s.read_image(), o.read_image())
    assert decoded == []
    assert len(pickle.dumps(b[0])) < 2000 # a worker receives paths, not pixels
    Image.fromarray(np.zeros((60, 80, 3), np.uint8)).save(f/'images'/'scene_0.png') # an edited file is decoded again
    assert read_scene_folder(f, cache=SceneCache(tmp_path/'c'))[0].read_image().max() == 0
    assert decoded == [('scene_0.png', 'image')]

def test_cache_modes_agree(pngs, tmp_path):
    f, ss = pngs
    modes = {m: read_scene_folder(f, cache=m) for m in ('none', 'memory', False, True)}
    modes['disk'] = read_scene_folder(f, cache=SceneCache(tmp_path/'c'))
    for ssm in modes.values():
        for s, o in zip(ssm, ss): np.testing.assert_array_equal(s.read_image((1, 2, 30, 40)), o.read_image((1, 2, 30, 40)))
    with pytest.raises(ValueError, match=r"cache must be 'disk'"): read_scene_folder(f, cache='ram')

def test_cache_bound_and_repair(pngs, tmp_path):
    f, ss = pngs
    one = (60 * 80 * 3) + 128
    cache = SceneCache(tmp_path/'c', max_bytes=2 * one)
    for s in read_scene_folder(f, cache=cache, validate=False): s.read_image()
    assert 0 < cache.nbytes <= 2 * one and len(cache.files()) == 2
    assert [p.name.split('-')[0] for p in cache.files()] == ['scene_1', 'scene_2'] # the oldest went first
    p = cache.file_for(f/'images'/'scene_2.png', 'image'); p.write_bytes(p.read_bytes()[:200]) # truncated
    np.testing.assert_array_equal(cache.load(f/'images'/'scene_2.png', 'image'), ss[2].read_image())
    tiny = SceneCache(tmp_path/'t', max_bytes=100) # a scene larger than the bound is decoded in memory
    np.testing.assert_array_equal(tiny.load(f/'images'/'scene_0.png', 'image'), ss[0].read_image())
    assert tiny.files() == []
    cache.clear(); assert cache.files() == []
    with pytest.raises(ValueError, match='max_bytes must be an integer >= 0'): SceneCache(tmp_path, max_bytes=-1)

def test_arrays_with_image_nodata_are_not_modified():
    img = np.ones((6, 7, 2), np.float32); img[0] = np.nan; img[1, :3] = 0
    m = np.zeros((6, 7), np.uint8); keep = m.copy()
    s = Scene(img, m, ignore_index=300, image_nodata=float('nan'))
    out = s.read_mask()
    assert out.dtype == np.uint16 and (out[0] == 300).all() and (out[1:] == 0).all()
    assert (Scene(img, m, ignore_index=9, image_nodata=0).read_mask()[1, :3] == 9).all()
    np.testing.assert_array_equal(m, keep)

def test_float_geotiff_nan_nodata(tmp_path):
    img = np.random.default_rng(0).random((20, 30, 3)).astype(np.float32); img[:4] = np.nan
    lab = np.ones((20, 30), np.uint8)
    s = Scene(write_tif(tmp_path/'f.tif', img, nodata=float('nan')), write_tif(tmp_path/'l.tif', lab), ignore_index=9,
              image_nodata='declared')
    assert s.image_dtype == np.float32 and (s.read_mask()[:4] == 9).all() and (s.read_mask()[4:] == 1).all()
    m = Scene(s.image, s.mask, ignore_index=9, image_nodata=-9999).read_mask() # a value never held adds nothing;
    assert (m[:4] == 9).all() and (m[4:] == 1).all() # NaN is no data whatever image_nodata says


def test_four_band_uint16_trains_and_predicts(tmp_path):
    "A 4-band uint16 GeoTIFF scene folder: tensor images, per-band ranges, one training step, a prediction"
    import torch
    from seg_imbalance.data import patch_dataloaders, BandImage
    from seg_imbalance.learner import seg_learner
    rng = np.random.default_rng(0)
    (tmp_path/'f'/'images').mkdir(parents=True); (tmp_path/'f'/'masks').mkdir()
    (tmp_path/'f'/'codes.txt').write_text('\n'.join(CODES) + '\n')
    for k in range(4):
        lab = np.repeat(np.repeat(rng.integers(0, 4, (8, 8)), 16, 0), 16, 1).astype(np.uint8); lab[:10, :10] = 255
        img = (lab[..., None].astype(np.uint16) * 900 + 1000 + rng.integers(0, 300, (128, 128, 4))).astype(np.uint16)
        img[-8:] = 0
        write_tif(tmp_path/'f'/'images'/f's{k}.tif', img, nodata=0); write_tif(tmp_path/'f'/'masks'/f's{k}.tif', lab, nodata=255)
    ss = read_scene_folder(tmp_path/'f', ignore_index=IGN, image_nodata='declared')
    t = tile(ss, 64)
    assert t['ignore'].sum() == 4 * (100 + 8 * 128)
    dls = patch_dataloaders(t, ss, bs=4, valid_scenes=[3], epoch_len=4)
    assert dls.n_bands == 4 and len(dls.band_range[0]) == 4
    lo, hi = (np.array(v) for v in dls.band_range)
    assert (lo >= 1000).all() and (hi <= 1000 + 3 * 900 + 300).all() # no-data zeros left out of the ranges
    xb, yb = dls.one_batch()
    assert isinstance(xb, BandImage) and xb.shape == (4, 4, 64, 64) and xb.dtype == torch.float32
    learn = seg_learner(dls, in_channels=4)
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    assert len(learn.recorder.losses) == 1 and np.isfinite(learn.recorder.losses[0].item())
    pred = learn.predict(len(t))[0] # the first validation row
    assert tuple(pred.shape) == (64, 64) and set(np.unique(pred.numpy())) <= set(range(4))

def test_train_command_and_whole_scene_prediction_on_geotiffs(tmp_path):
    "`seg-imbalance train` on a 4-band uint16 GeoTIFF folder, then the exported learner predicts a whole scene"
    import os, subprocess, sys
    from fastai.learner import load_learner
    from seg_imbalance.interpret import predict_scene
    rng = np.random.default_rng(1)
    f = tmp_path/'geo'; (f/'images').mkdir(parents=True); (f/'masks').mkdir()
    (f/'codes.txt').write_text('\n'.join(CODES) + '\n'); (f/'ignore_index.txt').write_text(f'{IGN}\n')
    for k in range(4):
        lab = np.repeat(np.repeat(rng.integers(0, 4, (8, 8)), 16, 0), 16, 1).astype(np.uint8); lab[:10, :10] = 255
        img = (lab[..., None].astype(np.uint16) * 900 + 1000 + rng.integers(0, 300, (128, 128, 4))).astype(np.uint16)
        write_tif(f/'images'/f's{k}.tif', img); write_tif(f/'masks'/f's{k}.tif', lab, nodata=255)
    env = {**os.environ, 'NO_ALBUMENTATIONS_UPDATE': '1', 'MPLBACKEND': 'Agg'}
    r = subprocess.run([str(Path(sys.executable).parent/'seg-imbalance'), 'train', str(f), '--recipe', 'baseline',
                        '--size', '64', '--steps', '2', '--bs', '4', '--valid-pct', '0.25', '--out', str(tmp_path/'out')],
                       capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    learn = load_learner(tmp_path/'out'/'model.pkl')
    assert learn.seg_info.in_channels == 4 and learn.seg_info.band_range is not None
    scene = read_scene_folder(f)[0]
    pred = predict_scene(learn, scene)
    assert pred.shape == (128, 128) and set(np.unique(pred)) <= set(range(len(CODES)))
