"""Issue 8, "what is wrong today": one test per item, each failing on the code before the fix."""
import numpy as np, pandas as pd, pytest, torch
from fastai.learner import load_learner
from seg_imbalance.io import scenes_from_arrays
from seg_imbalance.synth import synth_sceneset
from seg_imbalance.crop import tile, guided_select
from seg_imbalance.stats import imbalance_report
from seg_imbalance.weights import patch_weights
from seg_imbalance.sample import WeightedSampler, ClassBalancedBatchSampler
from seg_imbalance.data import patch_dataloaders
from seg_imbalance.losses import ComboLoss, DiceLoss, FocalLoss
from seg_imbalance.metrics import confusion, class_table, summary, evaluate
from seg_imbalance.learner import seg_learner

@pytest.fixture(scope='module')
def void_scenes():
    "Four 128 px demo scenes whose last code, 'void', is the ignore index and covers a band of every scene"
    ss = synth_sceneset(4, 128, seed=0)
    ims = [s.read_image() for s in ss]; ms = [s.read_mask().copy() for s in ss]
    for m in ms: m[:16] = 6
    return scenes_from_arrays(ims, ms, [*ss.codes, 'void'], ignore_index=6)

def test_custom_losses_get_the_ignore_index(void_scenes):
    dls = patch_dataloaders(tile(void_scenes, 64), void_scenes, bs=4, valid_scenes=[3])
    learn = seg_learner(dls, loss_func=ComboLoss(DiceLoss(), FocalLoss(gamma=2)))
    assert [m.ignore_index for m in learn.loss_func.modules() if hasattr(m, 'ignore_index')] == [6, 6, 6]   # the combo, Dice, focal
    with pytest.raises(ValueError, match='ignore_index=255 but the data ignore 6'):
        seg_learner(dls, loss_func=FocalLoss(ignore_index=255))

def test_metrics_leave_the_ignore_class_out_by_default():
    targ, pred = torch.tensor([[0, 1, 2, 0]]), torch.tensor([[0, 1, 2, 2]])   # a valid pixel predicted as void (2)
    cm = confusion(pred, targ, 3, ignore_index=2)
    assert list(class_table(cm, ['a', 'b', 'void']).index) == ['a', 'b']
    assert summary(cm)['mIoU'] == pytest.approx((0.5 + 1) / 2)

def test_validation_is_independent_of_the_training_selection():
    ss = synth_sceneset(4, 128, seed=0)
    picked = guided_select(tile(ss, 64, stride=32), targets='water', min_frac=0.001, neg_frac=0.)
    dls = patch_dataloaders(picked, ss, bs=2, valid_scenes=[3])
    va = dls.table.iloc[list(dls.valid_ds.items)]
    assert (va.scene == 3).all() and len(va) == 4 and set(zip(va.y, va.x)) == {(0, 0), (0, 64), (64, 0), (64, 64)}
    assert va[list(ss.codes)].to_numpy().sum() == 128 * 128          # every pixel of the scene once

def test_sampler_statistics_come_from_training_rows_only():
    ss = synth_sceneset(6, 128, seed=2)
    t = tile(ss, 32)
    dls = patch_dataloaders(t, ss, bs=4, valid_scenes=[4, 5], sample_weights='rcs')
    tr = t[~t.scene.isin([4, 5])]
    np.testing.assert_allclose(dls.train.sampler.weights, patch_weights(tr, 'rcs'))

def test_seeds_do_not_collide():
    w = np.ones(100)
    assert not np.array_equal(WeightedSampler(w, seed=0).draw(1), WeightedSampler(w, seed=1).draw(0))

def test_sampler_epoch_is_the_training_epoch():
    ss = synth_sceneset(4, 128, seed=0)
    def drawn(peek):
        dls = patch_dataloaders(tile(ss, 64), ss, bs=4, valid_scenes=[3], sample_weights='rcs', seed=5)
        for _ in range(peek): dls.one_batch()
        learn = seg_learner(dls, encoder_name='resnet18'); learn.recorder.silent = True
        seen = []
        from fastai.callback.core import Callback
        class Rec(Callback):
            def after_epoch(self): seen.append(self.learn.dls.train.epoch_idxs.copy())
        with learn.no_bar(): learn.fit(2, 1e-4, cbs=Rec())
        return seen
    a, b = drawn(0), drawn(3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b)) and not np.array_equal(a[0], a[1])

def test_transposed_presence_is_refused():
    pres = np.zeros((8, 2), bool); pres[6, 0] = pres[7, 1] = True
    with pytest.raises(ValueError, match=r'presence must be \(8, K\)'):
        ClassBalancedBatchSampler(np.ones(8), pres.T.copy().reshape(2, 8), bs=4)

def test_report_counts_labelled_patches_only():
    counts = np.array([[3, 1, 0], [4, 0, 0]] + [[0, 0, 16]] * 6)
    rep = imbalance_report(counts, codes=['soil', 'road', 'void'], ignore_index=2)
    assert rep.table.loc['road', 'patch %'] == 50.
    assert '6 patches without labelled pixels left out' in rep.setting

def test_exported_learner_travels_without_scenes(tmp_path):
    ss = synth_sceneset(4, 256, seed=0)
    dls = patch_dataloaders(tile(ss, 64), ss, bs=4, valid_scenes=[3])
    learn = seg_learner(dls, encoder_name='resnet18'); learn.path = tmp_path
    learn.export('m.pkl')
    back = load_learner(tmp_path / 'm.pkl')
    scene_bytes = sum(s.read_image().nbytes + s.read_mask().nbytes for s in ss)
    model_bytes = sum(p.numel() * p.element_size() for p in learn.model.state_dict().values())
    assert (tmp_path / 'm.pkl').stat().st_size < model_bytes + scene_bytes / 4
    assert back.dls.codes == list(ss.codes) and back.dls.ignore_index is None and back.seg_info.patch_size == 64
    xb = dls.valid.one_batch()[0]
    learn.model.eval(); back.model.eval()
    with torch.no_grad(): assert torch.equal(back.model(xb), learn.model(xb))
    assert evaluate(learn).sum() == 4 * 64 * 64 * 4
