"Property tests of the patch-weight schemes and samplers on random patch tables."
import numpy as np, pandas as pd, pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from seg_imbalance.sample import (PATCH_SCHEMES, patch_weights, rcs_class_probs, WeightedSampler, ClassBalancedBatchSampler,
                                  class_balanced_sampler, DistributedWeightedSampler, class_exposure, drawn_coverage)

def make_table(counts, ignore_index=None, ignore=None):
    "A patch table from per-patch class counts (classes c0, c1, ...)"
    counts = np.asarray(counts, np.int64)
    codes = [f'c{i}' for i in range(counts.shape[1])]
    t = pd.DataFrame({'scene': 0, 'y': 0, 'x': np.arange(len(counts)), 'h': 8, 'w': 8})
    for i, c in enumerate(codes): t[c] = counts[:, i]
    t['ignore'] = 0 if ignore is None else ignore
    t.attrs.update(codes=codes, ignore_index=ignore_index)
    return t

@st.composite
def tables(draw, min_n=1, max_n=40):
    "Random tables of 1–40 patches, 2–6 classes, sparse counts (most classes absent from most patches)"
    n, c = draw(st.integers(min_n, max_n)), draw(st.integers(2, 6))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 50, (n, c)) * (rng.random((n, c)) < rng.uniform(0.05, 0.9, c))
    counts[rng.integers(n), rng.integers(c)] += 1   # at least one labelled pixel
    return make_table(counts)

def opts(scheme, t):
    present = [c for c in t.attrs['codes'] if t[c].sum() > 0]
    return {'targets': present[-1:]} if scheme == 'presence' else {}

@settings(max_examples=60, deadline=None)
@given(tables(), st.sampled_from(PATCH_SCHEMES))
def test_weights_one_per_row_finite_nonnegative(t, scheme):
    w = patch_weights(t, scheme, **opts(scheme, t))
    assert w.shape == (len(t),) and w.dtype == np.float64
    assert np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0
    if scheme in ('presence', 'repeat_factor', 'uniform'): assert (w >= 1).all()
    if scheme == 'rcs': assert abs(w.sum() - 1) < 1e-9

@settings(max_examples=60, deadline=None)
@given(tables(min_n=2), st.sampled_from(PATCH_SCHEMES), st.integers(0, 2**31 - 1))
def test_weights_follow_the_rows(t, scheme, seed):
    "Shuffling the rows shuffles the weights the same way: a weight belongs to its patch, not to a position"
    perm = np.random.default_rng(seed).permutation(len(t))
    shuffled = t.iloc[perm].copy(); shuffled.attrs = dict(t.attrs)
    np.testing.assert_allclose(patch_weights(shuffled, scheme, **opts(scheme, t)), patch_weights(t, scheme, **opts(scheme, t))[perm], rtol=1e-12)

def test_presence_is_one_plus_factors():
    t = make_table([[5, 0, 0], [5, 3, 0], [5, 3, 2], [0, 0, 7]])
    np.testing.assert_array_equal(patch_weights(t, 'presence', targets=['c1', 'c2'], factor=[3, 2]), [1, 3, 4, 2])

def test_ignore_index_never_counts():
    "The ignore class is neither a target, nor weighted, nor drawn by RCS"
    t = make_table([[10, 0, 90], [10, 5, 0], [0, 0, 100]], ignore_index=2)
    assert rcs_class_probs(t)[2] == 0
    with pytest.raises(ValueError, match=r"class 'c2' is the ignore index \(2\)"): patch_weights(t, 'presence', targets='c2')
    w = patch_weights(t, 'inverse_freq')
    assert w[2] == 0 and w[0] > 0   # only ignored pixels: never drawn
    np.testing.assert_allclose(patch_weights(t, 'repeat_factor', t=1.), [np.sqrt(3 / 2), np.sqrt(3), 1])

def test_rcs_low_temperature_draws_rarest():
    t = make_table([[1000, 0, 0], [900, 100, 0], [990, 0, 10]])
    p = rcs_class_probs(t, temperature=0.01)
    z = np.exp((1 - np.array([2890, 100, 10]) / 3000) / 0.01 - 99); np.testing.assert_allclose(p, z / z.sum())
    assert p[2] > 0.95 and p[0] < 1e-40
    np.testing.assert_allclose(rcs_class_probs(t, temperature=1e6), [1 / 3] * 3, atol=1e-4)

