"""The ablation runner: resuming after `kill -9`, half-written lines, config checks, summaries, parallel runs."""
import json, subprocess, sys, textwrap, time, warnings
import numpy as np, pytest
from seg_imbalance.ablate import (ablate, append_record, load_configs, read_results, summarize, toy_run)

GRID = [{'name': 'ce'}, {'name': 'boost', 'rare_boost': 0.3}]
SEEDS = (0, 1, 2)
ALL = {(c['name'], s) for c in GRID for s in SEEDS}

def _keys(recs): return [(r['name'], r['seed']) for r in recs]

def _same(recs):
    "Records without what differs from one execution to the next"
    return sorted(json.dumps({k: v for k, v in r.items() if k not in ('wall_time', 'timestamp')}, sort_keys=True)
                  for r in recs)

def _lines(path): return path.read_bytes().count(b'\n') if path.exists() else 0

def test_resume_after_sigkill(tmp_path):
    "Killed with SIGKILL after k runs, the grid resumes with exactly the remaining runs; each run is in the file once"
    res, k = tmp_path/'res.jsonl', 2
    grid = [dict(c, sleep=0.5) for c in GRID]
    code = textwrap.dedent(f"""
        from seg_imbalance.ablate import ablate, toy_run
        ablate({grid!r}, {SEEDS!r}, toy_run, {str(res)!r}, budget={{'steps': 5}}, progress=False)""")
    proc = subprocess.Popen([sys.executable, '-c', code])
    try:
        t0 = time.time()
        while _lines(res) < k:
            assert proc.poll() is None, f'the ablation process ended early (rc {proc.returncode})'
            assert time.time() - t0 < 120, 'no results after 120 s'
            time.sleep(0.02)
    finally: proc.kill(); proc.wait()
    assert proc.returncode == -9
    before = _keys(read_results(res))
    assert k <= len(before) < len(ALL) and len(set(before)) == len(before)
    calls = []
    def record(config, seed, budget, data):
        calls.append((config['name'], seed)); return toy_run(config, seed, budget, data)
    recs = ablate(grid, SEEDS, record, res, budget={'steps': 5}, progress=False)
    assert sorted(calls) == sorted(ALL - set(before))
    final = _keys(read_results(res))
    assert sorted(final) == sorted(ALL) and sorted(_keys(recs)) == sorted(ALL)

def test_truncated_last_line(tmp_path):
    "A half-written last line is skipped with one warning naming it; appending afterwards yields valid JSON lines"
    res = tmp_path/'res.jsonl'
    ablate(GRID, (0,), toy_run, res, progress=False)
    with open(res, 'ab') as f: f.write(b'{"name": "ce", "seed": 1, "iou": {"ro')
    with pytest.warns(UserWarning, match=r'skipped 1 corrupt or half-written line\(s\): line 3'):
        recs = ablate(GRID, (0, 1), toy_run, res, progress=False)
    assert sorted(_keys(recs)) == [('boost', 0), ('boost', 1), ('ce', 0), ('ce', 1)]
    lines = res.read_text().split('\n')
    assert lines[2].startswith('{"name": "ce", "seed": 1, "iou": {"ro') and lines[-1] == ''
    assert [json.loads(l)['seed'] for i, l in enumerate(lines[:-1]) if i != 2] == [0, 0, 1, 1]

def test_append_ends_a_truncated_line(tmp_path):
    res = tmp_path/'res.jsonl'
    res.write_bytes(b'{"name": "a", "seed": 0}\n{"name": "a", "se')
    append_record(res, {'name': 'a', 'seed': 1, 'miou': np.float64(np.nan)})
    assert res.read_text().split('\n')[2] == '{"name": "a", "seed": 1, "miou": null}'
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        assert _keys(read_results(res)) == [('a', 0), ('a', 1)]
    assert len(w) == 1 and 'line 2' in str(w[0].message)

