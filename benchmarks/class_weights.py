"""Softer class weights in the default recipe: per-batch weights ∝ frequency^-1/2 against ∝ frequency^-1, decided on held-back scenes.

    nice python benchmarks/class_weights.py --seeds 0 1 2                # the demo: both ways trained per seed (kept in --models)
    python benchmarks/class_weights.py --runs A0 A1 --vs S0 S1 --data ../shared/data/camvid --size 128 \\
        --trained COMMIT --vs-trained COMMIT                              # saved `train` outputs, paired by position
    python benchmarks/class_weights.py --seeds 0 --steps 8 --out /tmp/c.jsonl --models /tmp/cm   # a smoke run

`recommend` picks weighted cross-entropy with weights from each batch's pixels (`'batch'`: inverse frequency, capped at
10) on top of repeat-factor sampling and class-balanced batches: three corrections of one imbalance, and the trained
model over-predicts the rare classes (recall far above precision) until the held-back biases pull it back. `batch_sqrt`
takes the inverse square root of the frequency instead (`DynamicWeights(power=.5)`), everything else the same: the
same seed, training rows, held-back part, steps and calibration. Each model is calibrated on its held-back scenes and
scored as `window.py` scores its patch window: held-back out of fold (each class's raw IoU plus its cross-fitted change
under the biases), evaluation scenes raw and calibrated. Models: the demo's default recipe (`window.demo_model`) trained
here both ways per seed; or `train` output folders, `--runs` (the default, `batch`) paired with `--vs` (`batch_sqrt`,
e.g. `train --recipe` a TOML of the recommended recipe with `class_weights = "batch_sqrt"`).

The rule, fixed before measuring: `batch_sqrt` becomes `recommend`'s class weights only if its out-of-fold calibrated
held-back mIoU beats `batch` on average on both data sets and its out-of-fold held-back rare mIoU does not fall on
average on either. The evaluation scenes only report. One line per seed, with each way's training commit and device and
the commit and device of this measurement.
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from _common import parser, run_info, print_table, jsonl_records, append_record
from window import windows, paired_table, paired_summary, model_args, demo_model

WAYS = ('batch', 'batch_sqrt') # the default first: every change is paired with it

def demo_pair(a, seed:int, info:dict):
    "The record head and, per way, the demo model trained with that way's class weights and its scores"
    out, trained = {}, {}
    for way in WAYS:
        model, ss, _, valid, hb, rare, meta = demo_model(Path(a.models)/way/f'seed{seed}_steps{a.steps}', seed, a.steps, 16,
                                                         info, class_weights=way)
        print(f"demo seed {seed}, {way}", flush=True)
        out[way] = {**windows(model, ss, valid, hb, rare, [1])['1'], 'steps': meta['steps']}; trained[way] = meta['trained']
    return {'data': 'demo', 'seed': seed, 'steps_asked': a.steps, 'rare': rare, 'ways': out, 'trained': trained}

def runs_pair(a, run:Path, vs:Path):
    "The record head and, per way, the saved `train` run's model and its scores"
    from crossfit import load_run
    out, heads = {}, {}
    for way, r, commit in ((WAYS[0], run, a.trained), (WAYS[1], vs, a.vs_trained)):
        model, ss, valid, hb, sm = load_run(r, a.data, a.size)
        print(f"{r} ({way})", flush=True)
        out[way] = {**windows(model, ss, valid, hb, sm.get('rare'), [1])['1'], 'steps': sm.get('steps'), 'run': r.name,
                    'recipe': sm.get('recipe')}
        heads[way] = {'commit': commit}; seed, rare = sm.get('seed'), sm.get('rare')
    return {'data': Path(a.data).name, 'run': run.name, 'seed': seed, 'rare': rare, 'ways': out, 'trained': heads}

def table(recs:list) -> list[dict]: return paired_table(recs, 'ways', WAYS[0])
def summary(recs:list) -> tuple[list[dict], list[str]]: return paired_summary(table(recs), WAYS[0])

if __name__ == '__main__':
    p = model_args(parser(__doc__.split('\n')[0], seeds=[0, 1, 2], out='nbs/results/class_weights.jsonl'))
    p.add_argument('--vs', nargs='+', default=None, help='with --runs: the batch_sqrt runs, in the same order')
    p.add_argument('--vs-trained', default=None, help='with --vs: the commit they trained at')
    a = p.parse_args()
    if a.runs and len(a.vs or []) != len(a.runs): raise SystemExit('--vs needs one batch_sqrt run per --runs run')
    if a.threads: import torch; torch.set_num_threads(a.threads)
    out, recs = jsonl_records(a.out)
    info = run_info('cpu') # once: a commit made while this runs does not split its models across commits
    todo = [(Path(r), Path(v)) for r, v in zip(a.runs, a.vs)] if a.runs else a.seeds
    for t in todo:
        if any(r.get('run') == t[0].name if a.runs else r['data'] == 'demo' and r['seed'] == t and r['steps_asked'] == a.steps
               for r in recs): continue
        append_record(out, {**(runs_pair(a, *t) if a.runs else demo_pair(a, t, info)), 'measured': info}, recs)
    print_table(table(recs))
    rows, adopted = summary(recs)
    fmt = lambda v: f"{v[0]:+.3f} ± {v[1]:.3f}" if isinstance(v, tuple) else v
    print_table([{k: fmt(v) for k, v in r.items()} for r in rows]); print(f"adopted by the rule: {adopted or 'none'}")
