#!/usr/bin/env python3
"""Write the measured-results block of README.md from the committed results files (never typed by hand).

    python tools/readme_results.py          # rewrite the block between the markers, then tools/readme_to_index.py
    python tools/readme_results.py --check  # exit 1 when the README's block differs from the results files

tests/test_readme.py runs the check, so a results file that grows and a README that does not fail CI.
"""
import json, sys, warnings
from pathlib import Path
import numpy as np, pandas as pd

root = Path(__file__).resolve().parents[1]
BEGIN = '<!-- results: written by `python tools/readme_results.py` from nbs/results; do not edit by hand -->'
END = '<!-- /results -->'

def _f(m, s=None, sign=''):
    return '—' if pd.isna(m) else f'{m:{sign}.3f}' + ('' if s is None or pd.isna(s) else f' ± {s:.3f}')

def _gain(s, c):
    return f"{_f(s[f'{c}_gain_mean'], s[f'{c}_gain_std'], '+')} ({int(s[f'{c}_wins'])}/{int(s[f'{c}_n_paired'])})"

def grid_table(results:Path, baseline:str, anchor:str|None=None) -> tuple[str, dict]:
    "Markdown table (configs by rare-class mIoU) of an ablation results file; facts for the prose"
    from seg_imbalance.ablate import read_results, summarize
    recs = read_results(results); rare = recs[0]['rare']
    s = summarize(recs, baseline=baseline, rare=rare).sort_values('rare_miou_mean', ascending=False)
    a = summarize(recs, baseline=anchor, rare=rare) if anchor in s.index else None
    cols = ['config', 'seeds', 'mIoU', 'rare mIoU', f'Δ mIoU vs {baseline}', f'Δ rare vs {baseline}']
    cols += [f'Δ rare vs {anchor}'] if a is not None else []
    cols += rare
    rows = []
    for n, r in s.iterrows():
        row = [f'`{n}`', str(int(r.n_seeds)), _f(r.miou_mean, r.miou_std), _f(r.rare_miou_mean, r.rare_miou_std),
               _gain(r, 'miou'), _gain(r, 'rare_miou')]
        row += [_gain(a.loc[n], 'rare_miou')] if a is not None else []
        row += [_f(r[f'iou_{c}_mean']) for c in rare]
        rows.append(row)
    md = '\n'.join(['| ' + ' | '.join(cols) + ' |', '|' + '---|' * len(cols)] + ['| ' + ' | '.join(x) + ' |' for x in rows])
    dev = pd.Series([str(r.get('device') or f"CPU, host {r.get('host')}") for r in recs])
    wall = pd.Series([r['wall_time'] for r in recs]).groupby(dev).median()
    devices = [f"{(dev == k).sum()} on {k}, median {v:.0f} s a run" for k, v in wall.items()]
    ran = next((r['recipe'] for r in recs if r['name'] == 'recommended'), None)
    return md, dict(rare=rare, summary=s, devices=devices, recommended_ran=ran, n_runs=len(recs), budget=recs[0]['budget'],
                    seeds=sorted({r['seed'] for r in recs}), records=recs)

def _ran_parts(r:dict) -> str:
    "A recipe record's remedies, in words"
    return ', '.join([r['loss'] + (f" with {r['class_weights']} class weights" if r.get('class_weights') else ''),
             *(['copy-paste'] if r.get('copy_paste') else []), *([f"{r['context']} context"] if r.get('context') else []),
             *([f"{r.get('sample_weights') or r['weights']} sampling"] if r.get('sample_weights') or r.get('weights') else []), *(['class-balanced batches'] if r.get('balance') else [])])

def _ran(d:dict, now_default:bool=False) -> str:
    "Which recipe the grid's `recommended` runs used, in words (`now_default`: the grid ran today's `recommend`)"
    r = d.get('recommended_ran')
    if not r: return ''
    if now_default: return f" The `recommended` rows ran `recommend`'s pick at their commit, as `train` does: {_ran_parts(r)}."
    s, now = d['summary'], 'long-tail-balanced'
    got = (f": rare {_f(s.loc[now, 'rare_miou_mean'], s.loc[now, 'rare_miou_std'])}, mIoU "
           f"{_f(s.loc[now, 'miou_mean'], s.loc[now, 'miou_std'])}" if now in s.index else '')
    return (f" The `recommended` rows ran the `recommend` of their commit, which chose {_ran_parts(r)}; "
            f"`recommend` now returns the long-tail recipe with class-balanced batches (`{now}`{got}).")

def _jsonl(path:Path) -> list[dict]:
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()] if path.exists() else []

def _ms(v:list) -> str:
    import numpy as np
    return f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}" if len(v) > 1 else f"{v[0]:.3f} (1 seed)"

def _md(cols:list, rows:list) -> str:
    return '\n'.join(['| ' + ' | '.join(cols) + ' |', '|' + '---|' * len(cols)] + ['| ' + ' | '.join(map(str, r)) + ' |' for r in rows])

def _parity_costs(recs:list) -> list[str]:
    "At the newest commit and device with `toolkit` runs: each `tk-*` change and the 2× scoring window, paired by seed with `toolkit`"
    tk = [r for r in recs if r['config'] == 'toolkit']
    if not tk: return []
    new = max(tk, key=lambda r: str(r['timestamp'])); at = (new['commit'], new['device'])
    mine = [r for r in recs if (r['commit'], r['device']) == at]
    base = {r['seed']: r for r in mine if r['config'] == 'toolkit'}
    pair = lambda rs, k, kb: [r[k] - base[r['seed']][kb] for r in rs if r['seed'] in base]
    rows = []
    for name in dict.fromkeys(r['config'] for r in mine if r['config'] != 'toolkit'):
        rs = [r for r in mine if r['config'] == name]; d = pair(rs, 'miou', 'miou')
        what = {k: v for k, v in rs[0]['settings'].items() if k != 'side'}
        if d: rows.append([f"`{name}`", json.dumps(what, ensure_ascii=False) if what else 'the plain loop', len(d), _ms(d), _ms(pair(rs, 'rare_miou', 'rare_miou')),
                           f"{sum(x > 0 for x in d)}/{len(d)}"])
    for name in ('toolkit', 'plain'):
        rs = [r for r in mine if r['config'] == name and r.get('miou_2x') is not None]
        d = [r['miou_2x'] - r['miou'] for r in rs]
        if d: rows.append([f"`{name}`, scored with windows 2× the patch", 'the same models', len(d), _ms(d),
                           _ms([r['rare_miou_2x'] - r['rare_miou'] for r in rs]), f"{sum(x > 0 for x in d)}/{len(d)}"])
    if len(rows) < 2: return []
    return [f"Each difference at commit {str(at[0])[:7]} ({at[1]}): every other config of that commit and device, paired by seed "
            "with `toolkit` (`plain`: the plain loop; `tk-*`: one change to the toolkit's side, the recipe fields or `Probe` settings shown) "
            "(Δ = the change minus `toolkit`, mean ± std over seeds; wins = seeds where the change scores higher). "
            "The last rows score the same models with windows twice the patch.", '',
            _md(['change', 'settings', 'seeds', 'Δ mIoU', 'Δ rare mIoU', 'wins'], rows), '']

def parity_section() -> list[str]:
    from seg_imbalance.results import parity_verdict
    out = []
    for data, what in (('demo', 'the 12 demo scenes, 64 px patches'), ('camvid', 'CamVid, 128 px patches, the 101 whole val frames')):
        recs = _jsonl(root/f'nbs/results/parity_{data}.jsonl')
        if not recs: continue
        by = {}
        for r in recs: by.setdefault((r['config'], str(r['commit'])[:7]), []).append(r)
        rows = [[f"`{n}`", ', '.join(str(r['seed']) for r in rs), _ms([r['miou'] for r in rs]), _ms([r['rare_miou'] for r in rs]),
                 c, '; '.join(sorted({r['device'] for r in rs}))] for (n, c), rs in by.items()]
        out += [f"**{data}** ({what}; {recs[0]['steps_asked']} steps, batch {recs[0]['bs']}):", '',
                _md(['config', 'seeds', 'mIoU', 'rare mIoU', 'commit', 'device'], rows), '']
        v = parity_verdict(recs)
        out += [v, ''] if v else []
        out += _parity_costs(recs)
    if not out: return []
    return ['### The base path against a plain PyTorch + SMP loop (parity)', '',
            "`toolkit` is the `baseline` recipe through `fit_recipe`; `plain` is a PyTorch loop written in the benchmark (same "
            "windows, SMP Unet, Adam 1e-3, flips); `tk-*` change one thing of the toolkit side. Every model is scored by "
            "`evaluate_scenes` on whole scenes. Command: `python benchmarks/parity.py --data demo|camvid --configs ...` "
            "(results `nbs/results/parity_*.jsonl`, one line a run with its commit and device). A row is one config at one "
            "commit: runs of different commits are never averaged together, and only rows of one commit pair honestly.", ''] + out

SEARCH_FILES = (('search_demo.jsonl', 'pilots: ½ of the budget, scored by raw argmax'),
                ('search_demo_v2.jsonl', 'pilots: 0.3 of the budget, scored after calibration'),
                ('search_demo_v3.jsonl', 'pilots: ½ of the budget (at least 20 steps), scored after calibration'),
                ('search_demo_v4.jsonl', "as v3, each remedy's calibration floored at the baseline pilot's held-back IoU"),
                ('search_demo_v5.jsonl', "as v4, every pilot branching from a baseline trunk trained on ½ of the budget "
                 "(`--search-trunk 0.5`; run `search-trunk`), the branches at the candidate's own lr"),
                ('search_demo_v6.jsonl', "as v5, the branches fine-tuning at a tenth of the candidate's lr (`branch_lr`)"))

