"""Write README.md from nbs/index.ipynb: the markdown cells and the non-hidden code cells, in order.

`nbdev-readme` needs Quarto, which cannot be installed from the package registries this project's
machines reach; this does the same for a notebook made only of markdown and small code cells.
Run `python .ci/readme.py` after editing nbs/index.ipynb; CI fails when README.md is out of step.

The README states measured numbers only through placeholders, `{{name}}`, filled from committed files by
`facts()`: the audit of the Sartaj set (bench/linking.json), the demo's time (bench/demo.json) and the
leakage inflation of the CPU edition of the brain-MRI study (results/brain-mri-cpu/). A placeholder without
a fact, or a fact whose file is missing, stops the script: no number is typed by hand.
"""
import csv, json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]
INFLATION_MODEL = 'smallcnn · random · random-finetune-all'   # the model the headline quotes (learned from scratch, every condition)

def _rows(path) -> list:
    with open(root / path, newline='') as f: return list(csv.DictReader(f))

def _inflation(metric: str) -> dict:
    "naive − patient-clean of `metric` for the headline model: the condition_tests row, and both conditions' means"
    row = next(r for r in _rows('results/brain-mri-cpu/tables/condition_tests.csv')
               if r['model'] == INFLATION_MODEL and r['metric'] == metric and r['baseline'] == 'naive' and r['condition'] == 'patient-clean')
    f = lambda k: float(row[k])
    return {f'{metric}_naive': f"{f('mean_a'):.3f}", f'{metric}_patient_clean': f"{f('mean_b'):.3f}",
            f'{metric}_inflation': f"{f('diff'):+.3f}", f'{metric}_inflation_ci': f"[{f('diff_lo'):+.3f}, {f('diff_hi'):+.3f}]",
            f'{metric}_inflation_p': f"{f('pvalue'):.2g}", f'{metric}_inflation_abs': f"{abs(f('diff')):.3f}",
            f'{metric}_inflation_direction': 'higher' if f('diff') > 0 else 'lower',
            'inflation_seeds': f"{row['n_a']} seeds per condition" if row['n_a'] == row['n_b'] else f"{row['n_a']} and {row['n_b']} seeds"}

def _leaks() -> dict:
    "Accuracy of the headline model within the naive test set, on its images with a copy in training and on the others (mean over seeds)"
    rows = {r['group']: r for r in _rows('results/brain-mri-cpu/tables/leaks.csv') if r['model'] == INFLATION_MODEL and r['condition'] == 'naive'}
    g = lambda name: rows[name]
    return dict(leak_copy_accuracy=f"{float(g('copy in training')['accuracy']):.3f}", leak_copy_n=f"{float(g('copy in training')['n']):.0f}",
                leak_nocopy_accuracy=f"{float(g('no copy in training')['accuracy']):.3f}", leak_nocopy_n=f"{float(g('no copy in training')['n']):.0f}")

def facts() -> dict:
    "Every number the README quotes, read from a committed file"
    link = json.loads((root / 'bench' / 'linking.json').read_text())['sartaj']
    demo = json.loads((root / 'bench' / 'demo.json').read_text())
    out = dict(sartaj_test_leaks=link['test_leaks'], sartaj_n_test=link['n_test'], sartaj_notumor_leaks=link['test_leaks_by_class']['notumor'],
               demo_cpu_minutes=f"{demo['cpu_seconds'] / 60:.0f}", demo_wall_minutes=f"{demo['seconds'] / 60:.0f}",
               demo_load=f"{demo['load_average_start'][0]:.0f}", demo_cores=demo['cores'], inflation_model=INFLATION_MODEL)
    for m in ('accuracy', 'balanced_accuracy'): out.update(_inflation(m))
    out.update(_leaks())
    return {k: str(v) for k, v in out.items()}

def fill(text: str, values: dict) -> str:
    "`text` with each `{{name}}` replaced by its fact"
    if missing := sorted(set(re.findall(r'\{\{(\w+)\}\}', text)) - set(values)): sys.exit(f'README placeholders without a fact: {missing}')
    return re.sub(r'\{\{(\w+)\}\}', lambda m: values[m.group(1)], text)

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
    text = '# radtl\n\n<!-- generated from nbs/index.ipynb by .ci/readme.py: do not edit -->\n\n' + body.split('\n', 1)[1].lstrip() + '\n'
    return fill(text, facts()) if '{{' in text else text

if __name__ == '__main__':
    text = readme()
    if '--check' in sys.argv:
        ok = (root / 'README.md').exists() and (root / 'README.md').read_text() == text
        if not ok: sys.exit('README.md is out of step with nbs/index.ipynb: run python .ci/readme.py')
    else: (root / 'README.md').write_text(text)
