"""Softer class weights in the default recipe: per-batch weights ∝ frequency^-1/2 against ∝ frequency^-1, decided on held-back scenes.

    nice python benchmarks/class_weights.py --seeds 0 1 2                # the demo: both ways trained per seed (kept in --models)
    python benchmarks/class_weights.py --runs A0 A1 --vs S0 S1 --data ../shared/data/camvid --size 128 \\
        [--trained C --vs-trained C]                             # saved `train` outputs, paired by position
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
the commit and device of this measurement. This is `recipe_change.py` with `--field class_weights --ways batch batch_sqrt`.
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import recipe_change

# the first way, the default, is paired with every other
WAYS, table, summary, main = recipe_change.bind('class_weights', ('batch', 'batch_sqrt'), 'nbs/results/class_weights.jsonl')

if __name__ == '__main__': main(__doc__)