def _search_note(f:str, how:str, recs:list, autos:list) -> str:
    "Search minus auto (rare mIoU) paired by seed: the file's own auto runs, else the newest other file's (commits named)"
    own = [r for r in recs if r['name'] == 'auto']
    auto = {r['seed']: r for r in (own or autos)}
    pairs = [(r, auto[r['seed']]) for r in recs if r['name'].startswith('search') and r['seed'] in auto]
    if not pairs: return ''
    d = [s['rare_miou'] - a['rare_miou'] for s, a in pairs]
    h = [s['heldback']['rare_miou'] - a['heldback']['rare_miou'] for s, a in pairs
         if (s.get('heldback') or {}).get('rare_miou') is not None and (a.get('heldback') or {}).get('rare_miou') is not None]
    where = '' if own else (f" (auto from commit {', '.join(sorted({str(a['commit'])[:7] for _, a in pairs}))}, search from "
                            f"{', '.join(sorted({str(s['commit'])[:7] for s, _ in pairs}))}: between them the search's code changed, and fixes "
                            "the demo's auto run does not reach — block-level holdback statistics, guided-crop fallback, "
                            "patch-size check, encoder-weights flags; not one commit, so a weaker pairing)")
    return (f"`{f}` ({how}): search minus auto, rare mIoU, paired by seed{where}: {_ms(d)} "
            f"({sum(x > 0 for x in d)} of {len(d)} seeds better)" + (f"; on the held-back part: {_ms(h)} "
            f"({sum(x > 0 for x in h)} of {len(h)} better)" if len(h) == len(d) else '') + '.')

def _hb(r:dict) -> str:
    "Rare-class mIoU on the held-back part after the run's calibration (recorded from v5 on), else a dash"
    v = (r.get('heldback') or {}).get('rare_miou')
    return '—' if v is None else f'{v:.3f}'

def search_section() -> list[str]:
    rows, notes, autos = [], [], []
    for f, how in SEARCH_FILES:
        recs = _jsonl(root/'nbs/results'/f)
        rows += [[f"`{r['name']}`", r['seed'], r['recipe'], f"{r['steps']} of {r['budget']}", f"{r['miou']:.3f}",
                  f"{r['rare_miou']:.3f}", _hb(r), how if r['name'].startswith('search') else '', str(r.get('commit'))[:7],
                  r.get('device')] for r in recs]
        n = _search_note(f, how, recs, autos)
        notes += [n] if n else []
        autos = [r for r in recs if r['name'] == 'auto'] or autos
    if not rows: return []
    return ['### Measured recipe choice on the demo scenes (`train --recipe search`)', '',
            "`seg-imbalance train demo --recipe R --steps 300 --size 64 --bs 16 --seed S` for R in search, baseline, auto: the "
            "same held-back scenes, the same training rows, scored on the same whole evaluation scenes. Command: "
            "`python benchmarks/search_demo.py --run` (results `nbs/results/search_demo.jsonl`; later versions of the search: "
            "`--out nbs/results/search_demo_v2.jsonl`, `_v3`, `_v4`, `_v5` and `_v6` (`--recipes search-trunk auto`), their pilot tables in `nbs/results/search_demo_v*/`). The search "
            "spends part of the budget on the pilots of the losers, so its winner trains fewer steps. `held-back rare mIoU`: "
            "on the held-back part the search chooses on, after each run's own calibration there (recorded from v5 on).", '',
            _md(['run', 'seed', 'recipe trained', 'its steps', 'mIoU', 'rare mIoU', 'held-back rare mIoU', 'search', 'commit',
                 'device'], rows), '',
            *[x for n in notes for x in (n, '')]]

def _sms(v:list) -> str:
    "`_ms` of a change, signed"
    m = _ms(v); return m if m.startswith('-') else '+' + m

def _hb_change(cal:list, c:str) -> str:
    "The biases' effect on class `c` on the held-back frames they were fitted on (mean of the runs), when recorded"
    d = [r['heldback']['iou_after'][c] - r['heldback']['iou_before'][c] for r in cal
         if c in (r.get('heldback') or {}).get('iou_before', {}) and c in r['heldback'].get('iou_after', {})]
    return f" ({c} on the held-back frames the biases were fitted on: {np.mean(d):+.3f})" if len(d) == len(cal) else ''

CAL_TITLE = ("again, one commit and CPU: the search's candidates and `dice` each trained the whole budget and calibrated, "
             "picked on the held-back frames")

DWCE_TITLE = ("with a Dice term in the recommended recipe's loss (`dice_wce`), one commit and CPU, against the baseline and "
              "`auto` of that commit, picked on the held-back frames")
DWCE_FLOOR = ": `recommended-dice`"

def _recipes_arg(recs:list) -> str:
    "search_demo's --recipes of these runs: NAME, or NAME=FILE.toml when the run trained a recipe file"
    out = {}
    for r in recs:
        a = r['command'].split(' --recipe ', 1)[1].split(' ', 1)[0] if ' --recipe ' in r.get('command', '') else r['name']
        out.setdefault(r['name'], f"{r['name']}={a}" if a.endswith('.toml') else r['name'])
    return ' '.join(out.values())

def _heldback_pick(by:dict, rare:list, val:str='val frames', held:str='held-back frames', target:bool=True) -> list[str]:
    "Per seed, the run the search's own rule (`choose.select_round`) picks on the held-back part, and its scores on `val`"
    from seg_imbalance.choose import pick_trained
    recs = [r for rs in by.values() for r in rs.values()]      # rare: one list, or `{seed: list}` (the demo's differ by seed)
    pk = pd.concat([pick_trained([r for r in recs if r['seed'] == s], rare[s] if isinstance(rare, dict) else rare, 0.02)
                    for s in sorted({r['seed'] for r in recs})])
    picks, lines = {}, []
    for s, g in pk.groupby('seed', sort=True):
        fate = {r.run: (r.fate, r.why) for r in g.itertuples()}; w = next(n for n, (f, _) in fate.items() if f == 'kept'); picks[s] = w
        rej = [f"`{n}` ({why.split(': ', 1)[1]})" for n, (f, why) in fate.items() if f == 'rejected']
        lines.append(f"seed {s}: `{w}` ({fate[w][1].split(', rank')[0].replace('_miou', ' mIoU').replace('rare', 'held-back rare')}; on the {val} mIoU {by[w][s]['miou']:.3f}, rare mIoU "
                     f"{by[w][s]['rare_miou']:.3f})" + (f"; the guard rejected {', '.join(rej)}" if rej else ''))
    if not picks: return []
    m = lambda k: np.mean([by[w][s][k] for s, w in picks.items()])
    return [f"**Picked on the {held}, as `--recipe search` would at this budget.** The search's rule "
            "(`choose.select_round`): the highest held-back rare mIoU after each run's biases, among the runs whose common "
            "classes lose no more than 0.02 held-back IoU against the baseline of the same seed. The biases were fitted on "
            f"those {held.split()[-1]} (in-sample, for every run alike); the {val} choose nothing. " + '; '.join(lines) +
            f". The picks' scores on the {val}, averaged over the seeds: mIoU {m('miou'):.3f}, rare mIoU {m('rare_miou'):.3f}" +
            (f": target (rare ≥ 0.10, mIoU ≥ 0.34) {'met' if m('rare_miou') >= .10 and m('miou') >= .34 else 'not met'}" if target else '')
            + ".", '']

def _common_trade(by:dict, rare:list) -> list[str]:
    "Per run, the common classes more than 0.02 IoU below the baseline of the same seeds, on the val frames or the held-back ones"
    from seg_imbalance.choose import common_losses
    base, out = by.get('baseline', {}), []
    for n, rs in by.items():
        ss = [s for s in rs if s in base and s != 'baseline']
        if n == 'baseline' or not ss: continue
        cs = [c for c in rs[ss[0]]['iou'] if c not in rare]
        hcs = [c for c in cs if all(c in (x[s].get('heldback') or {}).get('iou_after', {}) for x in (rs, base) for s in ss)]
        mean = lambda x, get, cs: pd.Series({c: float(np.mean([get(x[s])[c] for s in ss])) for c in cs})
        d = {w: mean(rs, get, k) - mean(base, get, k) for w, get, k in (('val', lambda r: r['iou'], cs),
                                                                         ('hb', lambda r: r['heldback']['iou_after'], hcs))}
        lost = {c for w in d for c in common_losses(pd.DataFrame({'IoU': d[w]}), pd.DataFrame({'IoU': 0 * d[w], 'pixels %': 1.0}), rare, 0.02)}
        out.append(f"`{n}`: " + (', '.join(f"{c} {d['val'][c]:+.3f}" + (f" ({d['hb'][c]:+.3f})" if c in d['hb'] else '')
                                          for c in cs if c in lost) or 'none'))
    return ["**Common classes more than 0.02 IoU below the baseline** on the val frames or on the held-back frames, paired by "
            "seed and averaged: val (held-back in brackets): " + '; '.join(out) + '.', ''] if out else []

