"The benchmarks that measure saved `train` outputs (`crossfit.py --runs`, `tta.py`, `prior_match.py --runs`, `window.py`, `natural_bn.py`, `class_weights.py`) run end to end on tiny demo runs."
import json, subprocess, sys
from pathlib import Path
import pytest
from seg_imbalance.cli import main

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture(scope='module')
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp('bench') / 'auto_0'
    assert main(['train', 'demo', '--steps', '4', '--size', '64', '--bs', '4', '--out', str(out), '--recipe', 'baseline']) == 0
    return out

def _run(script, *args):
    r = subprocess.run([sys.executable, str(ROOT / 'benchmarks' / script), *args], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout

def test_crossfit_runs(run_dir, tmp_path):
    out = tmp_path / 'c.jsonl'
    printed = _run('crossfit.py', '--runs', str(run_dir), '--data', 'demo', '--size', '64', '--out', str(out))
    (r,) = [json.loads(l) for l in out.read_text().splitlines()]
    s = json.loads((run_dir / 'summary.json').read_text())
    assert r['run'] == 'auto_0' and len(r['full']['iou']) > 1 and set(r['full']['iou']) == set(r['raw']['iou'])
    assert r['raw']['biases'] is None and len(r['full']['biases']) == len(r['shrunk']['biases'])
    assert abs(r['full']['miou'] - s['mIoU']) < 1e-6      # the full fit is the one `train` stored: same scores on the same scenes
    assert r['crossfit'] is None or r['crossfit']['applied'] == r['crossfit']['share']
    assert '| auto_0 | full |' in printed
    _run('crossfit.py', '--runs', str(run_dir), '--data', 'demo', '--size', '64', '--out', str(out)) # resumes: measured once
    assert len(out.read_text().splitlines()) == 1

def test_tta_runs(run_dir, tmp_path):
    out = tmp_path / 't.jsonl'
    _run('tta.py', '--runs', str(run_dir), '--data', 'demo', '--size', '64', '--out', str(out))
    (r,) = [json.loads(l) for l in out.read_text().splitlines()]
    assert r['aug'] == 'dihedral'                          # the demo scenes are overhead imagery
    for w in ('none', 'hflip', 'flips'):
        for k in ('raw', 'calibrated'): assert 0 <= r[w][k]['miou'] <= 1 and r[w][k]['iou']
    from seg_imbalance.experiments import load_data
    from seg_imbalance.predict import load_model
    from seg_imbalance.interpret import evaluate_scenes
    s = json.loads((run_dir / 'summary.json').read_text())
    t = evaluate_scenes(load_model(run_dir / 'model'), load_data({'source': 'demo', 'size': 64, 'valid_pct': 0.2})[0],
                        s['valid_scenes'], calibrate=False, progress=False)
    assert abs(r['none']['raw']['miou'] - t.attrs['summary']['mIoU']) < 1e-6 # its own scoring agrees with evaluate_scenes'

def test_prior_match_runs(run_dir, tmp_path):
    out = tmp_path / 'p.jsonl'
    printed = _run('prior_match.py', '--runs', str(run_dir), '--data', 'demo', '--size', '64', '--out', str(out))
    (r,) = [json.loads(l) for l in out.read_text().splitlines()]
    s = json.loads((run_dir / 'summary.json').read_text())
    assert abs(r['full']['miou'] - s['mIoU']) < 1e-6       # its `full` fit is `train`'s: the same held-back sample, the same biases
    from seg_imbalance.experiments import load_data
    from seg_imbalance.predict import load_model
    from seg_imbalance.interpret import evaluate_scenes
    t = evaluate_scenes(load_model(run_dir / 'model'), load_data({'source': 'demo', 'size': 64, 'valid_pct': 0.2})[0],
                        s['valid_scenes'], calibrate=False, progress=False)
    assert abs(r['raw']['miou'] - t.attrs['summary']['mIoU']) < 1e-6 # one prediction pass scores every way as evaluate_scenes does
    assert r['raw']['worst_vs_raw'] == 0 and not any(r['raw']['biases'])
    sys.path.insert(0, str(ROOT / 'benchmarks')); from prior_match import TAUS
    assert r['tau'] in TAUS and (any(r['prior']['biases']) == (r['tau'] > 0))
    if r['tau'] == 0: assert r['prior']['miou'] == r['raw']['miou']
    assert '| auto_0 | prior |' in printed


def test_weight_average_runs(tmp_path):
    out = tmp_path / 'w.jsonl'
    printed = _run('weight_average.py', '--seeds', '0', '--steps', '4', '--ways', 'mean last ½', '--out', str(out))
    (r,) = [json.loads(l) for l in out.read_text().splitlines()]
    assert list(r['ways']) == ['last', 'mean last ½'] and r['steps'] == 4
    from seg_imbalance.demo import demo_split
    from seg_imbalance.fit import run_recipe
    ss, table, valid, hb, rec = demo_split(0)   # the same run without the averaging callbacks: they must not change it
    ref = run_recipe(rec, ss, table, valid, steps=4, seed=0, holdback=hb, calibrate=True)['record']
    assert abs(r['ways']['last']['eval']['miou'] - ref['miou']) < 1e-6
    assert r['ways']['mean last ½']['eval']['iou'] != r['ways']['last']['eval']['iou'] # the average is other weights
    assert '| demo | 0 | mean last ½ |' in printed


def test_window_runs(run_dir, tmp_path):
    out = tmp_path / 'w.jsonl'
    printed = _run('window.py', '--runs', str(run_dir), '--data', 'demo', '--size', '64', '--factors', '1', '2', '--out', str(out))
    (r,) = [json.loads(l) for l in out.read_text().splitlines()]
    s = json.loads((run_dir / 'summary.json').read_text())
    w1, w2 = r['windows']['1'], r['windows']['2']
    assert (w1['window'], w2['window']) == (64, 128)
    assert abs(w1['eval']['miou'] - s['mIoU']) < 1e-6   # the patch window refitted is what `train` stored and scored
    assert w1['biases'] == pytest.approx(s['calibration']['biases'])
    assert w2['eval_raw']['iou'] != w1['eval_raw']['iou'] # another window, other predictions
    assert set(w1['heldback_oof']['iou']) == set(w1['heldback_raw']['iou'])
    assert '| demo | 0 | 64 |' in printed and '| demo | 0 | 128 |' in printed
    assert {k: r['trained'][k] for k in ('commit', 'device')} == {k: s[k] for k in ('commit', 'device')} # read from the run
    with pytest.raises(AssertionError, match='must start with 1'): _run('window.py', '--factors', '2', '--out', '')


def test_natural_bn_runs(run_dir, tmp_path):
    out = tmp_path / 'n.jsonl'
    printed = _run('natural_bn.py', '--runs', str(run_dir), '--data', 'demo', '--size', '64', '--batches', '2', '--out', str(out))
    (r,) = [json.loads(l) for l in out.read_text().splitlines()]
    s = json.loads((run_dir / 'summary.json').read_text())
    assert list(r['ways']) == ['running', 'natural'] and r['patches'] == 32
    assert abs(r['ways']['running']['eval']['miou'] - s['mIoU']) < 1e-6  # the model as `train` left it
    assert r['ways']['natural']['eval_raw']['iou'] != r['ways']['running']['eval_raw']['iou'] # other statistics, other predictions
    assert '| demo | 0 | running |' in printed and '| demo | 0 | natural |' in printed


def test_class_weights_runs(run_dir, tmp_path):
    toml = tmp_path / 'sqrt.toml'
    toml.write_text('base = "long-tail"\nname = "long-tail-sqrt"\nbalance = true\nclass_weights = "batch_sqrt"\n')
    vs = tmp_path / 'sqrt_0'
    assert main(['train', 'demo', '--steps', '4', '--size', '64', '--bs', '4', '--out', str(vs), '--recipe', str(toml)]) == 0
    out = tmp_path / 'c.jsonl'
    printed = _run('class_weights.py', '--runs', str(run_dir), '--vs', str(vs), '--data', 'demo', '--size', '64', '--out', str(out))
    (r,) = [json.loads(l) for l in out.read_text().splitlines()]
    assert list(r['ways']) == ['batch', 'batch_sqrt'] and r['ways']['batch_sqrt']['recipe'] == 'long-tail-sqrt'
    for way, d in (('batch', run_dir), ('batch_sqrt', vs)): # each way scores exactly what `train` stored for its run
        sm = json.loads((d / 'summary.json').read_text())
        assert abs(r['ways'][way]['eval']['miou'] - sm['mIoU']) < 1e-6
        assert r['trained'][way] == {k: sm[k] for k in ('commit', 'dirty', 'host', 'device')} # where each way trained
    assert '| demo | 0 | batch_sqrt |' in printed and 'adopted by the rule: none' in printed # one data set adopts nothing
    r2 = subprocess.run([sys.executable, str(ROOT / 'benchmarks/class_weights.py'), '--runs', str(run_dir), '--data', 'demo',
                         '--out', str(tmp_path / 'x.jsonl')], capture_output=True, text=True, cwd=ROOT)
    assert r2.returncode != 0 and 'one batch_sqrt run per --runs run' in r2.stderr
    r3 = subprocess.run([sys.executable, str(ROOT / 'benchmarks/class_weights.py'), '--runs', str(run_dir), '--vs', str(vs),
                         '--data', 'demo', '--size', '64', '--trained', 'deadbee', '--out', str(tmp_path / 'y.jsonl')],
                        capture_output=True, text=True, cwd=ROOT)
    assert r3.returncode != 0 and 'not at deadbee' in r3.stderr and not (tmp_path / 'y.jsonl').exists()


def test_run_trained_reads_the_summary():
    "A saved run's training commit and device come from its summary.json; a typed commit only for runs saved without them"
    sys.path.insert(0, str(ROOT / 'benchmarks')); from crossfit import run_trained
    sm = {'commit': 'abc1234def', 'dirty': False, 'host': 'h', 'device': 'cpu X', 'seed': 0}
    assert run_trained(sm, None, 'r') == run_trained(sm, 'abc1234', 'r') == {k: sm[k] for k in ('commit', 'dirty', 'host', 'device')}
    assert run_trained({'seed': 0}, 'fff0000', 'r') == {'commit': 'fff0000'} and run_trained({}, None, 'r') == {'commit': None}
    with pytest.raises(SystemExit, match='r: its summary.json says it trained at abc1234def, not at fff0000'): run_trained(sm, 'fff0000', 'r')


def test_recipe_change_refuses_unpaired_ways(tmp_path):
    "`recipe_change.py` and its one-field wrappers (`aug_default.py`) name the way or run that is missing"
    def err(script, *args):
        r = subprocess.run([sys.executable, str(ROOT / 'benchmarks' / script), *args, '--out', str(tmp_path / 'x.jsonl')],
                           capture_output=True, text=True, cwd=ROOT)
        assert r.returncode != 0 and not (tmp_path / 'x.jsonl').exists(); return r.stderr
    assert 'two different values at least' in err('recipe_change.py', '--field', 'aug', '--ways', 'none', 'none')
    assert 'one none run per --runs run' in err('aug_default.py', '--runs', 'A', '--data', 'demo')
    assert 'names two ways' in err('recipe_change.py', '--field', 'aug', '--ways', 'default', 'none', 'flips', '--runs', 'A',
                                   '--vs', 'B', '--data', 'demo')


def test_benchmark_recipes_load():
    "The recipe files the README's CamVid comparisons train with are valid recipes, each the recommended one plus one change"
    from seg_imbalance.recipe import get_recipe
    sqrt, noaug = (get_recipe(str(ROOT / 'benchmarks/recipes' / f'camvid_recommended_{n}.toml')) for n in ('sqrt', 'noaug'))
    assert (sqrt.class_weights, sqrt.aug) == ('batch_sqrt', None) and (noaug.class_weights, noaug.aug) == ('batch', 'none')
    assert sqrt.balance and noaug.balance and sqrt.rare == noaug.rare == ('Pole', 'SignSymbol', 'Fence', 'Pedestrian', 'Bicyclist')
    nob = get_recipe(str(ROOT / 'benchmarks/recipes/camvid_recommended_nobalance.toml'))
    assert not nob.balance and (nob.class_weights, nob.sample_weights, nob.rare) == (noaug.class_weights, noaug.sample_weights, noaug.rare)


def test_search_demo_collects_where_runs_trained(run_dir, tmp_path):
    "`search_demo.py` (collecting saved runs) records the commit, device and host each run's summary.json gives"
    out = tmp_path / 's.jsonl'
    _run('search_demo.py', '--runs', str(run_dir.parent), '--recipes', 'auto', '--seeds', '0', '--size', '64', '--out', str(out))
    (r,) = [json.loads(l) for l in out.read_text().splitlines()]
    s = json.loads((run_dir / 'summary.json').read_text())
    assert (r['name'], r['seed'], r['miou']) == ('auto', 0, s['mIoU'])
    assert {k: r[k] for k in ('commit', 'device', 'host')} == {k: s[k] for k in ('commit', 'device', 'host')}
    r2 = subprocess.run([sys.executable, str(ROOT / 'benchmarks/search_demo.py'), '--runs', str(run_dir.parent), '--recipes',
                         'auto', '--seeds', '0', '--commit', 'deadbee', '--out', str(tmp_path / 'x.jsonl')],
                        capture_output=True, text=True, cwd=ROOT)
    assert r2.returncode != 0 and 'not at deadbee' in r2.stderr
    f = 'benchmarks/recipes/camvid_dice.toml' # 'NAME=FILE.toml': the run named NAME, the file its recipe
    _run('search_demo.py', '--runs', str(run_dir.parent), '--recipes', f'auto={f}', '--seeds', '0', '--out', str(out))
    (r,) = [json.loads(l) for l in out.read_text().splitlines()]
    assert r['name'] == 'auto' and f'--recipe {f} ' in r['command'] and f"{run_dir.parent / 'auto_0'}" in r['command']

def test_search_candidate_recipe_files():
    "The CamVid recipe files of the search's candidates are the candidates themselves, with CamVid's rare classes"
    from dataclasses import replace
    from seg_imbalance.recipe import get_recipe, RECIPES
    from seg_imbalance.choose import SEARCH_CANDIDATES
    rec = replace(RECIPES['long-tail'], rare=('Pole', 'SignSymbol', 'Fence', 'Pedestrian', 'Bicyclist'))
    for f, n in (('dice_focal', 'dice-focal'), ('tversky', 'tversky')):
        a, b = get_recipe(str(ROOT / f'benchmarks/recipes/camvid_{f}.toml')), SEARCH_CANDIDATES[n](rec)
        assert replace(a, reasons=()) == replace(b, reasons=()), n
    d = get_recipe(str(ROOT / 'benchmarks/recipes/camvid_dice.toml'))
    assert replace(d, name='baseline', loss='ce', reasons=(), rare=()) == replace(RECIPES['baseline'], reasons=())
    assert d.rare == rec.rare
    pick = replace(rec, name='recommended', balance=True)   # `recommend`'s pick on CamVid's training side (auto_0's model.json)
    rd = get_recipe(str(ROOT / 'benchmarks/recipes/camvid_recommended_dice.toml'))
    assert replace(rd, reasons=()) == replace(SEARCH_CANDIDATES['recommended-dice'](pick), reasons=())
    dw = get_recipe(str(ROOT / 'benchmarks/recipes/camvid_dice_wce.toml'))
    assert replace(dw, name='baseline', loss='ce', class_weights=None, reasons=(), rare=()) == replace(RECIPES['baseline'], reasons=())

def test_demo_floor_runs(run_dir, tmp_path):
    "`demo_floor.py --runs REMEDY=BASELINE`: saved runs of one held-back part, the baseline as stored; other parts refused"
    out = tmp_path / 'f.jsonl'
    _run('demo_floor.py', '--runs', f'{run_dir}={run_dir}', '--data', 'demo', '--size', '64', '--out', str(out))
    (r,) = [json.loads(l) for l in out.read_text().splitlines()]
    s = json.loads((run_dir / 'summary.json').read_text())
    assert (r['run'], r['baseline_run'], r['seed']) == ('auto_0', 'auto_0', s['seed']) and r['trained']['commit'] == s['commit']
    assert abs(r['baseline']['miou'] - s['mIoU']) < 1e-6   # the baseline with the biases `train` stored
    for w in ('raw', 'calibrated', 'floor'): assert set(r[w]['iou_gain']) == set(r[w]['heldback_iou_gain']) and r[w]['iou_gain']
    other = tmp_path / 'seed1'                                # another seed holds back other scenes: no floor pairs them
    assert main(['train', 'demo', '--steps', '2', '--size', '64', '--bs', '4', '--seed', '1', '--out', str(other),
                 '--recipe', 'baseline']) == 0
    p = subprocess.run([sys.executable, str(ROOT / 'benchmarks/demo_floor.py'), '--runs', f'{other}={run_dir}', '--data', 'demo',
                        '--size', '64', '--out', str(tmp_path / 'g.jsonl')], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode != 0 and 'hold back or evaluate different frames' in p.stderr and not (tmp_path / 'g.jsonl').exists()
