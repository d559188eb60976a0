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
