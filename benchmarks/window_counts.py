"""Benchmark `stats.window_counts` against a per-window `np.bincount` loop and one whole-mask `np.bincount`.

    python benchmarks/window_counts.py                 # 2,000², 5,000², 10,000² masks, 8 classes, 128 px at stride 8
    python benchmarks/window_counts.py --quick         # a quick run: a 2,000² mask
    python benchmarks/window_counts.py --out FILE.json # also write the rows with the run's commit, versions, device

For each mask it prints the time of `window_counts`, of the loop (run in full when it would take under
`--loop-budget` seconds, else on a random sample of windows and extrapolated), and of the floor — one
`np.bincount` over the whole mask — with ratios; the peak memory that `window_counts` allocates (tracemalloc,
numpy allocations beyond the input mask) and, for the largest mask, the peak resident memory (ru_maxrss) of a
fresh process that makes the mask and counts its windows. Goals: >= 50x faster than the loop, <= 3x the floor,
peak memory for the 10,000² mask < 2 GB. The sampled loop windows are also checked against `window_counts`.
"""
import argparse, subprocess, sys, time, tracemalloc
import numpy as np
from seg_imbalance.stats import window_counts
from _common import parser, run_info, write_results, print_table, timeit, peak_rss_mb


def make_mask(side: int, n_classes: int, seed: int = 0) -> np.ndarray:
    "Blocky label map (37 px blocks, not aligned to the windows) with 2 % salt-and-pepper pixels, uint8"
    rng = np.random.default_rng(seed)
    nb = -(-side // 37)
    m = np.repeat(np.repeat(rng.integers(0, n_classes, (nb, nb), dtype=np.uint8), 37, 0), 37, 1)[:side, :side]
    m = np.ascontiguousarray(m)
    k = side * side // 50
    m.reshape(-1)[rng.integers(0, side * side, k)] = rng.integers(0, n_classes, k, dtype=np.uint8)
    return m


def peak_mb(f) -> float:
    "Peak traced allocation (MB) while running `f`, beyond what was allocated before"
    tracemalloc.start(); tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    f()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 2**20


def loop_time(mask, n_classes, size, stride, res, budget, seed=0):
    "Seconds of the per-window bincount loop (full or sampled + extrapolated); checks the windows it computes"
    ys, xs = np.arange(0, mask.shape[0] - size + 1, stride), np.arange(0, mask.shape[1] - size + 1, stride)
    n = len(ys) * len(xs)
    probe = np.random.default_rng(seed).integers(0, n, 200)
    def run(ids):
        for i in ids:
            y, x = ys[i // len(xs)], xs[i % len(xs)]
            c = np.bincount(mask[y:y + size, x:x + size].ravel(), minlength=n_classes)
            if not (c == res[i // len(xs), i % len(xs)]).all(): raise AssertionError(f"window {(y, x)} differs")
    t = time.perf_counter(); run(probe); per = (time.perf_counter() - t) / len(probe)
    if per * n <= budget:
        t = time.perf_counter(); run(range(n)); return time.perf_counter() - t, 'full'
    ids = np.random.default_rng(seed + 1).integers(0, n, max(2000, int(budget / per / 4)))
    t = time.perf_counter(); run(ids); return (time.perf_counter() - t) / len(ids) * n, f'{len(ids):,} sampled'


def child(side, n_classes, size, stride):
    "Run in a fresh process: make the mask, count its windows, print peak RSS in MB before and after counting"
    m = make_mask(side, n_classes)
    before = peak_rss_mb()
    window_counts(m, n_classes, size, stride)
    print(before, peak_rss_mb())


def main():
    p = parser(__doc__, quick='one 2,000² mask', repeats=3)
    p.add_argument('--sides', type=int, nargs='+', default=[2000, 5000, 10000])
    p.add_argument('--classes', type=int, default=8)
    p.add_argument('--size', type=int, default=128); p.add_argument('--stride', type=int, default=8)
    p.add_argument('--loop-budget', type=float, default=20., help='run the loop in full below this many seconds')
    p.add_argument('--child', type=int, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child: return child(a.child, a.classes, a.size, a.stride)
    if a.quick: a.sides = [2000]
    C, size, stride = a.classes, a.size, a.stride
    print(f"{C} classes, {size} px windows at stride {stride}; best of {a.repeats}; numpy {np.__version__}\n")
    rows = []
    for side in a.sides:
        m = make_mask(side, C)
        res = window_counts(m, C, size, stride)
        t_wc = min(timeit(lambda: window_counts(m, C, size, stride), a.repeats, warmup=0))
        t_floor = min(timeit(lambda: np.bincount(m.ravel(), minlength=C), a.repeats, warmup=0))
        t_loop, how = loop_time(m, C, size, stride, res, a.loop_budget)
        mem_wc = peak_mb(lambda: window_counts(m, C, size, stride))
        mem_floor = peak_mb(lambda: np.bincount(m.ravel(), minlength=C))
        rows.append({'mask': f'{side:,}²', 'windows': res.shape[0] * res.shape[1], 'window_counts s': t_wc, 'loop s': t_loop,
                     'loop': how, 'floor s': t_floor, 'loop / wc': t_loop / t_wc, 'wc / floor': t_wc / t_floor,
                     'wc peak MB': mem_wc, 'floor peak MB': mem_floor})
        print(rows[-1], flush=True)
        del m, res
    print_table(rows)
    big = max(a.sides)
    out = subprocess.run([sys.executable, __file__, '--child', str(big), '--classes', str(C), '--size', str(size),
                          '--stride', str(stride)], capture_output=True, text=True, check=True)
    before, after = map(float, out.stdout.split())
    print(f"\npeak resident memory (VmHWM) of a fresh process making the {big:,}² mask ({big * big / 2**20:.0f} MB): "
          f"{before:.0f} MB; after counting its windows: {after:.0f} MB")
    write_results(a.out, dict(classes=C, size=size, stride=stride, repeats=a.repeats, rows=rows,
                              fresh_process=dict(side=big, peak_rss_mb_mask=before, peak_rss_mb_counted=after)), run_info('cpu'))


if __name__ == '__main__': main()
