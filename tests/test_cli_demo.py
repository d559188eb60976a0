"The `seg-imbalance demo` and `train` console commands, run as a user runs them."
import json, os, subprocess, sys
from pathlib import Path
import pandas as pd
from fastai.learner import load_learner

EXE = Path(sys.executable).parent / 'seg-imbalance'
CLASSES = ('background', 'vegetation', 'water', 'building', 'road', 'car')

def run(*args, timeout=900):
    env = {**os.environ, 'NO_ALBUMENTATIONS_UPDATE': '1', 'MPLBACKEND': 'Agg'}
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=timeout, env=env)

def test_demo_compares_baseline_and_recommended(tmp_path):
    r = run('demo', '--out', str(tmp_path), '--steps', '2', '--scenes', '4', '--scene-size', '128', '--bs', '4', '--seed', '1')
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'Recommended recipe, because' in r.stdout and 'rare-class mIoU' in r.stdout
    for name in CLASSES: assert name in r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ['comparison.csv', 'comparison.md', 'errors_baseline.png',
                                                         'errors_recommended.png', 'history_baseline.csv',
                                                         'history_recommended.csv', 'predictions.png', 'summary.json']
    comp = pd.read_csv(tmp_path / 'comparison.csv', index_col='class')
    assert list(comp.columns) == ['IoU baseline', 'F1 baseline', 'recall baseline', 'IoU recommended', 'F1 recommended',
                                  'recall recommended', 'IoU gain']
    s = json.loads((tmp_path / 'summary.json').read_text())
    assert s['baseline']['steps'] == s['recommended']['steps'] == 2            # the same budget
    assert abs(comp.loc['mIoU', 'IoU baseline'] - s['baseline']['miou']) < 1e-9
    assert s['reasons'] and (tmp_path / 'predictions.png').read_bytes()[:4] == b'\x89PNG'
    assert isinstance(s['warnings'], list) and all(isinstance(l, str) for l in s['warnings'])
    assert "over-correction check against 'baseline': nothing found" in r.stdout if not s['warnings'] else \
        all(l in r.stdout for l in s['warnings'])

def test_train_on_a_scene_folder(tmp_path):
    from seg_imbalance.synth import synth_sceneset
    from seg_imbalance.io import save_scene_folder
    save_scene_folder(synth_sceneset(4, 128, seed=2), tmp_path / 'scenes')
    r = run('train', str(tmp_path / 'scenes'), '--recipe', 'auto', '--size', '64', '--steps', '2', '--bs', '4',
            '--valid-pct', '0.25', '--out', str(tmp_path / 'out'))
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'Class imbalance of the training scenes' in r.stdout and 'Recipe recommended' in r.stdout
    tbl = pd.read_csv(tmp_path / 'out' / 'per_class.csv', index_col='class')
    assert list(tbl.index) == list(CLASSES)
    learn = load_learner(tmp_path / 'out' / 'model.pkl')
    assert learn.seg_info.codes == list(CLASSES) and learn.seg_info.patch_size == 64

def test_commands_reject_bad_arguments(tmp_path):
    r = run('demo', '--out', str(tmp_path), '--steps', '0')
    assert r.returncode != 0 and '--steps must be >= 1' in r.stderr
    r = run('train', str(tmp_path / 'missing'), '--steps', '1')
    assert r.returncode != 0 and f"scene folder {tmp_path / 'missing'} not found" in r.stderr
    r = run('nonsense')
    assert r.returncode == 2 and 'invalid choice' in r.stderr
