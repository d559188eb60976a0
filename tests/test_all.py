"`from seg_imbalance.all import *` brings every public name of every module (the README's tour relies on it)."
import importlib, pkgutil
import seg_imbalance

def _modules():
    return sorted(m.name for m in pkgutil.iter_modules(seg_imbalance.__path__) if not m.name.startswith('_') and m.name not in ('all', 'checks'))  # checks: internal

def test_all_exports_every_public_name():
    import seg_imbalance.all as A
    missing = {m: sorted(set(importlib.import_module(f'seg_imbalance.{m}').__all__) - set(A.__all__)) for m in _modules()}
    missing = {m: v for m, v in missing.items() if v}
    assert not missing, f"seg_imbalance.all lacks {missing}: add the module to nbs/99_all.ipynb"

def test_star_import_gives_recommend_and_the_recipes():
    ns = {}
    exec('from seg_imbalance.all import *', ns)
    for name in ('recommend', 'Recipe', 'get_recipe', 'fit_recipe', 'imbalance_report', 'seg_learner', 'evaluate_scenes'):
        assert name in ns, name
