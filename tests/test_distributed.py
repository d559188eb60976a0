"""Samplers under torch.distributed: two CPU processes on the gloo backend.

Every rank must draw a disjoint share of the same weighted epoch (seed + epoch), as a plain torch `Sampler` and through
fastai's `DistributedDL` (what `learn.distrib_ctx()` wraps loaders in)."""
import gc, json, os, socket, sys
from pathlib import Path
import numpy as np, pytest, torch
import torch.distributed as dist
import torch.multiprocessing as mp
from seg_imbalance.sample import WeightedSampler, DistributedWeightedSampler

WORLD, N, SEED = 2, 37, 3                          # 37 draws per epoch: odd, so the share of 2 ranks needs padding
WEIGHTS = np.r_[np.full(10, 5.), np.ones(40)]      # 50 patches, the first ten favoured

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _init(rank, port):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), GLOO_SOCKET_IFNAME='lo')
    dist.init_process_group('gloo', rank=rank, world_size=WORLD)

def _torch_worker(rank, port, out):
    _init(rank, port)
    try:
        s = DistributedWeightedSampler(WEIGHTS, N, seed=SEED)   # num_replicas and rank from the process group
        res = {'num_replicas': s.num_replicas, 'rank': s.rank, 'len': len(s)}
        for e in (0, 1):
            s.set_epoch(e)
            res[f'positions{e}'], res[f'items{e}'] = s.positions().tolist(), list(s)
            dl = torch.utils.data.DataLoader(range(len(WEIGHTS)), sampler=s, batch_size=4)
            res[f'loader{e}'] = torch.cat(list(dl)).tolist()
        with open(os.path.join(out, f'rank{rank}.json'), 'w') as f: json.dump(res, f)
    finally: _teardown()

def _teardown():
    "Barrier, destroy, and check the group is really gone: a group that outlives `destroy_process_group` keeps its gloo threads"
    # Alive gloo threads at interpreter exit abort the process now and then ("terminate called without an active
    # exception"). Importing torch._dynamo (fastai.vision, torchvision) *after* `init_process_group` leaves references to
    # the group in import-time caches, so import before `_init`; this check turns a rare abort into a plain failure.
    pg = dist.distributed_c10d._get_default_group()
    dist.barrier(); dist.destroy_process_group(); gc.collect()
    held = sys.getrefcount(pg) - 2; del pg                 # 2: `pg` and getrefcount's argument
    assert held == 0, f"{held} references keep the process group (and its gloo threads) alive after destroy_process_group"

# targets and predictions of the metric check: rank r holds rows r::2 of one batch
TARG = np.array([[0, 0, 1, 2], [2, 2, 1, 0], [1, 1, 1, 0], [0, 2, 2, 2]])
PRED = np.array([[0, 1, 1, 2], [2, 0, 1, 0], [1, 1, 0, 0], [0, 2, 1, 2]])

def _fastai_worker(rank, port, out):
    from fastai.distributed import DistributedDL          # imports before `_init` (see `_teardown`)
    from seg_imbalance.data import SamplerDL, batch_items
    from seg_imbalance.sample import ClassBalancedBatchSampler
    from seg_imbalance.metrics import all_reduce_sum as _all_sum
    from seg_imbalance.recipes import _gloo_broadcast
    from types import SimpleNamespace
    from seg_imbalance.metrics import MeanIoU, ClassIoU
    _init(rank, port)
    try:
        class GlooDistributedDL(DistributedDL):
            "fastai broadcasts rank 0's epoch as a CUDA tensor (nccl); the library's broadcast (`distributed_fit`) for gloo"
            _broadcast = _gloo_broadcast

        res = {}
        pres = np.zeros((len(WEIGHTS), 2), bool); pres[48, 0] = pres[49, 1] = True
        samplers = {'weighted': WeightedSampler(WEIGHTS, N, SEED),
                    'balanced': ClassBalancedBatchSampler(WEIGHTS, pres, 4, N, SEED, num_replicas=WORLD)}
        for name, sampler in samplers.items():
            ddl = GlooDistributedDL(SamplerDL(list(range(len(WEIGHTS))), bs=4, shuffle=True, sampler=sampler, num_workers=0),
                                    rank=rank, world_size=WORLD)
            for e in (0, 1):
                batches = [b.tolist() for b in ddl]
                recorded = [batch_items(ddl, i, table_positions=False).tolist() for i in range(len(batches))]
                res[f'{name}{e}'], res[f'{name}_recorded{e}'], res[f'{name}_len{e}'] = batches, recorded, len(ddl)
        res['all_sum'] = [a.tolist() for a in _all_sum(np.array([rank + 1., 2.]), np.array([float(rank)]))]
        mets = [MeanIoU(3), ClassIoU(2, 3)]
        for m in mets:
            m.reset()
            for i in range(rank, len(TARG), WORLD):   # this rank's share of the validation batches
                logits = torch.nn.functional.one_hot(torch.tensor(PRED[i:i + 1]), 3).permute(0, 2, 1).float()[..., None]
                m.accumulate(SimpleNamespace(pred=logits, y=torch.tensor(TARG[i:i + 1])[..., None]))
        res['metrics'] = [m.value for m in mets]; res['cm'] = mets[0].cm.tolist()
        with open(os.path.join(out, f'rank{rank}.json'), 'w') as f: json.dump(res, f)
    finally: _teardown()