def camvid_train_section(f:str='camvid_train.jsonl', # the results file in nbs/results
                         title:str='(the default path, calibrated, against the baseline and the search)',
                         pick:bool=False, # add what the search's rule picks on the held-back frames (runs of the whole budget)
                        ) -> list[str]:
    "`train`'s recipes on CamVid (baseline, auto = the default path, ...), one commit and device, with the target"
    recs = _jsonl(root/'nbs/results'/f)
    if not recs: return []
    rare, by = recs[0]['rare'], {}
    for r in recs: by.setdefault(r['name'], {})[r['seed']] = r
    raw = lambda r, k: f"{r['raw'][k]:.3f}" if r.get('raw') else '—' # the same model without its biases
    rows = [[f"`{r['name']}`", r['seed'], r['recipe'], f"{r['steps']} of {r['budget']}", raw(r, 'miou'), f"{r['miou']:.3f}",
             raw(r, 'rare_miou'), f"{r['rare_miou']:.3f}", _hb(r), *[f"{r['iou'][c]:.3f}" for c in rare]] for r in recs]
    base = by.get('baseline', {})
    def paired(n, k):
        d = [by[n][s][k] - base[s][k] for s in by[n] if s in base]
        return f"{_sms(d)} ({sum(x > 0 for x in d)}/{len(d)})" if d and n != 'baseline' else '—'
    summ = [[f"`{n}`", len(rs), _ms([r['miou'] for r in rs.values()]), _ms([r['rare_miou'] for r in rs.values()]),
             paired(n, 'miou'), paired(n, 'rare_miou'),
             'met' if np.mean([r['rare_miou'] for r in rs.values()]) >= .10 and np.mean([r['miou'] for r in rs.values()]) >= .34
             else 'not met'] for n, rs in by.items()]
    at = sorted({f"{str(r['commit'])[:7]} ({r['device']})" for r in recs})
    notes = []
    for n, rs in by.items(): # what the biases did on the evaluation frames: every class, calibrated minus raw
        cal = [r for r in rs.values() if r.get('raw')]
        if not cal: continue
        dc = {c: float(np.mean([r['iou'][c] - r['raw']['iou'][c] for r in cal])) for c in cal[0]['iou']}
        lo, hi = min(dc, key=dc.get), max(dc, key=dc.get)
        notes += [f"`{n}`, calibrated minus raw (the same models, paired by seed): mIoU "
                  f"{_sms([r['miou'] - r['raw']['miou'] for r in cal])}, rare mIoU "
                  f"{_sms([r['rare_miou'] - r['raw']['rare_miou'] for r in cal])}; per class, averaged over the seeds, "
                  f"from {lo} {dc[lo]:+.3f} to {hi} {dc[hi]:+.3f}" + _hb_change(cal, lo) + ".", '']
    if 'search' in by and 'auto' in by:
        d = [by['search'][s]['rare_miou'] - by['auto'][s]['rare_miou'] for s in by['search'] if s in by['auto']]
        picks = ', '.join(f"seed {s}: {r['recipe']}" for s, r in sorted(by['search'].items()))
        notes = [f"Search minus auto, rare mIoU, paired by seed: {_sms(d)} ({sum(x > 0 for x in d)} of {len(d)} seeds better); "
                 f"the search picked {picks}.", '']
    notes += (_common_trade(by, rare) + _heldback_pick(by, rare)) if pick else []
    return [f'### CamVid through `train` {title}', '',
            f"`seg-imbalance train camvid --recipe R --steps {recs[0]['budget']} --size 128 --bs 16 --seed S` for R in "
            f"{', '.join(by)}: CamVid's training frames minus the part `train` holds back (whole frames, "
            f"{recs[0]['holdback']['frac']} of them), scored on the whole val frames (void ignored). `auto` is `train`'s default path (the recommended "
            "recipe, then one logit bias per class fitted on the held-back frames). Rare mIoU: "
            f"{', '.join(rare)}. Command: `python benchmarks/search_demo.py --run --data ../shared/data/camvid --size 128 "
            f"--recipes {_recipes_arg(recs)} --rare {' '.join(rare)} --raw --out nbs/results/{f}` (results "
            f"`nbs/results/{f}`; {'one commit and device: ' if len(at) == 1 else 'NOT one commit and device: '}"
            f"{'; '.join(at)}).", '',
            "`raw`: the same model scored without its biases (`--raw`).", '',
            _md(['run', 'seed', 'recipe trained', 'its steps', 'raw mIoU', 'mIoU', 'raw rare mIoU', 'rare mIoU',
                 'held-back rare mIoU', *rare], rows), '',
            _md(['run', 'seeds', 'mIoU', 'rare mIoU', 'Δ mIoU vs baseline', 'Δ rare vs baseline',
                 'target (rare ≥ 0.10, mIoU ≥ 0.34)'], summ), '', *notes]

def _cal_gain(r:dict) -> tuple[float, float]:
    "What a run's biases did to mIoU on the val frames (calibrated minus raw) and on the held-back frames they were fitted on"
    h = r['heldback']; cs = [c for c in h['iou_before'] if c in h['iou_after']]
    return r['miou'] - r['raw']['miou'], float(np.mean([h['iou_after'][c] for c in cs]) - np.mean([h['iou_before'][c] for c in cs]))

def camvid_groups_section() -> list[str]:
    "`auto` with whole frames held back at random against whole stretches of frames: how far the biases' effect transfers"
    recs = [r for r in _jsonl(root/'nbs/results/camvid_groups.jsonl') if r.get('raw') and r.get('heldback')]
    if not recs: return []
    rare, by, rows = recs[0]['rare'], {}, []
    for r in recs:
        by.setdefault(r['name'], []).append(r); val, hb = _cal_gain(r)
        dc = {c: r['iou'][c] - r['raw']['iou'][c] for c in r['iou']}; lo = min(dc, key=dc.get)
        h = r['holdback']; hbl = r['heldback']
        held = f"{len(h['scenes'])} frames" + (f" in {len(h['groups'])} stretches" if h.get('groups') else ' at random')
        lo_hb = hbl['iou_after'].get(lo, np.nan) - hbl['iou_before'].get(lo, np.nan)
        rows.append([f"`{r['name']}`", r['seed'], held, f"{r['raw']['miou']:.3f}", f"{r['miou']:.3f}", f"{r['raw']['rare_miou']:.3f}",
                     f"{r['rare_miou']:.3f}", f"{hb:+.3f}", f"{val:+.3f}", f"{lo} {dc[lo]:+.3f} ({lo_hb:+.3f})"])
    summ = []
    for n, rs in by.items():
        g = np.array([_cal_gain(r) for r in rs]); worst = [min(r['iou'][c] - r['raw']['iou'][c] for c in r['iou']) for r in rs]
        summ.append([f"`{n}`", len(rs), _ms([r['miou'] for r in rs]), _ms([r['rare_miou'] for r in rs]), _sms(list(g[:, 1])),
                     _sms(list(g[:, 0])), _sms(list(g[:, 1] - g[:, 0])), _sms(worst)])
    at = sorted({f"{str(r['commit'])[:7]} ({r['device']})" for r in recs})
    grp = next((r['command'].split('--holdback-groups ', 1)[1].split(' ')[0] for r in recs if '--holdback-groups' in r['command']), None)
    return ['### CamVid: held back at random or in stretches of time', '',
            f"`train`'s default path (`auto`) twice: the held-back frames drawn one by one at random (`auto`), or as whole "
            f"stretches of frames (`auto-groups`: `--holdback-groups '{grp}'`, a thousand frame numbers each) so that no "
            f"held-back frame has its neighbour in training. {recs[0]['budget']} steps, 128 px, batch 16, scored on the whole "
            f"val frames; `raw` is the same model without its biases. Command: `python benchmarks/search_demo.py --run --data "
            f"../shared/data/camvid --size 128 --recipes {' '.join(by)} --groups '{grp}' --rare {' '.join(rare)} --raw --out "
            f"nbs/results/camvid_groups.jsonl` ({'one commit and device: ' if len(at) == 1 else 'NOT one commit and device: '}"
            f"{'; '.join(at)}). The biases' gain on the held-back frames they were fitted on against their gain on the val "
            "frames says how far the held-back part speaks for unseen frames; the last column is the class the biases "
            "lowered most on the val frames (in brackets: its change on the held-back frames).", '',
            _md(['run', 'seed', 'held back', 'raw mIoU', 'mIoU', 'raw rare mIoU', 'rare mIoU', 'biases: held-back Δ mIoU',
                 'biases: val Δ mIoU', 'class lowered most on val'], rows), '',
            _md(['run', 'seeds', 'mIoU', 'rare mIoU', 'biases: held-back Δ mIoU', 'biases: val Δ mIoU',
                 'held-back minus val', 'worst class Δ on val'], summ), '']

def _measured_at(recs:list) -> list[str]:
    "The commits and devices a benchmark measured its records at (`measured`: `run_info`)"
    return sorted({f"{str(r['measured']['commit'])[:7]} ({r['measured'].get('device_name') or r['measured'].get('device')})" for r in recs})

def _groups_trained_at() -> dict:
    "`{run folder name: commit}` of the CamVid `train` runs in camvid_groups.jsonl (what crossfit.py and tta.py measured)"
    return {f"{r['name']}_{r['seed']}": str(r['commit'])[:7] for r in _jsonl(root/'nbs/results/camvid_groups.jsonl')}

def _trained_at(recs:list) -> list[str]:
    "The training commits of a benchmark's records: a demo model's own (`trained`), a saved CamVid run's from camvid_groups.jsonl"
    trained = _groups_trained_at()
    return sorted({str(r['trained']['commit'])[:7] if (r.get('trained') or {}).get('commit') else trained.get(r.get('run'), '?')
                   for r in recs if r.get('trained') or r.get('run')})

