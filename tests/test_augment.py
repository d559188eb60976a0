"Augmentation: exact copy-paste, seeds, training-only application, ignore pixels, N-band images, workers, bad input"
import os, pickle, warnings
os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')
import numpy as np, pytest, torch
import albumentations as A
from fastai.vision.all import DataBlock, ImageBlock, MaskBlock, PILImage, PILMask, TensorImage, TensorMask
from seg_imbalance.augment import (AlbumentationsTransform, default_aug, OnBands, RareCentredWindow, margin_window,
                                   LocalRareAug, ObjectBank, CopyPaste)
from seg_imbalance.io import scenes_from_arrays
from seg_imbalance.stats import class_counts
from seg_imbalance.synth import synth_sceneset, SYNTH_CODES

IGN = 255


@pytest.fixture(scope='module')
def scenes():
    return synth_sceneset(4, 160, seed=0)


@pytest.fixture(scope='module')
def bank(scenes):
    return ObjectBank.from_scenes(scenes, [0, 1, 2], ['car', 'building'], min_pixels=6, pad=2)


@pytest.fixture(scope='module')
def patch(scenes):
    "The 64 px window of the held-out scene 3 with the most car pixels"
    m = scenes[3].read_mask()
    wins = [(y, x) for y in range(0, 97, 16) for x in range(0, 97, 16)]
    y, x = max(wins, key=lambda w: (m[w[0]:w[0] + 64, w[1]:w[1] + 64] == 5).sum())
    assert (m[y:y + 64, x:x + 64] == 5).sum() >= 10
    return scenes[3].read_image((y, x, 64, 64)), scenes[3].read_mask((y, x, 64, 64))


def with_ignore(mask, seed=0):
    "A copy of `mask` with a block and scattered pixels set to the ignore index"
    m = mask.copy(); m[20:36, 10:50] = IGN
    m[np.random.default_rng(seed).random(m.shape) < 0.05] = IGN
    return m


# ---- copy-paste: exactness

def test_pasted_pixels_equal_source(bank, patch, scenes):
    img, msk = patch
    for seed in range(10):
        cp = CopyPaste(bank, k=1, flip=False, rot90=False, p=1., seed=seed)
        out = cp(image=img, mask=msk)
        (j, c, y, x, h, w), = cp.params['pastes']
        om = bank.masks[j]
        assert (h, w) == om.shape and c == bank.classes[j]
        np.testing.assert_array_equal(out['image'][y:y + h, x:x + w][om], bank.images[j][om])
        assert (out['mask'][y:y + h, x:x + w][om] == c).all()
        s, sy, sx = bank.sources[j]
        np.testing.assert_array_equal(bank.images[j], scenes[s].read_image((sy, sx, h, w)))
        assert (scenes[s].read_mask((sy, sx, h, w))[om] == c).all() and s in (0, 1, 2)


def test_counts_change_by_pasted_and_covered(bank, patch):
    img, msk = patch
    for seed in range(10):
        cp = CopyPaste(bank, k=(1, 4), scale=(0.7, 1.3), p=1., seed=seed)
        out = cp(image=img, mask=msk)
        P = cp.params['pasted']
        assert P.sum() > 0
        np.testing.assert_array_equal(out['mask'][~P], msk[~P])
        np.testing.assert_array_equal(out['image'][~P], img[~P])
        gained = np.bincount(out['mask'][P], minlength=6)
        covered = np.bincount(msk[P], minlength=6)
        np.testing.assert_array_equal(class_counts(out['mask'], 6) - class_counts(msk, 6), gained - covered)
        assert set(np.unique(out['mask'][P])) <= {3, 5}


def test_counts_hand_made():
    "One 4-pixel object of class 1 pasted into a 6x6 mask of zeros: 4 pixels move from class 0 to class 1"
    om = np.array([[1, 1, 0], [0, 1, 1]], bool)
    b = ObjectBank([np.full((2, 3), 7, np.uint8)], [om], [1], ['a', 'b'])
    cp = CopyPaste(b, k=1, flip=False, rot90=False, p=1., seed=0)
    out = cp(image=np.zeros((6, 6), np.uint8), mask=np.zeros((6, 6), np.uint8))
    np.testing.assert_array_equal(class_counts(out['mask'], 2), [32, 4])
    assert (out['image'] == 7).sum() == 4 and ((out['image'] == 7) == (out['mask'] == 1)).all()


