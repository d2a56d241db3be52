"""Patients: groups from a table, a file-name pattern and a reference set linked by content; splits that keep
patients apart (and the ones that do not); patient-wise k-fold cross-validation."""
import numpy as np, pandas as pd
import pytest
from pathlib import Path
from PIL import Image
from radtl.core import RadtlError
from radtl.synthetic import synthetic_patients, write_figshare_mat, draw_slice, patient_anatomy
from radtl.data import scan, usable, assign_patients, read_patient_table
from radtl.audit import audit, link_reference, load_reference, read_figshare_mat
from radtl.splits import split_data, split_frame, patient_leaks, leaking_patients, leaking_groups

PATTERN = r'(?P<patient>P\d+)_'

@pytest.fixture(scope='module')
def patients_set(tmp_path_factory):
    return synthetic_patients(tmp_path_factory.mktemp('pat'), n_patients=48, slices=(3, 6), size=64, seed=11)

@pytest.fixture
def cache(tmp_path): return tmp_path / 'cache'

def test_image_level_splits_leak_patients_and_the_patient_split_does_not(patients_set, cache):
    truth = pd.read_csv(patients_set.parent / 'patients.csv').assign(path=lambda d: [str(patients_set / f) for f in d.file]).set_index('path').patient
    judged = lambda ds: ds.images.assign(patient=ds.images.path.map(truth))
    blind, naive = split_data(patients_set, cache_dir=cache), split_data(patients_set, split='random', cache_dir=cache)
    assert leaking_groups(blind.images) == 0 and patient_leaks(judged(blind)) > 10 and leaking_patients(judged(blind)) > 5
    assert patient_leaks(judged(naive)) > 10
    for kw in (dict(patient_pattern=PATTERN), dict(patients=patients_set.parent / 'patients.csv')):
        for policy in ('group', 'official'):
            ds = split_data(patients_set, split=policy, cache_dir=cache, **kw)
            assert patient_leaks(ds.images) == 0 and leaking_patients(ds.images) == 0 and patient_leaks(judged(ds)) == 0, (kw, policy)
            if policy == 'group': assert (ds.images.subset == 'test').sum() > 10
    off = split_data(patients_set, split='official', patient_pattern=PATTERN, cache_dir=cache)
    assert off.audit.summary['patient_test_leaks'] == (off.images.subset == 'excluded').sum() > off.audit.summary['test_leaks']

def test_table_matches_relative_path_name_or_stem(patients_set, tmp_path):
    cat = scan(patients_set, progress=False, verbose=False)
    t = pd.read_csv(patients_set.parent / 'patients.csv')
    forms = [t.file, t.file.map(lambda f: Path(f).name), t.file.map(lambda f: Path(f).stem)]
    for k, files in enumerate(forms):
        pd.DataFrame({'Image': files, 'Patient_ID': t.patient}).to_csv(tmp_path / f't{k}.csv', index=False)   # other accepted names, any case
        got, info = assign_patients(cat, [patients_set], table=tmp_path / f't{k}.csv')
        assert info['table']['files'] == len(t) and info['table']['unmatched_rows'] == 0
        want = t.set_index(t.file.map(lambda f: str(patients_set / f))).patient
        assert (got.set_index('path').patient.reindex(want.index) == want).all()
    pd.DataFrame({'file': ['nowhere.jpg'], 'patient': ['X']}).to_csv(tmp_path / 'miss.csv', index=False)
    assert assign_patients(cat, [patients_set], table=tmp_path / 'miss.csv')[1]['table']['unmatched_rows'] == 1
    pd.DataFrame({'name': ['a'], 'patient': ['X']}).to_csv(tmp_path / 'bad.csv', index=False)
    with pytest.raises(RadtlError, match='no file column'): read_patient_table(tmp_path / 'bad.csv')
    clash = pd.DataFrame({'file': [t.file[0], Path(t.file[0]).name], 'patient': ['X', 'Y']})
    clash.to_csv(tmp_path / 'clash.csv', index=False)
    with pytest.raises(RadtlError, match='one patient per file'): assign_patients(cat, [patients_set], table=tmp_path / 'clash.csv')

