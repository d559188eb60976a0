"Model files without pickle (safetensors + JSON) and `seg-imbalance predict` on GeoTIFF and PNG inputs."
import json
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from PIL import Image
from seg_imbalance.synth import synth_sceneset
from seg_imbalance.crop import tile
from seg_imbalance.data import patch_dataloaders
from seg_imbalance.learner import seg_learner
from seg_imbalance.io import Scene
from seg_imbalance.interpret import predict_scene
from seg_imbalance.predict import save_model, load_model, color_table, NODATA, SegModel
from seg_imbalance.cli import main

rasterio = pytest.importorskip('rasterio')
from rasterio.transform import from_origin

TRANSFORM = from_origin(400000, 5300000, 0.5, 0.5) # UTM 33N, 0.5 m pixels: 0.25 m² each
BORDER = 7 # nodata pixels around the 300 x 260 scene

@pytest.fixture(scope='module')
def model(tmp_path_factory):
    "A resnet18 U-Net after 2 training steps on the demo scenes, saved both ways"
    d = tmp_path_factory.mktemp('model')
    ss = synth_sceneset(4, 128, seed=0)
    dls = patch_dataloaders(tile(ss, 64), ss, bs=4, valid_scenes=[3], epoch_len=8, seed=0)
    torch.manual_seed(0)
    learn = seg_learner(dls, encoder_name='resnet18')
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    assert len(learn.recorder.losses) == 2
    learn.path = d; learn.export('model.pkl')
    save_model(learn, d/'model')
    return dict(learn=learn, dir=d, scenes=ss)

@pytest.fixture(scope='module')
def geo(tmp_path_factory, model):
    "A 300 x 260 3-band uint8 GeoTIFF in EPSG:32633 with a nodata (0) border, made of demo scene pixels"
    d = tmp_path_factory.mktemp('geo')
    img = np.concatenate([np.concatenate([s.read_image() for s in model['scenes']][:3], 1)] * 3, 0)[:260, :300]
    img = np.maximum(img, 1).astype(np.uint8)
    img[:BORDER], img[-BORDER:], img[:, :BORDER], img[:, -BORDER:] = 0, 0, 0, 0
    with rasterio.open(d/'scene.tif', 'w', driver='GTiff', width=300, height=260, count=3, dtype='uint8', nodata=0,
                       crs='EPSG:32633', transform=TRANSFORM, tiled=True, blockxsize=32, blockysize=32) as f:
        f.write(np.moveaxis(img, -1, 0))
    valid = np.zeros((260, 300), bool); valid[BORDER:-BORDER, BORDER:-BORDER] = True
    return dict(path=d/'scene.tif', img=img, valid=valid, dir=d)

def test_safetensors_model_predicts_like_the_fastai_export(model):
    d, s = model['dir'], model['scenes'][3]
    meta = json.loads((d/'model.json').read_text())
    assert meta['model']['arch'] == 'Unet' and meta['model']['encoder_name'] == 'resnet18'
    assert meta['seg_info']['codes'] == list(model['scenes'].codes) and meta['seg_info']['patch_size'] == 64
    st, pkl = load_model(d/'model.safetensors'), load_model(d/'model.pkl')
    assert isinstance(st, SegModel) and not st.model.training
    a, b = predict_scene(st, s, bs=4), predict_scene(pkl, s, bs=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, predict_scene(model['learn'], s, bs=4))
    assert len(np.unique(a)) > 1 # not a constant map: the test could tell two models apart

def test_model_file_errors(model, tmp_path):
    with pytest.raises(ValueError, match='model file .*nothing not found'): load_model(tmp_path/'nothing')
    (tmp_path/'m.onnx').write_bytes(b'x')
    with pytest.raises(ValueError, match='unknown model file'): load_model(tmp_path/'m.onnx')
    (tmp_path/'bad.json').write_text('{"format": "other"}'); (tmp_path/'bad.safetensors').write_bytes(b'')
    with pytest.raises(ValueError, match='not a model file of save_model'): load_model(tmp_path/'bad.json')

def test_predict_scene_reads_a_geotiff_by_windows(model, geo, monkeypatch):
    learn, seen = load_model(model['dir']/'model'), []
    read = Scene.read_image
    monkeypatch.setattr(Scene, 'read_image', lambda self, window=None: seen.append(window) or read(self, window))
    got = predict_scene(learn, geo['path'], size=64, bs=4)
    assert seen and None not in seen and max(w[2] for w in seen) <= 64 # strips of rows, never the whole scene
    monkeypatch.undo()
    np.testing.assert_array_equal(got, predict_scene(learn, geo['img'], size=64, bs=4))