def crossfit_section() -> list[str]:
    "The biases at full strength against their cross-fitted share: out-of-fold forecast and evaluation, per model"
    recs = _jsonl(root/'nbs/results/crossfit.jsonl')
    if not recs: return []
    rows, by = [], {}
    for r in recs:
        model = f"{r['data']} seed {r['seed']}" if r['data'] == 'demo' else f"{r['data']} `{r['run']}`"
        oof = {t['share']: t for t in r['crossfit']['table']}
        for way, share in (('full', 1.), ('shrunk', r['crossfit']['applied'])):
            w, o = r[way], oof[share]; lo = min(w['gain_vs_raw'], key=w['gain_vs_raw'].get)
            d = w['miou'] - r['raw']['miou']; by.setdefault((r['data'], way), []).append((d, w['worst_vs_raw']))
            rows.append([model, way, f"{share:g}", f"{o['out-of-fold Δ mIoU']:+.3f}", f"{o['worst class']} {o['worst class Δ']:+.3f}",
                         f"{d:+.3f}", f"{lo} {w['worst_vs_raw']:+.3f}", f"{w['miou']:.3f}", f"{w['rare_miou']:.3f}"])
    summ = [[data, way, len(v), _sms([x[0] for x in v]), _sms([x[1] for x in v])] for (data, way), v in by.items()]
    meas = _measured_at(recs)
    tr = _trained_at(recs)
    return ['### Does the calibration hold on frames it did not see? (cross-fitted biases)', '',
            "`calibrate_learner` also cuts the held-back scenes into two runs of consecutive names, fits each run's biases on "
            "the other and scores them there, at shares 0, ¼, ½, ¾ and 1 of their strength (`crossfit_share`). `full` is "
            "the default (the biases at full strength; `train` warns when a class loses more than 0.02 out of fold); `shrunk` "
            "(`train --calibration-shrink`) keeps the share with the best out-of-fold mIoU where no class loses more than 0.02. "
            "The out-of-fold columns are the forecast from held-back scenes alone; the evaluation columns are what happened on "
            "the whole evaluation scenes, against the same model without biases (`raw`). Models: the demo's (`demo_floor.py`'s "
            "split and recipes, 300 steps) and the four CamVid `train` runs of the section above. Command: `python "
            "benchmarks/crossfit.py --seeds 0 1 2` and `python benchmarks/crossfit.py --runs DIRS --data ../shared/data/camvid` "
            f"(results `nbs/results/crossfit.jsonl`; trained at {', '.join(tr)}; measured at {'; '.join(meas)}).", '',
            _md(['model', 'way', 'share', 'out-of-fold Δ mIoU', 'out-of-fold worst class', 'evaluation Δ mIoU vs raw',
                 'evaluation worst class vs raw', 'mIoU', 'rare mIoU'], rows), '',
            _md(['data', 'way', 'models', 'evaluation Δ mIoU vs raw', 'evaluation worst class vs raw'], summ), '',
            _crossfit_sentence(recs), '']

def _crossfit_sentence(recs:list) -> str:
    "Shrunk minus full, paired by model; how often the forecast and the evaluation put a class below -0.02"
    dm = [r['shrunk']['miou'] - r['full']['miou'] for r in recs]; dw = [r['shrunk']['worst_vs_raw'] - r['full']['worst_vs_raw'] for r in recs]
    fc = sum({t['share']: t for t in r['crossfit']['table']}[1.0]['worst class Δ'] < -0.02 for r in recs)
    ev = sum(r['full']['worst_vs_raw'] < -0.02 for r in recs); moved = sum(r['crossfit']['applied'] < 1 for r in recs)
    return (f"At full strength the out-of-fold forecast put some class below −0.02 for {fc} of {len(recs)} models, the "
            f"evaluation scenes for {ev} (the fit's own guard, on its pixels, for none). The shrink changed {moved} of "
            f"{len(recs)} models; shrunk minus full, paired by model: mIoU {_sms(dm)}, worst class {_sms(dw)}.")

def prior_match_section() -> list[str]:
    "Free per-class biases against one-parameter prior matching, both fitted on the held-back sample (a negative result)"
    recs = _jsonl(root/'nbs/results/prior_match.jsonl')
    if not recs: return []
    ways = ('full', 'prior', 'prior+fit'); summ = []
    for data in dict.fromkeys(r['data'] for r in recs):
        rs = [r for r in recs if r['data'] == data]
        for w in ways:
            o = [r['oof'][w]['d_miou'] for r in rs if r.get('oof')]
            summ.append([data, w, len(rs), _sms([r[w]['miou'] - r['raw']['miou'] for r in rs]),
                         _sms([r[w]['worst_vs_raw'] for r in rs]), _sms(o) if o else '',
                         ', '.join(f"{r['tau']:g}" for r in rs) if w == 'prior' else ''])
    better = sum(r['prior']['miou'] > r['full']['miou'] + 1e-9 for r in recs)
    safer = sum(r['prior']['worst_vs_raw'] > r['full']['worst_vs_raw'] + 1e-9 for r in recs)
    tr = _trained_at(recs)
    return ['### One prior-matching parameter instead of one free bias per class: a trade, not a fix', '',
            "A remedy shifts the class prior the model learned: its mean predicted probability of a class `q` differs "
            "from the class's share `π` of the labelled pixels. Prior matching keeps the biases on one line, "
            "`τ · log(π / q)`, and picks τ (0 … 3 by ¼) on the held-back sample by mIoU with no class below its raw IoU − "
            "0.02; `prior+fit` runs the default free fit on top. All ways are fitted on the held-back sample that "
            "`calibrate_learner` draws and scored on the whole evaluation scenes in one prediction pass; out of fold: fitted "
            "on one run of held-back scenes, scored on the other. Models: those of the cross-fit section. Command: `python "
            "benchmarks/prior_match.py --seeds 0 1 2` and `python benchmarks/prior_match.py --runs DIRS --data "
            f"../shared/data/camvid` (results `nbs/results/prior_match.jsonl`; trained at {', '.join(tr)}; measured at "
            f"{'; '.join(_measured_at(recs))}).", '',
            _md(['data', 'way', 'models', 'evaluation Δ mIoU vs raw', 'evaluation worst class vs raw', 'out-of-fold Δ mIoU',
                 'τ chosen'], summ), '',
            f"Prior matching beat the free fit's mIoU for {better} of {len(recs)} models and lost less on its worst class "
            f"for {safer}; it is not in the library (the default stays the free fit, `full`).", '']

def weight_average_section() -> list[str]:
    "Averaged weights against the last weights of the same run: held-back scenes decide, evaluation scenes report"
    recs = _jsonl(root/'nbs/results/weight_average.jsonl')
    if not recs: return []
    sys.path.insert(0, str(root/'benchmarks')); from weight_average import summary
    rows, adopted = summary(recs)
    f, a = (lambda v: _f(*v, sign='+')), (lambda v: _f(*v))
    body = [[r['data'], r['way'], r['models'], a(r['held-back mIoU']), f(r['Δ held-back']), f(r['Δ held-back rare']),
             f(r['Δ held-back raw']), a(r['eval mIoU']), f(r['Δ eval']), f(r['Δ eval rare'])] for r in rows]
    disagree = _disagree([r for r in rows if r['way'] != 'last'], lambda r: f"{r['data']}: {r['way']}", 'Δ held-back',
                         ": a choice made on the held-back scenes, as `train` must make it, does not see that change.")
    verdict = (f"The rule adopts {', '.join(adopted)}." if adopted else
               "No average passes the rule on both data sets: `train` keeps the last weights, and `WeightAverage` stays a "
               "callback to add by hand.")
    return ['### Averaged weights against the last weights of a short run', '',
            "One run per seed trains the default recipe (the demo's recommended recipe; `train`'s `auto` pick on CamVid, "
            "with `train`'s split) with one-cycle while `callbacks.WeightAverage` keeps, without touching the run, "
            "exponential averages of the weights (decay 0.95 and 0.99, each warmed up as min(decay, n/(9+n)) at step n, "
            "so at 300 steps 0.99 is never reached and that average follows the warm-up) and the plain mean over the last "
            "½ and ¼ of the steps. Each way's weights are calibrated on the held-back scenes and scored there (calibrated; raw) and on "
            "the whole evaluation scenes; Δ is paired with the last weights of the same run, mean ± std over seeds "
            f"({_seeds(recs)}; {recs[0]['steps_asked']} steps). The rule, fixed "
            "before measuring: a way becomes `train`'s default only if its calibrated held-back mIoU beats the last "
            "weights' on average on both data sets without the held-back rare mIoU falling on average. Command: "
            "`python benchmarks/weight_average.py --seeds 0 1 2` and `... --data ../shared/data/camvid --seeds 0 1` "
            f"(results `nbs/results/weight_average.jsonl`; measured at {'; '.join(_measured_at([{'measured': r['run']} for r in recs]))}).", '',
            _md(['data', 'way', 'models', 'held-back mIoU (calibrated)', 'Δ held-back', 'Δ held-back rare', 'Δ held-back raw',
                 'evaluation mIoU', 'Δ evaluation', 'Δ evaluation rare'], body), '', verdict + ' ' + disagree, '']

_PAIRED_COLS = ['models', 'held-back mIoU (out of fold)', 'Δ held-back (out of fold)', 'Δ held-back rare (out of fold)',
                'Δ held-back raw', 'evaluation mIoU', 'evaluation rare mIoU', 'Δ evaluation', 'Δ evaluation rare', 'Δ evaluation raw']

def _paired(rows:list, label, base) -> tuple[list, str]:
    "`window.paired_summary` rows as table rows (after `label(row)`), and where held-back and evaluation disagree in sign"
    f, a = (lambda v: _f(*v, sign='+')), (lambda v: _f(*v))
    body = [[r['data'], label(r), r['models'], a(r['held-back oof mIoU']), f(r['Δ held-back oof']), f(r['Δ held-back oof rare']),
             f(r['Δ held-back raw']), a(r['eval mIoU']), a(r['eval rare mIoU']), f(r['Δ eval']), f(r['Δ eval rare']),
             f(r['Δ eval raw'])] for r in rows]
    return body, _disagree([r for r in rows if not base(r)], lambda r: f"{r['data']} {label(r)}", 'Δ held-back oof', '.')

