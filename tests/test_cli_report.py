"The `seg-imbalance report` console command, run as a user runs it."
import os, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest
from seg_imbalance.io import save_scene_folder
from seg_imbalance.synth import synth_sceneset
from seg_imbalance.stats import imbalance_report

EXE = Path(sys.executable).parent / 'seg-imbalance'
CLASSES = ['background', 'vegetation', 'water', 'building', 'road', 'car']
FIGURES = ['pixels.png', 'presence.png', 'ratios.png', 'coverage.png']

def run(*args, timeout=600):
    env = {**os.environ, 'NO_ALBUMENTATIONS_UPDATE': '1', 'MPLBACKEND': 'Agg'}
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=timeout, env=env)

def test_report_demo_prints_table_and_writes_figures(tmp_path):
    r = run('report', 'demo', '--size', '64', '--out', str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    assert '12 scenes, 768 windows of 64 px at stride 64' in r.stdout # the demo's scenes, as `demo` and `train demo` use
    for word in [*CLASSES, 'pixel %', 'patch %', 'batch 8 %', 'w median_freq']: assert word in r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(['imbalance.csv', *FIGURES])
    for f in FIGURES: assert (tmp_path / f).read_bytes()[:4] == b'\x89PNG'
    tbl = pd.read_csv(tmp_path / 'imbalance.csv', index_col='class')
    assert tbl.index.tolist() == CLASSES and not tbl.isna().any().any()
    ref = imbalance_report(synth_sceneset(12), size=64).table
    np.testing.assert_allclose(tbl.to_numpy(), ref.to_numpy(), rtol=1e-9)
    car = [l.split() for l in r.stdout.splitlines() if l.startswith('car ')]
    assert len(car) == 1 and car[0][3] == f"{ref.loc['car', 'patch %']:.3g}"      # class, pixels, pixel %, patch %

def test_report_of_a_scene_folder_with_stride(tmp_path):
    folder = save_scene_folder(synth_sceneset(2, 128, seed=4), tmp_path / 'scenes')
    r = run('report', str(folder), '--size', '32', '--stride', '16', '--out', str(tmp_path / 'out'), '--batch-sizes', '2', '64')
    assert r.returncode == 0, r.stderr[-2000:]
    assert '2 scenes, 98 windows of 32 px at stride 16' in r.stdout and 'batch 64 %' in r.stdout
    tbl = pd.read_csv(tmp_path / 'out' / 'imbalance.csv', index_col='class')
    assert list(tbl.columns[-4:]) == ['batch 2 %', 'batch 64 %', 'w balanced', 'w median_freq']

@pytest.mark.parametrize('args,msg', [
    (['report', '/no/such/folder'], 'scene folder /no/such/folder not found'),
    (['report', 'demo', '--size', '0'], 'size must be an integer >= 1, got 0'),
    (['report', 'demo', '--size', '4096'], 'no 4096 px window fits in any scene'),
    (['report', 'demo', '--size', '64', '--stride', '0'], 'stride must be an integer >= 1, got 0'),
])
def test_report_bad_arguments_fail_clearly(tmp_path, args, msg):
    r = run(*args, '--out', str(tmp_path / 'out'))
    assert r.returncode != 0 and msg in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path / 'out').exists()

def test_python_dash_m_runs_the_command():
    "`python -m seg_imbalance.cli` (what `torchrun -m` and `accelerate launch -m` call) is the `seg-imbalance` command"
    import subprocess, sys
    p = subprocess.run([sys.executable, '-m', 'seg_imbalance.cli', 'report', '--help'], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and 'usage: seg-imbalance report' in p.stdout, p.stderr[-2000:]

@pytest.mark.parametrize('args,msg', [
    (['ablate', '/no/such/grid.toml'], 'seg-imbalance ablate: grid file /no/such/grid.toml not found'),
    (['train', '/no/such/folder'], 'seg-imbalance train: scene folder /no/such/folder not found'),
    (['train', 'demo', '--steps', '0'], 'seg-imbalance train: --steps must be >= 1, got 0'),
    (['train', 'demo', '--recipe', 'longtail', '--steps', '2', '--size', '64'],
     "unknown recipe 'longtail': 'auto', 'search', one of ['baseline', 'long-tail', 'sparse-small-targets'], a search candidate (recommended, dice-focal, tversky, recommended-dice"),
    (['predict', '/no/such/model.json', '/no/such/scene.png'], 'seg-imbalance predict: model file /no/such/model.json not found'),
])
def test_other_commands_fail_clearly(tmp_path, args, msg):
    "Bad arguments of train, ablate and predict end in one line naming the problem, and leave no output folder"
    from seg_imbalance.cli import main
    with pytest.raises(SystemExit) as e: main([*args, '--out', str(tmp_path / 'out')])
    assert msg in str(e.value)
    assert not (tmp_path / 'out').exists() # no empty output folder left behind
