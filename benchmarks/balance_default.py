"""Class-balanced batches in the default recipe, on against off, decided on held-back scenes.

    nice python benchmarks/balance_default.py --seeds 0 1 2 --models M    # the demo: both ways trained per seed (kept in M)
    python benchmarks/balance_default.py --runs A0 A1 --vs B0 B1 --data ../shared/data/camvid --size 128 \\
        [--trained C --vs-trained C]                              # saved `train` outputs, paired by position

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

# the first way, the recipe unchanged, is paired with every other
WAYS, table, summary, main = recipe_change.bind('balance', ('default', 'false'), 'nbs/results/balance_default.jsonl')

if __name__ == '__main__': main(__doc__)
