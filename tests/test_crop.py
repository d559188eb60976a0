"Tests of seg_imbalance.crop: the patch table against cut-out windows, guided selection, rare-class-centred crops."
import warnings
from pathlib import Path
import numpy as np, pandas as pd, pytest
from hypothesis import given, settings, strategies as st
from seg_imbalance.crop import (META_COLUMNS, count_columns, table_counts, tile, guided_select, presence_change, RareClassCrop)
from seg_imbalance.io import scenes_from_arrays, read_scene_folder, SceneSet
from seg_imbalance.synth import synth_sceneset
from seg_imbalance.stats import imbalance_report

CAMVID = Path(__file__).parent.parent.parent/'shared'/'data'/'camvid'


def make_scenes(shapes, n_classes=3, ignore_index=255, p_ignore=0.1, seed=0):
    rng = np.random.default_rng(seed)
    masks = []
    for h, w in shapes:
        m = rng.integers(0, n_classes, (h, w)).astype(np.uint8)
        if ignore_index is not None: m[rng.random((h, w)) < p_ignore] = ignore_index
        masks.append(m)
    return scenes_from_arrays([np.zeros((*m.shape, 3), np.uint8) for m in masks], masks,
                              [f'c{i}' for i in range(n_classes)], ignore_index=ignore_index)

def ref_rows(scenes, size, stride, cover):
    "The patch table by cutting every window out of the mask"
    rows = []
    for i, s in enumerate(scenes):
        m = s.read_mask()
        def starts(n):
            if size > n: return []
            st_ = list(range(0, n - size + 1, stride))
            if cover and st_[-1] != n - size: st_.append(n - size)
            return st_
        for y in starts(m.shape[0]):
            for x in starts(m.shape[1]):
                w = m[y:y + size, x:x + size].ravel().astype(np.int64)
                ign = w == scenes.ignore_index if scenes.ignore_index is not None else np.zeros(w.shape, bool)
                rows.append([i, y, x, size, size, *np.bincount(w[~ign], minlength=scenes.n_classes), int(ign.sum())])
    return np.array(rows, np.int64).reshape(-1, len(META_COLUMNS) + scenes.n_classes + 1)


# --- tile ------------------------------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(3, 40), st.integers(3, 40)), min_size=1, max_size=3), st.integers(1, 12),
       st.integers(1, 14), st.booleans(), st.sampled_from([None, 255, 1]), st.integers(0, 1000))
def test_tile_equals_cut_out_windows(shapes, size, stride, cover, ign, seed):
    scenes = make_scenes(shapes, ignore_index=ign, seed=seed)
    ref = ref_rows(scenes, size, stride, cover)
    if not len(ref):
        with pytest.raises(ValueError, match=f'no {size}px window fits'): tile(scenes, size, stride, cover)
        return
    t = tile(scenes, size, stride, cover)
    assert list(t.columns) == [*META_COLUMNS, 'c0', 'c1', 'c2', 'ignore']
    np.testing.assert_array_equal(t.to_numpy(), ref)
    assert t.attrs == {'codes': ['c0', 'c1', 'c2'], 'ignore_index': ign}
    assert all(t[c].dtype == np.int64 for c in t.columns)

def test_tile_cover_reaches_every_pixel_and_defaults():
    scenes = make_scenes([(50, 70)])
    t = tile(scenes, 16)
    assert sorted(set(t.y)) == [0, 16, 32, 34] and sorted(set(t.x)) == [0, 16, 32, 48, 54]
    assert (t.y + t.h).max() == 50 and (t.x + t.w).max() == 70
    assert len(tile(scenes, 16, cover=False)) == 3 * 4
    np.testing.assert_array_equal(table_counts(t), t[count_columns(t)].to_numpy())

