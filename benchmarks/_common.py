"""What the benchmarks share: the common flags, the device, the run's facts (commit, versions, device), results files,
markdown tables, timing loops and the process's memory. Each benchmark keeps only what it measures.

    from _common import parser, device, run_info, write_results, print_table, timeit, interleaved

(the scripts run as `python benchmarks/NAME.py`, so `benchmarks/` is on `sys.path`)
"""
from __future__ import annotations
import argparse, csv, datetime, importlib.metadata, json, math, os, platform, resource, socket, subprocess, sys, time
from pathlib import Path
from seg_imbalance.ablate import cpu_name # the CPU with its family, model and vector unit: one name, as `ablate` records it

ROOT = Path(__file__).resolve().parents[1]   # the repository root
RESULTS = ROOT/'nbs'/'results'               # where the results files the notebooks read live


def parser(description:str, quick:str|None=None, out:str|None=None, repeats:int|None=None, seeds:list[int]|None=None,
           out_help:str|None=None) -> argparse.ArgumentParser:
    "An `ArgumentParser` with the shared flags: `--quick` (help `quick`), `--out` (default `out`), `--repeats`, `--seeds`"
    p = argparse.ArgumentParser(description=description.strip().splitlines()[0])
    if quick is not None: p.add_argument('--quick', action='store_true', help=quick)
    p.add_argument('--out', default=out, help=out_help or
                   f"results file ({'default ' + str(out) if out else 'default: none'}; '' writes none)")
    if repeats is not None: p.add_argument('--repeats', '--repeat', type=int, default=repeats, help='timed repeats or rounds')
    if seeds is not None: p.add_argument('--seeds', type=int, nargs='+', default=seeds)
    return p


def device(arg:str|None=None) -> str:
    "The device a benchmark runs on: `arg`, or 'cuda' when a GPU is present, else 'cpu'"
    if arg: return str(arg)
    import torch
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def device_name(dev:str='cpu') -> str:
    "What `dev` is: the GPU's name for a CUDA device, the CPU's model name otherwise"
    if str(dev).startswith('cuda'):
        import torch
        return torch.cuda.get_device_name(torch.device(dev))
    return cpu_name()


def _git(*args) -> str|None:
    try: p = subprocess.run(['git', *args], cwd=ROOT, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError): return None
    return p.stdout.strip() if p.returncode == 0 else None


def _version(pkg:str) -> str|None:
    try: return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError: return None


def run_info(dev:str='cpu') -> dict:
    "The facts of this run: command, commit (and whether the tree is dirty), versions, device, threads, host, date"
    import torch
    status = _git('status', '--porcelain', '--untracked-files=no')
    return dict(command=' '.join(['python', os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
                commit=_git('rev-parse', 'HEAD'), dirty=None if status is None else bool(status),
                python=platform.python_version(), torch=torch.__version__, fastai=_version('fastai'),
                smp=_version('segmentation_models_pytorch'), numpy=_version('numpy'),
                device=str(dev), device_name=device_name(dev), cpu=cpu_name(), cpu_count=os.cpu_count(),
                threads=torch.get_num_threads(), hostname=socket.gethostname(),
                date=datetime.datetime.now().astimezone().isoformat(timespec='seconds'))


def _plain(v):
    "`v` as JSON can hold it (numpy and torch scalars, arrays, paths, NaN as null)"
    if hasattr(v, 'tolist'): v = v.tolist()
    if isinstance(v, dict): return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)): return [_plain(x) for x in v]
    if isinstance(v, float) and math.isnan(v): return None
    if isinstance(v, Path): return str(v)
    return v


def write_results(path:str|Path|None, results:dict|list[dict], info:dict) -> Path|None:
    "Write `results` to `path` with the run's facts `info`: `.json` → the dict plus `run` (a list → `rows`); `.csv` → rows plus info's columns"
    if not path: return None
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == '.csv':
        rows = [{**r, **{k: v for k, v in info.items() if k not in r}} for r in results]
        with open(path, 'w', newline='') as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0])); w.writeheader(); w.writerows(rows)
    else:
        res = {'rows': results} if isinstance(results, list) else dict(results)
        path.write_text(json.dumps(_plain({**res, 'run': info}), indent=1) + '\n')
    print('wrote', path, flush=True)
    return path


