"""Pretrained encoders everywhere: a recipe's `encoder_weights` (a saved file) trains on 4-band GeoTIFF scenes through
`fit_recipe` and `seg-imbalance train`, the normalisation follows the weights and `SegInfo` records both; named weights
not in the local cache fail with where to put the file. And the renamed arguments: each old name still works, warning."""
import warnings
import numpy as np, pytest, torch
from fastai.callback.core import Callback
import seg_imbalance.models as models
from seg_imbalance.models import seg_model, adapt_first_conv, encoder_norm_stats, band_sources, IMAGENET_STATS
from seg_imbalance.io import read_scene_folder
from seg_imbalance.crop import tile
from seg_imbalance.recipe import get_recipe
from seg_imbalance.fit import fit_recipe

rasterio = pytest.importorskip('rasterio')
from rasterio.transform import from_origin

CODES = ['soil', 'grass', 'water']

def write_tif(path, arr):
    a = arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, 0)
    with rasterio.open(path, 'w', driver='GTiff', height=a.shape[1], width=a.shape[2], count=len(a), dtype=a.dtype,
                       crs='EPSG:32618', transform=from_origin(500000, 4e6, 10, 10)) as d: d.write(a)

@pytest.fixture(scope='module')
def geo(tmp_path_factory):
    "A folder of four 64 px 4-band uint16 GeoTIFF scenes with label rasters, and a saved 3-band resnet18 encoder"
    f = tmp_path_factory.mktemp('geo'); (f/'images').mkdir(); (f/'masks').mkdir()
    (f/'codes.txt').write_text('\n'.join(CODES) + '\n')
    rng = np.random.default_rng(0)
    for k in range(4):
        lab = np.zeros((64, 64), np.uint8); lab[:, 32:] = 1; lab[20:30, 5:15] = 2
        img = (rng.integers(500, 3000, (64, 64, 4)) + 4000 * lab[..., None].astype(np.int64)).astype(np.uint16)
        write_tif(f/'images'/f's{k}.tif', img); write_tif(f/'masks'/f's{k}.tif', lab)
    torch.manual_seed(123)
    sd = seg_model(3).encoder.state_dict()
    w = f/'rgb_encoder.pth'; torch.save(sd, w)
    return f, w, sd

class FirstConv(Callback):
    "The first conv's weights as training starts"
    def before_fit(self): self.w = self.model.encoder.conv1.weight.detach().clone()

def test_recipe_with_a_weights_file_trains_on_4_band_geotiffs(geo):
    f, w, sd = geo
    ss = read_scene_folder(f); table = tile(ss, 32)
    assert ss[0].n_bands == 4 and ss[0].image_dtype == np.uint16
    cb = FirstConv()
    learn = fit_recipe({'encoder_weights': str(w)}, ss, table, [3], steps=2, bs=2, quiet=True, cbs=[cb])
    torch.testing.assert_close(cb.w, adapt_first_conv(sd['conv1.weight'], 4)) # the adapted weights, before training
    assert not torch.equal(cb.w, seg_model(3, in_channels=4).encoder.conv1.weight) # not a random init
    assert np.isfinite(float(learn.recorder.losses[-1]))
    info, stats = learn.seg_info, encoder_norm_stats('resnet18', str(w), 4)
    assert stats[0][:3] == IMAGENET_STATS[0]
    assert info.encoder_weights == str(w) and info.in_channels == 4
    np.testing.assert_allclose(info.mean, stats[0], rtol=1e-6); np.testing.assert_allclose(info.std, stats[1], rtol=1e-6)
    np.testing.assert_allclose(learn.dls.norm_stats, stats, rtol=1e-6)
    assert info.pretrained_bands == band_sources(4) == [[0], [1], [2], [0]] and info.rgb_bands == [0, 1, 2]
    assert info.recipe['encoder_weights'] == str(w)
    plain = fit_recipe('baseline', ss, table, [3], steps=1, bs=2, quiet=True) # no weights: the data's own statistics
    assert plain.seg_info.encoder_weights is None and plain.seg_info.pretrained_bands is None
    assert not np.allclose(plain.seg_info.mean, stats[0])

def test_train_command_with_a_recipe_file(geo, tmp_path):
    from seg_imbalance.cli import main
    from fastai.learner import load_learner
    f, w, sd = geo
    toml = tmp_path/'pre.toml'; toml.write_text(f'[recipe]\nencoder_weights = "{w}"\n')
    out = tmp_path/'out'
    assert main(['train', str(f), '--recipe', str(toml), '--size', '32', '--steps', '1', '--bs', '2', '--holdback', '0',
                 '--out', str(out)]) == 0
    info = load_learner(out/'model.pkl').seg_info
    assert info.encoder_weights == str(w) and info.pretrained_bands == [[0], [1], [2], [0]]
    np.testing.assert_allclose(info.mean, encoder_norm_stats('resnet18', str(w), 4)[0], rtol=1e-6)

