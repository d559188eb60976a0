"`seg-imbalance train` calibrates on the held-back part, stores the biases with both model files, and warns."
import json
import numpy as np
from seg_imbalance.cli import main

def test_train_calibrates_and_writes_model_files(tmp_path, capsys):
    out = tmp_path / 'run'
    assert main(['train', 'demo', '--steps', '6', '--size', '64', '--bs', '4', '--out', str(out), '--recipe', 'baseline']) == 0
    printed = capsys.readouterr().out
    s = json.loads((out / 'summary.json').read_text())
    assert s['holdback']['level'] == 'scene' and s['holdback']['scenes']
    assert not set(s['holdback']['scenes']) & set(s['valid_scenes'])            # three splits, never mixed
    cal = s['calibration']
    codes = json.loads((out / 'model.json').read_text())['seg_info']['codes']
    assert len(cal['biases']) == len(codes)
    assert cal['miou_after'] >= cal['miou_before'] - 1e-9                      # never lowers mIoU on the data it was fitted on
    assert (out / 'calibration.csv').exists() and 'calibrated on the held-back part' in printed
    from seg_imbalance.predict import load_model
    m = load_model(out / 'model')                                              # safetensors + JSON, no pickle
    assert np.allclose(m.seg_info.calibration, cal['biases'])
    from fastai.learner import load_learner
    assert np.allclose(load_learner(out / 'model.pkl').seg_info.calibration, cal['biases'])
    assert isinstance(s['warnings'], list) and ('WARNING over-correction' in printed) == bool(s['warnings'])

def test_train_without_calibration(tmp_path):
    out = tmp_path / 'run'
    assert main(['train', 'demo', '--steps', '4', '--size', '64', '--bs', '4', '--out', str(out), '--recipe', 'baseline',
                 '--no-calibration']) == 0
    s = json.loads((out / 'summary.json').read_text())
    assert s['calibration'] is None and not (out / 'calibration.csv').exists()
    assert json.loads((out / 'model.json').read_text())['seg_info']['calibration'] is None
