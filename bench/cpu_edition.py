"""More designs of the brain-MRI CPU edition, trained on the real data and set beside `results/brain-mri-cpu/`.

`results/brain-mri-cpu/` holds the preset brain-mri-cpu's finished runs that notebook 01 reported. This script trains
further runs of the same preset on the same data, in the output layout notebook 01 uses (`OUT/brain-mri-cpu/runs/`,
the SimCLR weights in `OUT/brain-mri-cpu/simclr/<condition>/`, so the notebook finds them done), for the conditions
and seeds given, one design at a time:

- `--design simclr`: the preset's in-domain row, smallcnn fine-tuned (`finetune-all`) from SimCLR weights pretrained
  on the condition's training images first (`radtl.study.condition_pretraining`, 20 epochs, batch 64, as notebook 01);
- `--design scratch:BACKBONE`: a keras.applications backbone from random initialisation (`random-finetune-all`) in
  smallcnn's place, to see whether one learns usefully in CPU time.

It records each finished run's test metrics, the per-condition mean with its 95 % t-interval (radtl.report's
`condition_table`), Welch's test of the new design against the committed rows of the other designs in the same
condition, and of the new design's naive against its clean conditions (`welch_difference`, `condition_tests`), with the
pretraining's sidecar summary; --json writes bench/cpu_edition-<design>.json, --markdown prints bench/RESULTS.md's
tables; --export DIR writes the finished runs' records to DIR/runs/ (`radtl.report.export_runs`), which notebook 01
restores from results/brain-mri-cpu/runs/ before it trains, and each condition's SimCLR pretraining (weights, sidecar,
summary, history) to DIR/simclr/<condition>/; --restore DIR puts both back first, so a row is trained over several
sessions without pretraining twice. Runs already done are not trained again (a killed run resumes).

Usage: python bench/cpu_edition.py --data SARTAJ --data NICKPARVAR --reference FIGSHARE/0 --reference FIGSHARE/1
         --reference FIGSHARE/2 --reference-patients figshare-pid.csv --out DIR --design simclr
         --conditions patient-clean naive --seeds 0 1 2 [--json] [--markdown]
"""
import argparse, dataclasses, json, os, platform, sys, time
from pathlib import Path
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
COMMITTED = REPO / 'results' / 'brain-mri-cpu' / 'results.csv'
SIMCLR = dict(backbone='smallcnn', epochs=20, batch_size=64)   # notebook 01's SimCLR settings
METRICS = ('accuracy', 'balanced_accuracy', 'auc_macro')

def edition(args):
    "The preset brain-mri-cpu with only `args.design`'s models and recipe, on the chosen conditions and seeds"
    from radtl.study import preset_study
    over = (dict(recipes=['finetune-all']) if args.design == 'simclr' else
            dict(models=[dict(backbone=args.design.split(':', 1)[1], weights='random')], recipes=['random-finetune-all']))
    out = Path(args.out) / 'brain-mri-cpu'
    st = preset_study('brain-mri-cpu', data=args.data, out=out, reference=args.reference,
                      reference_patients=args.reference_patients, condition_weights=out / 'simclr', seeds=args.seeds, **over)
    return dataclasses.replace(st, conditions={k: st.conditions[k] for k in args.conditions})

def pretrained(st, cond:str, train:bool=True)->dict:
    "The summary of condition `cond`'s SimCLR pretraining (and the images it left out), pretraining first where missing (and `train`)"
    from radtl.pretrain import pretrain
    from radtl.study import condition_pretraining
    from radtl.weights import read_sidecar
    folder, cfg = st.out / 'simclr' / cond, condition_pretraining(st, cond, **SIMCLR)
    if not (folder / 'pretrain.json').exists() and not train: return {}
    summary = pretrain(cfg, folder, verbose=1)   # a finished folder: its summary, nothing trained
    return dict(summary, excluded=read_sidecar(folder / cfg.weights_file)['excluded'])

def run_rows(st)->pd.DataFrame:
    "One row per finished run of `st`: radtl.report's results columns, with metrics.json's test metrics and the validation curve"
    from radtl.report import results_table
    dirs = [st.run_dir(c) for c in st.runs() if (st.run_dir(c) / 'metrics.json').exists()]
    t = results_table(dirs, None, [], st.condition_of())
    extra = []
    for d in dirs:
        m, h = json.loads((d / 'metrics.json').read_text()), pd.read_csv(d / 'history.csv')
        extra.append(dict({k: m.get(k) for k in METRICS}, best_epoch=int(h.val_accuracy.idxmax()) + 1,
                          val_accuracy_by_epoch=[round(v, 4) for v in h.val_accuracy]))
    return t.drop(columns=list(METRICS)).join(pd.DataFrame(extra, index=t.index))