def test_ambiguous_names_and_bad_patterns_are_errors(tmp_path):
    for split in ('Training', 'Testing'):
        (tmp_path / 'set' / split / 'glioma').mkdir(parents=True)
        Image.fromarray(np.full((16, 16), 50, np.uint8)).save(tmp_path / 'set' / split / 'glioma' / '17.jpg')
    cat = scan(tmp_path / 'set', progress=False, verbose=False)
    pd.DataFrame({'index': [17], 'patient': ['X']}).to_csv(tmp_path / 't.csv', index=False)
    with pytest.raises(RadtlError, match='matches several files.*relative to the root'): assign_patients(cat, [tmp_path / 'set'], table=tmp_path / 't.csv')
    pd.DataFrame({'file': ['Training/glioma/17.jpg'], 'patient': ['X']}).to_csv(tmp_path / 'r.csv', index=False)
    assert assign_patients(cat, [tmp_path / 'set'], table=tmp_path / 'r.csv')[0].patient.tolist() == [None, 'X']
    with pytest.raises(RadtlError, match='not a valid regular expression'): assign_patients(cat, [tmp_path / 'set'], pattern='(?P<patient>[0-9')
    with pytest.raises(RadtlError, match='named group'): assign_patients(cat, [tmp_path / 'set'], pattern=r'\d+')

def _copy(img, rng, k):
    "A re-encoded, rescaled and (every other) mirrored copy of `img`"
    im = Image.fromarray(img[:, ::-1] if k % 2 else img)
    s = [0.5, 0.75, 1.0, 1.6][k % 4]
    return im.resize((int(im.width * s), int(im.height * s)), Image.BICUBIC), int(rng.integers(55, 95))

@pytest.fixture(scope='module')
def reference_case(tmp_path_factory):
    "A figshare-like reference (40 patients × 3-5 slices, .mat and JPEG+CSV) and a set of copies of some of its slices plus new patients' slices"
    base, rng = tmp_path_factory.mktemp('ref'), np.random.default_rng(3)
    mats, jpgs, rows, copies = base / 'mat', base / 'jpg', [], []
    for p in range(40):
        cls = ['meningioma', 'glioma', 'pituitary'][p % 3]; anat = patient_anatomy(rng, f'{cls}_tumor')
        for z in np.linspace(-.6, .6, 3 + p % 3):
            idx = len(rows) + 1; img = draw_slice(rng, f'{cls}_tumor', 128, anat, z)[0]
            write_figshare_mat(mats / f'{idx}.mat', img.astype(np.int16) * 7 + 30, cls, f'MR{p:04d}')
            (jpgs / str(p % 3)).mkdir(parents=True, exist_ok=True); Image.fromarray(img).save(jpgs / str(p % 3) / f'{idx}.jpg', quality=95)
            rows.append(dict(index=idx, patient=f'MR{p:04d}', label=cls))
            if p < 25 and rng.random() < .6: copies.append((idx, f'MR{p:04d}', cls, img))
    pd.DataFrame(rows).to_csv(base / 'pid.csv', index=False)
    for k, (idx, pid, cls, img) in enumerate(copies):
        im, q = _copy(img, rng, k); d = base / 'set' / ('Testing' if k % 3 == 0 else 'Training') / cls; d.mkdir(parents=True, exist_ok=True)
        im.save(d / f'copy_{idx}.jpg', quality=q)
    for p in range(15):                                                 # new patients: not in the reference, must stay unlinked
        cls = ['meningioma', 'glioma', 'pituitary', 'no_tumor'][p % 4]; anat = patient_anatomy(rng, f'{cls}_tumor' if cls != 'no_tumor' else cls)
        for z in (-.3, .3):
            d = base / 'set' / 'Training' / cls; d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(draw_slice(rng, f'{cls}_tumor' if cls != 'no_tumor' else cls, 128, anat, z)[0]).save(d / f'new_{p}_{z}.jpg', quality=90)
    return base, {f'copy_{i}.jpg': pid for i, pid, _, _ in copies}

