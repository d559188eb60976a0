"""Every accepted recipe trains: each value of each choice field of `Recipe` (every name of every registry in
`recipe.RECIPE_CHOICES`, so a newly registered choice is tested automatically, plus `context`, `precision`, the
booleans and `aux`) trains one step through `fit_recipe` on tiny synthetic scenes with a finite loss."""
import dataclasses, math
import numpy as np, pytest, torch
from seg_imbalance.synth import synth_sceneset
from seg_imbalance.crop import tile
from seg_imbalance.recipe import RECIPE_CHOICES, Recipe, get_recipe
from seg_imbalance.fit import fit_recipe
from seg_imbalance.models import ARCHS, check_patch_size

ENCODER = 'resnet18' # the smallest SMP encoder every arch of `models.ARCHS` accepts without a download
SIZE = 64 # Segformer, PSPNet and the DeepLabs downsample by 32: 64 px patches keep a 2×2 deepest map

def _arch_size(arch:str) -> int:
    "SIZE, doubled until the library's own rule (`models.check_patch_size`) accepts it for `arch` (PAN: 128)"
    s = SIZE
    while True:
        try: return check_patch_size(arch, s)
        except ValueError:
            if s > 1024: raise
            s *= 2
ARCH_SIZE = {a: s for a in ARCHS if (s := _arch_size(a)) != SIZE}
BOOLS = ('balance', 'hem', 'copy_paste', 'rare_windows', 'guided', 'attention')

def _choices() -> list[tuple[str, object]]:
    "`(field, value)` of every accepted choice, each distinct recipe once (a field's default is the baseline)"
    base, out = Recipe(), [('baseline', None)]
    cands = [*((k, v) for k, reg in RECIPE_CHOICES.items() for v in reg.names), ('context', 'dilated'),
             ('precision', 'bf16'), *((k, not getattr(base, k)) for k in BOOLS), ('aux', 1)]
    for k, v in cands:
        if getattr(base, k) != v: out.append((k, v))
    return out

@pytest.fixture(scope='module')
def demo():
    "Three synthetic scenes cut into patches of each size used"
    out = {}
    for size in {SIZE, *ARCH_SIZE.values()}:
        ss = synth_sceneset(3, 2 * size, seed=0); out[size] = (ss, tile(ss, size))
    return out

def test_every_choice_field_is_covered():
    "A new choice field of `Recipe` has to be added here (registries are read automatically)"
    covered = {*RECIPE_CHOICES, 'context', 'precision', *BOOLS, 'aux'}
    choice_like = {f.name for f in dataclasses.fields(Recipe) if f.name in RECIPE_CHOICES or f.type in ('bool',)}
    assert choice_like <= covered, choice_like - covered

@pytest.mark.parametrize('field,value', _choices(), ids=lambda v: str(v))
def test_every_choice_trains(demo, field, value):
    ss, table = demo[ARCH_SIZE.get(value, SIZE) if field == 'arch' else SIZE]
    # 'building' as the rare class: enough of it in a patch for guided selection (its min_frac) on these tiny scenes
    r = get_recipe('baseline', encoder=ENCODER, rare=('building',), **({} if field == 'baseline' else {field: value}))
    torch.set_num_threads(1)
    learn = fit_recipe(r, ss, table, [2], steps=1, bs=2, seed=0, quiet=True)
    assert learn.steps == 1
    loss = float(learn.recorder.losses[-1])
    assert math.isfinite(loss), f"{field}={value!r}: loss {loss}"

def test_guided_recipe_with_a_class_too_scarce_for_min_frac_trains(demo):
    "No 64 px patch here holds 1 % of car (guided selection's `min_frac`): the patches holding any car train, with a warning"
    ss, table = demo[SIZE]
    r = get_recipe('baseline', encoder=ENCODER, guided=True, rare=('car',))
    torch.set_num_threads(1)
    with pytest.warns(UserWarning, match="no patch reaches min_frac=0.01 for 'car'"):
        learn = fit_recipe(r, ss, table, [2], steps=1, bs=2, seed=0, quiet=True)
    assert learn.steps == 1 and math.isfinite(float(learn.recorder.losses[-1]))

def test_batch_of_one_with_a_pooled_batchnorm_arch_fails_before_training(demo):
    "DeepLabV3 at bs 1 is refused by name before the model is built (not PyTorch's error mid-fit); Unet trains at bs 1"
    ss, table = demo[SIZE]
    with pytest.raises(ValueError, match="arch 'DeepLabV3' needs a training batch of at least 2"):
        fit_recipe(get_recipe('baseline', arch='DeepLabV3', encoder=ENCODER), ss, table, [2], steps=1, bs=1, seed=0, quiet=True)
    assert fit_recipe(get_recipe('baseline', encoder=ENCODER), ss, table, [2], steps=1, bs=1, seed=0, quiet=True).steps == 1
