"`seg-imbalance train --recipe search`, run as a user runs it: pilots on held-back data pick the recipe within the budget."
import json, os, subprocess, sys
from pathlib import Path
import pandas as pd

EXE = Path(sys.executable).parent / 'seg-imbalance'

def run(*args, timeout=900):
    env = {**os.environ, 'NO_ALBUMENTATIONS_UPDATE': '1', 'MPLBACKEND': 'Agg'}
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=timeout, env=env)

def test_train_recipe_search(tmp_path):
    r = run('train', 'demo', '--recipe', 'search', '--steps', '24', '--size', '64', '--bs', '4', '--out', str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    t = pd.read_csv(tmp_path / 'search.csv')
    assert {'candidate', 'round', 'steps', 'heldback_miou', 'rare_miou', 'fate', 'reason'} <= set(t.columns)
    assert any(c.startswith('IoU ') for c in t.columns)                      # per-class IoU on the held-back data
    win = t[t['round'] == 'final']
    assert len(win) == 1 and win.fate.iloc[0] == 'winner'
    pick = win.candidate.iloc[0]
    assert set(t.candidate) >= {'baseline', 'recommended', 'dice-focal', 'tversky'}
    pilots = t[t['round'] != 'final']
    # the whole budget: every candidate's last measured steps, the winner's final steps instead of its pilot ones
    spent = pilots[pilots.candidate != pick].groupby('candidate').steps.max().sum() + win.steps.iloc[0]
    assert spent == 24
    s = json.loads((tmp_path / 'summary.json').read_text())
    assert s['recipe'] == pick and s['search_steps'] == 24 and s['steps'] == win.steps.iloc[0]
    assert s['search'].startswith(f'{pick} won') and s['reasons'][0] == s['search']
    assert f'Recipe {pick}:' in r.stdout and f'{pick} won on the held-back data' in r.stdout
    assert 'Recipe search on the held-back part' in r.stdout
    assert (tmp_path / 'model.pkl').exists() and (tmp_path / 'per_class.csv').exists()

def test_train_recipe_search_trunk(tmp_path):
    "`--search-trunk 0.5`: the baseline trains half the budget, the pilots branch from it, the budget still holds"
    r = run('train', 'demo', '--recipe', 'search', '--search-trunk', '0.5', '--steps', '24', '--size', '64', '--bs', '4',
            '--out', str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    t = pd.read_csv(tmp_path / 'search.csv')
    pilots, win = t[t['round'] != 'final'], t[t['round'] == 'final']
    assert (pilots.steps > 12).all()                                           # every pilot counts the trunk's 12 steps
    pick = win.candidate.iloc[0]
    assert 12 + (pilots[pilots.candidate != pick].groupby('candidate').steps.max() - 12).sum() + win.steps.iloc[0] - 12 == 24
    s = json.loads((tmp_path / 'summary.json').read_text())
    assert s['search_steps'] == 24 and 'the first 12 as the baseline trunk' in s['search']

def test_search_trunk_needs_search(tmp_path):
    r = run('train', 'demo', '--recipe', 'auto', '--search-trunk', '0.5', '--steps', '4', '--out', str(tmp_path))
    assert r.returncode != 0 and "search_trunk applies to recipe 'search', not 'auto'" in r.stderr
