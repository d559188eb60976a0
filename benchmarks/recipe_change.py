"""One field of the default recipe, its value against another, paired per seed and decided on held-back scenes.

    nice python benchmarks/recipe_change.py --field aug --ways default none --seeds 0 1 2 --out OUT.jsonl
    python benchmarks/recipe_change.py --field aug --ways default none --runs A0 A1 --vs N0 N1 \\
        --data ../shared/data/camvid --size 128 --out OUT.jsonl

The first of `--ways` is the way every other is paired with; `default` means the recipe unchanged (the field as the
recipe leaves it), any other value sets the field to it (read as JSON where it parses: `false`, `0.001`; else text). Models: the demo's default recipe (`window.demo_model`)
trained here each way per seed and kept in `--models/WAY/`; or `train` output folders, `--runs` (the first way) paired
by position with `--vs` (the second way: e.g. `train --recipe` a TOML of the recommended recipe with the field set).
Each model is calibrated on its held-back scenes and scored as `window.py` scores its patch window: held-back out of
fold (each class's raw IoU plus its cross-fitted change under the biases), evaluation scenes raw and calibrated.

The rule (`window.paired_summary`): a way is adopted only if its out-of-fold calibrated held-back mIoU beats the first
way's on average on every data set measured (two at least) and its out-of-fold held-back rare mIoU does not fall on
average on any. The evaluation scenes only report. One line per seed, with each way's training commit and device (read from a
run's summary.json; `--trained`/`--vs-trained` for runs saved before it recorded them) and the commit and device of this
measurement. `class_weights.py`, `aug_default.py` and `balance_default.py` are this benchmark for one field each (`bind`).
"""
import json, sys
from functools import partial
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from _common import parser, run_info, print_table, jsonl_records, append_record
from window import windows, paired_table, paired_summary, model_args, demo_model

def change_of(field:str, way:str) -> dict:
    "The recipe change of a way: none for `default`, else the field set to the way read as JSON (`false`, `0.001`) or as text"
    if way == 'default': return {}
    try: return {field: json.loads(way)}
    except ValueError: return {field: way}

def demo_pair(a, seed:int, info:dict):
    "The record head and, per way, the demo model trained that way and its scores"
    out, trained = {}, {}
    for way in a.ways:
        model, ss, _, valid, hb, rare, meta = demo_model(Path(a.models)/way/f'seed{seed}_steps{a.steps}', seed, a.steps, 16,
                                                         info, **change_of(a.field, way))
        print(f"demo seed {seed}, {a.field} {way}", flush=True)
        out[way] = {**windows(model, ss, valid, hb, rare, [1])['1'], 'steps': meta['steps']}; trained[way] = meta['trained']
    return {'data': 'demo', 'seed': seed, 'steps_asked': a.steps, 'field': a.field, 'rare': rare, 'ways': out, 'trained': trained}

def runs_pair(a, run:Path, vs:Path):
    "The record head and, per way, the saved `train` run's model and its scores"
    from crossfit import load_run, run_trained
    out, heads = {}, {}
    for way, r, commit in ((a.ways[0], run, a.trained), (a.ways[1], vs, a.vs_trained)):
        model, ss, valid, hb, sm = load_run(r, a.data, a.size)
        print(f"{r} ({a.field} {way})", flush=True)
        out[way] = {**windows(model, ss, valid, hb, sm.get('rare'), [1])['1'], 'steps': sm.get('steps'), 'run': r.name,
                    'recipe': sm.get('recipe')}
        heads[way] = run_trained(sm, commit, r); seed, rare = sm.get('seed'), sm.get('rare')
    return {'data': Path(a.data).name, 'run': run.name, 'seed': seed, 'field': a.field, 'rare': rare, 'ways': out,
            'trained': heads}

def table(recs:list, base:str) -> list[dict]: return paired_table(recs, 'ways', base)
def summary(recs:list, base:str) -> tuple[list[dict], list[str]]: return paired_summary(table(recs, base), base)

def bind(field:str, ways:tuple, out:str) -> tuple:
    "A one-field benchmark's names: its ways, `table` and `summary` paired with the first way, and `main(doc)`"
    return (ways, partial(table, base=ways[0]), partial(summary, base=ways[0]),
            lambda doc: main(doc, field, ways, out))

def main(doc:str, field:str|None=None, ways:tuple|None=None, out:str|None=None):
    "Measure the models not yet in the results file, then print the paired table, the summary and the rule's verdict"
    p = model_args(parser(doc.split('\n')[0], seeds=[0, 1, 2], out=out))
    p.add_argument('--field', default=field, required=field is None, help='the recipe field changed')
    p.add_argument('--ways', nargs='+', default=list(ways or ()), required=ways is None,
                   help="its values, the first paired with every other ('default': the recipe unchanged)")
    p.add_argument('--vs', nargs='+', default=None, help='with --runs: the second way\'s runs, in the same order')
    p.add_argument('--vs-trained', default=None, help='with --vs: the commit they trained at (read from their summary.json when it records it)')
    a = p.parse_args()
    if len(a.ways) < 2 or len(set(a.ways)) < len(a.ways): raise SystemExit(f'--ways needs two different values at least, got {a.ways}')
    if a.runs and len(a.vs or []) != len(a.runs): raise SystemExit(f'--vs needs one {a.ways[1]} run per --runs run')
    if a.runs and len(a.ways) != 2: raise SystemExit('with --runs, --ways names two ways: the runs and the --vs runs')
    if a.threads: import torch; torch.set_num_threads(a.threads)
    out, recs = jsonl_records(a.out)
    info = run_info('cpu') # once: a commit made while this runs does not split its models across commits
    todo = [(Path(r), Path(v)) for r, v in zip(a.runs, a.vs)] if a.runs else a.seeds
    for t in todo:
        if any(r.get('run') == t[0].name if a.runs else r['data'] == 'demo' and r['seed'] == t and r['steps_asked'] == a.steps
               for r in recs): continue
        append_record(out, {**(runs_pair(a, *t) if a.runs else demo_pair(a, t, info)), 'measured': info}, recs)
    print_table(table(recs, a.ways[0]))
    rows, adopted = summary(recs, a.ways[0])
    fmt = lambda v: f"{v[0]:+.3f} ± {v[1]:.3f}" if isinstance(v, tuple) else v
    print_table([{k: fmt(v) for k, v in r.items()} for r in rows]); print(f"adopted by the rule: {adopted or 'none'}")

if __name__ == '__main__': main(__doc__)
