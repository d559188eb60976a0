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
    import torch; assert s['threads'] == torch.get_num_threads()                 # runs side by side record their threads
    from seg_imbalance.ablate import _device, _provenance
    assert s['device'] == _device() and s['commit'] == _provenance()['commit']   # which runs may be paired
    from importlib.metadata import version; assert s['versions']['torch'] == version('torch')
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

def test_train_holds_back_whole_groups(tmp_path, capsys):
    "--holdback-groups: the held-back scenes are whole groups of the names, and no training scene shares a group"
    from seg_imbalance.synth import synth_sceneset
    from seg_imbalance.io import scenes_from_arrays, save_scene_folder
    ss = synth_sceneset(9, 64, seed=3)
    names = [f'{q}_{i}' for q in 'ABC' for i in range(3)]
    save_scene_folder(scenes_from_arrays([s.read_image() for s in ss], [s.read_mask() for s in ss], ss.codes, names=names),
                      tmp_path / 'scenes')
    (tmp_path / 'scenes' / 'splits.csv').write_text('file,split\n' + ''.join(
        f"{n}.png,{'val' if n == 'C_2' else 'train'}\n" for n in names))
    out = tmp_path / 'run'
    args = ['train', str(tmp_path / 'scenes'), '--recipe', 'baseline', '--steps', '2', '--size', '32', '--bs', '4',
            '--holdback', '0.3', '--holdback-groups', '^([A-Z])_', '--out', str(out)]
    assert main(args) == 0
    s = json.loads((out / 'summary.json').read_text())
    hb, valid = s['holdback'], s['valid_scenes']
    from seg_imbalance.io import read_scene_folder
    got = [sc.name for sc in read_scene_folder(tmp_path / 'scenes')]                 # the folder's scene order
    held = {got[i] for i in hb['scenes']}
    assert len(hb['groups']) == 1 and held == {n for n in got if n[0] == hb['groups'][0]} - {got[i] for i in valid}
    assert f"groups {hb['groups']}" in capsys.readouterr().out
    import pytest
    with pytest.raises(SystemExit, match="does not match its name"):
        main([a if a != '^([A-Z])_' else '^Z' for a in args[:-1]] + [str(tmp_path / 'run2')])

def test_train_search_keeps_the_searchs_calibration(tmp_path, monkeypatch):
    "`train --recipe search` stores the biases the search's final measurement fitted on the returned model: no second fit"
    import seg_imbalance.fit as fit
    calls, real = [], fit.calibrate_heldback
    monkeypatch.setattr(fit, 'calibrate_heldback', lambda *a, **k: calls.append(k) or real(*a, **k)) # the one `train` imports
    out = tmp_path / 'run'
    assert main(['train', 'demo', '--recipe', 'search', '--steps', '8', '--size', '64', '--bs', '4', '--out', str(out)]) == 0
    assert calls == []
    s = json.loads((out / 'summary.json').read_text())
    info = json.loads((out / 'model.json').read_text())['seg_info']
    assert len(s['calibration']['biases']) == len(info['codes']) and np.allclose(info['calibration'], s['calibration']['biases'])
    assert (out / 'calibration.csv').exists()

def test_train_calibration_shrink(tmp_path, capsys):
    "`--calibration-shrink`: the stored biases are the full fit scaled by the cross-fitted share, recorded in summary.json"
    runs = {}
    for name, extra in (('full', []), ('shrunk', ['--calibration-shrink'])):
        out = tmp_path / name
        assert main(['train', 'demo', '--steps', '6', '--size', '64', '--bs', '4', '--out', str(out), '--recipe', 'baseline']
                    + extra) == 0
        runs[name] = json.loads((out / 'summary.json').read_text())['calibration']
    printed = capsys.readouterr().out
    full, shr = runs['full'], runs['shrunk']
    assert full['crossfit'] is not None and np.any(full['biases']) # six steps leave biases to fit (the seed is fixed)
    assert full['crossfit']['applied'] == 1 and full['crossfit']['folds'] == 2 and 'cross-fitted on 2 runs' in printed
    t = shr['crossfit']['share']
    assert shr['crossfit']['applied'] == t and t == full['crossfit']['share'] # the same fits: same samples, same seed
    assert np.allclose(shr['biases'], t * np.asarray(full['biases']))
    shares = [r['share'] for r in full['crossfit']['table']]
    assert shares == sorted(shares) and shares[0] == 0 and shares[-1] == 1

def test_train_one_heldback_scene_crossfits_by_bands(tmp_path, capsys):
    "One held-back scene (`--holdback 0.1` on the demo's ten training scenes): its two bands are the cross-fit's folds"
    out = tmp_path / 'lone'
    assert main(['train', 'demo', '--steps', '6', '--size', '64', '--bs', '4', '--out', str(out), '--recipe', 'baseline',
                 '--holdback', '0.1']) == 0
    s = json.loads((out / 'summary.json').read_text())
    assert len(s['holdback']['scenes']) == 1
    cf = s['calibration']['crossfit']
    assert cf is not None and cf['by'] == 'bands' and cf['folds'] == 2
    assert 'cross-fitted on 2 bands of the held-back scene' in capsys.readouterr().out