def _disagree(rows:list, label, held:str, end:str) -> str:
    "The sentence naming the summary rows whose mean Δ mIoU on held-back scenes (column `held`) and on evaluation ones differ in sign"
    f = lambda v: _f(*v, sign='+')
    split = [f"{label(r)} ({f(r[held])} held-back, {f(r['Δ eval'])} evaluation)" for r in rows if (r[held][0] > 0) != (r['Δ eval'][0] > 0)]
    return ("Held-back and evaluation scenes disagree on the sign of the mean Δ mIoU for " + '; '.join(split) + end if split else
            "Held-back and evaluation scenes agree on the sign of every mean Δ mIoU.")

def _seeds(recs:list) -> str:
    return '; '.join(f"{d}: seeds {', '.join(str(r['seed']) for r in recs if r['data'] == d)}" for d in dict.fromkeys(r['data'] for r in recs))

def _default_models_source(name:str, recs:list) -> str:
    "The command and results file of a benchmark over `train`'s default models (`window.each_model`), with commits and devices"
    return (f"Command: `python benchmarks/{name}.py --seeds 0 1 2` and `... --runs DIRS --data ../shared/data/camvid --size 128` "
            f"(results `nbs/results/{name}.jsonl`; trained at {', '.join(_trained_at(recs))}; measured at "
            f"{'; '.join(_measured_at(recs))}).")

def window_section() -> list[str]:
    "Inference windows larger than the training patch: held-back scenes (out of fold) decide, evaluation scenes report"
    recs = _jsonl(root/'nbs/results/window.jsonl')
    if not recs: return []
    sys.path.insert(0, str(root/'benchmarks')); from window import summary
    rows, adopted = summary(recs); px = {r['data']: r['windows']['1']['window'] for r in recs}
    body, disagree = _paired(rows, lambda r: f"{r['factor']}× ({r['factor'] * px[r['data']]} px)", lambda r: r['factor'] == 1)
    verdict = (f"The rule adopts a window of {', '.join(f'{x}×' for x in adopted)} the patch." if adopted else
               "No larger window passes the rule on both data sets: `predict_scene` keeps the training patch as its window.")
    return ['### Inference windows larger than the training patch', '',
            "`predict_scene` slides windows of the training patch's side over a scene; a fully convolutional model also "
            "takes larger ones, where each pixel sees more of its surroundings. Each model of `train`'s default path (the "
            "demo's recommended recipe at `demo_split`'s split; CamVid `train --recipe auto --steps 300 --size 128 --bs 16`) "
            "predicts with windows of 1, 2 and 4 times its patch, its biases fitted again at each window on the held-back "
            "scenes (`calibrate_heldback(size=...)`). Held-back out of fold: each class's raw IoU plus its cross-fitted change "
            "under biases fitted on the other run of held-back scenes. Δ is paired with the patch window of the same model, "
            f"mean ± std over models ({_seeds(recs)}). The rule, fixed before "
            "measuring: a larger window becomes the default only if its out-of-fold held-back mIoU beats the patch window's "
            "on average on both data sets without its out-of-fold held-back rare mIoU falling on average on either. "
            + _default_models_source('window', recs), '',
            _md(['data', 'window', *_PAIRED_COLS], body), '', verdict + ' ' + disagree, '']

def natural_bn_section() -> list[str]:
    "BatchNorm statistics of uniformly drawn training patches against the sampler's: held-back scenes decide"
    recs = _jsonl(root/'nbs/results/natural_bn.jsonl')
    if not recs: return []
    sys.path.insert(0, str(root/'benchmarks')); from natural_bn import summary
    rows, adopted = summary(recs)
    body, disagree = _paired(rows, lambda r: r['way'], lambda r: r['way'] == 'running')
    n_used = '; '.join(f"{d}: {', '.join(sorted({str(r['patches']) for r in recs if r['data'] == d}))} patches" for d in dict.fromkeys(r['data'] for r in recs))
    verdict = ("The rule adopts the natural statistics: `train` re-estimates them before calibrating." if adopted else
               "The natural statistics do not pass the rule on both data sets: `train` keeps the running statistics, and "
               "`fit.natural_bn_stats` stays a function to call by hand.")
    return ["### BatchNorm statistics of the scenes' own class mix", '',
            "`train`'s default recipe draws patches by class (repeat-factor sampling, class-balanced batches), so its "
            "BatchNorm layers keep the running statistics of that drawn mix. `natural` re-estimates them, weights fixed, over "
            f"{recs[0]['batches']} batches of 16 training patches drawn uniformly, or all of them where there are fewer "
            f"({n_used}) (`fit.natural_bn_stats`); `running` is the "
            "model as trained (the models of the section above). Each way is calibrated on the held-back scenes and scored "
            "as above; Δ is paired with `running` of the same model, mean ± std over models "
            f"({_seeds(recs)}). The rule, fixed before measuring: `natural` becomes `train`'s default only if its out-of-fold "
            "held-back mIoU beats `running` on average on both data sets without its out-of-fold held-back rare mIoU falling "
            "on average on either. " + _default_models_source('natural_bn', recs), '',
            _md(['data', 'statistics', *_PAIRED_COLS], body), '', verdict + ' ' + disagree, '']

def _ways_trained_at(recs:list) -> str:
    "Per data set, the commit each way of a `recipe_change.py` record trained at ('both at C' when they share one)"
    at = {d: dict.fromkeys((w, str(t.get('commit'))[:7]) for r in recs if r['data'] == d for w, t in r['trained'].items())
          for d in dict.fromkeys(r['data'] for r in recs)}
    return '; '.join(f"{d}: " + (f"both at {next(iter(wc))[1]}" if len({c for _, c in wc}) == 1 else
                                  ', '.join(f"`{w}` at {c}" for w, c in wc)) for d, wc in at.items())

def _recipe_change(name:str) -> tuple[list, list, list, str]:
    "The records of `benchmarks/{name}.py` (a `recipe_change.py` field), the ways its rule adopts, table rows, sign check"
    recs = _jsonl(root/f'nbs/results/{name}.jsonl')
    if not recs: return [], [], [], ''
    sys.path.insert(0, str(root/'benchmarks')); mod = __import__(name)
    rows, adopted = mod.summary(recs)
    return (recs, adopted, *_paired(rows, lambda r: f"`{r['way']}`", lambda r: r['way'] == mod.WAYS[0]))

def _recipe_change_section(name:str, title:str, col:str, intro:str, rule:str, vs:str, recipe:str, verdicts:tuple,
                           extra=lambda recs: '') -> list[str]:
    "The README section of `benchmarks/{name}.py`: `intro`, the pairing, `rule`, the commands, the table, the verdict"
    recs, adopted, body, disagree = _recipe_change(name)
    if not recs: return []
    base = __import__(name).WAYS[0]
    return [f"### {title}", '',
            f"{intro} Each model is calibrated on its held-back scenes and scored as above; Δ is paired with `{base}` of "
            f"the same seed, mean ± std over seeds ({_seeds(recs)}). The rule, fixed before measuring: {rule} Command: "
            f"`python benchmarks/{name}.py --seeds 0 1 2` and `... --runs A0 A1 --vs {vs}0 {vs}1 --data "
            f"../shared/data/camvid --size 128` (the CamVid runs: `train --recipe auto` and `train --recipe "
            f"benchmarks/recipes/{recipe}`, `--steps 300 --size 128 --bs 16 --seed 0|1`, one thread each, one CPU; results "
            f"`nbs/results/{name}.jsonl`; trained: {_ways_trained_at(recs)}; measured at {'; '.join(_measured_at(recs))})."
            + extra(recs), '', _md(['data', col, *_PAIRED_COLS], body), '', verdicts[bool(adopted)] + ' ' + disagree, '']

def _cw_repro(recs:list) -> str:
    "The sentence saying which demo seeds' `batch` models, retrained, score as `window.jsonl`'s models of the same seeds"
    win = {r['seed']: r['windows']['1'] for r in _jsonl(root/'nbs/results/window.jsonl') if r['data'] == 'demo'}
    same = [r['seed'] for r in recs if r['data'] == 'demo' and r['seed'] in win and all(
        r['ways']['batch'][k]['iou'] == win[r['seed']][k]['iou'] for k in ('heldback_raw', 'eval_raw', 'eval'))]
    return (f" Retrained here, the demo's `batch` models of seeds {', '.join(map(str, same))} score exactly, class by class, "
            f"what the same seeds' models trained at {', '.join(sorted({str(r['trained']['commit'])[:7] for r in _jsonl(root/'nbs/results/window.jsonl') if r['data'] == 'demo'}))} "
            "scored in `window.jsonl`: on one machine, a CPU run of the default recipe is reproducible across commits that "
            "leave the training code alone. Not across sessions (see the class-balanced batches section): CamVid's runs "
            "trained at two commits are paired by seed and data, not by arithmetic." if same else '')

