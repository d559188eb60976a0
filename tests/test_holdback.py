"`data.holdback`: the held-back part of the training side never meets a training window (property tests over random tables)."
import numpy as np, pandas as pd, pytest
from hypothesis import given, settings, strategies as st
from seg_imbalance.data import holdback, window_overlaps

def grid_table(shapes, size, stride):
    "A patch table of scenes of `shapes` (cells of `size`), windows every `stride` px"
    rows = [(s, y, x) for s, (ny, nx) in enumerate(shapes)
            for y in range(0, ny * size - size + 1, stride) for x in range(0, nx * size - size + 1, stride)]
    t = pd.DataFrame(rows, columns=['scene', 'y', 'x']).assign(h=size, w=size, a=1, b=0)
    t.attrs = {'codes': ['a', 'b'], 'ignore_index': None}
    return t

tables = st.tuples(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), min_size=2, max_size=9),
                   st.sampled_from([8, 16]), st.sampled_from([1, 2]))

@settings(max_examples=150, deadline=None)
@given(tables, st.floats(0.05, 0.6), st.integers(0, 10**6), st.integers(0, 20), st.data())
def test_training_rows_never_touch_the_held_back_part(spec, frac, seed, margin, data):
    shapes, size, div = spec
    t = grid_table(shapes, size, size // div)
    valid = data.draw(st.lists(st.integers(0, len(shapes) - 1), max_size=len(shapes) - 1, unique=True))
    try: hb = holdback(t, valid, frac, seed, margin=margin)
    except ValueError as e: # nothing can be held back, or nothing would be left to train on
        assert any(w in str(e) for w in ('two patches long', 'leaves no training', 'cannot hold back')); return
    tr = t.iloc[hb.train]
    assert not tr.scene.isin([*valid, *hb.scenes]).any()
    assert not window_overlaps(tr, hb.regions, margin).any()
    n_train = len(set(range(len(shapes))) - set(valid))
    assert hb.level == ('scene' if n_train >= 5 else 'block')
    if hb.level == 'scene': assert not set(hb.scenes) & set(valid) and 1 <= len(hb.scenes) < n_train
    for s, y, x, h, w in hb.regions: # on the patch grid, inside its training scene
        ny, nx = shapes[s]
        assert s not in valid and y % size == x % size == h % size == w % size == 0
        assert 0 <= y and y + h <= ny * size and 0 <= x and x + w <= nx * size
    again = holdback(t, valid, frac, seed, margin=margin)
    assert (again.scenes, again.regions) == (hb.scenes, hb.regions) and np.array_equal(again.train, hb.train)

def test_scene_or_block_level_by_number_of_training_scenes():
    t = grid_table([(4, 4)] * 7, 16, 16)
    test = lambda valid, **kw: holdback(t, valid, 0.2, 0, **kw).level
    assert test([0, 1]) == 'scene' and test([0, 1, 2]) == 'block' # 5 training scenes, then 4
    assert test([0, 1], block=True) == 'block' and test([0, 1, 2], block=False) == 'scene'
    assert len(holdback(t, [], 0.3, 0).scenes) == 2 # round(0.3 * 7)

def test_seeds_draw_different_parts():
    t = grid_table([(6, 6)] * 3, 16, 16)
    parts = {tuple(holdback(t, [0], 0.2, s).regions) for s in range(8)}
    assert len(parts) > 1

def test_bad_input():
    t = grid_table([(1, 1)] * 3, 16, 16)
    with pytest.raises(ValueError, match='two patches long'): holdback(t, [0], 0.2)
    with pytest.raises(ValueError, match=r'frac must be in \(0, 1\)'): holdback(t, [0], 0)

@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=3, max_size=12), st.floats(0.05, 0.9), st.integers(0, 10**6), st.data())
def test_groups_are_held_back_whole(labels, frac, seed, data):
    "With `groups`, each group of training scenes is held back whole or not at all, and one group at least trains"
    t = grid_table([(2, 2)] * len(labels), 8, 8)
    valid = data.draw(st.lists(st.integers(0, len(labels) - 1), max_size=1, unique=True))
    train = [s for s in range(len(labels)) if s not in valid]
    try: hb = holdback(t, valid, frac, seed, groups=labels)
    except ValueError as e:
        assert 'whole groups need two or more' in str(e) and len({labels[s] for s in train}) < 2; return
    held = set(hb.scenes)
    assert hb.level == 'scene' and held and not held & set(valid)
    for g in {labels[s] for s in train}:
        members = {s for s in train if labels[s] == g}
        assert members <= held or not members & held
    assert set(hb.groups) == {str(labels[s]) for s in held}
    assert not t.scene.iloc[hb.train].isin([*valid, *held]).any() and len(hb.train)
    assert hb.scene_groups == [str(labels[s]) for s in hb.scenes] # each held-back scene's group, for the cross-fit's runs

@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.text('abc_0123', min_size=1, max_size=5), st.integers(0, 4)), min_size=1, max_size=15),
       st.integers(0, 4))
def test_crossfit_runs_never_split_a_group(scenes, folds):
    "`calibrate.fold_scenes(groups=...)`: every scene in exactly one run, a group's scenes all in one, as many runs as it can"
    from types import SimpleNamespace
    from seg_imbalance.calibrate import fold_scenes
    named = [SimpleNamespace(name=n) for n, _ in scenes]; groups = [g for _, g in scenes]
    runs = fold_scenes(named, list(range(len(scenes))), folds, groups)
    assert sorted(i for r in runs for i in r) == list(range(len(scenes)))
    n_groups = len(set(groups))
    if n_groups > 1:
        assert all(len({groups[i] for i in r} & {groups[i] for i in q}) == 0 for a, r in enumerate(runs) for q in runs[a + 1:])
        assert (2 <= len(runs) <= min(folds, n_groups)) if folds >= 2 else len(runs) == 1 # balanced cuts may merge groups, never to one run
    else: assert runs == fold_scenes(named, list(range(len(scenes))), folds) # one group: by name, as without groups

def test_calibrate_heldback_passes_the_groups(monkeypatch):
    "`fit.calibrate_heldback` hands a grouped `HeldBack`'s scene groups to the calibration, so its runs cut between groups"
    import seg_imbalance.fit as fit
    from seg_imbalance.split import HeldBack
    got = []
    monkeypatch.setattr(fit, 'calibrate_learner', lambda learn, ss, idxs, **kw: got.append((idxs, kw)))
    hb = HeldBack([3, 5, 8], [], np.zeros(0, np.int64), 0.2, 0, 0, ['A', 'B'], ['A', 'B', 'A'])
    fit.calibrate_heldback(None, None, hb, folds=2)
    assert got == [([3, 5, 8], {'folds': 2, 'groups': ['A', 'B', 'A']})]
    fit.calibrate_heldback(None, None, HeldBack([3, 5], [], np.zeros(0, np.int64)), folds=2) # no groups: none passed
    assert got[-1] == ([3, 5], {'folds': 2})