def test_config_checks(tmp_path):
    with pytest.raises(ValueError, match="two configs are named 'ce'"):
        ablate([{'name': 'ce'}, {'name': 'ce', 'loss': 'focal'}], (0,), toy_run, tmp_path/'r.jsonl')
    with pytest.raises(ValueError, match="unknown key 'loos'; allowed keys: gamma, loss"):
        ablate([{'name': 'f', 'loos': 'focal'}], (0,), toy_run, tmp_path/'r.jsonl', allowed_keys=['loss', 'gamma'])
    toml = tmp_path/'grid.toml'
    toml.write_text('seeds = [0, 1]\n[[config]]\nname = "a"\n[[config]]\nname = "a"\nloss = "dice"\n')
    with pytest.raises(ValueError, match="two configs are named 'a'"): load_configs(toml)
    toml.write_text('[data]\nroot = "x"\n[[config]]\nname = "a"\nweights = "inverse"\n')
    with pytest.raises(ValueError, match="unknown key 'weights'; allowed keys: loss"): load_configs(toml, ['loss'])
    assert load_configs(toml) == {'configs': [{'name': 'a', 'weights': 'inverse'}], 'data': {'root': 'x'}}
    assert not (tmp_path/'r.jsonl').exists()

HAND = [('ce', 0, [0.8, 0.1], 10), ('ce', 1, [0.7, 0.0], 12), ('ce', 2, [0.9, 0.3], 11),
        ('focal', 0, [0.7, 0.3], 13), ('focal', 1, [0.6, 0.2], 14), ('focal', 2, [0.8, 0.4], 15)]

def test_summary_equals_numpy(tmp_path):
    res = tmp_path/'hand.jsonl'
    res.write_text(''.join(json.dumps({'name': n, 'seed': s, 'iou': {'road': r, 'car': c}, 'miou': (r + c) / 2,
                                       'rare_miou': c, 'wall_time': w}) + '\n' for n, s, (r, c), w in HAND))
    s = summarize(read_results(res), baseline='ce')
    for name in ('ce', 'focal'):
        rows = np.array([v for n, _, v, _ in HAND if n == name])
        np.testing.assert_allclose(s.loc[name, ['iou_road_mean', 'iou_car_mean']].astype(float), rows.mean(0))
        np.testing.assert_allclose(s.loc[name, ['iou_road_std', 'iou_car_std']].astype(float), rows.std(0, ddof=1))
        np.testing.assert_allclose(s.loc[name, 'miou_mean'], rows.mean(1).mean())
        np.testing.assert_allclose(s.loc[name, 'miou_std'], rows.mean(1).std(ddof=1))
    d = np.array([0.3, 0.2, 0.4]) - np.array([0.1, 0.0, 0.3])
    np.testing.assert_allclose(s.loc['focal', ['rare_miou_gain_mean', 'rare_miou_gain_std']].astype(float),
                               [d.mean(), d.std(ddof=1)])
    np.testing.assert_allclose(s.loc['focal', 'rare_miou_t'], d.mean() / (d.std(ddof=1) / np.sqrt(3)))
    miou = {n: np.array([v for m, _, v, _ in HAND if m == n]).mean(1) for n in ('ce', 'focal')}
    assert s.loc['focal', 'rare_miou_wins'] == 3 and s.loc['focal', 'miou_wins'] == (miou['focal'] > miou['ce']).sum()
    assert s.n_seeds.tolist() == [3, 3] and np.isnan(summarize(read_results(res)[:4]).loc['focal', 'miou_std'])

def test_jobs2_equals_jobs1(tmp_path):
    one = ablate(GRID, (0, 1), toy_run, tmp_path/'one.jsonl', progress=False)
    two = ablate(GRID, (0, 1), toy_run, tmp_path/'two.jsonl', jobs=2, progress=False)
    assert _same(two) == _same(one) == _same(read_results(tmp_path/'two.jsonl'))
    with pytest.raises(ValueError, match='must be picklable'):
        ablate(GRID, (0,), lambda c, s, b, d: {}, tmp_path/'x.jsonl', jobs=2)

