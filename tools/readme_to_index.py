#!/usr/bin/env python3
"Write nbs/index.ipynb (nbdev's home page) from README.md, so the two never disagree."
import json
from pathlib import Path

root = Path(__file__).resolve().parents[1]

def index_nb(readme:str) -> dict:
    lines = readme.splitlines(keepends=True)
    cell = {'cell_type': 'markdown', 'id': 'c000', 'metadata': {}, 'source': lines}
    return {'cells': [cell], 'metadata': {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}},
            'nbformat': 4, 'nbformat_minor': 5}

if __name__ == '__main__':
    nb = index_nb((root / 'README.md').read_text())
    (root / 'nbs' / 'index.ipynb').write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