def _earlier(name:str, way:str):
    "`f(recs)`: where `{name}_earlier.jsonl` exists, the sentences on it: its demo `way` models against this file's, same commit and seed"
    def sentence(recs:list) -> str:
        old = _jsonl(root/f'nbs/results/{name}_earlier.jsonl')
        if not old: return ''
        at = lambda r: str(r['trained'][way]['commit'])[:7]
        pairs = [(o, n) for o in old for n in recs if o['data'] == 'demo' and (n['data'], n['seed'], at(n)) == (o['data'], o['seed'], at(o))]
        kept = (f" Earlier records (trained: {_ways_trained_at(old)}) are kept in `nbs/results/{name}_earlier.jsonl`; "
                "every pair in the table was trained in one session, both ways. Records now name the CPU with its family, "
                "model and vector unit (`ablate.cpu_name`).")
        if not pairs: return kept
        same = sum(o['ways'][way]['eval_raw']['iou'] == n['ways'][way]['eval_raw']['iou'] for o, n in pairs)
        d = [n['ways'][way]['eval_raw']['miou'] - o['ways'][way]['eval_raw']['miou'] for o, n in pairs]
        cpus = ', '.join(sorted({f"`{o['trained'][way].get('device_name')}`" for o, _ in pairs}))
        vers = all(o['trained'][way].get(k) == n['trained'][way].get(k) for o, n in pairs for k in ('python', 'torch', 'fastai', 'smp', 'numpy'))
        return (f" An earlier session trained the demo's `{way}` models of seeds {', '.join(str(o['seed']) for o, _ in pairs)} at "
                f"the same commit ({at(pairs[0][0])}), with {'the same' if vers else 'other'} library versions, on a CPU reported as "
                f"{cpus}: {same} of {len(pairs)} score here, uncalibrated, as they did there (evaluation mIoU, this session minus "
                f"that one: {_f(np.mean(d), np.std(d, ddof=1) if len(d) > 1 else None, '+')})." + kept)
    return sentence

def class_weights_section() -> list[str]:
    "The default recipe's per-batch class weights, inverse frequency against its square root: held-back scenes decide"
    return _recipe_change_section('class_weights', 'Softer class weights in the default recipe', 'class weights',
        "`recommend`'s recipe corrects the imbalance three times: repeat-factor sampling, class-balanced batches and "
        "cross-entropy weighted by each batch's inverse class frequency (`batch`). `batch_sqrt` weighs by the inverse "
        "square root instead (`DynamicWeights(power=.5)`), everything else the same (seed, training rows, held-back part, "
        "steps, calibration).",
        "`batch_sqrt` becomes `recommend`'s class weights only if its out-of-fold held-back mIoU beats `batch` on average "
        "on both data sets without its out-of-fold held-back rare mIoU falling on average on either.",
        'S', 'camvid_recommended_sqrt.toml`, the same recipe with `class_weights = "batch_sqrt"',
        ("`batch_sqrt` does not pass the rule on both data sets: `recommend` keeps `batch`, and `batch_sqrt` stays a "
         "class-weight scheme a recipe can name.", "The rule adopts `batch_sqrt`: `recommend` now picks it."), _cw_repro)

def aug_default_section() -> list[str]:
    "No training augmentation against the imagery's family at 300 steps: held-back scenes decide"
    return _recipe_change_section('aug_default', 'No augmentation at a short budget', 'augmentation',
        "A recipe that names no augmentation takes its imagery's family: fastai's `Dihedral` for overhead scenes (the "
        "demo), horizontal flips for street frames (CamVid). The parity table's `tk-noaug` scores higher on the demo's "
        "evaluation scenes at 300 steps, which cannot decide a default. `none` trains the default recipe with no "
        "augmentation, everything else the same (seed, training rows, held-back part, steps, calibration); `default` is "
        "the recipe unchanged.",
        "`none` becomes the default at budgets up to 300 steps only if its out-of-fold held-back mIoU beats `default` on "
        "average on both data sets without its out-of-fold held-back rare mIoU falling on average on either.",
        'N', 'camvid_recommended_noaug.toml`, the same recipe with `aug = "none"',
        ("`none` does not pass the rule on both data sets: a recipe that names no augmentation keeps its imagery's "
         "family at every budget, and `aug = \"none\"` stays a family a recipe can name.",
         "The rule adopts `none`: a recipe that names no augmentation trains without any at budgets up to 300 steps "
         "(`data.default_aug_family`)."), _earlier('aug_default', 'none'))

def balance_default_section() -> list[str]:
    "Class-balanced batches in the default recipe, on against off: held-back scenes decide"
    return _recipe_change_section('balance_default', 'Class-balanced batches in the default recipe', 'class-balanced batches',
        "`recommend`'s recipe corrects the imbalance three times: repeat-factor sampling, class-balanced batches "
        "(every batch holds a patch of each rare class) and per-batch class weights. `false` trains it without "
        "class-balanced batches (`balance = false`), everything else the same (seed, training rows, held-back part, "
        "steps, calibration); `default` is the recipe unchanged.",
        "`recommend` stops asking for class-balanced batches only if `false`'s out-of-fold held-back mIoU beats `default` "
        "on average on both data sets without its out-of-fold held-back rare mIoU falling on average on either.",
        'B', 'camvid_recommended_nobalance.toml',
        ("`false` does not pass the rule on both data sets: `recommend` keeps class-balanced batches, and "
         "`balance = false` stays a recipe setting.", "The rule adopts `false`: `recommend` no longer asks for "
         "class-balanced batches."), _earlier('balance_default', 'false'))

def tta_section() -> list[str]:
    "Test-time flips of saved CamVid `train` runs: none, left-right only (the model's training flips), both"
    recs = _jsonl(root/'nbs/results/tta.jsonl')
    if not recs: return []
    ways = [w for w in ('none', 'hflip', 'flips') if all(w in r for r in recs)]
    rows = [[f"`{r['run']}`", r['aug'], w, f"{r[w]['raw']['miou']:.3f}", f"{r[w]['calibrated']['miou']:.3f}",
             f"{r[w]['raw']['rare_miou']:.3f}", f"{r[w]['calibrated']['rare_miou']:.3f}"] for r in recs for w in ways]
    summ = [[w, len(recs), _ms([r[w]['raw']['miou'] for r in recs]), _ms([r[w]['calibrated']['miou'] for r in recs]),
             _sms([r[w]['calibrated']['miou'] - r['none']['calibrated']['miou'] for r in recs])] for w in ways]
    meas = _measured_at(recs)
    tr = _trained_at(recs)
    return ['### Test-time flips on street frames: only those the model trained with', '',
            "`predict_scene(tta=True)` (and `seg-imbalance predict --tta`) used to average each window over left–right *and* "
            "up–down flips; it now follows the model's training augmentation (`stitch.tta_flips`): left–right only for a "
            "model trained with `aug='hflip'` (the default for camera frames, which never shows a sky at the bottom). Each "
            "saved CamVid `train` model (the `auto` runs of *held back at random or in stretches of time*) predicted three "
            "ways, each calibrated on its held-back frames from that way's probabilities, scored on the whole val frames. "
            f"Command: `python benchmarks/tta.py --runs DIRS --data ../shared/data/camvid --size 128` (results "
            f"`nbs/results/tta.jsonl`; trained at {', '.join(tr)}; measured at {'; '.join(meas)}).", '',
            _md(['model', 'trained with', 'test-time flips', 'raw mIoU', 'calibrated mIoU', 'raw rare mIoU',
                 'calibrated rare mIoU'], rows), '',
            _md(['test-time flips', 'models', 'raw mIoU', 'calibrated mIoU', 'calibrated mIoU minus none'], summ), '']

def demo_seeds_section() -> list[str]:
    recs = _jsonl(root/'nbs/results/demo_seeds.jsonl')
    if not recs: return []
    import numpy as np
    g = [r['rare_miou']['recommended'] - r['rare_miou']['baseline'] for r in recs]
    w = [r['worst_loss'] for r in recs]
    rows = [[r['seed'], r['steps_done']['recommended'], f"{r['rare_miou']['baseline']:.3f}", f"{r['rare_miou']['recommended']:.3f}",
             f"{r['miou']['baseline']:.3f}", f"{r['miou']['recommended']:.3f}",
             f"{r['worst_loss']:+.3f} ({min(r['iou_gain'], key=lambda c: r['iou_gain'][c] if r['iou_gain'][c] == r['iou_gain'][c] else 9)})"] for r in recs]
    met = np.mean(g) >= .15 and min(w) >= -.02
    per = {} # each class's IoU change over the seeds (a class rare in one seed and common in another is one class)
    for r in recs:
        for c, v in r['iou_gain'].items():
            if v == v: per.setdefault(c.replace(' (rare)', ''), []).append(v)
    pm = {c: float(np.mean(v)) for c, v in per.items()}; wc = min(pm, key=pm.get)
    met_mean = np.mean(g) >= .15 and pm[wc] >= -.02
    say = lambda ok: 'met' if ok else 'not met'
    return ['### The demo: a fix or a trade?', '',
            "`seg-imbalance demo` at its defaults (12 scenes of 512 px, 64 px patches, batch 16): the baseline against `train`'s "
            "default path (the recommended recipe, calibrated on held-back scenes), both on the same training rows and steps, "
            "scored on the whole validation scenes. Command: `python benchmarks/demo_seeds.py --seeds 0 1 2` (results "
            f"`nbs/results/demo_seeds.jsonl`; commit {', '.join(sorted({str(r['run'].get('commit'))[:7] for r in recs}))}, "
            f"{'; '.join(sorted({str(r['run'].get('device_name') or r['run'].get('device')) for r in recs}))}).", '',
            _md(['seed', 'steps', 'rare mIoU baseline', 'rare mIoU toolkit', 'mIoU baseline', 'mIoU toolkit',
                 'worst class IoU change'], rows), '',
            f"Rare-class mIoU gain {_ms(g)}; worst class IoU change {min(w):+.3f}. The goal (gain ≥ +0.15 with no class "
            f"losing more than 0.02) is {say(met)} when every seed must keep every class within 0.02. Read class by class "
            f"as a mean of the {len(recs)} seeds, the largest loss is {wc}'s {pm[wc]:+.3f}; read that way, the goal is "
            f"{say(met_mean)}" + (" (the gain falls short)" if np.mean(g) < .15 else "") + ".", '']