# ---- ignore pixels

@pytest.mark.parametrize('sigma', [0., 1.])
def test_copy_paste_keeps_ignore(bank, patch, sigma):
    img, msk = patch
    m = with_ignore(msk)
    for seed in range(10):
        cp = CopyPaste(bank, k=(3, 6), blend_sigma=sigma, ignore_index=IGN, p=1., seed=seed)
        out = cp(image=img, mask=m)
        np.testing.assert_array_equal(out['mask'] == IGN, m == IGN)
        np.testing.assert_array_equal(out['image'][m == IGN], img[m == IGN])
        assert not cp.params['pasted'][m == IGN].any()


def test_local_aug_keeps_ignore(patch):
    img, msk = patch
    m = with_ignore(msk, 1)
    for seed in range(10):
        out = LocalRareAug(['car', 'building'], codes=SYNTH_CODES, ignore_index=IGN, rotate=90, seed=seed)(image=img, mask=m)
        np.testing.assert_array_equal(out['mask'] == IGN, m == IGN)
        np.testing.assert_array_equal(out['image'][m == IGN], img[m == IGN])


def test_default_aug_fills_with_ignore(patch):
    img, msk = patch
    t = AlbumentationsTransform(A.Affine(rotate=(30, 30), mask_interpolation=0, border_mode=0, fill_mask=IGN, p=1.), seed=0)
    _, m = t((img, msk), split_idx=0)
    assert (m == IGN).sum() > 0 and set(np.unique(m)) <= set(range(6)) | {IGN}
    da = default_aug(ignore_index=IGN).transforms[3]
    assert da.fill_mask == IGN and da.mask_interpolation == 0


# ---- local augmentation

def test_local_aug_far_pixels_unchanged(patch):
    img, msk = patch
    for seed in range(5):
        la = LocalRareAug(['car'], codes=SYNTH_CODES, seed=seed)
        out = la(image=img, mask=msk)
        far = np.ones(msk.shape, bool)
        for y, x, h, w in la.params['regions']: far[y:y + h, x:x + w] = False
        assert la.params['regions'] and far.sum() > 0.5 * far.size
        np.testing.assert_array_equal(out['image'][far], img[far])
        np.testing.assert_array_equal(out['mask'][far], msk[far])
        assert (out['image'] != img).any()
    la = LocalRareAug(['car'], codes=SYNTH_CODES, min_pixels=1, max_pixels=1, seed=0)
    out = la(image=img, mask=msk)
    assert la.params['regions'] == [] and (out['image'] == img).all() and (out['mask'] == msk).all()


# ---- seeds

def test_same_seed_same_output(bank, patch):
    img, msk = patch
    makers = [lambda s: CopyPaste(bank, k=(1, 3), scale=(0.8, 1.2), p=1., seed=s),
              lambda s: LocalRareAug(['car', 'building'], codes=SYNTH_CODES, seed=s)]
    for make in makers:
        a, b, c = (make(s)(image=img, mask=msk) for s in (0, 0, 1))
        np.testing.assert_array_equal(a['image'], b['image']); np.testing.assert_array_equal(a['mask'], b['mask'])
        assert (a['image'] != c['image']).any()
    pipe = lambda: A.Compose([default_aug(), LocalRareAug([5]), CopyPaste(bank, k=2, p=1.)])
    runs = {s: [AlbumentationsTransform(pipe(), seed=s)((img, msk), split_idx=0) for _ in range(2)] for s in (0, 1)}
    for i in range(2): np.testing.assert_array_equal(runs[0][0][i], runs[0][1][i])
    assert (runs[0][0][0] != runs[1][0][0]).any()