def test_tile_skips_small_scenes_and_names_bad_masks():
    scenes = make_scenes([(10, 10), (40, 40)])
    t = tile(scenes, 20)
    assert set(t.scene) == {1} and len(t) == 4
    scenes.scenes[1].mask = np.full((40, 40), 5, np.uint8)
    with pytest.raises(ValueError, match=r'scene_1: mask values \[5\]'): tile(scenes, 20)
    with pytest.raises(ValueError, match='size must be an integer >= 1'): tile(scenes, 0)
    with pytest.raises(ValueError, match='stride must be an integer >= 1'): tile(scenes, 4, -1)

def test_tile_all_ignore_scene_gives_zero_counts():
    scenes = make_scenes([(32, 32)], p_ignore=1.)
    t = tile(scenes, 16)
    assert (table_counts(t) == 0).all() and (t.ignore == 256).all()
    rep = imbalance_report(t)
    assert not rep.table.isna().any().any()

def test_count_columns_needs_a_patch_table():
    with pytest.raises(ValueError, match="not a patch table"): count_columns(pd.DataFrame({'a': [1]}))


# --- guided selection ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def demo_table():
    return tile(synth_sceneset(6, 256, seed=1), 64, stride=32)

@settings(max_examples=40, deadline=None)
@given(st.sampled_from([['car'], ['water', 'car'], ['building'], [2, 5]]), st.sampled_from([0., 0.001, 0.01, 0.05]),
       st.sampled_from([0., 0.1, 0.3, 0.6]), st.integers(0, 100))
def test_guided_select_properties(demo_table, targets, min_frac, neg_frac, seed):
    t = demo_table
    cols = count_columns(t)
    idx = [cols.index(c) if isinstance(c, str) else c for c in targets]
    c = table_counts(t)
    share = c[:, idx] / np.maximum(c.sum(1, keepdims=True), 1)
    have = c[:, idx] > 0
    hit = have & (share >= min_frac)
    short = have.any(0) & ~hit.any(0)                          # targets no patch reaches: any pixel of them counts
    hit[:, short] = have[:, short]
    pos = hit.any(1)
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter('always')
        sel = guided_select(t, targets, min_frac, neg_frac, seed)
    assert len(ws) == int(short.any()) and all(f"for {cols[idx[j]]!r}" in str(ws[0].message) for j in np.flatnonzero(short))
    kept = t.index.isin(sel.index)
    assert kept[pos].all()                                      # every positive is kept
    n_neg = int((kept & ~pos).sum())
    want = min(int((~pos).sum()), int(round(pos.sum() * neg_frac / (1 - neg_frac))))
    assert n_neg == want == sel.attrs['selection']['n_neg']
    assert sel.index.is_monotonic_increasing and sel.attrs['codes'] == cols
    pd.testing.assert_frame_equal(sel, t.loc[sel.index])
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        pd.testing.assert_frame_equal(sel, guided_select(t, targets, min_frac, neg_frac, seed))   # seeded

def test_guided_select_negatives_share_and_randomness(demo_table):
    a = guided_select(demo_table, ['car'], 0.005, 0.3, seed=0)
    b = guided_select(demo_table, ['car'], 0.005, 0.3, seed=1)
    assert abs(a.attrs['selection']['n_neg'] / len(a) - 0.3) < 0.01
    assert not a.index.equals(b.index)
    g = guided_select(demo_table, ['car'], 0.005, 0.3, seed=np.random.default_rng(0))
    assert len(g) == len(a)

def test_guided_select_never_keeps_all_ignore_patches():
    t = pd.DataFrame({'scene': 0, 'y': 0, 'x': range(4), 'h': 1, 'w': 1, 'a': [5, 0, 5, 0], 'b': [5, 0, 0, 0], 'ignore': [0, 10, 5, 10]})
    t.attrs.update(codes=['a', 'b'], ignore_index=255)
    sel = guided_select(t, 'b', neg_frac=0.9)
    assert sel.index.tolist() == [0, 2]