def demo_train_section(f:str='demo_dice_wce.jsonl') -> list[str]:
    "The demo's goal (rare mIoU +0.15 over the baseline, no class losing more than 0.02) for `train` runs of one commit"
    recs = _jsonl(root/'nbs/results'/f)
    if not recs: return []
    by, say = {}, lambda ok: 'met' if ok else 'not met'
    for r in recs: by.setdefault(r['name'], {})[r['seed']] = r
    base, rows = by.get('baseline', {}), []
    for n, rs in by.items():
        ss = sorted(s for s in rs if s in base)
        if n == 'baseline' or not ss: continue
        d = {s: {c: v for c in rs[s]['iou'] if (v := rs[s]['iou'][c] - base[s]['iou'].get(c, np.nan)) == v} for s in ss} # NaN: absent
        per = {}
        for s in ss:
            for c, v in d[s].items(): per.setdefault(c, []).append(v)
        pm = {c: float(np.mean(v)) for c, v in per.items()}; wc = min(pm, key=pm.get)
        ws = [min(d[s].values()) for s in ss]; g = [rs[s]['rare_miou'] - base[s]['rare_miou'] for s in ss]
        rows.append([f"`{n}`", len(ss), _ms([rs[s]['miou'] for s in ss]), _ms([rs[s]['rare_miou'] for s in ss]), _sms(g),
                     _sms([rs[s]['miou'] - base[s]['miou'] for s in ss]), f"{min(ws):+.3f}", f"{wc} {pm[wc]:+.3f}",
                     say(np.mean(g) >= .15 and min(ws) >= -.02), say(np.mean(g) >= .15 and pm[wc] >= -.02)])
    at = sorted({f"{str(r['commit'])[:7]} ({r['device']})" for r in recs})
    rare = {tuple(r['rare']) for r in recs}
    pick = _heldback_pick(by, {r['seed']: r['rare'] for r in recs}, 'evaluation scenes', 'held-back scenes', False)
    return ['### The demo through `train`: the goal of a fix, not a trade', '',
            f"`seg-imbalance train demo --recipe R --steps {recs[0]['budget']} --size 64 --bs 16 --seed S` for R in "
            f"{', '.join(by)}, seeds {', '.join(map(str, sorted({r['seed'] for r in recs})))}: the same training rows and held-back "
            "scenes for every recipe of a seed, each calibrated there, scored on the whole evaluation scenes. Rare mIoU: "
            f"{'; '.join(', '.join(x) for x in sorted(rare))}. Command: `python benchmarks/search_demo.py --run --seeds "
            f"{' '.join(map(str, sorted({r['seed'] for r in recs})))} --recipes {_recipes_arg(recs)} --raw --out nbs/results/{f}` "
            f"({'one commit and device: ' if len(at) == 1 else 'NOT one commit and device: '}{'; '.join(at)}). The goal: rare "
            "mIoU at least +0.15 over the baseline with no class losing more than 0.02 IoU, read strictly (every seed "
            "keeps every class) or class by class as a mean of the seeds.", '',
            _md(['run', 'seeds', 'mIoU', 'rare mIoU', 'Δ rare vs baseline', 'Δ mIoU vs baseline', 'worst class change (any seed)',
                 'worst class change (mean of seeds)', 'goal, strict', 'goal, class means'], rows), '', *pick]

def demo_floor_section() -> list[str]:
    recs = _jsonl(root/'nbs/results/demo_floor.jsonl')
    if not recs: return []
    ways = ('raw', 'calibrated', 'floor')
    worst = lambda d: f"{min(d.values()):+.3f} ({min(d, key=d.get)})"
    rows = [[r['seed'], w, f"{r[w]['rare_miou'] - r['baseline']['rare_miou']:+.3f}", f"{r[w]['miou'] - r['baseline']['miou']:+.3f}",
             worst(r[w]['iou_gain']), worst(r[w]['heldback_iou_gain'])] for r in recs for w in ways]
    rows += [['mean ± std', w, _ms([r[w]['rare_miou'] - r['baseline']['rare_miou'] for r in recs]),
              _ms([r[w]['miou'] - r['baseline']['miou'] for r in recs]), _ms([r[w]['worst'] for r in recs]),
              _ms([r[w]['heldback_worst'] for r in recs])] for w in ways]
    at = lambda k: ', '.join(sorted({f"{str(r[k].get('commit'))[:7]} ({r[k].get('device_name') or r[k].get('device')})" for r in recs}))
    return ['### The demo\'s trade, held-back against evaluation scenes (a floor for the calibration)', '',
            "The same two demo runs per seed (baseline; the recommended recipe, uncalibrated; `run_demo`'s split and steps, "
            f"{recs[0]['steps']} steps), the recommended model scored three ways against the baseline: `raw`, `calibrated` "
            "(`demo`'s default: biases fitted on the held-back scenes for mIoU) and `floor` (biases fitted first to bring each "
            "class back up to the baseline's held-back IoU, `fit_class_biases(floor=...)`). Each IoU change is shown on the "
            "whole evaluation scenes and on the held-back scenes the biases were fitted on. Command: `python "
            f"benchmarks/demo_floor.py --seeds 0 1 2` (results `nbs/results/demo_floor.jsonl`; trained at {at('trained')}, "
            f"measured at {at('run')}).", '',
            _md(['seed', 'way', 'rare mIoU gain', 'mIoU gain', 'worst class change (evaluation)',
                 'worst class change (held-back)'], rows), '']

def camvid_floor_section(f:str='camvid_floor.jsonl', # the results file in nbs/results
                         title:str='', # what follows the section's title
                        ) -> list[str]:
    "`demo_floor.py --runs`: CamVid's `train` remedies calibrated three ways against the baseline run of their seed"
    recs = _jsonl(root/'nbs/results'/f)
    if not recs: return []
    ways, rows, by = ('raw', 'calibrated', 'floor'), [], {}
    worst = lambda d: f"{min(d.values()):+.3f} ({min(d, key=d.get)})"
    from seg_imbalance.choose import common_losses # the search's guard, on the recorded changes against the baseline
    gain = lambda d: pd.DataFrame({'IoU': pd.Series(d), 'pixels %': 1.0})
    lost = lambda r, w: ', '.join(f"{c} {v:+.3f}" for c, v in common_losses(
        gain(r[w]['heldback_iou_gain']), gain({c: 0. for c in r[w]['heldback_iou_gain']}), r['rare']).items()) or 'none'
    for r in recs:
        for w in ways:
            rows.append([f"`{r['run']}`", r['seed'], w, f"{r[w]['miou']:.3f}", f"{r[w]['rare_miou']:.3f}", worst(r[w]['iou_gain']),
                         worst(r[w]['heldback_iou_gain']), lost(r, w)])
            by.setdefault((r['run'].rsplit('_', 1)[0], w), []).append(r)
    summ = [[f"`{n}`", w, len(rs), _ms([r[w]['miou'] for r in rs]), _ms([r[w]['rare_miou'] for r in rs]),
             _sms([r[w]['miou'] - r['baseline']['miou'] for r in rs]), _sms([r[w]['rare_miou'] - r['baseline']['rare_miou'] for r in rs]),
             'met' if np.mean([r[w]['rare_miou'] for r in rs]) >= .10 and np.mean([r[w]['miou'] for r in rs]) >= .34 else 'not met']
            for (n, w), rs in by.items()]
    base = sorted({(r['seed'], r['baseline']['miou'], r['baseline']['rare_miou']) for r in recs})
    at = lambda k: '; '.join(sorted({f"{str(r[k].get('commit'))[:7]} ({r[k].get('device_name') or r[k].get('device')})" for r in recs}))
    pairs = ' '.join(f"RUNS/{r['run']}=RUNS/{r['baseline_run']}" for r in recs)
    return [f"### CamVid: the remedies calibrated with the baseline's held-back IoU as floor{title}", '',
            "The `train` runs of the table above, each remedy against the `baseline` run of its seed (the same held-back and val "
            "frames), three ways: `raw` (no biases), `calibrated` (`train`'s biases, mIoU ascent on the held-back frames) and "
            "`floor` (biases fitted first to bring each class back up to the baseline's held-back IoU after its own biases, as "
            "`--recipe search` calibrates its remedies; `fit_class_biases(floor=...)`). Changes are against the baseline as "
            "`train` stored it (calibrated: " + '; '.join(f"seed {s} mIoU {m:.3f}, rare mIoU {q:.3f}" for s, m, q in base) +
            "), on the val frames and on the held-back frames the biases were fitted on; the last column lists the common "
            "classes losing more than 0.02 held-back IoU, which the search's guard rejects. Command: `python "
            f"benchmarks/demo_floor.py --runs {pairs} "
            f"--data ../shared/data/camvid --size 128 --out nbs/results/{f}`, RUNS the folder of the runs above "
            f"(`search_demo.py --runs`; trained at {at('trained')}; measured at {at('run_info')}).", '',
            _md(['run', 'seed', 'way', 'mIoU', 'rare mIoU', 'worst class vs baseline (val)', 'worst class vs baseline (held-back)',
                 'common classes > 0.02 below the baseline (held-back)'], rows), '',
            _md(['recipe', 'way', 'seeds', 'mIoU', 'rare mIoU', 'Δ mIoU vs baseline', 'Δ rare vs baseline',
                 'target (rare ≥ 0.10, mIoU ≥ 0.34)'], summ), '']

