"Tests of seg_imbalance.interpret: whole-scene sliding-window inference, whole-scene evaluation and the failure-case figures."
import json
from types import SimpleNamespace
import numpy as np, pandas as pd, pytest, torch, torch.nn.functional as F
from torch import nn
from PIL import Image
from hypothesis import given, settings, strategies as st
from seg_imbalance.io import Scene, scenes_from_arrays
from seg_imbalance.metrics import confusion
from seg_imbalance.interpret import (predict_scene, evaluate_scenes, worst_windows, error_gallery, error_map,
                                     plot_confusion, plot_class_iou, window_starts, blend_weights)


class ThresholdModel(nn.Module):
    "Class `floor(n * x[:, 0])` of each pixel as one-hot logits; records the batch sizes it sees"
    def __init__(self, n): super().__init__(); self.n, self.w, self.seen = n, nn.Parameter(torch.ones(())), []
    def forward(self, x):
        self.seen.append(len(x))
        c = (x[:, 0] * self.n).floor().long().clamp(0, self.n - 1)
        return 10 * self.w * F.one_hot(c, self.n).permute(0, 3, 1, 2).float()


def fake_learner(model, n=4, size=16, ignore_index=None, codes=None, in_channels=3):
    info = dict(codes=codes or [f'c{i}' for i in range(n)], ignore_index=ignore_index, mean=[0.] * in_channels,
                std=[1.] * in_channels, scale=255., patch_size=size, colors=None, in_channels=in_channels)
    return SimpleNamespace(model=model, seg_info=info)


def truth_of(img, n=4):
    "The threshold model's answer on the whole image at once"
    x = torch.from_numpy(img).float().div(255).permute(2, 0, 1)[None]
    return (x[0, 0] * n).floor().long().clamp(0, n - 1).numpy()


def random_scenes(shapes, n_classes=5, ignore_index=None, seed=0, p_ignore=0.15):
    rng = np.random.default_rng(seed)
    imgs = [rng.integers(0, 256, (*s, 3), dtype=np.uint8) for s in shapes]
    masks = [rng.integers(0, n_classes, s).astype(np.uint8) for s in shapes]
    if ignore_index is not None:
        for m in masks: m[rng.random(m.shape) < p_ignore] = ignore_index
    codes = [f'c{i}' for i in range(n_classes)]
    return scenes_from_arrays(imgs, masks, codes, ignore_index=ignore_index)


# ---------------------------------------------------------------- predict_scene

@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 70), w=st.integers(1, 70), size=st.sampled_from([8, 16, 17]),
       overlap=st.sampled_from([0, 0.25, 0.5, 0.9]), bs=st.integers(1, 5), tta=st.booleans(),
       blend=st.sampled_from(['gaussian', 'linear', 'constant']), seed=st.integers(0, 2**16))
def test_predict_scene_reproduces_pixelwise_answer(h, w, size, overlap, bs, tta, blend, seed):
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    model = ThresholdModel(4)
    pred = predict_scene(fake_learner(model, size=size), img, overlap=overlap, bs=bs, tta=tta, blend=blend)
    assert pred.dtype == np.int64 and pred.shape == (h, w)
    np.testing.assert_array_equal(pred, truth_of(img))
    n_windows = np.prod([len(window_starts(n, size, overlap)[0]) for n in (h, w)])
    assert max(model.seen) <= bs and sum(model.seen) == n_windows * (3 if tta else 1)  # never all windows at once


def test_tta_follows_the_models_training_flips():
    "tta=True averages over left-right flips only for a model trained with hflip (it never saw an upside-down scene)"
    img = np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    seen = {}
    for aug, want in (('hflip', 2), ('dihedral', 3), (None, 3)):
        model = ThresholdModel(4); learn = fake_learner(model, size=8)
        if aug: learn.seg_info['recipe'] = {'aug': aug}
        np.testing.assert_array_equal(predict_scene(learn, img, tta=True, overlap=0), truth_of(img))
        seen[aug] = sum(model.seen)
        assert seen[aug] == want * 3 * 3 # (20, 24) in 8 px windows without overlap: 3 x 3 windows, each seen `want` times
    model = ThresholdModel(4); predict_scene(fake_learner(model, size=8), img, tta='hflip', overlap=0)
    assert sum(model.seen) == seen['hflip']
    with pytest.raises(ValueError, match='tta must be True, False or one of'): predict_scene(fake_learner(model, size=8), img, tta='rot')


