"Issue 20: imports only run forward, no library module over 450 lines, no long public function unless it is a recipe."
import ast, json, re
from pathlib import Path
import pytest

ROOT = Path(__file__).parent.parent
LIB, NBS = ROOT/'seg_imbalance', ROOT/'nbs'
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 40

# Public functions/methods longer than MAX_FUNCTION_LINES, allowed on purpose. Keep this short; each needs a reason.
# `TODO(split)`: long and not a linear recipe, but its notebook was being edited elsewhere when this test came in.
ALLOWED_LONG = {  # none today: every public function is within MAX_FUNCTION_LINES
}
# Modules over MAX_MODULE_LINES, each to be split; none may be added without a reason.
LONG_MODULES = {  # none today: every module is within MAX_MODULE_LINES
}


def modules() -> dict[str, Path]:
    "Library modules (generated ones excluded) by name"
    return {p.stem: p for p in sorted(LIB.glob('*.py')) if p.stem not in ('_modidx', '__init__')}

def notebook_of() -> dict[str, str]:
    "The notebook (stem) that exports each module, from its `#| default_exp`"
    res = {}
    for nb in sorted(NBS.glob('*.ipynb')):
        for c in json.loads(nb.read_text(encoding='utf-8'))['cells']:
            m = re.search(r'^#\|\s*default_exp\s+(\S+)', ''.join(c['source']), re.M)
            if c['cell_type'] == 'code' and m: res[m.group(1)] = nb.stem; break
    return res

def package_imports(path:Path) -> set[str]:
    "The package modules `path` imports (relative or `seg_imbalance.x`), at any depth of the file"
    out = set()
    for n in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(n, ast.ImportFrom):
            if n.level == 1 and n.module: out.add(n.module.split('.')[0])
            elif n.level == 1: out |= {a.name for a in n.names}
            elif n.module and n.module.startswith('seg_imbalance.'): out.add(n.module.split('.')[1])
            elif n.module == 'seg_imbalance': out |= {a.name for a in n.names}
        elif isinstance(n, ast.Import):
            out |= {a.name.split('.')[1] for a in n.names if a.name.startswith('seg_imbalance.')}
    return out & set(modules())

def body_lines(f:ast.FunctionDef) -> int:
    "Lines of a function's body, its docstring left out"
    body = f.body[1:] if (f.body and isinstance(f.body[0], ast.Expr) and isinstance(f.body[0].value, ast.Constant)
                          and isinstance(f.body[0].value.value, str)) else f.body
    return body[-1].end_lineno - body[0].lineno + 1 if body else 0

def patched_class(f:ast.FunctionDef) -> str|None:
    "The class a fastcore `@patch` function is added to (the annotation of its first argument), else None"
    if not any('patch' in ast.unparse(d) for d in f.decorator_list) or not f.args.args: return None
    a = f.args.args[0].annotation
    return ast.unparse(a) if a is not None else None

def public_functions(path:Path):
    "`(qualified name, body lines)` of the public functions and the public methods of public classes of a module"
    tree = ast.parse(path.read_text(encoding='utf-8'))
    for n in tree.body:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and not n.name.startswith('_'):
            cls = patched_class(n)
            yield (f'{cls}.{n.name}' if cls else n.name), body_lines(n)
        elif isinstance(n, ast.ClassDef) and not n.name.startswith('_'):
            for f in n.body:
                if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and (f.name == '__init__' or not f.name.startswith('_')):
                    yield f'{n.name}.{f.name}', body_lines(f)


@pytest.mark.parametrize('name', list(modules()))
def test_module_is_short(name):
    n = len(modules()[name].read_text(encoding='utf-8').splitlines())
    if name in LONG_MODULES: pytest.xfail(LONG_MODULES[name])
    assert n <= MAX_MODULE_LINES, f"seg_imbalance/{name}.py has {n} lines (> {MAX_MODULE_LINES}): split its notebook"

def test_every_module_has_a_notebook():
    missing = sorted(set(modules()) - set(notebook_of()))
    assert not missing, f"modules without a notebook: {missing}"

def test_imports_run_forward():
    nb, bad = notebook_of(), []
    for name, path in modules().items():
        if name == 'all': continue  # the star-import of every module, exported by the last notebook
        bad += [f"{name} ({nb[name]}) imports {m} ({nb[m]})" for m in sorted(package_imports(path)) if nb[m] >= nb[name]]
    assert not bad, "a notebook may import only from notebooks sorted before it:\n" + '\n'.join(bad)

def test_all_is_exported_last():
    nb = notebook_of()
    assert nb['all'] == max(nb.values()), f"`all` comes from {nb['all']}, not the last notebook"

def test_public_functions_are_short():
    found = {f'{m}.{q}': n for m, p in modules().items() for q, n in public_functions(p)}
    long = {k: n for k, n in found.items() if n > MAX_FUNCTION_LINES and k not in ALLOWED_LONG}
    assert not long, f"public functions over {MAX_FUNCTION_LINES} body lines (split them, or justify in ALLOWED_LONG): {long}"

def test_allow_lists_are_current():
    short = sorted(m for m in LONG_MODULES if len(modules()[m].read_text(encoding='utf-8').splitlines()) <= MAX_MODULE_LINES)
    assert not short, f"LONG_MODULES names modules now within {MAX_MODULE_LINES} lines: drop {short}"
    found = {f'{m}.{q}': n for m, p in modules().items() for q, n in public_functions(p)}
    stale = sorted(k for k in ALLOWED_LONG if found.get(k, 0) <= MAX_FUNCTION_LINES)
    assert not stale, f"ALLOWED_LONG names functions that are gone or short now: drop {stale}"
