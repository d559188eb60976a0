"""Bad inputs that no other test checked (see the table in `nbs/94_bad_inputs.ipynb`).

Tests marked `xfail(strict=True)` state the behaviour wanted of a module another notebook owns: today the input gives
a crash with an unclear message or runs silently; once the library raises the named `ValueError`, the test passes,
strict xfail fails, and the mark must go."""
import numpy as np, pytest, torch
from seg_imbalance.io import scenes_from_arrays
from seg_imbalance.synth import synth_sceneset
from seg_imbalance.crop import tile
from seg_imbalance.losses import DiceLoss, LovaszSoftmaxLoss, TverskyLoss
from seg_imbalance.pixel_losses import WeightedCrossEntropy, FocalLoss, OHEMCrossEntropy
from seg_imbalance.recipes import get_recipe, recipe_rare, fit_recipe

LOSSES = [WeightedCrossEntropy, FocalLoss, OHEMCrossEntropy, DiceLoss, TverskyLoss, LovaszSoftmaxLoss]

@pytest.fixture(scope='module')
def demo():
    scenes = synth_sceneset(3, 64, seed=0)
    return scenes, tile(scenes, 32)

def test_fewer_than_two_codes():
    with pytest.raises(ValueError, match=r"need at least 2 class codes, got \['a'\]"):
        scenes_from_arrays([np.zeros((4, 4, 3), np.uint8)], [np.zeros((4, 4), np.uint8)], ['a'])

@pytest.mark.parametrize('loss', LOSSES)
def test_all_ignore_patch_counts_only_the_other_patch(loss):
    "An all-ignore image in a batch changes nothing: the loss is that of the other image alone"
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(2, 3, 4, 4, generator=g), torch.randint(0, 3, (2, 4, 4), generator=g)
    y[0] = 255
    got, alone = loss(ignore_index=255)(x, y), loss(ignore_index=255)(x[1:], y[1:])
    assert torch.isfinite(got) and got > 0
    torch.testing.assert_close(got, alone)

@pytest.mark.parametrize('loss', LOSSES)
@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_non_finite_logits_raise(loss, bad):
    x, y = torch.randn(2, 3, 4, 4), torch.zeros(2, 4, 4, dtype=torch.long)
    x[1, 2, 3, 0] = bad
    with pytest.raises(ValueError, match=r"inp holds 1 non-finite logits \(NaN or inf\)"): loss()(x, y)

def test_recipe_bad_inputs(tmp_path):
    (tmp_path/'a.toml').write_text('loss = "ce"\nfoo = 1\n')
    with pytest.raises(ValueError, match=r"unknown recipe key 'foo': the keys are name, loss"): get_recipe(tmp_path/'a.toml')
    (tmp_path/'b.toml').write_text('loss = \n')
    with pytest.raises(ValueError, match=r"b\.toml is not valid TOML"): get_recipe(str(tmp_path/'b.toml'))
    with pytest.raises(ValueError, match=r"recipe file .*c\.toml not found"): get_recipe(str(tmp_path/'c.toml'))
    with pytest.raises(ValueError, match=r"unknown recipe 'nope': one of \['baseline'"): get_recipe('nope')
    with pytest.raises(ValueError, match=r"loss='foo' is not one of \['ce'"): get_recipe('baseline', loss='foo')
    with pytest.raises(ValueError, match=r"lr must be a number >= 0, got 'fast'"): get_recipe('baseline', lr='fast')

def test_rare_class_not_in_codes(demo):
    _, t = demo
    r = get_recipe('baseline', rare=('foo',))
    with pytest.raises(ValueError, match=r"unknown rare class 'foo': expected a code name or index of \['background'"):
        recipe_rare(r, t, np.arange(len(t)))
    assert recipe_rare(get_recipe('baseline', rare=('car',)), t, np.arange(len(t))) == ['car']

def test_valid_scenes_that_leave_nothing(demo):
    from seg_imbalance.data import valid_scene_ids
    _, t = demo
    with pytest.raises(ValueError, match=r"valid_scenes \[0, 1, 2\] leave no training patches"): valid_scene_ids(t, [0, 1, 2])
    with pytest.raises(ValueError, match=r"cannot split 1 scene\(s\) into train and validation"): valid_scene_ids(t[t.scene == 0])

