"""Write README.md from nbs/index.ipynb: the markdown cells and the non-hidden code cells, in order.

`nbdev-readme` needs Quarto, which cannot be installed from the package registries this project's
machines reach; this does the same for a notebook made only of markdown and small code cells.
Run `python .ci/readme.py` after editing nbs/index.ipynb; CI fails when README.md is out of step.
"""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]

def cell_text(c):
    src = ''.join(c['source'])
    if c['cell_type'] == 'markdown': return src
    if re.match(r'\s*#\s*\|\s*hide', src): return None
    return '```python\n' + src + '\n```'

def readme() -> str:
    nb = json.loads((root / 'nbs' / 'index.ipynb').read_text())
    parts = [t for c in nb['cells'] if (t := cell_text(c))]
    title = re.sub(r'^> ', '', parts[0], flags=re.M)   # H1 + subtitle as a quote line
    body = '\n\n'.join([title.replace('\n>', '\n\n>')] + parts[1:])
    return '# radtl\n\n<!-- generated from nbs/index.ipynb by .ci/readme.py: do not edit -->\n\n' + body.split('\n', 1)[1].lstrip() + '\n'

if __name__ == '__main__':
    text = readme()
    if '--check' in sys.argv:
        ok = (root / 'README.md').exists() and (root / 'README.md').read_text() == text
        if not ok: sys.exit('README.md is out of step with nbs/index.ipynb: run python .ci/readme.py')
    else: (root / 'README.md').write_text(text)
