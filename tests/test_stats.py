"Tests of seg_imbalance.stats: window counts against a bincount loop, weights against scikit-learn, coverage against simulation, bad input."
import warnings
import numpy as np, pandas as pd, pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from seg_imbalance.stats import (class_counts, window_counts, window_counts_at, class_presence, class_ratios, class_weights,
                                 batch_coverage, imbalance_report, ImbalanceReport, WEIGHT_SCHEMES)
from seg_imbalance.io import scenes_from_arrays
from seg_imbalance.synth import synth_sceneset


# --- independent references -------------------------------------------------------------------------------------
def ref_window(win, n_classes, ignore_index):
    "Counts of one window by np.bincount, ignored pixels left out (plus their count)"
    v = win.ravel().astype(np.int64)
    keep = v != ignore_index if ignore_index is not None else np.ones(v.shape, bool)
    return np.bincount(v[keep], minlength=n_classes), int((~keep).sum())

def ref_at(mask, n_classes, size, ys, xs, ignore_index=None, with_ignore=False):
    out = np.zeros((len(ys), len(xs), n_classes + with_ignore), np.int64)
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            c, n_ign = ref_window(mask[y:y + size, x:x + size], n_classes, ignore_index)
            out[i, j, :n_classes] = c
            if with_ignore: out[i, j, -1] = n_ign
    return out

def ref_grid(mask, n_classes, size, stride, ignore_index=None):
    ys, xs = (list(range(0, n - size + 1, stride)) for n in mask.shape)
    return ref_at(mask, n_classes, size, ys, xs, ignore_index)


# --- window_counts: property tests -------------------------------------------------------------------------------
DTYPES = [np.uint8, np.uint16, np.int8, np.int16, np.int32, np.int64, np.uint32]

@st.composite
def labelled_masks(draw):
    "A random small mask with classes and ignored pixels, its dtype and ignore index chosen among the cases the code distinguishes"
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    h, w = draw(st.integers(1, 32)), draw(st.integers(1, 32))
    n_classes = draw(st.integers(1, 7))
    kinds = ['none', 'inside'] + (['above'] if dtype != np.int8 else ['above_small']) + (['negative'] if dtype.kind == 'i' else [])
    kind = draw(st.sampled_from(kinds))
    ign = {'none': None, 'inside': draw(st.integers(0, n_classes - 1)), 'above': 255, 'above_small': 100, 'negative': -1}[kind]
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    m = rng.integers(0, n_classes, (h, w)).astype(dtype)
    if ign is not None: m[rng.random((h, w)) < draw(st.sampled_from([0., 0.2, 1.]))] = ign
    return m, n_classes, ign

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(labelled_masks(), st.data())
def test_window_counts_equals_bincount_loop(mci, data):
    m, n_classes, ign = mci
    size = data.draw(st.integers(1, min(m.shape)))
    stride = data.draw(st.integers(1, max(m.shape) + 2))
    got = window_counts(m, n_classes, size, stride, ign)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, ref_grid(m, n_classes, size, stride, ign))

@settings(max_examples=200, deadline=None)
@given(labelled_masks(), st.data())
def test_window_counts_at_arbitrary_starts(mci, data):
    m, n_classes, ign = mci
    size = data.draw(st.integers(1, min(m.shape)))
    ys = data.draw(st.lists(st.integers(0, m.shape[0] - size), max_size=6))
    xs = data.draw(st.lists(st.integers(0, m.shape[1] - size), max_size=6))
    got = window_counts_at(m, n_classes, size, ys, xs, ign, with_ignore=True)
    np.testing.assert_array_equal(got, ref_at(m, n_classes, size, ys, xs, ign, with_ignore=True))

@settings(max_examples=150, deadline=None)
@given(labelled_masks(), st.data())
def test_invalid_value_anywhere_is_named(mci, data):
    "One invalid pixel — inside windows or in the border strip no window covers — is reported with its value"
    m, n_classes, ign = mci
    info = np.iinfo(m.dtype)
    bad = data.draw(st.sampled_from([v for v in (n_classes, n_classes + 3, 77, 254, info.max, -2 if info.min < 0 else None)
                                     if v is not None and v != ign and info.min <= v <= info.max]))
    y, x = data.draw(st.integers(0, m.shape[0] - 1)), data.draw(st.integers(0, m.shape[1] - 1))
    m = m.copy(); m[y, x] = bad
    size = data.draw(st.integers(1, min(m.shape))); stride = data.draw(st.integers(1, 9))
    with pytest.raises(ValueError, match=rf"mask values \[{bad}\] are outside \[0, {n_classes}\)"):
        window_counts(m, n_classes, size, stride, ign)