def test_predict_command_on_a_geotiff(model, geo, tmp_path, capsys):
    out = tmp_path/'out'
    assert main(['predict', str(model['dir']/'model.json'), str(geo['path']), '--out', str(out), '--size', '64',
                 '--probs', '--confidence', '--bs', '4']) == 0
    assert 'class areas' in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ['areas.csv', 'scene.tif', 'scene_confidence.tif', 'scene_probs.tif']
    learn, valid = load_model(model['dir']/'model'), geo['valid']
    with rasterio.open(out/'scene.tif') as f:
        assert (f.crs.to_epsg(), f.transform, f.width, f.height, f.count, f.dtypes[0]) == \
            (32633, TRANSFORM, 300, 260, 1, 'uint8')
        assert f.nodata == NODATA
        lab, cmap = f.read(1), f.colormap(1)
    codes = learn.seg_info['codes']
    want = color_table(codes, learn.seg_info['colors'])
    assert all(cmap[i] == want[i] for i in range(len(codes))) and cmap[NODATA][3] == 0
    assert (lab[~valid] == NODATA).all()
    np.testing.assert_array_equal(lab[valid], predict_scene(learn, geo['img'], size=64, bs=4)[valid])
    p = predict_scene(learn, geo['img'], size=64, bs=4, probs=True)
    with rasterio.open(out/'scene_probs.tif') as f:
        q = f.read()
        assert [f.descriptions[i] for i in range(len(codes))] == codes
    assert np.abs(q / 255. - p)[:, valid].max() <= 0.5 / 255 + 1e-5 and (q[:, ~valid] == 0).all()
    with rasterio.open(out/'scene_confidence.tif') as f: c = f.read(1)
    np.testing.assert_array_equal(c[valid], q.max(0)[valid])
    areas = pd.read_csv(out/'areas.csv')
    assert list(areas['class']) == codes and areas.pixels.sum() == valid.sum()
    np.testing.assert_allclose(areas.area_m2, areas.pixels * 0.25)
    np.testing.assert_array_equal(areas.pixels, np.bincount(lab[valid], minlength=len(codes)))

def test_calibration_stored_in_the_model_file_is_applied(model, geo, tmp_path):
    meta = json.loads((model['dir']/'model.json').read_text())
    n = len(meta['seg_info']['codes']); meta['seg_info']['calibration'] = [0.] * (n - 1) + [5.]
    (tmp_path/'cal.json').write_text(json.dumps(meta))
    (tmp_path/'cal.safetensors').write_bytes((model['dir']/'model.safetensors').read_bytes())
    assert main(['predict', str(tmp_path/'cal'), str(geo['path']), '--out', str(tmp_path/'o'), '--size', '64']) == 0
    with rasterio.open(tmp_path/'o'/'scene.tif') as f: lab = f.read(1)[geo['valid']]
    assert main(['predict', str(tmp_path/'cal'), str(geo['path']), '--out', str(tmp_path/'u'), '--size', '64',
                 '--no-calibration']) == 0
    with rasterio.open(tmp_path/'u'/'scene.tif') as f: raw = f.read(1)[geo['valid']]
    assert (lab == n - 1).sum() > (raw == n - 1).sum() + 1000 # the bias moves pixels to the last class
    cal = load_model(tmp_path/'cal')
    np.testing.assert_array_equal(lab, predict_scene(cal, geo['img'], size=64)[geo['valid']])
    np.testing.assert_array_equal(raw, predict_scene(cal, geo['img'], size=64, calibrate=False)[geo['valid']])

def test_predict_command_on_a_png_folder(model, geo, tmp_path):
    (tmp_path/'in').mkdir()
    img = geo['img'][20:120, 30:170]
    Image.fromarray(img).save(tmp_path/'in'/'tile.png')
    assert main(['predict', str(model['dir']/'model.json'), str(tmp_path/'in'), '--out', str(tmp_path/'out'),
                 '--size', '64']) == 0
    with Image.open(tmp_path/'out'/'tile.png') as im:
        assert im.mode == 'P'
        lab, pal = np.asarray(im), im.getpalette()[:3]
    learn = load_model(model['dir']/'model')
    np.testing.assert_array_equal(lab, predict_scene(learn, img, size=64))
    assert tuple(pal) == color_table(learn.seg_info['codes'], learn.seg_info['colors'])[0][:3]
    assert pd.read_csv(tmp_path/'out'/'areas.csv').pixels.sum() == img.shape[0] * img.shape[1]

def test_predict_command_errors(model, geo, tmp_path):
    m = str(model['dir']/'model.json')
    with rasterio.open(tmp_path/'four.tif', 'w', driver='GTiff', width=40, height=30, count=4, dtype='uint8') as f:
        f.write(np.ones((4, 30, 40), np.uint8))
    with pytest.raises(SystemExit, match='4 bands but the model takes 3'):
        main(['predict', m, str(tmp_path/'four.tif'), '--out', str(tmp_path/'o')])
    (tmp_path/'junk.tif').write_bytes(b'not a tiff')
    with pytest.raises(SystemExit, match='cannot read file'):
        main(['predict', m, str(tmp_path/'junk.tif'), '--out', str(tmp_path/'o')])
    with pytest.raises(SystemExit, match='model file .*nope.pt not found'):
        main(['predict', str(tmp_path/'nope.pt'), str(geo['path']), '--out', str(tmp_path/'o')])
    with pytest.raises(SystemExit, match='not found'):
        main(['predict', m, str(tmp_path/'missing.png'), '--out', str(tmp_path/'o')])
