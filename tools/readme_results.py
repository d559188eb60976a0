#!/usr/bin/env python3
"""Write the measured-results block of README.md from the committed results files (never typed by hand).

    python tools/readme_results.py          # rewrite the block between the markers, then tools/readme_to_index.py
    python tools/readme_results.py --check  # exit 1 when the README's block differs from the results files

tests/test_readme.py runs the check, so a results file that grows and a README that does not fail CI.
"""
import sys
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
                    seeds=sorted({r['seed'] for r in recs}))

def _ran(d:dict) -> str:
    "Which recipe the grid's `recommended` runs used, in words"
    r = d.get('recommended_ran')
    if not r: return ''
    parts = [r['loss'] + (f" with {r['class_weights']} class weights" if r.get('class_weights') else ''),
             *(['copy-paste'] if r.get('copy_paste') else []), *([f"{r['context']} context"] if r.get('context') else []),
             *([f"{r.get('sample_weights') or r['weights']} sampling"] if r.get('sample_weights') or r.get('weights') else []), *(['class-balanced batches'] if r.get('balance') else [])]
    s, now = d['summary'], 'long-tail-balanced'
    got = (f": rare {_f(s.loc[now, 'rare_miou_mean'], s.loc[now, 'rare_miou_std'])}, mIoU "
           f"{_f(s.loc[now, 'miou_mean'], s.loc[now, 'miou_std'])}" if now in s.index else '')
    return (f" The `recommended` rows ran the `recommend` of their commit, which chose {', '.join(parts)}; "
            f"`recommend` now returns the long-tail recipe with class-balanced batches (`{now}`{got}).")

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
                '', md, '',
                f"Highest rare-class mIoU: `{best}`, {_f(s.loc[best, 'rare_miou_mean'], s.loc[best, 'rare_miou_std'])} "
                f"(mIoU {_f(s.loc[best, 'miou_mean'], s.loc[best, 'miou_std'])}); highest mIoU: `{top}`, "
                f"{_f(s.loc[top, 'miou_mean'], s.loc[top, 'miou_std'])} (rare {_f(s.loc[top, 'rare_miou_mean'])})."
                + ('' if rec is None else f" The `recommended` row: rare {_f(rec.rare_miou_mean, rec.rare_miou_std)}, "
                   f"mIoU {_f(rec.miou_mean, rec.miou_std)}.") +
                f" The target of rare-class mIoU ≥ 0.10 with mIoU ≥ 0.34 is "
                f"{'met' if ((s.rare_miou_mean >= .1) & (s.miou_mean >= .34)).any() else 'not met'} by any config."
                + _ran(d), '']
    demo = root/'nbs/results/demo_ablation/results.jsonl'
    if demo.exists() and demo.stat().st_size:
        md, d = grid_table(demo, 'baseline')
        out += ['### Demo scenes: recipes and augmentation remedies', '',
                f"The 12 synthetic 512 px scenes of `seg-imbalance demo`, 64 px patches, batch {d['budget']['bs']}, "
                f"{d['budget']['steps']} steps, seeds {', '.join(map(str, d['seeds']))} ({d['n_runs']} runs: "
                f"{'; '.join(d['devices'])}), whole validation scenes; rare classes {', '.join(d['rare'])}. Grid "
                "`nbs/results/demo_ablation.toml`; command: `seg-imbalance ablate nbs/results/demo_ablation.toml --out "
                "nbs/results/demo_ablation`.", '', md, '', _ran(d).strip(), '']
    return '\n'.join(out + [END])

def updated(readme:str) -> str:
    if BEGIN in readme:
        pre, rest = readme.split(BEGIN, 1); post = rest.split(END, 1)[1]
        return pre + block() + post
    anchor = '## Where each piece lives'
    return readme.replace(anchor, '## Measured: what each remedy does to each class\n\n' + block() + '\n\n' + anchor, 1)

if __name__ == '__main__':
    sys.path.insert(0, str(root))
    path = root/'README.md'; old = path.read_text(); new = updated(old)
    if '--check' in sys.argv:
        if new != old: sys.exit("README.md's results block is stale: run python tools/readme_results.py")
    else: path.write_text(new); print('README.md results block written')