@pytest.mark.parametrize('shape,overlap', [((75, 50), 0.25), ((31, 33), 0), ((7, 5), 0.5), ((64, 64), 0.25)])
def test_predict_scene_equals_whole_forward_of_equivariant_model(shape, overlap):
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, 1)
    img = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
    with torch.no_grad(): whole = conv(torch.from_numpy(img).float().div(255).permute(2, 0, 1)[None])[0].softmax(0).numpy()
    learn = fake_learner(conv, n=5, size=16)
    p = predict_scene(learn, img, overlap=overlap, probs=True, tta=True)
    assert p.dtype == np.float32 and p.shape == (5, *shape)
    np.testing.assert_allclose(p, whole, atol=1e-5)
    np.testing.assert_allclose(p.sum(0), 1, atol=1e-5)
    np.testing.assert_array_equal(predict_scene(learn, img, overlap=overlap), whole.argmax(0))


def test_normalisation_is_applied():
    "mean/std shift the input as in training: class = floor(n * ((x/scale - mean) / std))"
    img = np.random.default_rng(2).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    learn = fake_learner(ThresholdModel(4))
    learn.seg_info.update(mean=[0.25, 0., 0.], std=[0.5, 1., 1.])
    want = ((img[..., 0].astype(np.float32) / np.float32(255) - np.float32(0.25)) / np.float32(0.5) * 4)
    np.testing.assert_array_equal(predict_scene(learn, img), np.clip(np.floor(want), 0, 3).astype(np.int64))


def test_mode_and_device_restored():
    model = ThresholdModel(4).train()
    img = np.zeros((20, 20, 3), np.uint8)
    predict_scene(fake_learner(model), img, device='cpu')
    assert model.training
    predict_scene(fake_learner(model.eval()), img)
    assert not model.training


def test_inputs_scene_path_gray_tensor(tmp_path):
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (23, 41, 3), dtype=np.uint8)
    learn, want = fake_learner(ThresholdModel(4)), truth_of(img)
    Image.fromarray(img).save(tmp_path/'a.png')
    for x in (Scene(img, np.zeros((23, 41), np.uint8)), tmp_path/'a.png', str(tmp_path/'a.png'), torch.from_numpy(img)):
        np.testing.assert_array_equal(predict_scene(learn, x), want)
    gray = img[..., 0]
    np.testing.assert_array_equal(predict_scene(learn, gray), truth_of(np.repeat(gray[..., None], 3, 2)))
    one = fake_learner(ThresholdModel(4), in_channels=1)
    np.testing.assert_array_equal(predict_scene(one, gray), truth_of(np.repeat(gray[..., None], 3, 2)))


@pytest.mark.parametrize('kw,msg', [(dict(size=0), 'size must be an integer >= 1'), (dict(overlap=1.), 'overlap must be in [0, 1)'),
                                    (dict(overlap=-0.5), 'overlap must be in [0, 1)'), (dict(bs=0), 'bs must be an integer >= 1'),
                                    (dict(blend='hann'), 'mode must be one of')])
def test_bad_arguments(kw, msg):
    with pytest.raises(ValueError, match=msg.replace('[', r'\[').replace(')', r'\)')):
        predict_scene(fake_learner(ThresholdModel(4)), np.zeros((20, 20, 3), np.uint8), **kw)


def test_bad_inputs(tmp_path):
    learn = fake_learner(ThresholdModel(4))
    for x, msg in ((np.zeros(5), 'image array'), (np.zeros((2, 3, 4, 5)), 'image array'), ([[1, 2]], 'got list'),
                   (np.zeros((0, 5, 3)), 'image array'), (np.zeros((9, 9, 4), np.uint8), '4 bands but the model takes 3'),
                   (tmp_path/'missing.png', 'cannot read')):
        with pytest.raises(ValueError, match=msg): predict_scene(learn, x)
    with pytest.raises(ValueError, match=r'expected \(1, 5, h, w\)'):  # the model has 4 outputs, the learner says 5 classes
        predict_scene(fake_learner(ThresholdModel(4), n=5), np.zeros((9, 9, 3), np.uint8))
    with pytest.raises(ValueError, match='no window size'):
        l = fake_learner(ThresholdModel(4)); l.seg_info['patch_size'] = None
        predict_scene(l, np.zeros((9, 9, 3), np.uint8))
    with pytest.raises(ValueError, match='neither `seg_info`'): predict_scene(SimpleNamespace(model=ThresholdModel(4)), np.zeros((9, 9, 3)))


def test_window_starts_cover_scene():
    for n in range(1, 90):
        for size, ov in ((16, 0), (16, 0.25), (17, 0.5), (32, 0.9)):
            s, pad, total = window_starts(n, size, ov)
            assert s[0] == 0 and s[-1] + size == total >= max(n, size) and 0 <= pad <= total - n - pad <= pad + 1
            assert np.all(np.diff(s) <= size) and total - n < max(1, round(size * (1 - ov))) + max(0, size - n)