def _fails_on_boost(config, seed, budget, data):
    if config['name'] == 'boost' and seed == 1: raise RuntimeError('boom')
    return toy_run(config, seed, budget, data)

def test_jobs2_failure_keeps_finished_runs(tmp_path):
    "A failing run in a worker raises in the parent; runs finished by then are in the file, and a rerun resumes"
    res = tmp_path/'res.jsonl'
    with pytest.raises(RuntimeError, match='boom'):
        ablate(GRID, (0, 1), sys.modules[__name__]._fails_on_boost, res, jobs=2, progress=False)
    done = _keys(read_results(res))
    assert ('boost', 1) not in done and len(set(done)) == len(done) >= 1
    assert sorted(_keys(ablate(GRID, (0, 1), toy_run, res, progress=False))) == sorted(
        (c['name'], s) for c in GRID for s in (0, 1))

# --- provenance, history, shards and merging, over-correction warnings ---------------------------------------------
import seg_imbalance.ablate as ab
from seg_imbalance.ablate import merge_results, ablation_warnings, pm_table

def _history_run(config, seed, budget, data):
    "toy_run plus a three-epoch history (a DataFrame, as a fit history would be)"
    import pandas as pd
    return {**toy_run(config, seed, budget, data), 'history': pd.DataFrame({'train_loss': [3. + seed, 2., 1.]})}

def test_records_carry_provenance(tmp_path, monkeypatch):
    r = ablate(GRID[:1], (0,), toy_run, tmp_path/'a.jsonl', progress=False)[0]
    assert set(r['versions']) == {'seg_imbalance', 'torch', 'fastai', 'smp', 'numpy'}
    assert r['device'] == ab._device() and r['device'] and (r['commit'] == 'unknown') == (r['dirty'] is None)
    monkeypatch.setattr(ab, '_git', lambda *a: None)  # outside a git checkout
    r = ablate(GRID[:1], (0,), toy_run, tmp_path/'b.jsonl', progress=False)[0]
    assert (r['commit'], r['dirty']) == ('unknown', None)
    with pytest.raises(ValueError, match=r"reserved key\(s\) \['device'\]"):
        ablate(GRID[:1], (0,), lambda c, s, b, d: {'device': 'x'}, tmp_path/'c.jsonl', progress=False)

def test_history_written_with_worker_processes(tmp_path):
    res = tmp_path/'out'/'results.jsonl'
    recs = ablate(GRID, (0, 1), sys.modules[__name__]._history_run, res, jobs=2, progress=False)
    files = sorted(p.name for p in (tmp_path/'out'/'history').iterdir())
    assert files == ['boost_seed0.csv', 'boost_seed1.csv', 'ce_seed0.csv', 'ce_seed1.csv']
    import pandas as pd
    assert pd.read_csv(tmp_path/'out'/'history'/'ce_seed1.csv').train_loss.tolist() == [4., 2., 1.]
    assert all(r['history'][0]['train_loss'] == 3. + r['seed'] for r in recs)

def _fake_run(config, seed, budget, data):
    "A deterministic stand-in for training: scores from the config's name and the seed"
    import zlib
    return {'iou': {'a': zlib.crc32(f"{config['name']}{seed}".encode()) % 97 / 97}, 'miou': seed / 10}

@pytest.mark.parametrize('n', [2, 3])
def test_shards_then_merge_equal_one_run(tmp_path, n):
    grid = [{'name': f'c{i}'} for i in range(3)]
    one = ablate(grid, (0, 1, 2), _fake_run, tmp_path/'one.jsonl', progress=False)
    parts = [ablate(grid, (0, 1, 2), _fake_run, tmp_path/f's{i}'/'results.jsonl', shard=f'{i}/{n}', progress=False)
             for i in range(n)]
    keys = [_keys(p) for p in parts]
    assert sum(map(len, keys)) == 9 and len({k for ks in keys for k in ks}) == 9  # every run in exactly one shard
    assert keys[0][:2] == [('c0', 0), (('c2', 0) if n == 2 else ('c0', 1))]
    merged = merge_results([tmp_path/f's{i}' for i in range(n)], tmp_path/'m')
    assert _same(merged) == _same(one) == _same(read_results(tmp_path/'m'/'results.jsonl'))
    assert len(merge_results([tmp_path/'s0'], tmp_path/'m')) == 9  # the records already in out are kept