def _mixed_note(s, rerun:str="Rerunning this grid on one commit and one device is open (issue 17).") -> list[str]:
    "The `summarize` flags of a table whose runs mix commits or devices (they do not pair honestly)"
    lines = s.attrs.get('mixed') or []
    return [f"**Not one commit and device:** {' '.join(l.rstrip('.') + '.' for l in lines)} {rerun}", ''] if lines else []

CPU_GRID = root/'nbs/results/camvid_grid_cpu/results.jsonl'

def _filled(path:Path) -> bool: return path.exists() and path.stat().st_size > 0

def _paid(recs:list, rare:list) -> str:
    "Per config, the common classes `ablate`'s over-correction guard (`ablation_warnings`) finds below the baseline's IoU"
    from seg_imbalance.results import ablation_warnings
    drops = {n: [l.split(' → ')[0] for l in ls if ' in the baseline ' in l]
             for n, ls in ablation_warnings(recs, 'baseline', rare=rare).items() if n != 'baseline'}
    return (" These are raw argmax scores (no calibration); the common classes `ablate`'s over-correction guard flags, each "
            "more than 0.02 IoU below the baseline (means over seeds): " +
            '; '.join(f"`{n}`: {', '.join(v) or 'none'}" for n, v in drops.items()) +
            " (its lines, with precision and recall, are in `nbs/results/camvid_grid_cpu/warnings.txt`).")

def camvid_grid_cpu_section() -> list[str]:
    "The CamVid grid's subset rerun on one commit and one CPU, and each config against its earlier grid rows of the same seeds"
    if not _filled(CPU_GRID): return []
    from seg_imbalance.ablate import read_results
    md, d = grid_table(CPU_GRID, 'baseline', 'article-smp'); s, recs, seeds = d['summary'], d['records'], set(d['seeds'])
    done = {n for n in s.index if s.loc[n, 'n_seeds'] == len(seeds)}
    old = [r for r in read_results(root/'nbs/results/camvid_ablation/results.jsonl') if r['seed'] in seeds]
    at = lambda rs: ', '.join(sorted({str(r.get('commit'))[:7] for r in rs}))
    mean = lambda rs, n, k: np.mean([r[k] for r in rs if r['name'] == n]) if any(r['name'] == n for r in rs) else np.nan
    cmp = [[f'`{n}`', _f(s.loc[n, 'miou_mean']), _f(mean(old, n, 'miou')), _f(s.loc[n, 'rare_miou_mean']),
            _f(mean(old, n, 'rare_miou')), at([r for r in old if r['name'] == n]) or '—'] for n in s.index]
    best, top = s.rare_miou_mean.idxmax(), s.miou_mean.idxmax()
    met = ((s.rare_miou_mean >= .1) & (s.miou_mean >= .34)).any()
    return ['### The CamVid grid again, on one commit and one CPU', '',
            "The grid above mixes commits and devices, so its rows do not pair. These configs of it (chosen before running: "
            "the baseline, the recommended recipe, the article's pipeline with and without its augmentation, the config "
            "with the highest rare-class mIoU above and the two with the highest mIoU) ran again at one commit, on one CPU, in one session, "
            f"each run on one thread, two at a time: seeds {', '.join(map(str, d['seeds']))}, the same budget and scoring "
            f"({d['n_runs']} runs: {'; '.join(d['devices'])}; commit {at(recs)}). Command: `OMP_NUM_THREADS=1 seg-imbalance "
            "ablate nbs/results/camvid_grid_cpu.toml --out nbs/results/camvid_grid_cpu --jobs 2` (it resumes).", '', md, '',
            *_mixed_note(s, ''),
            (f"Configs with fewer than {len(seeds)} seeds so far: {', '.join(f'`{n}`' for n in s.index if n not in done)}. "
             if len(done) < len(s) else '') +
            f"Highest rare-class mIoU: `{best}`, {_f(s.loc[best, 'rare_miou_mean'], s.loc[best, 'rare_miou_std'])} (mIoU "
            f"{_f(s.loc[best, 'miou_mean'], s.loc[best, 'miou_std'])}); highest mIoU: `{top}`, "
            f"{_f(s.loc[top, 'miou_mean'], s.loc[top, 'miou_std'])}. The target of rare-class mIoU ≥ 0.10 with mIoU ≥ 0.34 "
            f"is {'met' if met else 'not met'} by any config." + _ran(d, now_default=True) + _paid(recs, d['rare']), '',
            "Each config here against its rows of the same seeds in the grid above (means over those seeds; another commit "
            "and device, so a change of code, device and arithmetic at once, not a paired difference):", '',
            _md(['config', 'mIoU here', 'mIoU above', 'rare mIoU here', 'rare mIoU above', 'commit above'], cmp), '']

def block() -> str:
    out = [BEGIN, '']
    cv = root/'nbs/results/camvid_ablation/results.jsonl'
    if cv.exists():
        md, d = grid_table(cv, 'baseline', 'article-smp'); s = d['summary']
        best = s.rare_miou_mean.idxmax(); top = s.miou_mean.idxmax(); rec = s.loc['recommended'] if 'recommended' in s.index else None
        out += ['### CamVid: every remedy alone, the recipes and the article\'s own pipeline, at one budget', '',
                f"U-Net-ResNet18 from scratch, 128 px patches, batch {d['budget']['bs']}, {d['budget']['steps']} optimiser "
                f"steps, seeds {', '.join(map(str, d['seeds']))} ({d['n_runs']} runs: {'; '.join(d['devices'])}); "
                "each run scored on the 101 whole validation images (sliding windows, void "
                f"ignored). Rare classes: {', '.join(d['rare'])}. Mean ± std over seeds; Δ = paired gain over the named "
                "config, seed by seed (wins / pairs). `article-smp` is the article's pipeline built without this toolkit "
                "(SMP Dice + focal, `WeightedRandomSampler` ×3, SMP Unet without attention, plain PyTorch loop).",
                '', 'Grid `nbs/results/camvid_ablation.toml`; command: `seg-imbalance ablate nbs/results/camvid_ablation.toml '
                '--out nbs/results/camvid_ablation` (or, on one GPU machine, `bash benchmarks/camvid_ablation_gpu.sh OUT`).',
                '', md, '', *_mixed_note(s, 'Some of its configs ran again on one commit and one CPU: the next table.'
                                         if _filled(CPU_GRID) else
                                         'Rerunning this grid on one commit and one device is open (issue 17).'),
                f"Highest rare-class mIoU: `{best}`, {_f(s.loc[best, 'rare_miou_mean'], s.loc[best, 'rare_miou_std'])} "
                f"(mIoU {_f(s.loc[best, 'miou_mean'], s.loc[best, 'miou_std'])}); highest mIoU: `{top}`, "
                f"{_f(s.loc[top, 'miou_mean'], s.loc[top, 'miou_std'])} (rare {_f(s.loc[top, 'rare_miou_mean'])})."
                + ('' if rec is None else f" The `recommended` row: rare {_f(rec.rare_miou_mean, rec.rare_miou_std)}, "
                   f"mIoU {_f(rec.miou_mean, rec.miou_std)}.") +
                f" The target of rare-class mIoU ≥ 0.10 with mIoU ≥ 0.34 is "
                f"{'met' if ((s.rare_miou_mean >= .1) & (s.miou_mean >= .34)).any() else 'not met'} by any config."
                + _ran(d), '']
        out += camvid_grid_cpu_section()
    demo = root/'nbs/results/demo_ablation/results.jsonl'
    if _filled(demo):
        md, d = grid_table(demo, 'baseline')
        out += ['### Demo scenes: recipes and augmentation remedies', '',
                f"The 12 synthetic 512 px scenes of `seg-imbalance demo`, 64 px patches, batch {d['budget']['bs']}, "
                f"{d['budget']['steps']} steps, seeds {', '.join(map(str, d['seeds']))} ({d['n_runs']} runs: "
                f"{'; '.join(d['devices'])}), whole validation scenes; rare classes {', '.join(d['rare'])}. Grid "
                "`nbs/results/demo_ablation.toml`; command: `seg-imbalance ablate nbs/results/demo_ablation.toml --out "
                "nbs/results/demo_ablation`.", '', md, '', *_mixed_note(d['summary']), _ran(d).strip(), '']
    out += camvid_train_section() + camvid_train_section('camvid_train_cal.jsonl', CAL_TITLE, pick=True) + camvid_floor_section() + camvid_train_section('camvid_train_dwce.jsonl', DWCE_TITLE, pick=True) + camvid_floor_section('camvid_floor_dwce.jsonl', DWCE_FLOOR) + camvid_groups_section() + crossfit_section() + prior_match_section() + tta_section() + weight_average_section() + window_section() + natural_bn_section() + class_weights_section() + aug_default_section() + balance_default_section() + demo_seeds_section() + demo_train_section() + demo_floor_section() + search_section() + parity_section()
    return '\n'.join(out + [END])

def updated(readme:str) -> str:
    if BEGIN in readme:
        pre, rest = readme.split(BEGIN, 1); post = rest.split(END, 1)[1]
        return pre + block() + post
    anchor = '## Where each piece lives'
    return readme.replace(anchor, '## Measured: what each remedy does to each class\n\n' + block() + '\n\n' + anchor, 1)

if __name__ == '__main__':
    warnings.filterwarnings('ignore', message='mixed:')
    sys.path.insert(0, str(root))
    path = root/'README.md'; old = path.read_text(); new = updated(old)
    if '--check' in sys.argv:
        if new != old: sys.exit("README.md's results block is stale: run python tools/readme_results.py")
    else: path.write_text(new); print('README.md results block written')