def test_rare_window_seeded():
    mk = np.zeros((64, 64), np.uint8); mk[40, 10] = 1
    rw = RareCentredWindow(16, {1: 1.}, seed=3)
    w = [rw(mask=mk, epoch=e, item=i)['window'] for e in range(3) for i in range(3)]
    assert w == [RareCentredWindow(16, {1: 1.}, seed=3)(mask=mk, epoch=e, item=i)['window'] for e in range(3) for i in range(3)]
    assert len(set(w)) > 3
    assert w != [RareCentredWindow(16, {1: 1.}, seed=4)(mask=mk, epoch=e, item=i)['window'] for e in range(3) for i in range(3)]
    for y, x, h, _ in w: assert y <= 40 < y + h and x <= 10 < x + h


# ---- fastai: training items only, types kept, workers

N, S = 12, 32
RNG = np.random.default_rng(0)
IMGS = [RNG.integers(0, 255, (S, S, 3)).astype(np.uint8) for _ in range(N)]
MSKS = [(RNG.random((S, S)) < 0.3).astype(np.uint8) for _ in range(N)]
def get_x(i): return PILImage.create(IMGS[i])
def get_y(i): return PILMask.create(MSKS[i])
def splitter(items): return list(range(8)), list(range(8, N))


def loaders(num_workers, tfm):
    db = DataBlock(blocks=(ImageBlock, MaskBlock(['a', 'b'])), get_x=get_x, get_y=get_y, splitter=splitter,
                   item_tfms=[tfm] if tfm is not None else None)
    return db.dataloaders(list(range(N)), bs=4, num_workers=num_workers, shuffle=False, device='cpu')


def batches(dl): return [(x.clone(), y.clone()) for x, y in dl]


def test_validation_untouched():
    aug, plain = loaders(0, AlbumentationsTransform(default_aug(), seed=0)), loaders(0, None)
    for (x, y), (px, py) in zip(batches(aug.valid), batches(plain.valid)):
        assert torch.equal(x, px) and torch.equal(y, py)
    assert any(not torch.equal(x, px) for (x, _), (px, _) in zip(batches(aug.train), batches(plain.train)))
    b = aug.one_batch()
    assert type(b[0]).__name__ == 'TensorImage' and type(b[1]).__name__ == 'TensorMask'
    pair = (get_x(0), get_y(0))
    out = AlbumentationsTransform(default_aug(), seed=0)(pair, split_idx=1)
    assert out[0] is pair[0] and out[1] is pair[1]


def test_two_workers_same_batches_as_none():
    t0, t2 = (AlbumentationsTransform(default_aug(), seed=7) for _ in range(2))
    b0, b2 = batches(loaders(0, t0).train), batches(loaders(2, t2).train)
    assert len(b0) == len(b2) == 2
    for (x0, y0), (x2, y2) in zip(b0, b2): assert torch.equal(x0, x2) and torch.equal(y0, y2)
    t0.set_epoch(1)
    assert any(not torch.equal(x, x0) for (x, _), (x0, _) in zip(batches(loaders(0, t0).train), b0))


def test_aug_key_tags_draws(patch):
    img, msk = patch
    t = AlbumentationsTransform(default_aug(), seed=0)
    pim = PILImage.create(img)
    outs = []
    for k in range(6):
        pim.aug_key = k
        outs.append(np.asarray(t((pim, PILMask.create(msk)), split_idx=0)[0]))
    assert len({o.tobytes() for o in outs}) > 2


# ---- N-band images

