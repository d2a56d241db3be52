"""Link the Kaggle brain-MRI sets to the figshare set (Cheng et al.) by content, inherit its patients, and measure
what that does to their splits; also the evidence for the link threshold.

For each set (Nickparvar, Sartaj): coverage per class, image- and patient-level leakage of the official split, the
patient leakage of a duplicates-only `group` split against one with the linked patients, and, for the threshold, the
best thumbnail correlation of every image with every reference image (direct or mirrored, no hash filter): accepted
links against the best match among the *other* patients' images (what a link would be if the true patient were
absent) and against the best match of the no-tumour images (none of which is in figshare). Writes bench/linking.json
and the contact sheets nbs/images/linking_weakest_true.png and nbs/images/linking_strongest_false.png.

Usage: python bench/linking.py [--nickparvar DIR] [--sartaj DIR] [--figshare DIR] [--pid CSV]
"""
import argparse, json, os, sys, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd

HERE = Path(__file__).resolve().parent
WORK = HERE.parents[1]

def best_over_reference(t, rt, block=1024):
    "Per image: correlation with every reference thumbnail (the better of direct and mirrored), as a (N, R) float32 matrix"
    from radtl.audit import _unit_rows   # bench code may read the library's internals; the library never does
    a, b, bm = _unit_rows(t), _unit_rows(rt), _unit_rows(rt[:, :, ::-1])
    return np.concatenate([np.maximum(a[s:s + block] @ b.T, a[s:s + block] @ bm.T) for s in range(0, len(a), block)])

def evidence(u, ref, C, min_corr):
    "Correlations of accepted links vs the strongest false candidates"
    rp = ref.patient.to_numpy()
    linked = u.ref_path.notna().to_numpy()
    true = u.link_corr[linked].astype(float)
    other = np.array([C[i, rp != p].max() for i, p in zip(np.nonzero(linked)[0], u.ref_patient[linked])])
    other_arg = np.array([np.flatnonzero(rp != p)[C[i, rp != p].argmax()] for i, p in zip(np.nonzero(linked)[0], u.ref_patient[linked])])
    base = pd.Series(rp).str.replace(r'[A-Z]$', '', regex=True).to_numpy()   # MR024780B and MR024780E: one person scanned twice?
    ub = pd.Series(u.ref_patient[linked]).str.replace(r'[A-Z]$', '', regex=True)
    other_person = np.array([C[i, base != b].max() for i, b in zip(np.nonzero(linked)[0], ub)])
    person_arg = np.array([np.flatnonzero(base != b)[C[i, base != b].argmax()] for i, b in zip(np.nonzero(linked)[0], ub)])
    no = (u.label == 'notumor').to_numpy()
    unl = ~linked & ~no
    brute = int((C.max(1) >= min_corr).sum())
    return dict(min_true_corr=round(float(true.min()), 5), max_true_distance=int(u.link_distance[linked].max()),
                max_other_patient_corr=round(float(other.max()), 5), max_other_person_corr=round(float(other_person.max()), 5), max_notumor_corr=round(float(C[no].max()), 5) if no.any() else None,
                max_unlinked_tumour_corr=round(float(C[unl].max(1).max()), 5) if unl.any() else None,
                gap=round(float(true.min() - max(other.max(), C[no].max() if no.any() else -1, C[unl].max(1).max() if unl.any() else -1)), 5),
                linked_without_hash_filter=brute, linked=int(linked.sum()),
                true_corr_quantiles={q: round(float(np.quantile(true, q)), 5) for q in (0, .01, .5)},
                other_person_corr_quantiles={q: round(float(np.quantile(other_person, q)), 5) for q in (.5, .99, 1)},
                other_patient_corr_quantiles={q: round(float(np.quantile(other, q)), 5) for q in (.5, .99, 1)}), (other, other_arg, other_person, person_arg)

def split_leaks(a, u, seed=0):
    "Patient leakage of a duplicates-only group split (judged by the linked patients) and of the patient-aware group split"
    from radtl.splits import make_splits, patient_leaks, leaking_patients
    blind = make_splits(a.images.assign(group=a.images.dup_group), 'group', seed=seed)
    aware = make_splits(a.images, 'group', seed=seed)
    off = make_splits(a.images, 'official')
    t = blind[(blind.subset == 'test') & blind.patient.notna()]
    return dict(seed=seed,
                duplicates_only=dict(test_with_patient=int(len(t)), patient_leaks=patient_leaks(blind), leaking_patients=leaking_patients(blind)),
                patient_aware=dict(test=int((aware.subset == 'test').sum()), test_with_patient=int(((aware.subset == 'test') & aware.patient.notna()).sum()),
                                   patient_leaks=patient_leaks(aware), leaking_patients=leaking_patients(aware)),
                official_clean=dict(test=int((off.subset == 'test').sum()), excluded=int((off.subset == 'excluded').sum()), patient_leaks=patient_leaks(off)))

