#!/usr/bin/env python3
"""Write nbs/index.ipynb (nbdev's home page) from README.md, so the two never disagree.

Markdown becomes markdown cells; each ```python block becomes a code cell, so `nbdev-test` runs the README's Python
in order (on the demo scenes) in CI. Outputs of code cells already in the index are kept when their source is unchanged
(figures stay visible when the notebook is browsed); `--keep-outputs no` drops them."""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]
FENCE = re.compile(r'^```python\n(.*?)^```\n?', re.S | re.M)

def split_readme(readme:str) -> list[tuple[str, str]]:
    "`(kind, text)` pieces of the README: 'markdown' between the ```python blocks, 'code' for each block"
    parts, pos = [], 0
    for m in FENCE.finditer(readme):
        if readme[pos:m.start()].strip(): parts.append(('markdown', readme[pos:m.start()]))
        parts.append(('code', m.group(1)))
        pos = m.end()
    if readme[pos:].strip(): parts.append(('markdown', readme[pos:]))
    return parts

def join_parts(parts:list[tuple[str, str]]) -> str:
    "The README text back from its pieces"
    return ''.join(t if k == 'markdown' else f'```python\n{t}```\n' for k, t in parts)

def index_nb(readme:str, old:dict|None=None) -> dict:
    outs = {''.join(c['source']): c.get('outputs', []) for c in (old or {}).get('cells', []) if c['cell_type'] == 'code'}
    cells = []
    for i, (kind, text) in enumerate(split_readme(readme)):
        c = {'cell_type': kind, 'id': f'c{i:03d}', 'metadata': {}, 'source': text.splitlines(keepends=True)}
        if kind == 'code':
            c['source'] = text.rstrip('\n').splitlines(keepends=True)
            c.update(execution_count=None, outputs=outs.get(''.join(c['source']), []))
        cells.append(c)
    return {'cells': cells, 'metadata': {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}},
            'nbformat': 4, 'nbformat_minor': 5}

def index_text(nb:dict) -> str:
    "The README text an index notebook holds"
    return join_parts([(c['cell_type'], ''.join(c['source']) + ('\n' if c['cell_type'] == 'code' else ''))
                       for c in nb['cells']])

if __name__ == '__main__':
    path = root / 'nbs' / 'index.ipynb'
    old = json.loads(path.read_text()) if path.exists() and '--keep-outputs=no' not in sys.argv else None
    nb = index_nb((root / 'README.md').read_text(), old)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
