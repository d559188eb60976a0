"README.md and nbs/index.ipynb (nbdev's home page) say the same thing; the README's commands exist."
import json, re
from pathlib import Path

root = Path(__file__).resolve().parents[1]

def test_index_matches_readme():
    nb = json.loads((root / 'nbs' / 'index.ipynb').read_text())
    text = ''.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown')
    assert text.strip() == (root / 'README.md').read_text().strip(), "run: python tools/readme_to_index.py"

def test_readme_commands_are_run_sh_and_ci_uses_them():
    cmds = re.findall(r'^bash run\.sh (\w+)', (root / 'README.md').read_text(), flags=re.M)
    assert cmds == ['demo', 'test']
    assert 'bash run.sh test' in (root / '.ci' / 'run').read_text()
    assert all(f'  {c})' in (root / 'run.sh').read_text() for c in cmds)

def test_readme_results_block_follows_the_results_files():
    "The measured tables in the README are generated from nbs/results; a results file that changes makes this fail"
    import subprocess, sys
    p = subprocess.run([sys.executable, str(root / 'tools' / 'readme_results.py'), '--check'], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr + p.stdout