def link_set(name, root, ref, cache_dir, min_corr):
    from radtl.data import scan
    from radtl.audit import audit, image_fingerprints
    t0 = time.perf_counter()
    a = audit(scan(root, progress=False, verbose=False), cache_dir=cache_dir, progress=False, reference=ref, link_min_corr=min_corr)
    seconds = time.perf_counter() - t0
    u, s = a.images, a.summary
    _, t = image_fingerprints(u, cache_dir=cache_dir, progress=False)
    _, rt = image_fingerprints(ref, cache_dir=cache_dir, progress=False)
    C = best_over_reference(t, rt)
    ev, cands = evidence(u, ref, C, min_corr)
    keys = ('n_usable', 'n_test', 'test_leaks', 'test_leaks_by_class', 'n_patients', 'images_with_patient', 'n_test_with_patient', 'test_patients',
            'patient_test_leaks', 'patient_test_leak_patients', 'patient_test_leaks_by_class', 'groups', 'duplicate_groups')
    leak = u[u.patient_test_leak]
    same_slice = int(leak.test_leak.sum())
    tr = u[u.split == 'train'].dropna(subset=['ref_path'])
    orient = tr.groupby('ref_path').link_kind.agg(lambda k: set(k == 'mirror'))
    same_ref = leak.ref_path.isin(orient.index)
    flipped = [(kind == 'mirror') not in orient[r] for r, kind in zip(leak.ref_path[same_ref], leak.link_kind[same_ref])]
    out = dict(root=str(root), audit_link_seconds=round(seconds, 1), **{k: s[k] for k in keys},
               link={k: s['link'][k] for k in ('linked', 'n_images', 'linked_by_class', 'linked_by_kind', 'linked_patients', 'ambiguous', 'label_conflicts', 'label_conflict_examples')},
               patient_test_leaks_audit_flags=same_slice, patient_test_leaks_audit_misses=int(len(leak) - same_slice),
               patient_test_leaks_same_reference_slice=int(same_ref.sum()), patient_test_leaks_same_reference_slice_mirrored=int(sum(flipped)),
               patient_test_leaks_other_reference_slice=int((~same_ref).sum()),
               threshold=ev, splits=split_leaks(a, u))
    for ex in out['link']['label_conflict_examples']: ex.update(path=os.path.relpath(ex['path'], root), ref_path=os.path.relpath(ex['ref_path'], WORK))
    return out, (u, ref, C, *cands)

def _tile(path, mirror=False, size=96):
    from radtl.data import read_image
    from PIL import ImageOps, Image
    im = read_image(path).convert('L').resize((size, size), Image.BILINEAR)
    return np.asarray(ImageOps.mirror(im) if mirror else im)

def contact_sheet(pairs, title, out_png):
    "Pairs side by side (image | reference, the reference mirrored when the link is), with their numbers"
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    n = len(pairs); cols = 4; rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 3.3, rows * 2.45))
    for ax in np.ravel(axes): ax.axis('off')
    for ax, p in zip(np.ravel(axes), pairs):
        ax.imshow(np.hstack([_tile(p['a']), np.full((96, 4), 255, np.uint8), _tile(p['b'], p['mirror'])]), cmap='gray', vmin=0, vmax=255)
        ax.set_title(p['caption'], fontsize=6.3)
    fig.suptitle(title, fontsize=9); fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True); fig.savefig(out_png, dpi=100); plt.close(fig)
    from PIL import Image
    Image.open(out_png).convert('L').save(out_png, optimize=True)   # grey scans, black text: one channel is all it needs

