"`seg-imbalance train` survives a kill: checkpoint, SIGKILL, `--resume`, and the same model as an uninterrupted run."
import json, os, signal, subprocess, sys, time, importlib.util
from pathlib import Path
import pandas as pd, pytest, torch

EXE = Path(sys.executable).parent / 'seg-imbalance'
ENV = {**os.environ, 'NO_ALBUMENTATIONS_UPDATE': '1', 'MPLBACKEND': 'Agg', 'OMP_WAIT_POLICY': 'PASSIVE'}
STEPS, EVERY = 12, 2 # 6 epochs of 2 optimiser steps: a checkpoint after each

@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    from seg_imbalance.synth import synth_sceneset
    from seg_imbalance.io import save_scene_folder
    d = tmp_path_factory.mktemp('resume') / 'scenes'
    save_scene_folder(synth_sceneset(4, 128, seed=3), d)
    return d

def train_args(scenes, out, *more):
    return [str(EXE), 'train', str(scenes), '--recipe', 'baseline', '--size', '64', '--bs', '4', '--steps', str(STEPS),
            '--checkpoint-every', str(EVERY), '--valid-pct', '0.25', '--seed', '5', '--out', str(out), *more]

def run(args):
    r = subprocess.run(args, capture_output=True, text=True, timeout=300, env=ENV)
    assert r.returncode == 0, r.stderr[-3000:]
    return r

def test_killed_run_resumes_to_the_same_model(scenes, tmp_path):
    assert 'Resumed from' not in run(train_args(scenes, tmp_path / 'full')).stdout
    p = subprocess.Popen(train_args(scenes, tmp_path / 'killed'), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=ENV)
    ck = tmp_path / 'killed' / 'checkpoint.pth'
    while not ck.exists() and p.poll() is None: time.sleep(0.02)
    p.send_signal(signal.SIGKILL); p.wait()
    assert p.returncode == -signal.SIGKILL, 'the run ended before it could be killed'
    done = torch.load(ck, weights_only=False)
    assert 1 <= done['epoch'] < STEPS // EVERY and done['steps'] == done['epoch'] * EVERY
    assert not (tmp_path / 'killed' / 'summary.json').exists()
    assert f"Resumed from {tmp_path / 'killed' / 'checkpoint.pth'}" in run(train_args(scenes, tmp_path / 'killed', '--resume')).stdout
    full, res = (torch.load(tmp_path / d / 'checkpoint.pth', weights_only=False) for d in ('full', 'killed'))
    assert full['steps'] == res['steps'] == STEPS and res['epoch'] == STEPS // EVERY
    # deterministic on the CPU (set_seed(reproducible=True), num_workers=0, random states restored): bit for bit
    for k, v in full['model'].items(): assert torch.equal(v, res['model'][k]), k
    hf, hr = (pd.read_csv(tmp_path / d / 'history.csv') for d in ('full', 'killed'))
    pd.testing.assert_frame_equal(hf, hr)
    sf, sr = (json.loads((tmp_path / d / 'summary.json').read_text()) for d in ('full', 'killed'))
    assert sf['steps'] == sr['steps'] == STEPS and sf['mIoU'] == sr['mIoU'] and sr['resumed']

def test_history_csv_and_held_back_part_in_the_summary(scenes, tmp_path):
    run(train_args(scenes, tmp_path, '--eval-every-epoch'))
    h = pd.read_csv(tmp_path / 'history.csv')
    assert h.epoch.tolist() == list(range(STEPS // EVERY)) and h.steps.tolist() == list(range(EVERY, STEPS + 1, EVERY))
    assert {'train_loss', 'heldback_mIoU', 'heldback_rare_mIoU', 'heldback_IoU_car'} <= set(h.columns)
    assert h.train_loss.notna().all() and h.heldback_mIoU.between(0, 1).all()
    s = json.loads((tmp_path / 'summary.json').read_text())
    assert s['holdback']['level'] == 'block' and len(s['holdback']['regions']) == 3 # 3 training scenes: a band each
    assert not set(s['valid_scenes']) & {r['scene'] for r in s['holdback']['regions']}

def test_resume_refuses_another_run(scenes, tmp_path):
    run(train_args(scenes, tmp_path))
    a = train_args(scenes, tmp_path, '--resume'); a[a.index('--seed') + 1] = '6'
    r = subprocess.run(a, capture_output=True, text=True, timeout=300, env=ENV)
    assert r.returncode != 0 and 'belongs to another run' in r.stderr and 'seed' in r.stderr

def test_tensorboard_logging(scenes, tmp_path):
    r = subprocess.run(train_args(scenes, tmp_path, '--log', 'tensorboard'), capture_output=True, text=True,
                       timeout=300, env=ENV)
    if importlib.util.find_spec('tensorboard') is None:
        assert r.returncode != 0 and 'pip install tensorboard' in r.stderr
    else:
        assert r.returncode == 0, r.stderr[-3000:]
        assert any((tmp_path / 'tensorboard').glob('events.out.tfevents.*'))