@pytest.mark.parametrize('kw,msg', [
    (dict(targets='truck'), "unknown target class 'truck'"),
    (dict(targets=9), 'unknown target class 9'),
    (dict(targets=[]), 'targets is empty'),
    (dict(targets='car', neg_frac=1.), 'neg_frac must be in [0, 1)'),
    (dict(targets='car', neg_frac=-0.1), 'neg_frac must be in [0, 1)'),
    (dict(targets='car', min_frac=1.5), 'min_frac must be in [0, 1]'),
    (dict(targets='car', min_frac={'road': 0.1}), 'min_frac names classes that are not targets'),
])
def test_guided_select_bad_input(demo_table, kw, msg):
    with pytest.raises(ValueError) as e: guided_select(demo_table, **kw)
    assert msg in str(e.value)

def test_guided_select_empty_table_and_ignore_target(demo_table):
    with pytest.raises(ValueError, match='the patch table is empty'): guided_select(demo_table.iloc[:0], 'car')
    t = demo_table.copy(); t.attrs = {**demo_table.attrs, 'ignore_index': 5}
    with pytest.raises(ValueError, match='is the ignore index'): guided_select(t, 'car')

def test_guided_select_falls_back_for_a_scarce_target():
    "Tiny synthetic scenes where no 64 px patch holds 1 % of car: the patches holding any car are kept, with a warning"
    t = tile(synth_sceneset(3, 128, seed=0), 64)
    c = table_counts(t); car, share = c[:, count_columns(t).index('car')], c / c.sum(1, keepdims=True)
    assert share[:, count_columns(t).index('car')].max() < 0.01 < share[:, count_columns(t).index('water')].max()
    with pytest.warns(UserWarning, match=r"no patch reaches min_frac=0.01 for 'car' \(its largest share is 0.00"):
        sel = guided_select(t, 'car', neg_frac=0)
    assert sel.index.tolist() == np.flatnonzero(car > 0).tolist()
    assert sel.attrs['selection']['fallback'] == ['car'] and sel.attrs['selection']['min_frac'] == [0.]
    with pytest.warns(UserWarning) as ws: both = guided_select(t, ['water', 'car'], neg_frac=0)
    water = guided_select(t, 'water', neg_frac=0)                               # water reaches 1 %: no fallback for it
    assert set(both.index) == set(water.index) | set(np.flatnonzero(car > 0)) and len(ws) == 1
    assert both.attrs['selection']['fallback'] == ['car'] and both.attrs['selection']['min_frac'] == [0.01, 0.]

def test_guided_select_absent_target():
    "A target with no pixel anywhere: skipped with a warning beside others, an error alone"
    t = tile(synth_sceneset(3, 128, seed=0), 64)
    t = t[t.car == 0]
    with pytest.warns(UserWarning, match="'car' has no pixel in any patch: skipped"):
        sel = guided_select(t, ['water', 'car'], neg_frac=0)
    assert sel.index.equals(guided_select(t, 'water', neg_frac=0).index) and sel.attrs['selection']['fallback'] == []
    with pytest.raises(ValueError, match=r"no patch holds a pixel of the targets \['car'\]"): guided_select(t, 'car')

def test_presence_change(demo_table):
    sel = guided_select(demo_table, ['water'], 0.01, 0.2, seed=0)
    pc = presence_change(demo_table, sel)
    assert list(pc.index) == count_columns(demo_table)
    np.testing.assert_array_equal(pc['patches before'], (table_counts(demo_table) > 0).sum(0))
    np.testing.assert_array_equal(pc['patches after'], (table_counts(sel) > 0).sum(0))
    np.testing.assert_allclose(pc['patch % after'], 100 * (table_counts(sel) > 0).mean(0))
    np.testing.assert_allclose(pc['pixel % before'].sum(), 100)
    assert pc.loc['water', 'patch % after'] > pc.loc['water', 'patch % before']
    with pytest.raises(ValueError, match='empty table'): presence_change(demo_table, sel.iloc[:0])