def test_bool_masks_and_grid_geometry():
    rng = np.random.default_rng(1)
    m = rng.random((37, 53)) < 0.3
    np.testing.assert_array_equal(window_counts(m, 2, 8, 5), ref_grid(m.astype(np.uint8), 2, 8, 5))
    wc = window_counts(m, 2, 8, 5)
    assert wc.shape == (len(range(0, 37 - 8 + 1, 5)), len(range(0, 53 - 8 + 1, 5)), 2)
    assert (wc.sum(-1) == 64).all()

def test_non_overlapping_windows_sum_to_class_counts():
    m = synth_sceneset(1, 256, seed=3)[0].read_mask()
    wc = window_counts(m, 6, 64, 64)
    np.testing.assert_array_equal(wc.sum((0, 1)), class_counts(m, 6))

def test_camvid_like_ignore_code_inside_the_classes():
    "Ignore index 11 of 12 codes: its channel stays 0, its pixels go to the ignore channel"
    rng = np.random.default_rng(2)
    m = rng.integers(0, 12, (40, 50)).astype(np.uint8)
    got = window_counts_at(m, 12, 10, [0, 30], [0, 40, 7], ignore_index=11, with_ignore=True)
    assert (got[..., 11] == 0).all()
    np.testing.assert_array_equal(got, ref_at(m, 12, 10, [0, 30], [0, 40, 7], 11, True))


# --- window_counts: bad input ---------------------------------------------------------------------------------------
def test_all_ignore_mask_gives_zero_counts_not_nan():
    m = np.full((16, 16), 255, np.uint8)
    wc = window_counts(m, 4, 8, 4, ignore_index=255)
    assert wc.shape == (3, 3, 4) and (wc == 0).all()
    r = class_ratios(wc)
    assert not np.isnan(r).any() and (r == 0).all()

@pytest.mark.parametrize('args,msg', [
    ((np.zeros((10, 20), np.uint8), 3, 11, 4), 'window size 11 is larger than the mask of shape (10, 20)'),
    ((np.zeros((8, 8), np.float32), 3, 4, 4), 'float32 is not an integer type'),
    ((np.zeros((8, 8, 3), np.uint8), 3, 4, 4), 'expected a 2-D (H, W) array'),
    ((np.zeros((8, 8), np.uint8), 3, 0, 4), 'size must be an integer >= 1, got 0'),
    ((np.zeros((8, 8), np.uint8), 3, 4, 2.5), 'stride must be an integer >= 1, got 2.5'),
    ((np.zeros((8, 8), np.uint8), 0, 4, 4), 'n_classes must be an integer >= 1, got 0'),
    ((np.array([[0, 3]], np.uint8), 3, 1, 1), 'mask values [3] are outside [0, 3)'),
])
def test_window_counts_bad_input(args, msg):
    with pytest.raises(ValueError) as e: window_counts(*args)
    assert msg in str(e.value)

def test_window_counts_at_bad_starts_and_empty():
    m = np.zeros((8, 9), np.uint8)
    with pytest.raises(ValueError, match=r'xs must lie in \[0, 5\]'): window_counts_at(m, 2, 4, [0], [6])
    with pytest.raises(ValueError, match=r'ys must lie in \[0, 4\]'): window_counts_at(m, 2, 4, [-1], [0])
    assert window_counts_at(m, 2, 4, [], [0, 1]).shape == (0, 2, 2)
    m[3, 3] = 9
    with pytest.raises(ValueError, match=r'mask values \[9\]'): window_counts_at(m, 2, 4, [], [0])


