"""Class-balanced batches in the default recipe, on against off, decided on held-back scenes.

    nice python benchmarks/balance_default.py --seeds 0 1 2 --models M    # the demo: both ways trained per seed (kept in M)
    python benchmarks/balance_default.py --runs A0 A1 --vs B0 B1 --data ../shared/data/camvid --size 128 \\
        --trained COMMIT --vs-trained COMMIT                               # saved `train` outputs, paired by position

`recommend`'s recipe corrects the imbalance three times: repeat-factor sampling, class-balanced batches (every batch
holds a patch of each rare class) and per-batch class weights; the trained model over-predicts the rare classes until
the held-back biases pull it back. Softening the class weights (`class_weights.py`) did not pass its rule. `false`
trains the recipe without class-balanced batches (`balance = false`), everything else the same: seed, training rows,
held-back part, steps, calibration; `default` is the recipe unchanged.

The rule, fixed before measuring: `recommend` stops asking for class-balanced batches only if `false`'s out-of-fold
calibrated held-back mIoU beats `default` on average on both data sets (the demo; CamVid) and its out-of-fold held-back
rare mIoU does not fall on average on either. The evaluation scenes only report. This is `recipe_change.py` with
`--field balance --ways default false`.
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import recipe_change

WAYS = ('default', 'false') # the recipe unchanged first: the change is paired with it

def table(recs:list) -> list[dict]: return recipe_change.table(recs, WAYS[0])
def summary(recs:list) -> tuple[list[dict], list[str]]: return recipe_change.summary(recs, WAYS[0])

if __name__ == '__main__': recipe_change.main(__doc__, 'balance', WAYS, 'nbs/results/balance_default.jsonl')