@pytest.mark.parametrize('form', ['mat', 'jpg+csv'])
def test_reference_copies_are_linked_with_no_false_link(reference_case, form, cache):
    base, truth = reference_case
    ref = load_reference(base / 'mat') if form == 'mat' else load_reference(base / 'jpg', base / 'pid.csv')
    assert len(ref) == len(pd.read_csv(base / 'pid.csv')) and set(ref.label) == {'meningioma', 'glioma', 'pituitary'}
    images = usable(scan(base / 'set', progress=False, verbose=False))
    links = link_reference(images, ref, cache_dir=cache).assign(name=images.path.map(lambda p: Path(p).name).to_numpy())
    got = dict(zip(links.name, links.ref_patient))
    assert {n: got[n] for n in truth} == truth                                     # every copy: the right patient
    assert links[links.name.str.startswith('new_')].ref_patient.isna().all()       # no false link
    assert set(links.link_kind.dropna()) == {'near', 'mirror'} and not links.link_ambiguous.any()
    assert links.link_corr.min() >= 0.995 and (links.ref_label.dropna() == images.label[links.ref_label.notna()].to_numpy()).all()

def test_audit_with_reference_reports_patient_leaks(reference_case, cache):
    base, truth = reference_case
    a = audit(scan(base / 'set', progress=False, verbose=False), cache_dir=cache, progress=False, reference=base / 'mat')
    s = a.summary
    im = a.images.assign(name=a.images.path.map(lambda p: Path(p).name))
    train_p = set(im[im.split == 'train'].patient.dropna())
    expected = im[(im.split == 'test') & im.patient.isin(train_p)]
    assert s['link']['linked'] == len(truth) and s['patient_sources'] == {'reference': len(truth)}
    assert s['patient_test_leaks'] == len(expected) > s['test_leaks'] and sum(s['patient_test_leaks_by_class'].values()) == len(expected)
    assert s['patient_test_leaks_by_source'] == {'set': len(expected)}
    assert s['link']['linked_by_class']['notumor'] == [0, 6]
    assert (a.images.groupby('patient').group.nunique() == 1).all()

def test_figshare_mat_layout(tmp_path):
    img = (np.arange(24 * 32).reshape(24, 32) % 500).astype(np.int16)            # not square: catches a missing transpose
    f = write_figshare_mat(tmp_path / '7.mat', img, 'pituitary', 'MR040240B')
    import h5py
    with h5py.File(f) as h: assert h['cjdata/image'].shape == (32, 24) and h['cjdata/label'][0, 0] == 3
    m = read_figshare_mat(f)
    assert m['label'] == 'pituitary' and m['patient'] == 'MR040240B' and m['image'].shape == (24, 32) and m['image'].max() == 255
    (tmp_path / 'bad.mat').write_bytes(b'MATLAB 5.0 MAT-file')
    with pytest.raises(RadtlError, match='not a figshare .mat'): read_figshare_mat(tmp_path / 'bad.mat')

def test_kfold_folds_are_disjoint_in_patients_and_cover_every_image_once(patients_set, cache):
    folds = [split_data(patients_set, split='kfold', n_folds=5, fold=k, split_seed=2, patient_pattern=PATTERN, cache_dir=cache).images for k in range(5)]
    tested = pd.concat([f[f.subset == 'test'] for f in folds])
    assert sorted(tested.path) == sorted(folds[0].path) and tested.path.is_unique          # every image tested exactly once
    assert tested.groupby('patient').fold.nunique().max() == 1                             # a patient in one fold
    for k, f in enumerate(folds):
        assert (f.fold.to_numpy() == folds[0].fold.to_numpy()).all() and set(f[f.subset == 'test'].fold) == {k}
        assert leaking_patients(f) == 0 and patient_leaks(f) == 0 and {'train', 'val', 'test'} == set(f.subset)
    shares = pd.crosstab(folds[0].fold, folds[0].label, normalize='columns')
    assert shares.max().max() < 0.4                                                        # stratified: no fold hoards a class
    t = split_frame(split_data(patients_set, split='kfold', n_folds=5, fold=1, split_seed=2, patient_pattern=PATTERN, cache_dir=cache))
    assert list(t.columns[:6]) == ['path', 'label', 'subset', 'group', 'patient', 'fold']

def test_run_data_records_where_its_groups_came_from(patients_set, cache):
    from radtl.dataset import DataConfig, prepare_data
    pdata = prepare_data(DataConfig(roots=[str(patients_set)], patient_pattern=PATTERN, image_size=16, split='kfold', fold=2), cache_dir=cache)
    s = pdata.summary
    assert s['groups']['sources'] == ['image duplicates', 'pattern'] and s['groups']['pattern']['from'] == PATTERN
    assert s['patient_leaks'] == 0 and s['leaking_patients'] == 0 and s['fold'] == {'fold': 2, 'n_folds': 5}