def test_encoder_weights_option_reaches_the_recipe(geo, monkeypatch, tmp_path):
    "`--encoder-weights` sets the recipe's `encoder_weights` (fit_recipe stopped before training)"
    import seg_imbalance.fit as fit
    from seg_imbalance.cli import main
    f, w, sd = geo
    seen = {}
    def stop(r, *a, **k): seen['r'] = r; raise ValueError('stopped')
    monkeypatch.setattr(fit, 'fit_recipe', stop)
    with pytest.raises(SystemExit, match='stopped'):
        main(['train', str(f), '--recipe', 'baseline', '--size', '32', '--steps', '1', '--holdback', '0',
              '--encoder-weights', str(w), '--out', str(tmp_path/'o')])
    assert seen['r'].encoder_weights == str(w)

def test_search_gives_every_candidate_the_weights(geo):
    "`search_recipe(encoder_weights=...)`: every candidate trains with them (fake training, as in `nbs/11d_choose`)"
    from types import SimpleNamespace
    import pandas as pd
    from seg_imbalance.synth import synth_sceneset
    from seg_imbalance.choose import search_recipe
    w, ss = str(geo[1]), synth_sceneset(6, 128, seed=0)
    table = tile(ss, 32); seen = []
    hb = SimpleNamespace(train=np.flatnonzero(~table.scene.isin([4, 5]).to_numpy()), scenes=[4])
    def fit(r, n): seen.append(r); return SimpleNamespace(recipe=r, train_iter=n, seg_info=SimpleNamespace(recipe=None))
    def evaluate(l): return pd.DataFrame({'pixels %': 10., 'IoU': 0.5}, index=pd.Index(ss.codes, name='class'))
    learn = search_recipe(ss, table, [5], steps=240, bs=4, holdback=hb, encoder_weights=w, _fit=fit,
                          _continue=lambda l, n: n, _evaluate=evaluate)
    assert sorted(r.name for r in seen) == ['baseline', 'dice-focal', 'recommended', 'tversky']
    assert {r.encoder_weights for r in seen} == {w} and learn.recipe.encoder_weights == w
    seen.clear(); search_recipe(ss, table, [5], steps=240, bs=4, holdback=hb, _fit=fit, _continue=lambda l, n: n, _evaluate=evaluate)
    assert {r.encoder_weights for r in seen} == {None}

def test_encoder_weights_option_of_search_demo_and_ablate(geo, monkeypatch, tmp_path):
    "`train --recipe search`, `demo` and `ablate` take `--encoder-weights` and pass it on (training stopped before it starts)"
    import seg_imbalance.fit as fit, seg_imbalance.choose as choose, seg_imbalance.ablate as ablate
    from seg_imbalance.cli import main
    f, w, sd = geo
    seen = {}
    def stop(key):
        def f(*a, **k): seen[key] = (a, k); raise ValueError('stopped')
        return f
    monkeypatch.setattr(choose, 'search_recipe', stop('search'))
    with pytest.raises(SystemExit, match='stopped'):
        main(['train', str(f), '--recipe', 'search', '--size', '32', '--steps', '40', '--encoder-weights', str(w),
              '--out', str(tmp_path/'t')])
    assert seen['search'][1]['encoder_weights'] == str(w)
    monkeypatch.setattr(fit, 'run_recipe', stop('demo'))
    with pytest.raises(SystemExit, match='stopped'):
        main(['demo', '--scenes', '4', '--scene-size', '128', '--steps', '1', '--encoder-weights', str(w), '--out', str(tmp_path/'d')])
    assert seen['demo'][0][0].encoder_weights == str(w)
    with pytest.raises(SystemExit, match='does not exist'):
        main(['demo', '--scenes', '4', '--scene-size', '128', '--encoder-weights', str(tmp_path/'no.pth'), '--out', str(tmp_path/'d')])
    own = tmp_path/'own.pth'; own.write_bytes(w.read_bytes())
    (tmp_path/'grid.toml').write_text(f'[data]\nsource = "demo"\nsize = 32\n[[config]]\nname = "plain"\n[[config]]\n'
                                      f'name = "own"\nencoder_weights = "{own}"\n[[config]]\nname = "art"\npipeline = "article"\n')
    monkeypatch.setattr(ablate, 'ablate', stop('ablate'))
    with pytest.raises(SystemExit, match='stopped'):
        main(['ablate', str(tmp_path/'grid.toml'), '--encoder-weights', str(w), '--out', str(tmp_path/'a')])
    got = {c['name']: c.get('encoder_weights') for c in seen['ablate'][1]['configs']}
    assert got == {'plain': str(w), 'own': str(own), 'art': str(w)} # the plain-SMP anchor starts from the same weights
    with pytest.raises(SystemExit, match='--merge trains nothing'):
        main(['ablate', '--merge', str(tmp_path/'a'), '--encoder-weights', str(w)])