def test_band_count_of_the_model(demo):
    from seg_imbalance.data import patch_dataloaders
    from seg_imbalance.learner import seg_learner
    scenes, t = demo
    dls = patch_dataloaders(t, scenes, bs=2, valid_scenes=[2])
    with pytest.raises(ValueError, match=r"in_channels=4 but the data have 3 bands"): seg_learner(dls, in_channels=4)

def test_window_larger_than_the_scene_is_padded(demo):
    "predict_scene pads a scene smaller than its window (reflect) and returns the scene's size, not an error"
    from seg_imbalance.data import patch_dataloaders
    from seg_imbalance.learner import seg_learner
    from seg_imbalance.interpret import predict_scene
    scenes, t = demo
    learn = seg_learner(patch_dataloaders(t, scenes, bs=2, valid_scenes=[2]))
    img = scenes[0].read_image()[:20, :24]
    p = predict_scene(learn, img, size=64, probs=True)
    assert p.shape == (6, 20, 24)
    np.testing.assert_allclose(p.sum(0), 1, atol=1e-5)

# wanted behaviour of modules owned by other notebooks (06_data, 11a_recipes): see the module docstring
@pytest.mark.parametrize('bs', [0, -1])
def test_batch_size_below_one(demo, bs):
    from seg_imbalance.data import patch_dataloaders
    scenes, t = demo
    with pytest.raises(ValueError, match=r"bs must be an integer >= 1"): patch_dataloaders(t, scenes, bs=bs, valid_scenes=[2])

def test_duplicate_valid_scenes(demo):
    from seg_imbalance.data import valid_scene_ids
    with pytest.raises(ValueError, match=r"valid_scenes"): valid_scene_ids(demo[1], [2, 2])

def test_valid_scene_out_of_range(demo):
    from seg_imbalance.data import patch_dataloaders
    scenes, t = demo
    with pytest.raises(ValueError, match=r"valid_scenes"): patch_dataloaders(t, scenes, bs=2, valid_scenes=[7])

@pytest.mark.parametrize('kw', [dict(steps=0), dict(steps=-1), dict(bs=0)])
def test_step_budget_below_one(demo, kw):
    scenes, t = demo
    with pytest.raises(ValueError, match=r"(steps|bs) must be an integer >= 1"):
        fit_recipe('baseline', scenes, t, [2], **{'steps': 1, 'bs': 2, **kw}, quiet=True)

def test_patch_size_the_arch_cannot_take(demo, tmp_path):
    "PAN on 32 px patches: a ValueError naming the arch, the size and the minimum before training (fit, train, ablate)"
    from seg_imbalance.cli import main
    from seg_imbalance.io import save_scene_folder
    scenes, table = demo
    msg = r"arch 'PAN' needs patches of at least 128 px with sides divisible by 16, got 32×32 px"
    with pytest.raises(ValueError, match=msg): fit_recipe(get_recipe(arch='PAN'), scenes, table, [2], steps=1, bs=2, quiet=True)
    save_scene_folder(scenes, tmp_path/'scenes'); (tmp_path/'pan.toml').write_text('arch = "PAN"\n')
    with pytest.raises(SystemExit, match=msg):
        main(['train', str(tmp_path/'scenes'), '--recipe', str(tmp_path/'pan.toml'), '--size', '32', '--steps', '1',
              '--holdback', '0', '--out', str(tmp_path/'out')])
    (tmp_path/'grid.toml').write_text('[data]\nsource = "demo"\nsize = 32\n[[config]]\nname = "pan"\narch = "PAN"\n')
    with pytest.raises(SystemExit, match="config 'pan': " + msg): main(['ablate', str(tmp_path/'grid.toml'), '--out', str(tmp_path/'ab')])
    assert not (tmp_path/'out'/'checkpoint.pth').exists() and not (tmp_path/'ab'/'results.jsonl').exists()
