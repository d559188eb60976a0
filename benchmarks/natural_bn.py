"""BatchNorm statistics of the scenes' own class mix against the sampler's: decided on held-back scenes, shown on evaluation ones.

    nice python benchmarks/natural_bn.py --seeds 0 1 2                 # the demo: window.py's models (trained in --models when missing)
    python benchmarks/natural_bn.py --runs R0 R1 --data ../shared/data/camvid --size 128 --trained COMMIT   # saved `train` outputs
    python benchmarks/natural_bn.py --seeds 0 --steps 8 --batches 2 --out /tmp/n.jsonl --models /tmp/wm      # a smoke run

`train`'s default recipe draws its patches by class (repeat-factor sampling, class-balanced batches), so BatchNorm's
running statistics are those of the drawn mix, while the scenes to predict hold the natural one. For each model of
`train`'s default path, `running` is the model as trained and `natural` the same weights with every BatchNorm's
statistics re-estimated over `--batches` batches of 16 training patches drawn uniformly, or all of them where there are
fewer (`fit.natural_bn_stats`; the training rows only: never held-back or evaluation ones). Each way is calibrated on the held-back scenes and scored as
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
from window import windows, paired_table, paired_summary, model_args, each_model

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
    p = model_args(parser(__doc__.split('\n')[0], seeds=[0, 1, 2], out='nbs/results/natural_bn.jsonl'))
    p.add_argument('--batches', type=int, default=50, help='batches of 16 training patches the statistics are taken over')
    a = p.parse_args()
    out, recs = jsonl_records(a.out)
    info = run_info('cpu') # once: a commit made while this runs does not split its models across commits
    for r, model, ss, tab, valid, hb, rare in each_model(a, recs, info):
        append_record(out, {**r, 'rare': rare, 'batches': a.batches, **measure(model, ss, tab, valid, hb, rare, a.batches, r['seed']),
                            'measured': info}, recs)
    print_table(table(recs))