def sheets(data, images_dir):
    "The 8 weakest accepted links; the 4 strongest false candidates of each kind: another patient ID, another person, a no-tumour image"
    weak, kinds = [], {'other patient ID': [], 'other person': [], 'no tumour': []}
    rel = lambda p: '/'.join(Path(p).parts[-3:])
    pair = lambda name, i, j, c, u, ref, who: dict(corr=float(c), a=u.path.iloc[i], b=ref.path[j], mirror=_mirror_better(u.path.iloc[i], ref.path[j]),
                                                  caption=f"{name} {rel(u.path.iloc[i])} ({who})\n↔ figshare {Path(ref.path[j]).name} (patient {ref.patient[j]})\ncorr {c:.4f}")
    for name, (u, ref, C, other, other_arg, person, person_arg) in data.items():
        L = u[u.ref_path.notna()]
        for _, r in L.sort_values('link_corr').head(8).iterrows():
            weak.append(dict(corr=float(r.link_corr), a=r.path, b=r.ref_path, mirror=r.link_kind == 'mirror',
                             caption=f"{name} {rel(r.path)}\n↔ figshare {Path(r.ref_path).name} (patient {r.ref_patient})\n{r.link_kind}: corr {r.link_corr:.4f}, {int(r.link_distance)} bits"))
        li = np.nonzero(u.ref_path.notna().to_numpy())[0]
        for key, vals, args in (('other patient ID', other, other_arg), ('other person', person, person_arg)):
            for k in np.argsort(-vals)[:4]: kinds[key].append(pair(name, li[k], args[k], vals[k], u, ref, f'patient {u.ref_patient.iloc[li[k]]}'))
        no = np.nonzero((u.label == 'notumor').to_numpy())[0]
        for i in no[np.argsort(-C[no].max(1))[:4]]: kinds['no tumour'].append(pair(name, i, int(C[i].argmax()), C[i].max(), u, ref, 'no tumour'))
    weak = sorted(weak, key=lambda p: p['corr'])[:8]
    false = [p for v in kinds.values() for p in sorted(v, key=lambda p: -p['corr'])[:4]]
    contact_sheet(weak, 'Accepted links with the lowest thumbnail correlation (image | its figshare slice, mirrored where the link is)', images_dir / 'linking_weakest_true.png')
    contact_sheet(false, 'Strongest false candidates (rows): another patient ID (a letter suffix apart), another person, a no-tumour image', images_dir / 'linking_strongest_false.png')
    return dict(weakest_true=[round(p['corr'], 5) for p in weak], **{k.replace(' ', '_'): [round(p['corr'], 5) for p in sorted(v, key=lambda p: -p['corr'])[:4]] for k, v in kinds.items()})

def _mirror_better(a, b):
    from radtl.audit import _unit_rows
    x, y = _unit_rows(_tile(a)[None]), _unit_rows(_tile(b)[None])
    ym = _unit_rows(_tile(b, True)[None])
    return float((x * ym).sum()) > float((x * y).sum())

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--nickparvar', default=str(WORK / 'data' / 'nickparvar'))
    p.add_argument('--sartaj', default=str(WORK / 'shared' / 'data' / 'brain-mri-sartaj'))
    p.add_argument('--figshare', default=str(WORK / 'data' / 'figshare'))
    p.add_argument('--pid', default=str(WORK / 'shared' / 'data' / 'figshare-pid.csv'))
    p.add_argument('--out', default=str(HERE / 'linking.json'))
    p.add_argument('--images', default=str(HERE.parent / 'nbs' / 'images'))
    a = p.parse_args(argv)
    for k in ('nickparvar', 'sartaj', 'figshare', 'pid'):
        if not Path(getattr(a, k)).exists(): sys.exit(f'bench/linking.py: no {k} at {getattr(a, k)}')
    from radtl.audit import load_reference, DEFAULT_LINK_CORR
    from importlib.metadata import version
    import platform
    cache_dir = tempfile.mkdtemp(prefix='radtl-linking-')
    ref = load_reference([Path(a.figshare) / c for c in ('0', '1', '2')], a.pid)
    res, data = dict(reference=dict(roots=[f'{a.figshare}/{c}' for c in '012'], patients=a.pid, n=len(ref), patients_n=int(ref.patient.nunique()),
                                    by_label={k: int(v) for k, v in ref.label.value_counts().sort_index().items()}),
                     min_corr=DEFAULT_LINK_CORR, versions=dict(python=platform.python_version(), **{k: version(k) for k in ('numpy', 'pandas', 'pillow', 'imagehash', 'scipy')})), {}
    for name in ('nickparvar', 'sartaj'):
        res[name], data[name] = link_set(name, getattr(a, name), ref, cache_dir, DEFAULT_LINK_CORR)
        print(f"{name}: {res[name]['link']['linked']} of {res[name]['link']['n_images']} linked {res[name]['link']['linked_by_class']}; "
              f"patient_test_leaks {res[name]['patient_test_leaks']} ({res[name]['patient_test_leak_patients']} of {res[name]['test_patients']} patients); "
              f"threshold evidence {res[name]['threshold']}", flush=True)
    res['contact_sheets'] = sheets(data, Path(a.images))
    Path(a.out).write_text(json.dumps(res, indent=1, default=str) + '\n')
    print(f'written {a.out}')

if __name__ == '__main__':
    main()
