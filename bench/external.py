"""External validation on the two Kaggle brain-MRI sets: a small model trained on one set, tested on the other's images
that share no image and no patient with it (the figshare reference gives both sets patients).

Designs: sartaj-to-nickparvar (trained on Sartaj, external Nickparvar) and nickparvar-to-sartaj (the reverse). Each run:
smallcnn from scratch, recipe random-finetune-all, 96 px, epochs_scale 0.4, seed 0, the default leakage-free group split
with the figshare reference's patients. `radtl.predict.external_validation` then audits the other set against the run's
images, predicts it with the run's model and writes its metrics (bootstrap CIs). The results (numbers only; image paths
relative to their data root) go to --out: summary.csv (internal and external rows), overlap.csv (the external images
left out, and why) and report.md.
Usage: RADTL_CACHE=/work/cache nice -n 5 python bench/external.py --sartaj DIR --nickparvar DIR --figshare DIR
       --figshare-pid CSV --runs DIR [--out results/external] [--train-only] [--n-boot 1000]
"""
import argparse, json, os
from pathlib import Path

DESIGNS = {'sartaj-to-nickparvar': ('sartaj', 'nickparvar'), 'nickparvar-to-sartaj': ('nickparvar', 'sartaj')}

def run_config(train_root:str, reference:list, reference_patients:str)->dict:
    "The run of one design: smallcnn from scratch on `train_root`, patients from the figshare reference"
    data = dict(roots=[train_root], image_size=96, reference=reference, reference_patients=reference_patients)
    return dict(data=data, backbone='smallcnn', recipe='random-finetune-all', epochs_scale=0.4, seed=0)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--sartaj', required=True, help='the Sartaj set (Training/, Testing/)')
    p.add_argument('--nickparvar', required=True, help='the Nickparvar set (Training/, Testing/)')
    p.add_argument('--figshare', required=True, help='the figshare JPEG folder holding 0/, 1/, 2/')
    p.add_argument('--figshare-pid', required=True, help='figshare-pid.csv (index, patient, label)')
    p.add_argument('--runs', required=True, help='folder for the two run directories (outside the repository)')
    p.add_argument('--out', default='results/external', help='folder for summary.csv, overlap.csv and report.md')
    p.add_argument('--n-boot', type=int, default=1000, help='bootstrap resamples of the CIs')
    p.add_argument('--train-only', action='store_true', help='train the two runs and stop')
    a = p.parse_args(argv)
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    from radtl.train import run
    roots = dict(sartaj=a.sartaj, nickparvar=a.nickparvar)
    reference = [str(Path(a.figshare) / k) for k in ('0', '1', '2')]
    for name, (train, _) in DESIGNS.items():
        run(run_config(roots[train], reference, a.figshare_pid), Path(a.runs) / name)
    if a.train_only: return
    write_results(a, roots)

HEADLINE = ('accuracy', 'balanced_accuracy', 'auc_macro')

def _rel(paths, root:str):
    "Paths relative to their data root (never a machine path in a committed file)"
    return [os.path.relpath(p, root) if isinstance(p, str) else p for p in paths]

def _row(design:str, train:str, tested_on:str, n:int, long, **counts)->dict:
    r = dict(design=design, trained_on=train, tested_on=tested_on, n_images=n, **counts)
    for k in HEADLINE:
        v = long.set_index('metric').loc[k]
        r.update({k: round(float(v.value), 4), f'{k}_lo': round(float(v.lo), 4), f'{k}_hi': round(float(v.hi), 4)})
    return r

def write_results(a, roots:dict):
    "Evaluate each run on the other set (external/<set>/ in the run folder), then write summary.csv, overlap.csv and report.md"
    import pandas as pd
    from radtl.core import read_csv, write_csv_atomic, write_text_atomic
    from radtl.evaluate import load_run, run_metrics
    from radtl.predict import external_validation, format_external
    rows, overlaps, notes = [], [], []
    for name, (train, ext) in DESIGNS.items():
        d = Path(a.runs) / name
        out = d / 'external' / ext
        s = json.loads((out / 'summary.json').read_text()) if (out / 'summary.json').is_file() else \
            external_validation(d, roots[ext], out, name=ext, n_boot=a.n_boot)
        run = load_run(d)
        rows.append(_row(name, train, f'{train} (internal test split)', len(run['test']), run_metrics(run, a.n_boot)[1],
                         images_by_class=' '.join(f'{c}:{n}' for c, n in run['test'].label.value_counts().reindex(run['classes'], fill_value=0).items())))
        o = s['overlap']
        rows.append(_row(name, train, f'{ext} (external)', s['n_metrics'], read_csv(out / 'metrics.csv'), external_images=s['files']['predicted'],
                         excluded_overlap=o['n'], excluded_image=sum(v for k, v in o['by_kind'].items() if 'image' in k),
                         excluded_patient_only=o['by_kind'].get('patient', 0), excluded_train_val=o['training'],
                         unknown_classes=sum(s['unknown_classes'].values()),
                         images_by_class=' '.join(f'{c}:{n}' for c, n in s['n_metrics_by_class'].items())))
        t = read_csv(out / 'overlap.csv')
        overlaps.append(t.assign(design=name, path=_rel(t.path, roots[ext]), copy_path=_rel(t.copy_path, roots[train]))
                        [['design', 'path', 'label', 'overlap', 'overlap_subset', 'copy_kind', 'copy_corr', 'copy_path', 'patient', 'patient_from']])
        notes.append(format_external(s).replace(str(d), name))
    summary = pd.DataFrame(rows)
    out = Path(a.out)
    write_csv_atomic(out / 'summary.csv', summary)
    write_csv_atomic(out / 'overlap.csv', pd.concat(overlaps, ignore_index=True))
    write_text_atomic(out / 'report.md', _report(summary, notes, a.n_boot))
    print(summary.to_string(index=False))

def _report(summary, notes:list, n_boot:int)->str:
    "report.md: what was run, the table, the overlap notes"
    cell = lambda r, k: f"{r[k]:.3f} [{r[k + '_lo']:.3f}, {r[k + '_hi']:.3f}]"
    lines = ['# External validation: Sartaj ↔ Nickparvar', '',
             'Written by `bench/external.py` (smallcnn from scratch, recipe random-finetune-all, 96 px, epochs_scale 0.4, seed 0; '
             'group split with the figshare reference\'s patients; external images that share an image (exact, near or mirrored copy) '
             'or a patient with any image of the training set\'s data are left out of the external metrics and listed in overlap.csv). '
             f'CIs: stratified bootstrap, {n_boot} resamples.', '',
             'Balanced accuracy and macro AUC average over the classes present among the images tested (column "images by class").', '',
             '| design | tested on | images | images by class | accuracy | balanced accuracy | macro AUC | left out (overlap) |', '|---|---|---|---|---|---|---|---|']
    for r in summary.to_dict('records'):
        left = '' if r.get('excluded_overlap') != r.get('excluded_overlap') or r.get('excluded_overlap') is None else \
            f"{int(r['excluded_overlap'])} ({int(r['excluded_image'])} copies, {int(r['excluded_patient_only'])} by patient only; {int(r['excluded_train_val'])} of train/val)"
        lines.append(f"| {r['design']} | {r['tested_on']} | {r['n_images']} | {r['images_by_class']} | {cell(r, 'accuracy')} | {cell(r, 'balanced_accuracy')} | "
                     f"{cell(r, 'auc_macro')} | {left} |")
    return '\n'.join(lines + ['', '## What `radtl.predict` printed', '', *[f'```\n{n}\n```' for n in notes], ''])

if __name__ == '__main__': main()
