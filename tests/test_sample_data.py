"Weighted fastai loaders with worker processes: the recorded batch items are the patches the batches hold."
import numpy as np, pytest
from seg_imbalance.synth import synth_sceneset
from seg_imbalance.crop import tile, table_counts
from seg_imbalance.data import patch_dataloaders, batch_items

@pytest.fixture(scope='module')
def demo():
    ss = synth_sceneset(4, 128, seed=1)
    return ss, tile(ss, 32, stride=24)

def counts_of(yb, n_classes):
    return np.stack([np.bincount(m.flatten().numpy(), minlength=n_classes) for m in yb])

@pytest.mark.parametrize('kw', [dict(sample_weights='rcs'), dict(sample_weights='presence'), dict(balance=['car', 'water'], epoch_len=40)])
def test_batch_items_match_batches_with_workers(demo, kw):
    "With 2 worker processes the epoch is drawn in the main process and batch i holds exactly the recorded rows"
    ss, t = demo
    if kw.get('sample_weights') == 'presence': kw = dict(sample_weights=np.where(table_counts(t)[:, 5] > 0, 5., 1.))
    dls = patch_dataloaders(t, ss, bs=8, valid_scenes=[3], num_workers=2, seed=4, **kw)
    for epoch in range(2):
        n = 0
        for i, (xb, yb) in enumerate(dls.train):
            np.testing.assert_array_equal(counts_of(yb, 6), table_counts(t)[batch_items(dls.train, i)])
            n += len(yb)
        assert n == len(dls.train) * 8
    assert dls.train.sampler.epoch == 2

def test_valid_is_unweighted_and_in_order(demo):
    ss, t = demo
    dls = patch_dataloaders(t, ss, bs=8, valid_scenes=[3], sample_weights='rcs', epoch_len=64)
    grid = tile(ss, 32)                      # by default validation is the plain grid of the validation scene
    got = np.concatenate([counts_of(yb, 6) for _, yb in dls.valid])
    np.testing.assert_array_equal(got, table_counts(grid)[np.flatnonzero(grid.scene.to_numpy() == 3)])
    assert len(dls.train) == 8
    old = patch_dataloaders(t, ss, bs=8, valid_scenes=[3], sample_weights='rcs', epoch_len=64, valid_table='table')
    got = np.concatenate([counts_of(yb, 6) for _, yb in old.valid])   # or the table's own rows, in order
    np.testing.assert_array_equal(got, table_counts(t)[np.flatnonzero(t.scene.to_numpy() == 3)])