def test_merge_conflict_and_bad_shard(tmp_path):
    ablate(GRID, (0,), toy_run, tmp_path/'a'/'results.jsonl', progress=False)
    ablate(GRID, (0,), toy_run, tmp_path/'b'/'results.jsonl', progress=False)
    assert len(merge_results([tmp_path/'a', tmp_path/'b'])) == 2  # the same runs twice, same numbers: once each
    rec = read_results(tmp_path/'b'/'results.jsonl')[1]
    append_record(tmp_path/'b'/'results.jsonl', dict(rec, miou=rec['miou'] + 0.1))
    with pytest.raises(ValueError, match=r"1 run\(s\) recorded twice with different results: 'boost' seed 0"):
        merge_results([tmp_path/'a', tmp_path/'b'])
    with pytest.raises(ValueError, match='no results file at'): merge_results([tmp_path/'nowhere'])
    for bad in ('2/2', '1', 'a/b', (0, 0), '-1/2'):
        with pytest.raises(ValueError, match="shard must be 'i/n'"): ablate(GRID, (0,), toy_run, tmp_path/'x.jsonl', shard=bad)

def _mk(name, seed, **kw):
    return {'name': name, 'seed': seed, 'iou': {'road': 0.8, 'car': 0.2}, 'miou': 0.5, 'rare_miou': 0.2, **kw}

def test_summary_flags_mixed_commits_and_devices():
    same = [_mk(n, s, commit='abc' * 10, device='GPU A') for n in ('ce', 'focal') for s in (0, 1)]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always'); s = summarize(same, baseline='ce')
    assert 'mixed' not in s.columns and s.attrs['mixed'] == [] and not [x for x in w if 'mixed' in str(x.message)]
    cross = [dict(r, device='CPU B') if r['name'] == 'focal' else r for r in same]
    with pytest.warns(UserWarning, match='mixed: the compared configs ran on different devices: GPU A \\(ce\\); CPU B \\(focal\\)'):
        s = summarize(cross, baseline='ce')
    assert 'mixed' not in s.columns  # each config is consistent; the comparison across them is not
    within = list(same); within[3] = dict(within[3], commit='def' * 10, dirty=True)
    with pytest.warns(UserWarning, match='mixed'): s = summarize(within, baseline='ce')
    assert s.mixed.tolist() == ['', 'commits abcabca, defdefd+dirty']
    assert s.attrs['mixed'][0] == "mixed: config 'focal' ran its seeds on commits abcabca, defdefd+dirty"
    assert pm_table(s).mixed.tolist() == s.mixed.tolist() and pm_table(s).attrs['mixed'] == s.attrs['mixed']

def test_ablation_warnings_on_a_crafted_overcorrection():
    def rec(name, seed, iou, prec, recall):
        cls = ['road', 'building', 'car']
        return {'name': name, 'seed': seed, 'iou': dict(zip(cls, iou)), 'precision': dict(zip(cls, prec)),
                'recall': dict(zip(cls, recall)), 'miou': sum(iou) / 3, 'rare_miou': iou[2], 'rare': ['car']}
    recs = ([rec('ce', s, [0.80, 0.60, 0.10], [0.9, 0.7, 0.4], [0.9, 0.8, 0.3]) for s in (0, 1, 2)] +
            [rec('heavy', s, [0.80, 0.50 + 0.01 * s, 0.20], [0.9, 0.8, 0.2], [0.9, 0.6, 0.5 + 0.1 * s]) for s in (0, 1, 2)])
    w = ablation_warnings(recs, 'ce')
    assert w['ce'] == [] and len(w['heavy']) == 2
    assert w['heavy'][0].startswith('car: recall 0.60 vs precision 0.20 → over-predicted')
    assert w['heavy'][1].startswith('building: IoU 0.51 vs 0.60 in the baseline (−0.09)')
    assert ablation_warnings(recs, 'ce', ratio=4.)['heavy'] == w['heavy'][1:]
    assert ablation_warnings(recs, 'ce', max_drop=0.1)['heavy'] == w['heavy'][:1]
    with pytest.raises(ValueError, match="config 'CE' is not among"): ablation_warnings(recs, 'CE')

