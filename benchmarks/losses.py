"""Speed and memory of seg_imbalance's losses against their segmentation_models_pytorch counterparts.

Run: `python benchmarks/losses.py` (or `--quick` for a short run; `--out FILE.json` writes the rows with the run's
commit, versions and device). Prints one row per loss: median forward+backward time over the repeats, and peak
memory, ours and SMP's measured in the same run, and the ratios ours/SMP.

What is measured
- time: wall-clock of `loss(inp, targ).backward()` on logits `(N, C, H, W)` float32 that require grad, median of
  `--repeats` runs after one warm-up; ours and SMP's runs alternate so that load from other processes hits both.
- memory: peak bytes held by tensors *allocated during* one forward+backward (torch profiler's allocation
  timeline, `torch.profiler._memory_profiler.MemoryProfile`: every tensor allocation and free in order, summed, max
  taken). The inputs are excluded; the gradient of the logits (the same for both) is included. This is torch's
  own allocator traffic, not the process RSS (which malloc caching and the imported libraries blur).
On a CPU shared with other jobs, multi-threaded timings of many small ops swing by 10x (threads wait for each
other); `--threads 1` gives steadier ratios.
"""
from __future__ import annotations
import contextlib, os, statistics, sys, warnings
import torch
from _common import parser, run_info, write_results, print_table, interleaved
import segmentation_models_pytorch.losses as smpl
from seg_imbalance.losses import (WeightedCrossEntropy, FocalLoss, DiceLoss, TverskyLoss, FocalTverskyLoss,
                                  LovaszSoftmaxLoss, ComboLoss)

IGN = 255


def make_batch(n, c, h, w, seed=0, ignore_frac=0.02):
    "Logits and imbalanced targets (class i drawn ∝ 2^-i) with a share of ignored pixels"
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=g)
    pri = torch.tensor([2. ** -i for i in range(c)])
    y = torch.multinomial(pri / pri.sum(), n * h * w, replacement=True, generator=g).view(n, h, w)
    y[torch.rand(n, h, w, generator=g) < ignore_frac] = IGN
    return x, y


def pairs(c):
    "(name, ours, SMP counterpart, note)"
    w = torch.linspace(.5, 2., c)
    smp_dice, smp_focal = smpl.DiceLoss('multiclass', ignore_index=IGN), smpl.FocalLoss('multiclass', ignore_index=IGN)
    return [
        ('WeightedCrossEntropy', WeightedCrossEntropy(weight=w, ignore_index=IGN),
         smpl.SoftCrossEntropyLoss(smooth_factor=0., ignore_index=IGN), 'SMP: SoftCrossEntropyLoss, no weights'),
        ('WeightedCrossEntropy(batch)', WeightedCrossEntropy(weight='batch', ignore_index=IGN),
         smpl.SoftCrossEntropyLoss(smooth_factor=0., ignore_index=IGN), 'dynamic weights'),
        ('FocalLoss', FocalLoss(ignore_index=IGN), smp_focal, 'SMP: one-vs-rest sigmoid focal'),
        ('DiceLoss', DiceLoss(ignore_index=IGN), smp_dice, ''),
        ('TverskyLoss', TverskyLoss(ignore_index=IGN), smpl.TverskyLoss('multiclass', ignore_index=IGN, alpha=.3, beta=.7), ''),
        ('FocalTverskyLoss', FocalTverskyLoss(ignore_index=IGN),
         smpl.TverskyLoss('multiclass', ignore_index=IGN, alpha=.3, beta=.7, gamma=4 / 3), 'SMP: γ on the class mean'),
        ('LovaszSoftmaxLoss', LovaszSoftmaxLoss(ignore_index=IGN), smpl.LovaszLoss('multiclass', ignore_index=IGN), ''),
        ('ComboLoss(Dice+Focal)', ComboLoss(DiceLoss(ignore_index=IGN), FocalLoss(ignore_index=IGN)),
         lambda x, y: smp_dice(x, y) + smp_focal(x, y), 'SMP: DiceLoss + FocalLoss'),
    ]


def fwd_bwd(loss, x, y):
    "One forward and backward"
    x.grad = None
    loss(x, y).backward()


@contextlib.contextmanager
def _quiet_stderr():
    "Silence file descriptor 2 (the profiler's C++ logging) for the block"
    sys.stderr.flush(); saved = os.dup(2)
    with open(os.devnull, 'w') as null: os.dup2(null.fileno(), 2)
    try: yield
    finally: os.dup2(saved, 2); os.close(saved)


def peak_bytes(loss, x, y) -> int:
    "Peak bytes of tensors allocated during one forward+backward, from torch profiler's allocation timeline"
    from torch.profiler import profile, ProfilerActivity
    from torch.profiler._memory_profiler import MemoryProfile, Action
    x.grad = None
    with _quiet_stderr(), warnings.catch_warnings(), profile(activities=[ProfilerActivity.CPU], profile_memory=True,
                                            record_shapes=True, with_stack=True) as prof:
        warnings.simplefilter('ignore')
        loss(x, y).backward()
    cur = peak = 0
    for _, action, _, size in MemoryProfile(prof.profiler.kineto_results).timeline:
        if action == Action.CREATE: cur += size
        elif action == Action.DESTROY: cur -= size
        peak = max(peak, cur)
    x.grad = None
    return peak


def main(argv=None):
    ap = parser(__doc__, quick='2 repeats at (4, 6, 128, 128)', repeats=7)
    ap.add_argument('--shape', type=int, nargs=4, default=[16, 6, 256, 256], metavar=('N', 'C', 'H', 'W'))
    ap.add_argument('--only', default='', help='run only rows whose name contains this')
    ap.add_argument('--threads', type=int, default=0, help='torch threads (default: torch\'s choice); 1 resists load from other processes')
    a = ap.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    shape, reps = (([4, 6, 128, 128], 2) if a.quick else (a.shape, a.repeats))
    x, y = make_batch(*shape)
    x.requires_grad_()
    print(f"inp {tuple(x.shape)} float32, targ imbalanced with {(y == IGN).float().mean():.1%} ignored; "
          f"{torch.get_num_threads()} threads; median of {reps} fwd+bwd; memory = peak bytes allocated during fwd+bwd")
    rows = []
    for name, ours, smp, note in pairs(shape[1]):
        if a.only and a.only not in name: continue
        t = interleaved({'ours': lambda: fwd_bwd(ours, x, y), 'smp': lambda: fwd_bwd(smp, x, y)}, reps, warmup=1)
        mo, ms = peak_bytes(ours, x, y), peak_bytes(smp, x, y)
        to, ts = statistics.median(t['ours']) * 1e3, statistics.median(t['smp']) * 1e3
        rows.append({'loss': name, 'ours ms': to, 'SMP ms': ts, 'time ratio': to / ts, 'ours MiB': mo / 2**20,
                     'SMP MiB': ms / 2**20, 'mem ratio': mo / ms, 'note': note})
        print(f"{name}: ours {to:.1f} ms, SMP {ts:.1f} ms", flush=True)
    print_table(rows)
    write_results(a.out, dict(shape=shape, repeats=reps, ignored=float((y == IGN).float().mean()), rows=rows), run_info('cpu'))


if __name__ == '__main__':
    main()