# --- presence, ratios ------------------------------------------------------------------------------------------------
def test_presence_and_ratios():
    c = np.array([[3, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(class_presence(c), [[1, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(class_presence(c, 2), [[1, 0, 0], [0, 0, 0]])
    np.testing.assert_allclose(class_ratios(c), [[.75, .25, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match='min_pixels'): class_presence(c, 0)


# --- class weights -----------------------------------------------------------------------------------------------------
@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 500), min_size=2, max_size=8))
def test_balanced_equals_sklearn(n):
    from sklearn.utils.class_weight import compute_class_weight
    y = np.repeat(np.arange(len(n)), n)
    np.testing.assert_allclose(class_weights(np.array(n), 'balanced'), compute_class_weight('balanced', classes=np.arange(len(n)), y=y))

def test_balanced_matches_sklearn_on_present_classes_with_absent_one():
    from sklearn.utils.class_weight import compute_class_weight
    n = np.array([50, 0, 5, 45])
    y = np.repeat(np.arange(4), n)
    with pytest.warns(UserWarning, match=r'class\(es\) \[1\] have no pixels'):
        w = class_weights(n, 'balanced')
    np.testing.assert_allclose(w[[0, 2, 3]], compute_class_weight('balanced', classes=np.array([0, 2, 3]), y=y))
    assert w[1] == 0

@pytest.mark.parametrize('scheme', WEIGHT_SCHEMES)
def test_every_scheme_is_finite_and_orders_rare_above_common(scheme):
    per_image = np.array([[900, 90, 10, 0], [800, 150, 50, 0], [1000, 0, 0, 0]])
    with pytest.warns(UserWarning, match=r'\[3\]'):
        w = class_weights(per_image, scheme)
    assert np.isfinite(w).all() and w[3] == 0
    assert w[0] < w[1] < w[2]

def test_normalisations():
    n = np.array([1000, 100, 10])
    np.testing.assert_allclose(class_weights(n, 'inverse').mean(), 1)
    np.testing.assert_allclose(class_weights(n, 'inverse_sqrt').mean(), 1)
    np.testing.assert_allclose((n / n.sum() * class_weights(n, 'balanced')).sum(), 1)
    np.testing.assert_allclose(class_weights(n, 'effective_number').sum(), 3)
    np.testing.assert_allclose(class_weights(n, 'inverse'), (1 / n) / (1 / n).mean())
    np.testing.assert_allclose(class_weights(n, 'inverse_sqrt'), n ** -0.5 / (n ** -0.5).mean())

def test_effective_number_formula_and_limits():
    n = np.array([5000, 300, 20])
    for beta in (0.9, 0.99, 0.999, 0.9999):
        e = (1 - beta) / (1 - beta ** n.astype(float))
        np.testing.assert_allclose(class_weights(n, 'effective_number', beta=beta), e * 3 / e.sum())
    np.testing.assert_allclose(class_weights(n, 'effective_number', beta=0.), [1, 1, 1])
    inv = class_weights(n, 'inverse')
    np.testing.assert_allclose(class_weights(n, 'effective_number', beta=1 - 1e-12), inv * 3 / inv.sum(), rtol=1e-6)
    with pytest.raises(ValueError, match=r'beta must be in \[0, 1\)'): class_weights(n, 'effective_number', beta=1.)

def test_median_freq_by_hand():
    # image 0: 10 px, class 0 x6, class 1 x4;  image 1: 10 px, class 0 x10;  image 2: 20 px, class 1 x5, class 2 x15
    c = np.array([[6, 4, 0], [10, 0, 0], [0, 5, 15]])
    f = np.array([16 / 20, 9 / 30, 15 / 20])
    np.testing.assert_allclose(class_weights(c, 'median_freq'), np.median(f) / f)
    assert class_weights(c, 'median_freq')[2] == 1.0
    with pytest.raises(ValueError, match='needs per-image counts'): class_weights(c.sum(0), 'median_freq')

def test_ignore_index_weight_zero_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        w = class_weights(np.array([10, 30, 0]), 'inverse', ignore_index=2)
    np.testing.assert_allclose(w, [1.5, 0.5, 0])
    w = class_weights(np.array([10, 30, 99]), 'balanced', ignore_index=2)
    np.testing.assert_allclose(w, class_weights(np.array([10, 30]), 'balanced').tolist() + [0])

@pytest.mark.parametrize('counts,kw,msg', [
    ([1, 2], dict(scheme='nope'), "unknown scheme 'nope': expected one of inverse, inverse_sqrt, balanced, median_freq, effective_number"),
    ([0, 0], dict(scheme='inverse'), 'all zero'),
    ([1, np.nan], dict(scheme='inverse'), 'finite'),
    ([1, -2], dict(scheme='balanced'), '>= 0'),
    (np.ones((2, 2, 2)), dict(scheme='inverse'), 'got shape (2, 2, 2)'),
    ([1, 2], dict(scheme='inverse', beta=0.5), "beta is an option of 'effective_number'"),
    ([0, 5], dict(scheme='inverse', ignore_index=1), 'no class other than the ignore index'),
])
def test_class_weights_bad_input(counts, kw, msg):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with pytest.raises(ValueError) as e: class_weights(np.asarray(counts, float), **kw)
    assert msg in str(e.value)


# --- batch coverage ----------------------------------------------------------------------------------------------------
def test_batch_coverage_against_simulation():
    rng = np.random.default_rng(5)
    pres = rng.random((200, 4)) < [0.6, 0.1, 0.03, 0.005]
    w = rng.gamma(1., size=200)
    bs = [1, 4, 16]
    exact = batch_coverage(pres, bs, w)
    for i, b in enumerate(bs):
        draws = rng.choice(200, (60_000, b), p=w / w.sum())
        sim = pres[draws].any(1).mean(0)
        np.testing.assert_allclose(exact[i], sim, atol=0.01)

def test_batch_coverage_formula_and_edges():
    counts = np.array([[5, 0, 0], [0, 3, 0], [1, 1, 0]])
    p = np.array([2, 2, 0]) / 3
    np.testing.assert_allclose(batch_coverage(counts, 3), 1 - (1 - p) ** 3)
    np.testing.assert_allclose(batch_coverage(counts, 2, weights=[1, 0, 0]), [1, 0, 0])
    assert batch_coverage(counts, [1, 2, 3]).shape == (3, 3)
    np.testing.assert_allclose(batch_coverage(counts, 1, min_pixels=2), [1 / 3, 1 / 3, 0])

@pytest.mark.parametrize('kw,msg', [
    (dict(counts=np.zeros((0, 3)), bs=4), 'non-empty'),
    (dict(counts=np.ones((3, 2)), bs=4, weights=np.ones(2)), 'weights must have shape (3,)'),
    (dict(counts=np.ones((3, 2)), bs=4, weights=[1, -1, 1]), '>= 0'),
    (dict(counts=np.ones((3, 2)), bs=4, weights=[0, 0, 0]), 'not all zero'),
    (dict(counts=np.ones((3, 2)), bs=0), 'batch sizes must be integers >= 1'),
    (dict(counts=np.ones((3, 2)), bs=2.5), 'batch sizes must be integers >= 1'),
])
def test_batch_coverage_bad_input(kw, msg):
    with pytest.raises(ValueError) as e: batch_coverage(**kw)
    assert msg in str(e.value)


# --- the report --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def demo():
    return synth_sceneset(4, 256, seed=0)

def test_report_of_scenes(demo, tmp_path):
    rep = imbalance_report(demo, size=64, stride=32, batch_sizes=(2, 8))
    t = rep.table
    assert isinstance(rep, ImbalanceReport) and list(t.index) == list(demo.codes)
    assert list(t.columns) == ['pixels', 'pixel %', 'patch %', 'ratio p10 %', 'ratio median %', 'ratio p90 %',
                               'batch 2 %', 'batch 8 %', 'w balanced', 'w median_freq']
    assert not t.isna().any().any()
    counts = np.concatenate([window_counts(s.read_mask(), 6, 64, 32).reshape(-1, 6) for s in demo])
    np.testing.assert_allclose(t['patch %'], 100 * (counts > 0).mean(0))
    np.testing.assert_allclose(t['batch 8 %'], 100 * batch_coverage(counts, 8))
    np.testing.assert_array_equal(t['pixels'], class_counts([s.read_mask() for s in demo], 6))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        np.testing.assert_allclose(t['w balanced'], class_weights(t['pixels'].to_numpy(), 'balanced'))
    r = counts[:, 5][counts[:, 5] > 0] / counts[counts[:, 5] > 0].sum(1)
    np.testing.assert_allclose(t.loc['car', 'ratio median %'], 100 * np.median(r))
    assert '4 scenes' in rep.setting and 'stride 32' in repr(rep)
    paths = rep.save(tmp_path)
    assert [p.name for p in paths] == ['imbalance.csv', 'pixels.png', 'presence.png', 'ratios.png', 'coverage.png']
    assert all(p.stat().st_size > 1000 for p in paths[1:])
    back = pd.read_csv(paths[0], index_col=0)
    np.testing.assert_allclose(back['patch %'], t['patch %'])

def test_report_weights_change_coverage(demo):
    counts = np.concatenate([window_counts(s.read_mask(), 6, 64, 64).reshape(-1, 6) for s in demo])
    w = np.where(counts[:, 5] > 0, 5., 1.)
    plain = imbalance_report(counts, codes=demo.codes).table
    weighted = imbalance_report(counts, codes=demo.codes, weights=w).table
    assert weighted.loc['car', 'batch 4 %'] > plain.loc['car', 'batch 4 %']
    np.testing.assert_allclose(weighted['patch %'], plain['patch %'])

def test_report_with_ignored_patches_and_absent_class_has_no_nan():
    counts = np.array([[0, 0, 0], [10, 0, 0], [5, 5, 0], [0, 0, 0]])
    t = imbalance_report(counts, codes=['a', 'b', 'void'], ignore_index=2).table
    assert list(t.index) == ['a', 'b'] and not t.isna().any().any()
    t = imbalance_report(np.zeros((3, 2), int), codes=['a', 'b']).table
    assert not t.isna().any().any() and (t.to_numpy() == 0).all()

def test_report_skips_small_scenes_and_names_bad_ones():
    big, small = np.zeros((64, 64), np.uint8), np.ones((16, 16), np.uint8)
    ss = scenes_from_arrays([np.zeros((64, 64, 3), np.uint8), np.zeros((16, 16, 3), np.uint8)], [big, small], ['a', 'b'])
    t = imbalance_report(ss, size=32).table
    assert t.loc['b', 'patch %'] == 0 and t.loc['b', 'pixels'] == 256
    ss.scenes[1].mask = np.full((16, 16), 7, np.uint8)
    with pytest.raises(ValueError, match='scene_1: mask values'): imbalance_report(ss, size=32)

@pytest.mark.parametrize('kw,msg', [
    (dict(source=np.zeros((0, 2)), codes=['a', 'b']), 'no patches'),
    (dict(source=np.zeros((3, 2))), 'raw counts need `codes`'),
    (dict(source=np.zeros((3, 2)), codes=['a']), 'do not match 1 codes'),
    (dict(source=pd.DataFrame({'a': [1]})), "not a patch table"),
])
def test_report_bad_input(kw, msg):
    with pytest.raises(ValueError) as e: imbalance_report(**kw)
    assert msg in str(e.value)

def test_report_of_scenes_needs_size(demo):
    with pytest.raises(ValueError, match='needs the window `size`'): imbalance_report(demo)
    with pytest.raises(ValueError, match='no 512 px window fits'): imbalance_report(demo, size=512)


def test_dtype_edge_cases_of_the_fast_paths():
    rng = np.random.default_rng(7)
    m = rng.integers(0, 3, (20, 24)).astype(np.uint8)
    # ignore index not representable in the dtype: nothing is ignored, any value >= n_classes is invalid
    np.testing.assert_array_equal(window_counts(m, 3, 5, 3, ignore_index=300), ref_grid(m, 3, 5, 3))
    m2 = m.copy(); m2[19, 23] = 200
    with pytest.raises(ValueError, match=r'mask values \[200\]'): window_counts(m2, 3, 5, 3, ignore_index=300)
    # more classes than the dtype holds
    np.testing.assert_array_equal(window_counts(m, 300, 5, 3)[..., :3], ref_grid(m, 3, 5, 3))
    # uint16 with the top value as ignore index
    m3 = m.astype(np.uint16); m3[rng.random(m3.shape) < .3] = 65535
    np.testing.assert_array_equal(window_counts(m3, 3, 6, 4, ignore_index=65535), ref_grid(m3, 3, 6, 4, 65535))

def test_report_of_scenes_checks_size_and_stride(demo):
    with pytest.raises(ValueError, match='size must be an integer >= 1, got 0'): imbalance_report(demo, size=0)
    with pytest.raises(ValueError, match='stride must be an integer >= 1, got 0'): imbalance_report(demo, size=64, stride=0)
