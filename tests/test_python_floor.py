"""The library keeps to its Python floor (`requires-python` in pyproject.toml): 3.10 syntax, and stdlib names newer than
3.10 only behind a guard with a fallback (`try: import tomllib` / `except ModuleNotFoundError: import tomli as tomllib`)."""
import ast, re
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
FLOOR = (3, 10)
MODULES = sorted((ROOT/'seg_imbalance').glob('*.py'))

# Standard-library modules and names newer than the floor (a short explicit list of the likely ones).
NEW_MODULES = {'tomllib': (3, 11), 'wsgiref.types': (3, 11)}
NEW_NAMES = {('typing', n): (3, 11) for n in ('Self', 'LiteralString', 'Never', 'assert_never', 'assert_type',
                                             'reveal_type', 'Required', 'NotRequired', 'TypeVarTuple', 'Unpack',
                                             'dataclass_transform')}
NEW_NAMES.update({('typing', 'override'): (3, 12), ('typing', 'TypeAliasType'): (3, 12),
                  ('enum', 'StrEnum'): (3, 11), ('datetime', 'UTC'): (3, 11), ('contextlib', 'chdir'): (3, 11),
                  ('hashlib', 'file_digest'): (3, 11), ('asyncio', 'TaskGroup'): (3, 11),
                  ('asyncio', 'timeout'): (3, 11), ('itertools', 'batched'): (3, 12)})
IMPORT_ERRORS = {'ImportError', 'ModuleNotFoundError', 'AttributeError', 'Exception'}


def test_floor_matches_pyproject():
    m = re.search(r'requires-python\s*=\s*">=\s*(\d+)\.(\d+)"', (ROOT/'pyproject.toml').read_text())
    assert m and (int(m[1]), int(m[2])) == FLOOR


def _guarded(parents: list) -> bool:
    "Whether the innermost `try` or version `if` around a node gives a fallback for a missing name"
    for node, field in reversed(parents):
        if isinstance(node, ast.Try) and field == 'body':
            caught = {n.id if isinstance(n, ast.Name) else getattr(n, 'attr', '') for h in node.handlers
                      for n in ([h.type] if not isinstance(h.type, ast.Tuple) else h.type.elts) if n is not None}
            bare = any(h.type is None for h in node.handlers)
            fallback = any(not all(isinstance(s, ast.Raise) for s in h.body) for h in node.handlers)
            return (bare or bool(caught & IMPORT_ERRORS)) and fallback
        if isinstance(node, ast.If) and 'version_info' in ast.unparse(node.test) and node.orelse: return True
    return False


def newer_than_floor(src: str) -> list[str]:
    "`'line N: what'` for each unguarded use of a stdlib module or name newer than `FLOOR`"
    out = []
    def visit(node, parents):
        hits = []
        if isinstance(node, ast.Import):
            hits = [a.name for a in node.names if NEW_MODULES.get(a.name, FLOOR) > FLOOR]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if NEW_MODULES.get(node.module, FLOOR) > FLOOR: hits = [node.module]
            hits += [f'{node.module}.{a.name}' for a in node.names if NEW_NAMES.get((node.module, a.name), FLOOR) > FLOOR]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if NEW_NAMES.get((node.value.id, node.attr), FLOOR) > FLOOR: hits = [f'{node.value.id}.{node.attr}']
        if hits and not _guarded(parents): out.extend(f'line {node.lineno}: {h}' for h in hits)
        for field, value in ast.iter_fields(node):
            for child in (value if isinstance(value, list) else [value]):
                if isinstance(child, ast.AST): visit(child, parents + [(node, field)])
    visit(ast.parse(src), [])
    return out


@pytest.mark.parametrize('src, bad', [
    ('import tomllib', ['line 1: tomllib']),
    ('import math, tomllib\nx = tomllib.loads("")', ['line 1: tomllib']),
    ('try: import tomllib\nexcept ModuleNotFoundError: import tomli as tomllib', []),
    ('try: import tomllib\nexcept ImportError: raise', ['line 1: tomllib']), # no fallback
    ('try: import tomllib\nexcept ValueError: tomllib = None', ['line 1: tomllib']), # does not catch the import
    ('from typing import Any, Self', ['line 1: typing.Self']),
    ('import typing\ndef f() -> "typing.Self": ...\nx = typing.Self', ['line 3: typing.Self']),
    ('import sys\nif sys.version_info >= (3, 11): from typing import Self\nelse: Self = object', []),
    ('import itertools\nfor b in itertools.batched([1, 2], 1): pass', ['line 2: itertools.batched']),
])
def test_checker_finds_what_it_should(src, bad):
    assert newer_than_floor(src) == bad


@pytest.mark.parametrize('src', ['try: pass\nexcept* ValueError: pass', 'type Alias = int', 'def f[T](x: T) -> T: ...'])
def test_floor_grammar_refuses_newer_syntax(src):
    with pytest.raises(SyntaxError): ast.parse(src, feature_version=FLOOR)


@pytest.mark.parametrize('path', MODULES, ids=[p.name for p in MODULES])
def test_module_keeps_to_the_floor(path):
    src = path.read_text()
    ast.parse(src, filename=str(path), feature_version=FLOOR) # a SyntaxError names the line
    assert newer_than_floor(src) == [], f"{path.name} uses names newer than Python {FLOOR[0]}.{FLOOR[1]} unguarded"
