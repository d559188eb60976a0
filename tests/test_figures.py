"Stored figures (tools/store_figures.py): every listed notebook shows its figures when browsed, small, and redrawn by CI."
import base64, json, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT/'tools'))
from store_figures import FIGURE_NOTEBOOKS, TAG, is_figure_cell, nb_path  # noqa: E402

LIMIT_KB = 150
SKIPPED = ('slow', 'cuda')  # pyproject's tst_flags: cells nbdev-test leaves out


def cells(name): return json.loads(nb_path(name).read_text(encoding='utf-8'))['cells']

def pngs(cell): return [base64.b64decode(o['data']['image/png']) for o in cell.get('outputs', []) if 'image/png' in o.get('data', {})]

def directives(cell):
    "The `#| name: value` lines at the top of a cell, as {name: value}"
    res = {}
    for l in ''.join(cell['source']).splitlines():
        if not l.startswith('#|'): break
        k, _, v = l[2:].strip().partition(':') if ':' in l else (l[2:].strip(), '', '')
        for w in (k.split() if not v else [k.strip()]): res[w] = v.strip()
    return res


def test_tags_survive_nbdev_clean():
    try: import tomllib
    except ModuleNotFoundError: import tomli as tomllib  # Python 3.10
    cfg = tomllib.loads((ROOT/'pyproject.toml').read_text())['tool']['nbdev']
    assert 'tags' in cfg.get('allowed_cell_metadata_keys', []), "nbdev-clean would strip the 'figure' tags"


@pytest.mark.parametrize('name', FIGURE_NOTEBOOKS)
def test_notebook_stores_figures(name):
    cs = cells(name)
    figs = [c for c in cs if is_figure_cell(c)]
    assert figs, f"{name}: no cell tagged {TAG!r}"
    assert sum(len(pngs(c)) for c in figs) >= 1, f"{name}: no stored PNG (run tools/store_figures.py {name})"
    for c in figs:
        assert pngs(c), f"{name}: figure cell {c['id']} has no stored PNG (run tools/store_figures.py {name})"
        for b in pngs(c):
            assert b[:8] == b'\x89PNG\r\n\x1a\n' and len(b) <= LIMIT_KB * 1024, f"{name}: {c['id']} PNG {len(b) // 1024} KB"
        d = directives(c)
        assert not (set(d) & set(SKIPPED)), f"{name}: figure cell {c['id']} is skipped by nbdev-test ({d})"
        assert d.get('eval', 'true').lower() not in ('false', '0'), f"{name}: figure cell {c['id']} is `#| eval: false`"
    others = [c['id'] for c in cs if c['cell_type'] == 'code' and not is_figure_cell(c) and c.get('outputs')]
    assert not others, f"{name}: cells {others} store outputs but are not figure cells"


def test_every_stored_png_is_small():
    for p in sorted((ROOT/'nbs').glob('*.ipynb')):
        for c in json.loads(p.read_text(encoding='utf-8'))['cells']:
            for b in pngs(c): assert len(b) <= LIMIT_KB * 1024, f"{p.name}: {c['id']} PNG {len(b) // 1024} KB"


def test_directives_parser():
    cell = lambda s: {'source': [s]}
    assert directives(cell('#| slow\nx = 1')) == {'slow': ''}
    assert directives(cell('#| eval: false\n#| hide\nx')) == {'eval': 'false', 'hide': ''}
    assert directives(cell('x = 1\n#| slow')) == {}