# --- rare-class-centred crops ----------------------------------------------------------------------------------------------
@settings(max_examples=80, deadline=None)
@given(st.integers(8, 40), st.integers(8, 40), st.integers(1, 8), st.integers(0, 10_000), st.data())
def test_rare_crop_holds_the_drawn_pixel_with_margin(h, w, size, seed, data):
    rng = np.random.default_rng(seed)
    mask = np.zeros((h, w), np.uint8)
    ys, xs = rng.integers(0, h, 3), rng.integers(0, w, 3)
    mask[ys, xs] = 1
    margin = data.draw(st.integers(0, (size - 1) // 2))
    image = rng.integers(0, 255, (h, w, 3)).astype(np.uint8)
    t = RareClassCrop(size, {1: 1.}, inset=margin, seed=seed)
    r = t(image=image, mask=mask)
    y, x, hh, ww = r['window']
    assert r['class'] == 1 and (hh, ww) == (size, size)
    assert 0 <= y <= h - size and 0 <= x <= w - size
    np.testing.assert_array_equal(r['mask'], mask[y:y + size, x:x + size])
    np.testing.assert_array_equal(r['image'], image[y:y + size, x:x + size])
    assert (r['mask'] == 1).any()
    # away from the borders, some class-1 pixel sits at least `margin` inside the crop
    inner = [(py, px) for py, px in zip(ys, xs) if y + margin <= py <= y + size - 1 - margin and x + margin <= px <= x + size - 1 - margin]
    near_border = [(py, px) for py, px in zip(ys, xs) if min(py, px, h - 1 - py, w - 1 - px) < margin]
    assert inner or near_border

def test_rare_crop_follows_class_probs_and_falls_back():
    mask = np.zeros((60, 60), np.uint8); mask[10:20, 10:20] = 1; mask[40:45, 40:45] = 2
    t = RareClassCrop(16, [0.2, 0.3, 0.5], seed=0)
    drawn = [t(mask=mask)['class'] for _ in range(3000)]
    np.testing.assert_allclose(np.bincount(drawn, minlength=3) / 3000, [0.2, 0.3, 0.5], atol=0.03)
    t = RareClassCrop(16, {3: 1.}, seed=0)                      # class 3 absent: uniform random crops
    wins = np.array([t(mask=mask)['window'][:2] for _ in range(2000)])
    assert all(r == 16 for r in (t(mask=mask)['mask'].shape))
    assert wins.min() == 0 and wins.max() == 60 - 16
    np.testing.assert_allclose(wins.mean(0), [(60 - 16) / 2] * 2, atol=1.5)
    assert all(t(mask=mask)['class'] is None for _ in range(5))

def test_rare_crop_seeding_and_gray_images():
    mask = np.zeros((30, 30), np.uint8); mask[5, 5] = 1
    t1, t2 = RareClassCrop(8, [1, 1], seed=3), RareClassCrop(8, [1, 1], seed=3)
    assert [t1(mask=mask)['window'] for _ in range(20)] == [t2(mask=mask)['window'] for _ in range(20)]
    r = RareClassCrop((6, 10), [0, 1], seed=np.random.default_rng(0))(image=np.ones((30, 30), np.float32), mask=mask)
    assert r['image'].shape == (6, 10) and r['mask'].shape == (6, 10)
    src = np.zeros((30, 30), np.uint8); r = RareClassCrop(8, [1], seed=0)(mask=src); r['mask'][:] = 9
    assert (src == 0).all()                                     # crops are copies

@pytest.mark.parametrize('make,msg', [
    (lambda: RareClassCrop(8, [0, 0]), 'not all zero'),
    (lambda: RareClassCrop(8, [1, -1]), '>= 0'),
    (lambda: RareClassCrop(8, {'car': 1.}), 'keys must be class indices'),
    (lambda: RareClassCrop(8, [1], inset=4), 'inset must be in [0, 3]'),
    (lambda: RareClassCrop(0, [1]), 'size must be >= 1'),
    (lambda: RareClassCrop(8, [1])(image=np.zeros((20, 20))), 'needs the mask'),
    (lambda: RareClassCrop(8, [1])(image=np.zeros((20, 21)), mask=np.zeros((20, 20), np.uint8)), 'image size (20, 21) and mask size (20, 20) differ'),
    (lambda: RareClassCrop(32, [1])(mask=np.zeros((20, 40), np.uint8)), 'smaller than the crop (32, 32)'),
])
def test_rare_crop_bad_input(make, msg):
    with pytest.raises(ValueError) as e: make()
    assert msg in str(e.value)


# --- CamVid, when present --------------------------------------------------------------------------------------------------
@pytest.mark.skipif(not CAMVID.exists(), reason='../shared/data/camvid not present')
def test_camvid_tile_equals_cut_out_windows():
    cv = read_scene_folder(CAMVID, validate=False)
    sub = SceneSet(cv.scenes[:4], cv.codes, cv.ignore_index)
    t = tile(sub, 128, stride=48)
    np.testing.assert_array_equal(t.to_numpy(), ref_rows(sub, 128, 48, True))
    assert (t['Unlabelled'] == 0).all() and t.ignore.sum() > 0
    rep = imbalance_report(t)
    assert 'Unlabelled' not in rep.table.index and len(rep.table) == 11


# The three ways windows were cut along one axis before `stats.axis_starts` (kept here as the reference).
def _old_crop_starts(n, size, stride, cover):
    if size > n: return np.zeros(0, int)
    s = np.arange(0, n - size + 1, stride)
    if cover and s[-1] != n - size: s = np.append(s, n - size)
    return s

def _old_cover_starts(n, size):
    s = np.arange(0, n - size + 1, size)
    return s if s[-1] == n - size else np.append(s, n - size)

def _old_window_starts(n, size, overlap):
    import math
    step = max(1, int(round(size * (1 - overlap))))
    m = 1 if n <= size else math.ceil((n - size) / step) + 1
    total = (m - 1) * step + size
    return np.arange(m) * step, (total - n) // 2, total


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 300), st.integers(1, 80), st.integers(1, 80), st.floats(0, 0.99))
def test_axis_starts_equals_the_three_old_grids(n, size, stride, overlap):
    from seg_imbalance.stats import axis_starts, window_counts
    from seg_imbalance.interpret import window_starts
    for cover in (False, True):
        np.testing.assert_array_equal(axis_starts(n, size, stride, 'flush' if cover else 'drop'),
                                      _old_crop_starts(n, size, stride, cover))
    if size <= n: np.testing.assert_array_equal(axis_starts(n, size, size, 'flush'), _old_cover_starts(n, size))
    (s, pad, total), (s0, pad0, total0) = window_starts(n, size, overlap), _old_window_starts(n, size, overlap)
    np.testing.assert_array_equal(s, s0); assert (pad, total) == (pad0, total0)
    if size <= n:  # window_counts: the 'drop' grid on both axes
        assert window_counts(np.zeros((n, 3 + size), np.uint8), 1, size, stride).shape[:2] == \
            (len(_old_crop_starts(n, size, stride, False)), len(_old_crop_starts(3 + size, size, stride, False)))


def test_axis_starts_exhaustive_small():
    from seg_imbalance.stats import axis_starts
    from seg_imbalance.interpret import window_starts
    for n in range(1, 40):
        for size in range(1, 45):
            for stride in range(1, 45):
                for cover in (False, True):
                    np.testing.assert_array_equal(axis_starts(n, size, stride, 'flush' if cover else 'drop'),
                                                  _old_crop_starts(n, size, stride, cover))
            for ov in (0, 0.1, 0.25, 0.5, 0.75, 0.9):
                (s, *r), (s0, *r0) = window_starts(n, size, ov), _old_window_starts(n, size, ov)
                np.testing.assert_array_equal(s, s0); assert r == r0


def test_rare_crop_margin_is_a_deprecated_alias():
    "`RareClassCrop(margin=)` still sets the inset for one release, with a `DeprecationWarning` naming `inset`"
    with pytest.warns(DeprecationWarning, match='margin is deprecated, use inset'): t = RareClassCrop(8, [1], margin=3)
    assert t.inset == 3