def jsonl_records(path:str|Path) -> tuple[Path, list[dict]]:
    "A resumable results file: its path (folder made) and the records already in it (one JSON object a line)"
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
    return path, [json.loads(l) for l in path.read_text().splitlines() if l.strip()] if path.exists() else []


def append_record(path:Path, rec:dict, recs:list) -> None:
    "Append `rec` to the results file at once (a killed run loses only the record in progress) and to `recs`"
    with Path(path).open('a') as f: f.write(json.dumps(rec, default=float) + '\n')
    recs.append(rec)


def _cell(v) -> str:
    if isinstance(v, bool) or v is None: return '' if v is None else str(v)
    if isinstance(v, int): return f'{v:,}'
    if isinstance(v, float):
        if math.isnan(v): return ''
        return f'{v:,.0f}' if abs(v) >= 1000 else f'{v:.3g}'
    if hasattr(v, 'item') and getattr(v, 'ndim', 1) == 0: return _cell(v.item())
    return str(v)


def markdown(rows, columns:list[str]|None=None) -> str:
    "A markdown table of `rows` (dicts, or a DataFrame whose index becomes the first column); floats to 3 significant digits"
    if hasattr(rows, 'to_dict'):
        name = rows.index.name or ''
        rows = [{name: i, **r} for i, r in zip(rows.index, rows.to_dict('records'))]
    rows = list(rows)
    if not rows: return '(no rows)'
    cols = columns or list(dict.fromkeys(k for r in rows for k in r))
    return '\n'.join(['| ' + ' | '.join(cols) + ' |', '|' + '---|' * len(cols)] +
                     ['| ' + ' | '.join(_cell(r.get(c)) for c in cols) + ' |' for r in rows])


def print_table(rows, columns:list[str]|None=None, title:str|None=None):
    "Print `rows` as a markdown table (see `markdown`), under `title` when given"
    if title: print(f'\n{title}\n')
    print(markdown(rows, columns), flush=True)


def _sync(dev:str|None):
    if dev and str(dev).startswith('cuda'):
        import torch
        torch.cuda.synchronize(torch.device(dev))


def timeit(fn, repeats:int=5, warmup:int=1, dev:str|None=None) -> list[float]:
    "Wall seconds of each of `repeats` calls of `fn` after `warmup` untimed calls (CUDA synchronised when `dev` is one)"
    for _ in range(warmup): fn()
    ts = []
    for _ in range(repeats):
        _sync(dev); t = time.perf_counter(); fn(); _sync(dev); ts.append(time.perf_counter() - t)
    return ts


def interleaved(fns:dict, repeats:int, warmup:int=1, rotate:bool=False, progress:bool=False) -> dict[str, list[float]]:
    "Wall seconds of each function of `fns`, the functions taking turns each round so that outside load hits all alike"
    for _ in range(warmup):
        for f in fns.values(): f()
    names, times = list(fns), {k: [] for k in fns}
    for r in range(repeats):
        for k in (names[r % len(names):] + names[:r % len(names)] if rotate else names):
            t = time.perf_counter(); fns[k](); times[k].append(time.perf_counter() - t)
        if progress: print(f"  round {r + 1}/{repeats}: " + ', '.join(f"{k} {v[-1]:.2f}s" for k, v in times.items()), flush=True)
    return times


def rss_mb() -> float:
    "This process's resident memory now, MB (VmRSS)"
    with open('/proc/self/statm') as f: return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def peak_rss_mb() -> float:
    "This process's peak resident memory, MB: VmHWM (ru_maxrss, which keeps the parent's peak across exec, where /proc is missing)"
    try:
        for line in open('/proc/self/status'):
            if line.startswith('VmHWM:'): return int(line.split()[1]) / 1024
    except OSError: pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def clocks():
    "Wall and process CPU seconds (all threads) now, as a numpy array (subtract two to time a span)"
    import numpy as np
    return np.array([time.perf_counter(), time.process_time()])

def timed_module(m):
    "`m` wrapped so that `.t` adds up the wall and CPU seconds spent in its forward"
    import numpy as np
    from torch import nn
    class Timed(nn.Module):
        def __init__(self, m): super().__init__(); self.m, self.t = m, np.zeros(2)
        def forward(self, x):
            t = clocks(); y = self.m(x); self.t += clocks() - t
            return y
    return Timed(m)
