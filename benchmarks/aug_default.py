"""No training augmentation against the imagery's family at a short budget, decided on held-back scenes.

    nice python benchmarks/aug_default.py --seeds 0 1 2 --models M    # the demo: both ways trained per seed (kept in M)
    python benchmarks/aug_default.py --runs A0 A1 --vs N0 N1 --data ../shared/data/camvid --size 128 \\
        [--trained C --vs-trained C]                          # saved `train` outputs, paired by position
    python benchmarks/aug_default.py --seeds 0 --steps 8 --out /tmp/a.jsonl --models /tmp/am   # a smoke run

A recipe that names no augmentation takes its imagery's family (`data.default_aug_family`): fastai's `Dihedral` (the 8
symmetries of the square) for overhead scenes, horizontal flips for street frames. At 300 steps the parity table finds
the demo's toolkit side scoring higher on its evaluation scenes with no augmentation at all (`tk-noaug`), and the
outside roads set reported the same at 150 steps; a symmetry the model has not yet learned may cost more, at a short
budget, than the variety it adds. The evaluation scenes cannot decide a default. `none` (`aug = "none"`) against
`default` (the recipe unchanged), everything else the same: seed, training rows, held-back part, steps, calibration.

The rule, fixed before measuring: the default becomes `none` at budgets up to the steps measured (300) only if its
out-of-fold calibrated held-back mIoU beats `default` on average on both data sets (the demo, overhead; CamVid, street)
and its out-of-fold held-back rare mIoU does not fall on average on either. The evaluation scenes only report. This is
`recipe_change.py` with `--field aug --ways default none`.
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import recipe_change

# the first way, the recipe unchanged, is paired with every other
WAYS, table, summary, main = recipe_change.bind('aug', ('default', 'none'), 'nbs/results/aug_default.jsonl')

if __name__ == '__main__': main(__doc__)