def _spawn(fn, out) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    mp.spawn(fn, args=(_free_port(), str(out)), nprocs=WORLD, join=True)
    return [json.loads((out / f'rank{r}.json').read_text()) for r in range(WORLD)]

def test_distributed_weighted_sampler(tmp_path):
    runs = [_spawn(_torch_worker, tmp_path / f'run{k}') for k in range(2)]
    ranks = runs[0]
    assert runs[0] == runs[1], "same seed, different draws across reruns"
    assert [(r['num_replicas'], r['rank'], r['len']) for r in ranks] == [(2, 0, 19), (2, 1, 19)]
    for e in (0, 1):
        full = np.resize(WeightedSampler(WEIGHTS, N, SEED).draw(e), 38)   # the epoch draw, padded to a multiple of 2
        pos = [r[f'positions{e}'] for r in ranks]
        assert not set(pos[0]) & set(pos[1]) and sorted(pos[0] + pos[1]) == list(range(38))
        for r in ranks: assert r[f'items{e}'] == full[r[f'positions{e}']].tolist() == r[f'loader{e}']
        joined = np.empty(38, int)
        for r in ranks: joined[r[f'positions{e}']] = r[f'items{e}']
        assert (joined == full).all()
    assert ranks[0]['items0'] != ranks[0]['items1'] and ranks[1]['items0'] != ranks[1]['items1']

def test_fastai_distributed_dl(tmp_path):
    pytest.importorskip('accelerate', reason="fastai.distributed needs accelerate")
    ranks = _spawn(_fastai_worker, tmp_path)
    for e in (0, 1):
        full = np.resize(WeightedSampler(WEIGHTS, N, SEED).draw(e), 38)
        shares = [sum(r[f'weighted{e}'], []) for r in ranks]
        assert shares[0] == full[:19].tolist() and shares[1] == full[19:].tolist()   # contiguous, disjoint, the whole draw
        for r in ranks:
            assert r[f'weighted_recorded{e}'] == r[f'weighted{e}'] and r[f'balanced_recorded{e}'] == r[f'balanced{e}']
            assert r[f'weighted_len{e}'] == 5 and r[f'balanced_len{e}'] == 5
            assert all(48 in b and 49 in b and len(b) == 4 for b in r[f'balanced{e}'])
    assert ranks[0]['weighted0'] != ranks[0]['weighted1']
    assert ranks[0]['balanced0'] != ranks[1]['balanced0']
    assert ranks[0]['all_sum'] == ranks[1]['all_sum'] == [[3., 4.], [1.]]
    from seg_imbalance.metrics import confusion, summary, per_class_iou
    cm = confusion(torch.tensor(PRED), torch.tensor(TARG), 3)          # the whole validation set in one process
    for r in ranks:                                                    # every rank reports the metric of all batches
        assert r['cm'] == cm.tolist()
        assert r['metrics'] == pytest.approx([summary(cm)['mIoU'], float(per_class_iou(cm)[2])])

def _train(tmp_path, out, nproc):
    import subprocess, sys, shutil
    exe = shutil.which('seg-imbalance') or str(Path(sys.executable).parent / 'seg-imbalance')
    (tmp_path / 'tiny.toml').write_text('base = "baseline"\nlr = 1e-6\n')
    args = ['train', 'demo', '--size', '32', '--steps', '4', '--bs', '4', '--recipe', str(tmp_path / 'tiny.toml'),
            '--out', str(tmp_path / out)]
    cmd = ([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(nproc), '--master_port',
            str(_free_port()), exe] if nproc > 1 else [exe]) + args
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p.stdout, json.loads((tmp_path / out / 'summary.json').read_text()), (tmp_path / out / 'per_class.csv').read_text()

def test_train_command_on_two_processes(tmp_path):
    "`seg-imbalance train` under torchrun, 2 CPU processes on gloo: one report, half the steps, the 1-process table"
    pytest.importorskip('accelerate', reason="fastai.distributed needs accelerate")
    import pandas as pd, io
    out2, s2, t2 = _train(tmp_path, 'two', 2)
    out1, s1, t1 = _train(tmp_path, 'one', 1)
    assert s2['processes'] == 2 and s1['processes'] == 1
    assert s2['steps'] * 2 == s1['steps']                       # each process a disjoint half of every epoch
    assert out2.count('Whole evaluation scenes') == 1           # rank 0 alone measures and reports
    a, b = (pd.read_csv(io.StringIO(t), index_col=0) for t in (t1, t2))
    assert list(a.index) == list(b.index)
    assert np.allclose(a['pixels %'], b['pixels %'])           # the same whole validation scenes, each pixel once
    # near-initial models (lr 1e-6): the tables differ only through batch-norm statistics of other batches
    assert abs(s1['mIoU'] - s2['mIoU']) < 0.1, (s1['mIoU'], s2['mIoU'])