def test_blend_weights_positive_symmetric():
    for m in ('gaussian', 'linear', 'constant'):
        w = blend_weights(13, m)
        assert w.shape == (13, 13) and (w > 0).all() and torch.equal(w, w.T) and torch.equal(w, w.flip(0))


# ---------------------------------------------------------------- evaluate_scenes

@pytest.mark.parametrize('ign', [None, 2, 255])
def test_evaluate_counts_each_pixel_once_and_matches_confusion(ign):
    ss = random_scenes([(40, 50), (17, 90), (8, 8)], ignore_index=ign, seed=4)
    learn = fake_learner(ThresholdModel(5), n=5, ignore_index=ign, codes=ss.codes)
    tab = evaluate_scenes(learn, ss, progress=False, rare=['c4', 3])
    masks = [s.read_mask() for s in ss]
    n_valid = sum(int((m != ign).sum()) if ign is not None else m.size for m in masks)
    cm = torch.tensor(tab.attrs['cm'])
    assert int(cm.sum()) == n_valid == tab.attrs['summary']['pixels']
    full = confusion(torch.cat([torch.from_numpy(truth_of(s.read_image(), 5)).flatten() for s in ss]),
                     torch.cat([torch.from_numpy(m.astype(np.int64)).flatten() for m in masks]), 5, ign)
    assert torch.equal(cm, full)
    assert list(tab.index) == [c for i, c in enumerate(ss.codes) if i != ign]
    assert tab.attrs['summary']['rare_miou'] == pytest.approx(tab.loc[['c3', 'c4'], 'IoU'].mean())
    per = pd.DataFrame(tab.attrs['per_scene'])
    assert list(per.scene) == [0, 1, 2] and per.pixels.sum() == n_valid and ('c2' in per) == (ign != 2)
    json.dumps(tab.attrs)  # plain values
    sub = evaluate_scenes(learn, ss, idxs=[1], progress=False)
    assert sub.attrs['summary']['pixels'] == per.pixels[1]
    assert pd.concat({'all': tab.IoU, 'one': sub.IoU}, axis=1).shape == (len(tab), 2)


@pytest.mark.parametrize('ign', [None, 1, 255])
def test_agrees_with_torchmetrics(ign):
    from torchmetrics.classification import MulticlassJaccardIndex, MulticlassF1Score
    ss = random_scenes([(30, 41), (25, 25)], n_classes=4, ignore_index=ign, seed=5)
    learn = fake_learner(ThresholdModel(4), ignore_index=ign, codes=ss.codes)
    tab = evaluate_scenes(learn, ss, progress=False)
    pred = torch.cat([torch.from_numpy(truth_of(s.read_image(), 4)).flatten() for s in ss])
    targ = torch.cat([torch.from_numpy(s.read_mask().astype(np.int64)).flatten() for s in ss])
    keep = [c for c in range(4) if c != ign]
    iou = MulticlassJaccardIndex(4, average=None, ignore_index=ign)(pred, targ)[keep]
    f1 = MulticlassF1Score(4, average=None, ignore_index=ign)(pred, targ)[keep]
    np.testing.assert_allclose(tab['IoU'].to_numpy(), iou.numpy(), rtol=1e-6)
    np.testing.assert_allclose(tab['F1'].to_numpy(), f1.numpy(), rtol=1e-6)


def test_evaluate_bad_inputs():
    ss = random_scenes([(20, 20)], ignore_index=4)
    learn = fake_learner(ThresholdModel(5), n=5, ignore_index=4, codes=ss.codes)
    for kw, msg in ((dict(idxs=[1]), 'idxs must be scene positions'), (dict(idxs=[]), 'idxs must be scene positions'),
                    (dict(rare=['car']), "unknown rare class 'car'"), (dict(rare=[4]), 'ignore index')):
        with pytest.raises(ValueError, match=msg): evaluate_scenes(learn, ss, progress=False, **kw)
    with pytest.raises(ValueError, match="differ from the learner's"):
        evaluate_scenes(fake_learner(ThresholdModel(5), ignore_index=4, codes=list('abcde')), ss, progress=False)
    with pytest.raises(ValueError, match=r"ignore_index \(4\) differs from the learner's \(None\)"):
        evaluate_scenes(fake_learner(ThresholdModel(5), n=5, codes=ss.codes), ss, progress=False)


# ---------------------------------------------------------------- failure cases and plots