@pytest.mark.parametrize('call, msg', [
    (lambda t: patch_weights(t, 'oversample'), "unknown scheme 'oversample': expected one of uniform, presence, repeat_factor, rcs, inverse_freq"),
    (lambda t: patch_weights(t, 'presence', targets=['c1', 'road']), "unknown class 'road'"),
    (lambda t: patch_weights(t, 'presence', targets='c2'), r"class\(es\) \['c2'\] are in no patch of the table"),
    (lambda t: patch_weights(t.iloc[:0], 'rcs'), 'the patch table is empty'),
    (lambda t: patch_weights(t, 'repeat_factor', temperature=1), r"scheme 'repeat_factor' takes no option \['temperature'\]"),
    (lambda t: patch_weights(t, 'rcs', temperature=0), 'temperature must be a finite number > 0'),
    (lambda t: patch_weights(t, 'presence', targets='c1', min_pixels=0), 'min_pixels must be an integer >= 1, got 0'),
    (lambda t: patch_weights(pd.DataFrame({'c0': [1]}), 'uniform'), "not a patch table"),
])
def test_bad_input_is_named(call, msg):
    t = make_table([[5, 1, 0], [5, 0, 0]])
    with pytest.raises(ValueError, match=msg): call(t)

@pytest.mark.parametrize('w, msg', [([1, np.nan, 1], r'not finite \(NaN or inf\) at positions \[1\]'), ([1, np.inf], 'not finite'),
                                    ([1, -0.5], r'negative at positions \[1\]'), ([0, 0, 0], 'all zero'), ([], 'non-empty'),
                                    (np.ones((2, 2)), 'non-empty vector'), (['a', 'b'], 'must be numbers')])
def test_bad_weights(w, msg):
    with pytest.raises(ValueError, match=msg): WeightedSampler(w)

@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([0., 0., 0.5, 1., 3.]), min_size=1, max_size=30).filter(lambda w: sum(w) > 0),
       st.integers(1, 300), st.integers(0, 1000), st.integers(0, 5))
def test_sampler_draws_only_weighted_and_reproducibly(w, n, seed, epoch):
    s = WeightedSampler(w, n, seed)
    d = s.draw(epoch)
    assert d.shape == (n,) and d.dtype == np.int64 and (np.asarray(w)[d] > 0).all()
    assert (WeightedSampler(w, n, seed).draw(epoch) == d).all()
    s.set_epoch(epoch); assert list(s) == d.tolist()

@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 90), st.integers(1, 5), st.booleans(), st.integers(0, 50))
def test_distributed_shares_partition_the_draw(n, num_samples, world, drop_last, epoch):
    w = np.arange(1, n + 1, dtype=float)
    if drop_last and num_samples < world: return
    ss = [DistributedWeightedSampler(w, num_samples, world, r, seed=7, drop_last=drop_last) for r in range(world)]
    for s in ss: s.set_epoch(epoch)
    total = ss[0].total_size
    assert total == (num_samples // world * world if drop_last else -(-num_samples // world) * world)
    full = np.resize(WeightedSampler(w, num_samples, 7).draw(epoch), total)
    pos = np.concatenate([s.positions() for s in ss])
    assert sorted(pos.tolist()) == list(range(total))
    joined = np.empty(total, int)
    for s in ss: joined[s.positions()] = list(s)
    assert (joined == full).all() and len({len(s) for s in ss}) == 1

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(tables(min_n=2), st.integers(0, 10_000), st.integers(1, 4))
def test_class_balanced_batches_hold_every_class(t, seed, k):
    present = [c for c in t.attrs['codes'] if (t[c] > 0).any()]
    classes = present[:k]
    bs = len(classes) + 2
    s = class_balanced_sampler(t, classes, bs, num_samples=50, seed=seed)
    d = s.draw()
    assert len(d) == s.num_samples == s.n_batches * bs and s.num_samples >= 50
    holds = t[classes].to_numpy()[d].reshape(-1, bs, len(classes)) > 0
    assert holds.any(1).all()
    assert drawn_coverage(t, d, bs, classes).eq(1).all()

def test_class_balanced_uses_weights_for_the_rest():
    "Slots beyond the balanced ones follow the weights: a zero-weight patch only enters as a class holder"
    t = make_table([[10, 0], [10, 0], [10, 0], [5, 5]])
    s = class_balanced_sampler(t, ['c1'], bs=3, weights=np.array([1., 0, 0, 0]), num_samples=300, seed=0)
    b = s.draw().reshape(-1, 3)
    assert set(b.ravel().tolist()) == {0, 3} and ((b == 3).sum(1) == 1).all()

def test_exposure_counts_repeats():
    t = make_table([[8, 0], [4, 4]])
    e = class_exposure(t, [1, 1, 1, 0], class_weight=[1, 3])
    np.testing.assert_allclose(e['drawn pixel %'], [100 * 20 / 32, 100 * 12 / 32])
    np.testing.assert_allclose(e['table pixel %'], [75, 25])
    np.testing.assert_allclose(e['loss share %'], [100 * 20 / 56, 100 * 36 / 56])
    with pytest.raises(ValueError, match=r'positions must be in \[0, 2\)'): class_exposure(t, [2])
    with pytest.raises(ValueError, match='positions is empty'): class_exposure(t, [])
