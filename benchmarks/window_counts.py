"""Benchmark `stats.window_counts` against a per-window `np.bincount` loop and one whole-mask `np.bincount`.

    python benchmarks/window_counts.py                 # 2,000², 5,000², 10,000² masks, 8 classes, 128 px at stride 8
    python benchmarks/window_counts.py --sides 2000    # a quick run

For each mask it prints the time of `window_counts`, of the loop (run in full when it would take under
`--loop-budget` seconds, else on a random sample of windows and extrapolated), and of the floor — one
`np.bincount` over the whole mask — with ratios; the peak memory that `window_counts` allocates (tracemalloc,
numpy allocations beyond the input mask) and, for the largest mask, the peak resident memory (ru_maxrss) of a
fresh process that makes the mask and counts its windows. Goals: >= 50x faster than the loop, <= 3x the floor,
peak memory for the 10,000² mask < 2 GB. The sampled loop windows are also checked against `window_counts`.
"""
import argparse, resource, subprocess, sys, time, tracemalloc
import numpy as np
from seg_imbalance.stats import window_counts


def make_mask(side: int, n_classes: int, seed: int = 0) -> np.ndarray:
    "Blocky label map (37 px blocks, not aligned to the windows) with 2 % salt-and-pepper pixels, uint8"
    rng = np.random.default_rng(seed)
    nb = -(-side // 37)
    m = np.repeat(np.repeat(rng.integers(0, n_classes, (nb, nb), dtype=np.uint8), 37, 0), 37, 1)[:side, :side]
    m = np.ascontiguousarray(m)
    k = side * side // 50
    m.reshape(-1)[rng.integers(0, side * side, k)] = rng.integers(0, n_classes, k, dtype=np.uint8)
    return m


def best_time(f, repeat: int) -> float:
    ts = []
    for _ in range(repeat):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return min(ts)


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


def peak_rss_mb() -> float:
    "Peak resident memory of this process in MB: VmHWM (Linux; ru_maxrss would include the parent's peak, kept across exec)"
    try:
        for line in open('/proc/self/status'):
            if line.startswith('VmHWM:'): return int(line.split()[1]) / 1024
    except OSError: pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(side, n_classes, size, stride):
    "Run in a fresh process: make the mask, count its windows, print peak RSS in MB before and after counting"
    m = make_mask(side, n_classes)
    before = peak_rss_mb()
    window_counts(m, n_classes, size, stride)
    print(before, peak_rss_mb())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--sides', type=int, nargs='+', default=[2000, 5000, 10000])
    p.add_argument('--classes', type=int, default=8)
    p.add_argument('--size', type=int, default=128); p.add_argument('--stride', type=int, default=8)
    p.add_argument('--repeat', type=int, default=3)
    p.add_argument('--loop-budget', type=float, default=20., help='run the loop in full below this many seconds')
    p.add_argument('--child', type=int, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child: return child(a.child, a.classes, a.size, a.stride)
    C, size, stride = a.classes, a.size, a.stride
    print(f"{C} classes, {size} px windows at stride {stride}; best of {a.repeat}; numpy {np.__version__}\n")
    print("| mask | windows | window_counts s | loop s | floor s | loop / wc | wc / floor | wc peak MB | floor peak MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for side in a.sides:
        m = make_mask(side, C)
        res = window_counts(m, C, size, stride)
        t_wc = best_time(lambda: window_counts(m, C, size, stride), a.repeat)
        t_floor = best_time(lambda: np.bincount(m.ravel(), minlength=C), a.repeat)
        t_loop, how = loop_time(m, C, size, stride, res, a.loop_budget)
        mem_wc = peak_mb(lambda: window_counts(m, C, size, stride))
        mem_floor = peak_mb(lambda: np.bincount(m.ravel(), minlength=C))
        print(f"| {side:,}² | {res.shape[0] * res.shape[1]:,} | {t_wc:.3f} | {t_loop:.1f} ({how}) | {t_floor:.3f} | "
              f"{t_loop / t_wc:,.0f}× | {t_wc / t_floor:.2f}× | {mem_wc:.0f} | {mem_floor:.0f} |", flush=True)
        del m, res
    big = max(a.sides)
    out = subprocess.run([sys.executable, __file__, '--child', str(big), '--classes', str(C), '--size', str(size),
                          '--stride', str(stride)], capture_output=True, text=True, check=True)
    before, after = map(float, out.stdout.split())
    print(f"\npeak resident memory (VmHWM) of a fresh process making the {big:,}² mask ({big * big / 2**20:.0f} MB): "
          f"{before:.0f} MB; after counting its windows: {after:.0f} MB")


if __name__ == '__main__': main()
