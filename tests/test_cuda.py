"""Checks that need a CUDA GPU: mixed-precision training steps, whole-scene prediction on the GPU against the CPU, and
the distributed weighted sampler under NCCL (two GPUs). Skipped, with the reason shown by `pytest -rs`, without CUDA.

Run on a GPU machine: `python -m pytest tests/test_cuda.py -q -rs`."""
import json, os, socket
import numpy as np, pytest, torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)")

from seg_imbalance.synth import synth_sceneset
from seg_imbalance.crop import tile
from seg_imbalance.data import patch_dataloaders
from seg_imbalance.learner import seg_learner
from seg_imbalance.models import AutocastCallback
from seg_imbalance.interpret import predict_scene

@pytest.fixture(scope='module')
def data():
    scenes = synth_sceneset(4, 128, seed=0)
    return scenes, tile(scenes, 64)

def _learner(data, cbs=None):
    scenes, table = data
    dls = patch_dataloaders(table, scenes, bs=4, valid_scenes=[3], seed=0, device=torch.device('cuda'))
    return seg_learner(dls, encoder_name='resnet18', cbs=cbs)

def _params(learn): return [p.detach().clone() for p in learn.model.parameters()]

def _one_step(learn):
    "Run one training batch (as fastai does) and return the loss; the loss must be float32 and finite"
    learn.fit(1, 1e-3, cbs=[ShortEpoch(1)])
    return float(learn.recorder.losses[-1])

from fastai.callback.core import Callback, CancelEpochException
class ShortEpoch(Callback):
    "Stop the training epoch after `n` batches and skip validation"
    order = 99
    def __init__(self, n:int): self.n = n
    def after_batch(self):
        if self.training and self.iter + 1 >= self.n: raise CancelEpochException()
    def before_validate(self): raise CancelEpochException()

def _check_trains(learn):
    before = _params(learn)
    loss = _one_step(learn)
    assert np.isfinite(loss) and loss > 0, f"loss {loss}"
    changed = sum(not torch.equal(a, b.detach()) for a, b in zip(before, learn.model.parameters()))
    assert changed > len(before) // 2, f"only {changed} of {len(before)} parameter tensors changed"

def test_fp16_step_with_grad_scaler(data):
    learn = _learner(data).to_fp16()
    seen = {}
    class Spy(Callback):
        order = 50
        def after_pred(self): seen['pred'] = self.learn.pred.dtype
    learn.add_cb(Spy())
    _check_trains(learn)
    assert seen['pred'] == torch.float16                      # the forward really ran in float16
    assert next(learn.model.parameters()).dtype == torch.float32 # master weights stay float32

@pytest.mark.skipif(torch.cuda.is_available() and not torch.cuda.is_bf16_supported(), reason="GPU without bfloat16")
def test_bf16_autocast_step(data):
    seen = {}
    class Spy(Callback):
        order = 5 # before AutocastCallback casts the prediction back to float32
        def after_pred(self): seen['pred'] = self.learn.pred.dtype
    learn = _learner(data, cbs=[AutocastCallback('bf16'), Spy()])
    _check_trains(learn)
    assert seen['pred'] == torch.bfloat16

def test_predict_scene_cuda_equals_cpu(data):
    scenes, _ = data
    learn = _learner(data)
    learn.model.eval()
    img = scenes[3].read_image()
    p_gpu = predict_scene(learn, img, size=64, overlap=.25, probs=True, device='cuda')
    p_cpu = predict_scene(learn, img, size=64, overlap=.25, probs=True, device='cpu')
    np.testing.assert_allclose(p_gpu, p_cpu, atol=1e-3)
    l_gpu = predict_scene(learn, img, size=64, overlap=.25, device='cuda')
    l_cpu = predict_scene(learn, img, size=64, overlap=.25, device='cpu')
    close = np.sort(p_cpu, 0)[-1] - np.sort(p_cpu, 0)[-2] < 1e-3    # near-ties may flip between devices
    assert (l_gpu == l_cpu)[~close].all() and (~close).mean() > .9
    assert l_cpu.shape == img.shape[:2] and len(np.unique(l_cpu)) >= 1

# NCCL: two processes, one GPU each, draw disjoint shares of one weighted epoch
WORLD, N, SEED = 2, 37, 3
WEIGHTS = np.r_[np.full(10, 5.), np.ones(40)]

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _nccl_worker(rank, port, out):
    import torch.distributed as dist
    from seg_imbalance.sample import DistributedWeightedSampler
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.cuda.set_device(rank)
    dist.init_process_group('nccl', rank=rank, world_size=WORLD)
    try:
        s = DistributedWeightedSampler(WEIGHTS, N, seed=SEED)
        res = {'num_replicas': s.num_replicas, 'rank': s.rank}
        for e in (0, 1):
            s.set_epoch(e); res[f'items{e}'] = list(s)
            t = torch.tensor(res[f'items{e}'], device='cuda')         # the shares travel over NCCL too
            got = [torch.zeros_like(t) for _ in range(WORLD)]; dist.all_gather(got, t)
            res[f'gathered{e}'] = [g.tolist() for g in got]
        with open(os.path.join(out, f'rank{rank}.json'), 'w') as f: json.dump(res, f)
        dist.barrier()
    finally: dist.destroy_process_group()

@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="the NCCL check needs at least 2 GPUs")
def test_distributed_sampler_nccl(tmp_path):
    import torch.multiprocessing as mp
    from seg_imbalance.sample import WeightedSampler
    mp.spawn(_nccl_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    res = [json.loads((tmp_path/f'rank{r}.json').read_text()) for r in range(WORLD)]
    assert [r['rank'] for r in res] == [0, 1] and all(r['num_replicas'] == WORLD for r in res)
    for e in (0, 1):
        full = WeightedSampler(WEIGHTS, N, SEED).draw(e)
        padded = np.resize(full, 38)
        shares = [r[f'items{e}'] for r in res]
        assert [len(s) for s in shares] == [19, 19]
        assert sorted(np.r_[shares[0], shares[1]].tolist()) == sorted(padded.tolist())   # together: the epoch's draw
        assert shares[0] == padded[0::2].tolist() and shares[1] == padded[1::2].tolist()  # each rank its own positions
        assert res[0][f'gathered{e}'] == res[1][f'gathered{e}'] == shares
    assert res[0]['items0'] != res[0]['items1']                   # the epoch changes the draw