def compared(new:pd.DataFrame, order:list)->dict:
    "The new runs' per-condition table, Welch's tests against the other designs' committed rows of each condition, and across conditions"
    from radtl.report import condition_table, condition_tests, welch_difference, model_name
    old = pd.read_csv(COMMITTED)
    label = model_name(new.iloc[0])
    old = old[old.model != label]   # the other designs' rows (results.csv holds this design's too, once notebook 01 reported it)
    table = condition_table(pd.concat([old, new], ignore_index=True), order)
    vs = []
    for cond, g in new.groupby('condition', sort=False):
        for ref, h in old[old.condition == cond].groupby('model'):
            vs += [dict(condition=cond, a=label, b=ref, metric=k, **welch_difference(g[k], h[k])) for k in METRICS]
    conds = [c for c in order if c in set(new.condition)]
    across = condition_tests(new, conds) if len(conds) > 1 and conds[0] == 'naive' else pd.DataFrame()
    return dict(model=label, by_condition=table.to_dict('records'), versus_committed=vs, across_conditions=across.to_dict('records'))

def md_table(header:list, rows:list)->list:
    "A markdown table's lines"
    return ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)] + ['| ' + ' | '.join(map(str, r)) + ' |' for r in rows]

def with_ci(r:dict, k:str, sign:str='')->str:
    "'value [lo, hi]' of metric `k` in row `r` (the value alone without an interval)"
    lo, hi = r.get(k + '_lo'), r.get(k + '_hi')
    return f'{r[k]:{sign}.3f}' + (f' [{lo:{sign}.3f}, {hi:{sign}.3f}]' if pd.notna(lo) else '')

def markdown(res:dict)->str:
    "bench/RESULTS.md's tables of `res`: the runs, the per-condition means, the tests, the pretraining"
    runs = pd.DataFrame(res['runs']).sort_values(['condition', 'seed'])
    out = md_table(['condition', 'seed', 'accuracy', 'balanced accuracy', 'macro AUC', 'epochs (best)', 'validation accuracy by epoch',
                    'train s', 'run id'],
                   [(r.condition, r.seed, f'{r.accuracy:.3f}', f'{r.balanced_accuracy:.3f}', f'{r.auc_macro:.3f}',
                     f'{r.epochs} ({r.best_epoch})', ', '.join(f'{v:.2f}' for v in r.val_accuracy_by_epoch),
                     f'{r.train_time_s:,.0f}', f'`{r.run_id}`') for r in runs.itertuples()])
    out += [''] + md_table(['model', 'condition', 'seeds', 'accuracy [95 % CI]', 'balanced accuracy [95 % CI]', 'macro AUC [95 % CI]'],
                           [(r['model'], r['condition'], r['seeds'], *(with_ci(r, k) for k in METRICS))
                            for r in res['by_condition'] if r['condition'] in set(runs.condition)])
    tests = ([dict(r, kind='vs committed') for r in res['versus_committed']]
             + [dict(r, kind='across conditions', a=f"{r['model']} · {r['baseline']}", b=f"{r['model']} · {r['condition']}")
                for r in res['across_conditions']])
    out += [''] + md_table(['test', 'condition', 'a − b', 'metric', 'difference [95 % CI]', 'Welch p'],
                           [(r['kind'], r['condition'], f"{r['a']} − {r['b']}", r['metric'], with_ci(r, 'diff', '+'),
                             f"{r['pvalue']:.3g}" if pd.notna(r['pvalue']) else '–') for r in tests])
    if res.get('pretraining'):
        out += [''] + md_table(['condition', 'SimCLR images', 'data hash', 'left out', 'NT-Xent before → after', 'seconds', 'images/s'],
                               [(c, p['n_images'], f"`{p['data_hash']}`", p['excluded'], f"{p['loss_before']:.2f} → {p['loss_after']:.2f}",
                                 f"{p['train_time_s']:,.0f}", f"{p['images_per_s']:,.1f}") for c, p in res['pretraining'].items()])
    return '\n'.join(out)

PRETRAINING_RECORD = ('smallcnn.simclr.weights.h5', 'smallcnn.simclr.weights.h5.json', 'pretrain.json', 'history.csv')

def exported(st, dest)->list:
    ("Write `st`'s finished runs' records to `dest/runs/` (radtl.report.export_runs), with the model of each condition's "
     "Grad-CAM run, and each condition's finished SimCLR pretraining to `dest/simclr/<condition>/`, paths named by data set")
    import shutil
    from radtl.report import export_runs, data_names, study_paths, relative_text
    ids = export_runs(st.out, dest, models=gradcam_runs(st))
    names = data_names(study_paths(json.loads(json.dumps(st.to_dict(), default=str))))
    for cond in st.conditions:
        src, to = st.out / 'simclr' / cond, Path(dest) / 'simclr' / cond
        if not (src / 'pretrain.json').exists(): continue
        to.mkdir(parents=True, exist_ok=True)
        for f in PRETRAINING_RECORD:
            if f.endswith('.h5'): shutil.copyfile(src / f, to / f)
            else: (to / f).write_text(relative_text((src / f).read_text(), names, st.out))
    return ids

