"One registry per choice: an entry registered in one place is valid in the recipe check, the CLI help and the ablation TOML check."
import contextlib, io
import pytest, torch
from seg_imbalance.recipe import LOSS_REGISTRY, Recipe, check_recipe, recipe_loss, get_recipe
from seg_imbalance.losses import DiceLoss
from seg_imbalance.cli import main, load_ablation


def _train_help() -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit): main(['train', '--help'])
    return out.getvalue()


@pytest.fixture
def dummy_loss():
    LOSS_REGISTRY.register('dummy_dice', 'a dummy loss registered by a test', lambda r, cw, ign: DiceLoss(ignore_index=ign))
    yield 'dummy_dice'
    LOSS_REGISTRY.unregister('dummy_dice')


def test_registered_loss_is_valid_everywhere(dummy_loss, tmp_path):
    assert check_recipe(Recipe(loss=dummy_loss)).loss == dummy_loss
    assert type(recipe_loss(Recipe(loss=dummy_loss), torch.ones(3).numpy())).__name__ == 'DiceLoss'
    assert dummy_loss in _train_help() and 'a dummy loss registered by a test' in _train_help()
    toml = tmp_path/'grid.toml'
    toml.write_text(f'seeds = [0]\n[[config]]\nname = "d"\nloss = "{dummy_loss}"\n')
    assert load_ablation(toml)['configs'][0]['loss'] == dummy_loss


def test_unregistered_loss_is_refused_everywhere(tmp_path):
    with pytest.raises(ValueError, match="loss='dummy_dice' is not one of"): check_recipe(Recipe(loss='dummy_dice'))
    with pytest.raises(ValueError, match="loss='dummy_dice' is not one of"): get_recipe({'loss': 'dummy_dice'})
    assert 'dummy_dice' not in _train_help()
    toml = tmp_path/'grid.toml'
    toml.write_text('seeds = [0]\n[[config]]\nname = "d"\nloss = "dummy_dice"\n')
    with pytest.raises(ValueError, match="loss='dummy_dice' is not one of"): load_ablation(toml)
