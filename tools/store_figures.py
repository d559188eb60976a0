"""Re-execute notebooks and store the outputs of their figure cells only, so the figures show when a notebook is browsed.

    python tools/store_figures.py                      # every notebook in FIGURE_NOTEBOOKS
    python tools/store_figures.py nbs/11_interpret.ipynb

A figure cell carries the tag "figure" in its cell metadata (Jupyter: View > Cell Toolbar > Tags; kept by `nbdev-clean`
through `allowed_cell_metadata_keys` in pyproject.toml). The notebook runs as `nbdev-test` runs it (same skipped flags,
working directory `nbs/`) with figures drawn at `DPI`; each figure cell then keeps only its PNG outputs (palette-encoded), every other
cell keeps none, and the notebook is passed through `nbdev-clean`. A tagged cell that `nbdev-test` would skip
(`#| slow`, `#| cuda`, `#| eval: false`) is an error: a stored figure must be one that CI redraws.
Run it (from the repository root) after changing a figure cell or the results file it reads, then commit the notebook.
"""
from __future__ import annotations
import argparse, base64, io, json, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURE_NOTEBOOKS = ['01_synth', '02_stats', '03_crop', '04b_sample', '05_augment', '10a_callbacks', '10b_stitch', '11_interpret', '11b_calibrate',
                    '92_tutorial.losses', '93_tutorial.camvid_ablation']  # notebooks whose figure cells are stored
TAG = 'figure'
DPI = 72          # matplotlib's figure.dpi while the notebook runs
COLORS = 128      # stored PNGs are re-encoded with a palette of this many colours when that is smaller
MAX_KB = 100      # a stored PNG larger than this is an error: draw it smaller

def nb_path(name:str) -> Path:
    "The notebook `nbs/{name}.ipynb` (or `name` when it is a path)"
    p = Path(name)
    return p if p.suffix == '.ipynb' else ROOT/'nbs'/f'{name}.ipynb'

def is_figure_cell(cell:dict) -> bool:
    "Whether `cell` is tagged as a figure cell"
    return cell['cell_type'] == 'code' and TAG in cell.get('metadata', {}).get('tags', [])

def shrink_png(b64:str, colors:int=COLORS) -> str:
    "The base64 PNG `b64` re-encoded with a palette of `colors` when that is smaller (plots lose nothing visible)"
    from PIL import Image
    im = Image.open(io.BytesIO(base64.b64decode(b64)))
    buf = io.BytesIO()
    im.convert('RGB').quantize(colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(buf, 'png', optimize=True)
    small = base64.b64encode(buf.getvalue()).decode()
    return small if len(small) < len(b64) else b64

def png_outputs(outputs:list) -> list[dict]:
    "The outputs holding a PNG, each reduced to a `display_data` with only its `image/png`, without repeats"
    res = []
    for o in outputs:
        png = (o.get('data') or {}).get('image/png')
        if png is None: continue
        png = shrink_png((''.join(png) if isinstance(png, list) else png).strip())
        if any(r['data']['image/png'] == png for r in res): continue  # a figure both drawn and returned: once
        res.append({'data': {'image/png': png}, 'metadata': {}, 'output_type': 'display_data'})
    return res

def png_kb(output:dict) -> float:
    "Size in KB of the PNG of a stored output"
    return len(base64.b64decode(output['data']['image/png'])) / 1024

def run_notebook(path:Path) -> dict:
    "Outputs by cell id of the cells `nbdev-test` runs in the notebook at `path`, run as it runs them"
    from fastcore.xtras import working_directory
    from execnb.shell import CaptureShell
    from nbdev.config import get_config
    from nbdev.process import NBProcessor
    from nbdev.test import _skip_cell
    cfg = get_config(path.parent)
    flags = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else list(cfg.tst_flags)
    nb = NBProcessor(path, rm_directives=False, process=True).nb
    skip = _skip_cell(nb, flags)
    sh = CaptureShell(path, mpl_format='png')
    sh.run(f"import matplotlib\nmatplotlib.rcParams['figure.dpi'] = {DPI}")
    with working_directory(path.parent):
        try: sh.run_all(nb, exc_stop=True, preproc=skip)
        except Exception as e: raise RuntimeError(f"{path.name}: a cell failed\n{sh.prettytb(fname=path)}") from e
    return {c.id: list(c.outputs) for c in nb.cells if c.cell_type == 'code' and not skip(c)}

def store_figures(path:Path) -> list[tuple[str, float]]:
    "Re-execute the notebook at `path` and store only its figure cells' PNG outputs; `(cell id, KB)` per stored PNG"
    nb = json.loads(path.read_text(encoding='utf-8'))
    figs = [c for c in nb['cells'] if is_figure_cell(c)]
    if not figs: raise ValueError(f"{path.name}: no cell is tagged {TAG!r}")
    outs = run_notebook(path)
    stored = []
    for c in nb['cells']:
        if c['cell_type'] != 'code': continue
        if not is_figure_cell(c): c['outputs'] = []; continue
        if c['id'] not in outs: raise ValueError(f"{path.name}: cell {c['id']} is tagged {TAG!r} but nbdev-test skips it")
        c['outputs'] = png_outputs(outs[c['id']])
        if not c['outputs']: raise ValueError(f"{path.name}: cell {c['id']} is tagged {TAG!r} but drew no figure")
        for o in c['outputs']:
            kb = png_kb(o)
            if kb > MAX_KB: raise ValueError(f"{path.name}: cell {c['id']} drew a {kb:.0f} KB PNG (limit {MAX_KB} KB)")
            stored.append((c['id'], kb))
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
    subprocess.run(['nbdev-clean', '--fname', str(path)], check=True, cwd=ROOT)
    return stored

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('notebooks', nargs='*', help='notebook paths or names (default: FIGURE_NOTEBOOKS)')
    args = ap.parse_args(argv)
    os.environ.setdefault('MPLBACKEND', 'Agg')
    for name in args.notebooks or FIGURE_NOTEBOOKS:
        p = nb_path(name)
        stored = store_figures(p)
        print(f"{p.name}: {len(stored)} figures, {sum(kb for _, kb in stored):.0f} KB "
              f"({', '.join(f'{i} {kb:.0f} KB' for i, kb in stored)})", flush=True)

if __name__ == '__main__': main()