def test_worst_windows_counts_and_order():
    ss = random_scenes([(50, 70), (33, 20), (10, 12)], ignore_index=4, seed=6)
    learn = fake_learner(ThresholdModel(5), n=5, ignore_index=4, codes=ss.codes)
    wins = worst_windows(learn, ss, 'c1', n=7, size=16)
    assert len(wins) == 7 and [w['errors'] for w in wins] == sorted((w['errors'] for w in wins), reverse=True)
    for w in wins:
        s = ss[w['scene']]; win = (slice(w['y'], w['y'] + w['h']), slice(w['x'], w['x'] + w['w']))
        t, p = s.read_mask()[win], truth_of(s.read_image(), 5)[win]
        valid = t != 4
        assert (w['FP'], w['FN'], w['TP']) == (int(((p == 1) & (t != 1) & valid).sum()), int(((t == 1) & (p != 1)).sum()),
                                               int(((t == 1) & (p == 1)).sum()))
        assert w['errors'] == w['FP'] + w['FN'] > 0 and w['image'].shape[:2] == w['truth'].shape == w['pred'].shape
        np.testing.assert_array_equal(w['error map'], error_map(p, t, 1, 4))
    assert {w['h'] for w in wins if w['scene'] == 2} <= {10}  # a scene smaller than the window is one window
    with pytest.raises(ValueError, match=r"unknown class 'car': expected a code name or index of \['c0'"):
        worst_windows(learn, ss, 'car')
    with pytest.raises(ValueError, match='n must be an integer >= 1'): worst_windows(learn, ss, 1, n=0)


def test_error_gallery_and_plots():
    ss = random_scenes([(40, 40)], ignore_index=4, seed=7)
    learn = fake_learner(ThresholdModel(5), n=5, ignore_index=4, codes=ss.codes)
    assert len(error_gallery(learn, ss, 'c2', n=3).axes) == 12
    with pytest.raises(ValueError, match='unknown class'): error_gallery(learn, ss, 9)
    tab = evaluate_scenes(learn, ss, progress=False)
    cm = np.array(tab.attrs['cm'], np.float64)
    shown = plot_confusion(tab.attrs['cm'], ss.codes, 4).axes[0].images[0].get_array()
    rows = cm[:4] / cm[:4].sum(1, keepdims=True)
    np.testing.assert_allclose(shown, rows)  # the model predicts class 4 too: its column is shown
    np.testing.assert_allclose(plot_confusion(torch.tensor(cm), ss.codes, 4, normalize=None).axes[0].images[0].get_array(), cm[:4])
    fig = plot_class_iou({'a': tab, 'b': tab['IoU'] / 2})
    heights = [p.get_height() for p in fig.axes[0].patches]
    np.testing.assert_allclose(heights, np.r_[tab.IoU.to_numpy(), tab.IoU.to_numpy() / 2])
    with pytest.raises(ValueError, match="has no column 'Dice'"): plot_class_iou({'a': tab}, metric='Dice')


# ---------------------------------------------------------------- with a real learner

def test_real_learner_integration():
    from seg_imbalance.synth import synth_sceneset
    from seg_imbalance.crop import tile
    from seg_imbalance.data import patch_dataloaders, channel_stats
    from seg_imbalance.learner import seg_learner
    ss = synth_sceneset(3, 128, seed=0)
    table = tile(ss, 64)
    dls = patch_dataloaders(table, ss, bs=4, valid_scenes=[2], seed=0)
    torch.manual_seed(0)
    learn = seg_learner(dls); learn.no_bar()
    pred = predict_scene(learn, ss[2], overlap=0)                     # info derived from learn.dls
    xb, _ = dls.valid.one_batch()
    with torch.no_grad(): logits = learn.model.eval()(xb).as_subclass(torch.Tensor)
    want, top2 = logits.max(1).indices.numpy(), logits.topk(2, 1).values
    clear = (top2[:, 0] - top2[:, 1] > 1e-4).numpy()   # near-ties may flip: the two paths' inputs differ by float rounding (~1e-5)
    got = np.stack([pred[y:y + 64, x:x + 64] for y, x in table.query('scene == 2')[['y', 'x']].to_numpy()])
    assert clear.mean() > 0.95
    np.testing.assert_array_equal(got[clear], want[clear])
    mean, std = channel_stats(ss, [0, 1])
    learn.seg_info = dict(codes=list(ss.codes), ignore_index=ss.ignore_index, mean=mean.tolist(), std=std.tolist(),
                          scale=255., patch_size=64, colors=ss.colors, in_channels=3)
    np.testing.assert_array_equal(predict_scene(learn, ss[2], overlap=0), pred)  # the same from seg_info
    tab = evaluate_scenes(learn, ss, idxs=[2], progress=False, tta=True)
    assert tab.attrs['summary']['pixels'] == 128 * 128 and list(tab.index) == list(ss.codes)