def test_n_band_geometric_and_colour():
    im = np.random.default_rng(0).integers(0, 4000, (32, 32, 5)).astype(np.uint16)
    mk = (np.arange(32 * 32).reshape(32, 32) % 3).astype(np.uint8)
    geo = A.Compose([A.HorizontalFlip(p=1.), A.RandomRotate90(p=1.), A.Affine(rotate=(-20, 20), mask_interpolation=0, p=1.)])
    ti, tm = AlbumentationsTransform(geo, seed=0)((TensorImage(torch.from_numpy(im.transpose(2, 0, 1).copy())),
                                                    TensorMask(torch.from_numpy(mk))), split_idx=0)
    assert isinstance(ti, TensorImage) and isinstance(tm, TensorMask) and ti.shape == (5, 32, 32) and tm.shape == (32, 32)
    with pytest.raises(ValueError, match=r"colour transforms \['RandomBrightnessContrast'\] need 3 bands, the image has 5"):
        AlbumentationsTransform(default_aug(), seed=0)((im, mk), split_idx=0)
    oi, om = AlbumentationsTransform(A.Compose([A.RandomBrightnessContrast(p=1.)]), seed=0, rgb_bands=(2, 1, 0))((im, mk), split_idx=0)
    assert oi.dtype == np.uint16 and (oi[..., 3:] == im[..., 3:]).all() and (oi[..., :3] != im[..., :3]).any()
    assert (om == mk).all()
    sc = scenes_from_arrays([im], [mk], ['a', 'b', 'c'])
    b = ObjectBank.from_scenes(sc, [0], ['b'], min_pixels=1)
    out = CopyPaste(b, k=2, p=1., seed=0)(image=im, mask=mk)
    assert out['image'].shape == (32, 32, 5) and out['image'].dtype == np.uint16
    out = LocalRareAug([1], min_pixels=1, max_objects=3, seed=0)(image=im, mask=mk)
    assert out['image'].shape == (32, 32, 5)


# ---- pickling, bad input

def test_picklable(bank):
    cp = CopyPaste(bank, k=2, p=1., seed=0)
    t = AlbumentationsTransform(A.Compose([default_aug(), cp]), seed=0)
    t2 = pickle.loads(pickle.dumps(t))
    img, msk = np.zeros((64, 64, 3), np.uint8), np.zeros((64, 64), np.uint8)
    np.testing.assert_array_equal(t((img, msk), split_idx=0)[1], t2((img, msk), split_idx=0)[1])


def test_bad_input(bank, scenes):
    img, msk = np.zeros((64, 64, 3), np.uint8), np.zeros((60, 64), np.uint8)
    for t in (CopyPaste(bank, p=1.), LocalRareAug([5], p=1.)):
        with pytest.raises(ValueError, match=r'image size \(64, 64\) and mask size \(60, 64\) differ'): t(image=img, mask=msk)
        with pytest.raises(ValueError, match='needs both image'): t(image=img)
    with pytest.raises(ValueError, match=r'image size \(64, 64\) and mask size \(60, 64\) differ'):
        AlbumentationsTransform(default_aug(), seed=0)((img, msk), split_idx=0)
    with pytest.raises(ValueError, match=r"unknown class 'truck': expected a code name or index of \['background'"):
        ObjectBank.from_scenes(scenes, [0], ['car', 'truck'])
    with pytest.raises(ValueError, match="unknown class 'lake'"): CopyPaste(bank, onto='lake')
    with pytest.raises(ValueError, match='aug must be an albumentations transform'): AlbumentationsTransform(lambda image, mask: {})
    with pytest.raises(ValueError, match='seed must be an integer >= 0'): AlbumentationsTransform(default_aug(), seed=-1)
    with pytest.raises(ValueError, match='k must be an integer >= 1'): CopyPaste(bank, k=0)
    with pytest.raises(ValueError, match='lies outside the scene'): margin_window((0, 0, 9, 9), (8, 8), 1)
    with pytest.raises(ValueError, match='expected an image'): AlbumentationsTransform(default_aug())((img, img), split_idx=0)


def test_empty_bank_warns_once(scenes, patch):
    img, msk = patch
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        b = ObjectBank.from_scenes(scenes, [0], ['car'], min_pixels=10_000)
        cp = CopyPaste(b, k=3, p=1.)
        outs = [cp(image=img, mask=msk) for _ in range(4)]
    assert len(b) == 0 and len(caught) == 1 and 'object bank is empty' in str(caught[0].message)
    with pytest.warns(UserWarning, match=r"no object of \['building'\] in the 1 training scene"):
        assert len(ObjectBank.from_scenes(scenes, [0], ['car', 'building'], min_pixels=6, max_pixels=20)) > 0
    for o in outs: np.testing.assert_array_equal(o['mask'], msk); np.testing.assert_array_equal(o['image'], img)
