"The `seg-imbalance demo` console command, run as a user runs it."
import json, os, subprocess, sys
from pathlib import Path
import pandas as pd

EXE = Path(sys.executable).parent / 'seg-imbalance'

def run(*args, timeout=900):
    env = {**os.environ, 'NO_ALBUMENTATIONS_UPDATE': '1', 'MPLBACKEND': 'Agg'}
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=timeout, env=env)

def test_demo_writes_report(tmp_path):
    r = run('demo', '--out', str(tmp_path), '--epochs', '1', '--scenes', '3', '--scene-size', '128', '--bs', '4', '--seed', '1')
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'mIoU' in r.stdout and 'pixel accuracy' in r.stdout
    for name in ('background', 'vegetation', 'water', 'building', 'road', 'car'): assert name in r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ['history.csv', 'per_class_iou.csv', 'per_class_iou.md', 'predictions.png', 'summary.json']
    tbl = pd.read_csv(tmp_path / 'per_class_iou.csv', index_col='class')
    assert list(tbl.columns) == ['pixels %', 'IoU', 'F1', 'precision', 'recall']
    assert abs(tbl['pixels %'].sum() - 100) < 1e-6
    s = json.loads((tmp_path / 'summary.json').read_text())
    assert 0 <= s['mIoU'] <= 1 and s['epochs'] == 1 and s['n_valid'] > 0
    assert abs(s['mIoU'] - tbl.IoU.mean()) < 1e-9  # every demo class occurs in the validation scene
    assert (tmp_path / 'predictions.png').read_bytes()[:4] == b'\x89PNG'

def test_demo_rejects_bad_arguments(tmp_path):
    r = run('demo', '--out', str(tmp_path), '--epochs', '0')
    assert r.returncode != 0 and '--epochs must be >= 1' in r.stderr
    r = run('nonsense')
    assert r.returncode == 2 and 'invalid choice' in r.stderr