def test_plot_class_iou_is_deprecated(tmp_path):
    s = summarize(ablate(GRID, (0, 1), toy_run, tmp_path/'r.jsonl', progress=False))
    with pytest.warns(DeprecationWarning, match='use ablate.plot_config_iou'): fig = ab.plot_class_iou(s)
    assert len(fig.axes[0].patches) == len(ab.plot_config_iou(s).axes[0].patches) == 8
    assert 'plot_class_iou' not in ab.__all__

def test_cli_ablate_resumed_prints_the_warning(tmp_path, capsys):
    "`seg-imbalance ablate` resumed from a crafted results file (no training) names the over-corrected class"
    from seg_imbalance.cli import main
    (tmp_path/'grid.toml').write_text('seeds = [0, 1]\n[budget]\nsteps = 1\n[data]\nsource = "demo"\n'
                                      '[[config]]\nname = "base"\n[[config]]\nname = "oversampled"\nloss = "focal"\n')
    cls = ['road', 'car']
    for s in (0, 1):
        for name, iou, prec, rec in (('base', [0.8, 0.2], [0.9, 0.5], [0.88, 0.3]), ('oversampled', [0.79, 0.3], [0.9, 0.25], [0.87, 0.9])):
            append_record(tmp_path/'out'/'results.jsonl', {
                'name': name, 'seed': s, 'budget': {'steps': 1}, 'data': {'source': 'demo'},
                'config': {'name': name, **({'loss': 'focal'} if name == 'oversampled' else {})},
                'iou': dict(zip(cls, iou)), 'precision': dict(zip(cls, prec)), 'recall': dict(zip(cls, rec)),
                'miou': sum(iou) / 2, 'rare_miou': iou[1], 'rare': ['car'], 'commit': 'c' * 40, 'device': 'GPU A'})
    assert main(['ablate', str(tmp_path/'grid.toml'), '--out', str(tmp_path/'out')]) == 0
    out = capsys.readouterr().out
    assert "WARNING over-correction (against 'base'):" in out
    assert "oversampled · car: recall 0.90 vs precision 0.25 → over-predicted: calibrate" in out
    assert 'road' not in (tmp_path/'out'/'warnings.txt').read_text()  # road fell by 0.01 only
    assert len(read_results(tmp_path/'out'/'results.jsonl')) == 4  # nothing ran

def test_cli_ablate_trains_twins_once(tmp_path, capsys):
    "`seg-imbalance ablate`: a config naming the same training as an earlier one is recorded as its copy, not retrained"
    from seg_imbalance.cli import main
    (tmp_path/'grid.toml').write_text('seeds = [0]\n[budget]\nsteps = 1\nbs = 4\n[data]\nsource = "demo"\nn_scenes = 3\n'
                                      'scene_size = 64\nsize = 32\n[[config]]\nname = "focal"\nloss = "focal"\n'
                                      '[[config]]\nname = "focal-again"\nloss = "focal"\n[[config]]\nname = "ce"\n')
    assert main(['ablate', str(tmp_path/'grid.toml'), '--out', str(tmp_path/'out')]) == 0
    recs = {r['name']: r for r in read_results(tmp_path/'out'/'results.jsonl')}
    assert [recs[n].get('same_as') for n in ('focal', 'focal-again', 'ce')] == [None, 'focal', None]
    assert recs['focal-again']['iou'] == recs['focal']['iou'] and recs['focal-again']['config']['name'] == 'focal-again'
    assert (tmp_path/'out'/'history'/'focal-again_seed0.csv').exists()