def gradcam_runs(st)->list:
    ("The run of each condition whose model the report's Grad-CAM uses: the first by run id among all the preset's seeds "
     "(so a study of one later seed has none), where it is done here")
    import yaml
    from radtl.study import PRESETS
    full = dataclasses.replace(st, seeds=sorted(set(st.seeds) | set(yaml.safe_load(PRESETS['brain-mri-cpu'])['seeds'])))
    firsts = {}
    for cond, c in full.grid(): firsts.setdefault(cond, c)   # grid order: by run id, as the report picks
    return [c.run_id for c in firsts.values() if (st.run_dir(c) / 'metrics.json').exists()]

def restored(st, src)->list:
    "Put the run records and SimCLR pretrainings that `exported` wrote to `src` back into `st` where they are not here"
    import shutil
    from radtl.study import restore_runs
    for cond in st.conditions:
        have, to = Path(src) / 'simclr' / cond, st.out / 'simclr' / cond
        if (have / 'pretrain.json').exists() and not (to / 'pretrain.json').exists():
            shutil.copytree(have, st.out / 'simclr' / f'{cond}.restoring', dirs_exist_ok=True)
            os.replace(st.out / 'simclr' / f'{cond}.restoring', to)
    return restore_runs(st, src, verbose=1)

def shown(arg:str)->str:
    "A command-line word as recorded: a folder or file by its last two path parts (its data set), not this machine's path"
    p = Path(arg)
    return str(Path(*p.parts[-2:])) if p.is_absolute() else arg

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', action='append', required=True, help='image folder (repeatable): Sartaj, Nickparvar')
    ap.add_argument('--reference', action='append', required=True, help='figshare class folder (repeatable)')
    ap.add_argument('--reference-patients', required=True, help='figshare-pid.csv')
    ap.add_argument('--out', required=True, help="notebook 01's output folder (RADTL_OUT)")
    ap.add_argument('--design', required=True, help="'simclr' or 'scratch:BACKBONE' (a keras.applications backbone)")
    ap.add_argument('--conditions', nargs='+', default=['patient-clean', 'naive', 'image-clean'],
                    choices=['naive', 'image-clean', 'patient-clean'], help='conditions to train, in this order')
    ap.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2], help='model seeds')
    ap.add_argument('--summary-only', action='store_true', help='train nothing; summarise the finished runs')
    ap.add_argument('--json', action='store_true', help='write bench/cpu_edition-<design>.json')
    ap.add_argument('--markdown', action='store_true', help="print bench/RESULTS.md's tables")
    ap.add_argument('--export', metavar='DIR', help="write the finished runs' records to DIR/runs/ and the SimCLR pretrainings to DIR/simclr/ "
                    "(results/brain-mri-cpu: notebook 01 restores the runs)")
    ap.add_argument('--restore', metavar='DIR', help='first put back what --export wrote to DIR (runs not done here, pretrainings missing here)')
    args = ap.parse_args()
    if args.design != 'simclr' and not args.design.startswith('scratch:'): ap.error("--design: 'simclr' or 'scratch:BACKBONE'")
    from radtl.study import run_study
    from radtl.core import library_versions
    st, t0, pre = edition(args), time.time(), {}
    if args.restore: restored(st, args.restore)
    for cond in args.conditions:   # condition by condition, so a session cut short leaves whole conditions
        one = dataclasses.replace(st, conditions={cond: st.conditions[cond]})
        if args.design == 'simclr' and (p := pretrained(one, cond, train=not args.summary_only)): pre[cond] = p
        if not args.summary_only: run_study(one, report=False, verbose=1)
    new = run_rows(st)
    if not len(new): sys.exit('no finished run yet')
    order = [c for c in ('naive', 'image-clean', 'patient-clean') if c in st.conditions]
    res = dict(command=' '.join(['python', 'bench/cpu_edition.py', *map(shown, sys.argv[1:])]), date=time.strftime('%Y-%m-%d'),
               machine=f'{platform.processor() or platform.machine()}, {os.cpu_count()} cores',
               versions=library_versions(), seconds=round(time.time() - t0, 1), pretraining=pre,
               runs=new.to_dict('records'), **compared(new, order))
    if args.export: exported(st, args.export)
    if args.json:
        name = args.design.replace(':', '-')
        (REPO / 'bench' / f'cpu_edition-{name}.json').write_text(json.dumps(res, indent=1, default=str) + '\n')
    print(markdown(res) if args.markdown else json.dumps({k: res[k] for k in ('model', 'seconds')} | dict(runs=len(new))))

if __name__ == '__main__': main()