def test_named_weights_not_in_the_cache(geo, monkeypatch, tmp_path):
    "Named weights are never downloaded: the error says where to put the file"
    from seg_imbalance.cli import main
    monkeypatch.setattr(models, 'try_to_load_from_cache', lambda *a, **k: None)
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path/'hub'))
    with pytest.raises(ValueError, match='not on this machine') as e: get_recipe({'encoder_weights': 'imagenet'})
    assert str(tmp_path/'hub'/'checkpoints'/'resnet18.imagenet.safetensors') in str(e.value)
    with pytest.raises(SystemExit, match='put model.safetensors'):
        main(['train', str(geo[0]), '--recipe', 'baseline', '--size', '32', '--encoder-weights', 'imagenet',
              '--out', str(tmp_path/'o')])

# the old names: each still works for one release, with a DeprecationWarning naming the new one

def test_recipe_key_weights_is_sample_weights():
    with pytest.warns(DeprecationWarning, match="'weights' is deprecated, use 'sample_weights'"):
        r = get_recipe({'weights': 'rcs'})
    assert r.sample_weights == 'rcs'
    with pytest.warns(DeprecationWarning, match='use Recipe.sample_weights'): assert r.weights == 'rcs'
    with pytest.raises(ValueError, match='give one of them'): get_recipe({'weights': 'rcs', 'sample_weights': 'rcs'})

def test_patch_dataloaders_weights_is_sample_weights():
    from seg_imbalance.synth import synth_sceneset
    from seg_imbalance.data import patch_dataloaders
    from seg_imbalance.sample import patch_weights
    ss = synth_sceneset(3, 64, seed=0); t = tile(ss, 32)
    with pytest.warns(DeprecationWarning, match='weights is deprecated, use sample_weights'):
        dls = patch_dataloaders(t, ss, bs=2, valid_scenes=[2], weights='rcs')
    np.testing.assert_allclose(dls.train.sampler.weights, patch_weights(t[t.scene != 2], 'rcs'))

def test_combo_loss_weights_is_loss_weights():
    from seg_imbalance.losses import ComboLoss, DiceLoss, FocalLoss
    with pytest.warns(DeprecationWarning, match='weights is deprecated, use loss_weights'):
        c = ComboLoss(DiceLoss(), FocalLoss(), weights=[1., 2.])
    assert c.loss_weights == [1., 2.]

def test_seg_learner_weights_path_is_encoder_weights(geo):
    from seg_imbalance.synth import synth_sceneset
    from seg_imbalance.data import patch_dataloaders
    from seg_imbalance.learner import seg_learner
    f, w, sd = geo
    ss = synth_sceneset(3, 64, seed=0)
    dls = patch_dataloaders(tile(ss, 32), ss, bs=2, valid_scenes=[2])
    with pytest.warns(DeprecationWarning, match='weights_path is deprecated, use encoder_weights'):
        learn = seg_learner(dls, weights_path=w)
    torch.testing.assert_close(learn.model.encoder.conv1.weight, sd['conv1.weight'])
    assert learn.seg_info.encoder_weights == str(w)

def test_article_pipeline_loads_encoder_weights(geo, monkeypatch):
    "The article pipeline (plain SMP) loads the config's encoder weights into its Unet, as a plain SMP user does"
    import seg_imbalance.experiments as ex
    f, w, sd = geo
    seen = []
    real = ex.load_encoder_weights
    monkeypatch.setattr(ex, 'load_encoder_weights', lambda m, p: seen.append((m, p)) or real(m, p))
    tiny = {'source': 'demo', 'n_scenes': 3, 'scene_size': 64, 'size': 32}
    rec = ex.article_run({'name': 'a', 'pipeline': 'article', 'encoder_weights': str(w)}, 0, {'steps': 1, 'bs': 2}, tiny)
    assert len(seen) == 1 and seen[0][1] == w and rec['recipe']['encoder_weights'] == str(w)
    rec0 = ex.article_run({'name': 'a', 'pipeline': 'article'}, 0, {'steps': 1, 'bs': 2}, tiny)
    assert len(seen) == 1 and rec0['recipe']['encoder_weights'] is None
    with pytest.raises(ValueError, match='does not exist'):
        ex.article_run({'name': 'a', 'encoder_weights': '/no/such.pth'}, 0, {'steps': 1}, tiny)
