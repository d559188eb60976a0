"""BatchNorm statistics of the scenes' own class mix against the sampler's: decided on held-back scenes, shown on evaluation ones.

    nice python benchmarks/natural_bn.py --seeds 0 1 2                 # the demo: window.py's models (trained in --models when missing)
    python benchmarks/natural_bn.py --runs R0 R1 --data ../shared/data/camvid --size 128 --trained COMMIT   # saved `train` outputs
    python benchmarks/natural_bn.py --seeds 0 --steps 8 --batches 2 --out /tmp/n.jsonl --models /tmp/wm      # a smoke run

`train`'s default recipe draws its patches by class (repeat-factor sampling, class-balanced batches), so BatchNorm's
running statistics are those of the drawn mix, while the scenes to predict hold the natural one. For each model of
`train`'s default path, `running` is the model as trained and `natural` the same weights with every BatchNorm's
statistics re-estimated over `--batches` batches of 16 training patches drawn uniformly (`fit.natural_bn_stats`; the
training rows only: never held-back or evaluation ones). Each way is calibrated on the held-back scenes and scored as
`window.py` scores its patch window: held-back out of fold (each class's raw IoU plus its cross-fitted change under the
biases), evaluation scenes raw and calibrated. The rule, fixed before measuring: `natural` becomes `train`'s default
only if its out-of-fold held-back mIoU beats `running` on average on both data sets and its out-of-fold held-back rare
mIoU does not fall on average on either; the evaluation scenes only report. One line per model, with the commit and
device of its training and of this measurement.
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from _common import parser, run_info, print_table, jsonl_records, append_record
from window import windows, demo_model, paired_table, paired_summary

def train_rows(table, valid, hb):
    "The patch rows `train` trained on: outside the evaluation scenes and the held-back part"
    from seg_imbalance.split import window_overlaps
    rows = table[~table.scene.isin(list(valid) + list(hb.scenes))]
    return rows[~window_overlaps(rows, hb.regions)] if hb.regions else rows

def measure(model, ss, table, valid, hb, rare, batches:int, seed:int) -> dict:
    "`running` and `natural`: each way calibrated on the held-back scenes and scored (`window.windows` at the patch)"
    from seg_imbalance.fit import natural_bn_stats
    out = {'running': windows(model, ss, valid, hb, rare, [1])['1']}
    n = natural_bn_stats(model, ss, train_rows(table, valid, hb), batches=batches, seed=seed)
    return {'ways': {**out, 'natural': windows(model, ss, valid, hb, rare, [1])['1']}, 'patches': n}

def table(recs:list) -> list[dict]: return paired_table(recs, 'ways', 'running')
def summary(recs:list) -> tuple[list[dict], list[str]]: return paired_summary(table(recs), 'running')

if __name__ == '__main__':
    p = parser(__doc__.split('\n')[0], seeds=[0, 1, 2], out='nbs/results/natural_bn.jsonl')
    p.add_argument('--batches', type=int, default=50, help='batches of 16 training patches the statistics are taken over')
    p.add_argument('--steps', type=int, default=300)
    p.add_argument('--models', default='/tmp/window_models', help="where the demo models are kept (window.py's)")
    p.add_argument('--runs', nargs='+', default=None, help='`train` output folders to measure instead of the demo')
    p.add_argument('--data', default=None, help='with --runs: the scene folder they trained on')
    p.add_argument('--size', type=int, default=128, help='with --runs: their patch size')
    p.add_argument('--trained', default=None, help='with --runs: the commit they trained at')
    p.add_argument('--threads', type=int, default=None)
    a = p.parse_args()
    if a.threads: import torch; torch.set_num_threads(a.threads)
    out, recs = jsonl_records(a.out)
    info = run_info('cpu') # once: a commit made while this runs does not split its models across commits
    for run, s in [(Path(r), None) for r in a.runs] if a.runs else [(None, s) for s in a.seeds]:
        if any(r.get('run') == run.name if run else r['data'] == 'demo' and r['seed'] == s and r['steps_asked'] == a.steps
               for r in recs): continue
        print(run or f'demo seed {s}', flush=True)
        if run is None:
            from weight_average import split
            model, ss, valid, hb, rare, meta = demo_model(Path(a.models)/f'seed{s}_steps{a.steps}', s, a.steps, 16, info)
            _, tab, _, hb, _ = split('demo', 64, s, 16)
            r = {'data': 'demo', 'seed': s, 'steps_asked': a.steps, 'steps': meta['steps'], 'trained': meta['trained']}
        else:
            from crossfit import load_run
            from seg_imbalance.experiments import load_data
            model, ss, valid, hb, sm = load_run(run, a.data, a.size); rare = sm.get('rare')
            tab = load_data({'source': a.data if a.data == 'demo' else str(Path(a.data).resolve()), 'size': a.size, 'valid_pct': 0.2})[1]
            r = {'data': Path(a.data).name, 'run': run.name, 'seed': sm.get('seed'), 'steps': sm.get('steps'),
                 'recipe': sm.get('recipe'), 'trained': {'commit': a.trained}}
        append_record(out, {**r, 'rare': rare, 'batches': a.batches, **measure(model, ss, tab, valid, hb, rare, a.batches, s),
                            'measured': info}, recs)
    print_table(table(recs))
