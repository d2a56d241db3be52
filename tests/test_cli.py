"The radtl console script: scan and audit on the synthetic set, one-line errors with exit status 2."
import json, subprocess, sys
import pytest
from radtl.synthetic import synthetic_brain_mri

def radtl(*args, **kw):
    return subprocess.run([sys.executable, '-c', 'import sys; from radtl.cli import main; sys.exit(main())', *map(str, args)], capture_output=True, text=True, timeout=300, **kw)

@pytest.fixture(scope='module')
def syn(tmp_path_factory):
    return synthetic_brain_mri(tmp_path_factory.mktemp('syn'), n_train=120, n_test=40, size=48, seed=7)

def test_help_lists_subcommands():
    r = radtl('--help')
    assert r.returncode == 0 and 'scan' in r.stdout and 'audit' in r.stdout

def test_scan_prints_table(syn):
    r = radtl('scan', syn)
    assert r.returncode == 0, r.stderr
    assert 'usable labelled images in 4 classes' in r.stdout and 'glioma' in r.stdout

def test_audit_json(syn, tmp_path):
    r = radtl('audit', syn, '--json', tmp_path / 'a.json', '--pairs', tmp_path / 'p.csv')
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / 'a.json').read_text())
    for k in ('n_images', 'n_errors', 'errors', 'duplicate_groups', 'test_leaks', 'test_leaks_by_class',
              'cross_source_duplicates', 'label_conflicts', 'shortcuts'):
        assert k in s, k
    assert s['n_images'] == 164 and s['test_leaks'] >= 4 and s['n_errors'] == 0
    assert 'test leakage' in r.stdout

def test_two_sources_cross_duplicates(syn, tmp_path):
    import shutil
    other = tmp_path / 'copy'; shutil.copytree(syn / 'Training' / 'no_tumor', other / 'no_tumor')
    r = radtl('audit', syn, other, '--json', tmp_path / 'a.json')
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / 'a.json').read_text())['cross_source_duplicates'] > 0

@pytest.mark.parametrize('make', ['missing', 'empty', 'only_bad'])
def test_unusable_input_exits_2_with_one_line(tmp_path, make):
    root = tmp_path / 'data'
    if make != 'missing': root.mkdir()
    if make == 'only_bad': (root / 'x.jpg').write_bytes(b'not a jpeg')
    for cmd in ('scan', 'audit'):
        r = radtl(cmd, root)
        assert r.returncode == 2, (cmd, r.stdout, r.stderr)
        assert 'Traceback' not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr

def test_weights_list_and_check(tmp_path):
    r = radtl('weights', '--dir', tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'RadImageNet-DenseNet121_notop.h5' in r.stdout and 'missing' in r.stdout
    bad = tmp_path / 'RadImageNet-DenseNet121_notop.h5'; bad.write_bytes(b'<html>not found</html>')
    r = radtl('weights', 'check', bad, '--backbone', 'densenet121')
    assert r.returncode == 2 and 'not a readable HDF5' in r.stderr and 'Traceback' not in r.stderr
    assert len([l for l in r.stderr.splitlines() if l.startswith('radtl')]) == 1, r.stderr
    import tf_keras
    good = tmp_path / 'good.h5'
    tf_keras.applications.DenseNet121(weights=None, include_top=False, input_shape=(32, 32, 3)).save_weights(str(good))
    r = radtl('weights', 'check', good, '--backbone', 'densenet121')
    assert r.returncode == 0, r.stderr
    assert 'fits densenet121' in r.stdout
    r = radtl('weights', 'check', good, '--backbone', 'resnet50')
    assert r.returncode == 2 and 'resnet50' in r.stderr.lower()

@pytest.fixture(scope='module')
def pat(tmp_path_factory):
    from radtl.synthetic import synthetic_patients
    return synthetic_patients(tmp_path_factory.mktemp('pat'), n_patients=30, size=48, seed=5)

def test_split_writes_the_split_split_data_makes(pat, tmp_path):
    import pandas as pd
    from radtl.splits import split_data
    r = radtl('split', pat, '--seed', 3, '--patient-pattern', r'(?P<patient>P\d+)_', '--out', tmp_path / 's.csv')
    assert r.returncode == 0, r.stderr
    s = pd.read_csv(tmp_path / 's.csv')
    assert list(s.columns[:5]) == ['path', 'label', 'subset', 'group', 'patient'] and s.groupby('patient').subset.nunique().max() == 1
    ds = split_data(pat, split_seed=3, patient_pattern=r'(?P<patient>P\d+)_', cache_dir=tmp_path / 'c')
    assert s.set_index('path').subset.to_dict() == ds.images.set_index('path').subset.to_dict()
    assert 'groups from image duplicates, pattern' in r.stdout and 'test images whose patient is in training: 0' in r.stdout
    r = radtl('split', pat, '--policy', 'kfold', '--n-folds', 3, '--fold', 1, '--patients', pat.parent / 'patients.csv', '--out', tmp_path / 'k.csv')
    assert r.returncode == 0, r.stderr
    k = pd.read_csv(tmp_path / 'k.csv')
    assert set(k.fold) == {0, 1, 2} and set(k[k.subset == 'test'].fold) == {1} and k.groupby('patient').fold.nunique().max() == 1

def test_audit_links_to_a_reference(tmp_path):
    import numpy as np, pandas as pd
    from PIL import Image
    from radtl.synthetic import draw_slice, write_figshare_mat
    rng = np.random.default_rng(0)
    for k in range(6):
        img = draw_slice(rng, 'glioma_tumor', 96)[0]
        write_figshare_mat(tmp_path / 'ref' / f'{k + 1}.mat', img.astype(np.int16), 'glioma', f'MR{k % 3}')   # 3 patients, 2 slices each
        for split in (['Training', 'Testing'] if k == 0 else ['Training'] if k < 4 else []):
            d = tmp_path / 'set' / split / 'glioma'; d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img[:, ::-1]).resize((80, 80)).save(d / f'{k}.jpg', quality=70)
    (tmp_path / 'set' / 'Testing' / 'glioma' / 'x.jpg').write_bytes((tmp_path / 'set' / 'Training' / 'glioma' / '1.jpg').read_bytes())
    Image.fromarray(draw_slice(rng, 'glioma_tumor', 96)[0]).save(tmp_path / 'set' / 'Testing' / 'glioma' / 'new.jpg')
    r = radtl('audit', tmp_path / 'set', '--reference', tmp_path / 'ref', '--json', tmp_path / 'a.json', '--links', tmp_path / 'l.csv')
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / 'a.json').read_text())
    assert s['link']['linked'] == 6 and s['link']['linked_by_class'] == {'glioma': [6, 7]} and s['n_patients'] == 3
    assert (s['test_leaks'], s['patient_test_leaks'], s['patient_test_leaks_by_class']) == (2, 2, {'glioma': 2})
    assert 'patient-level test leakage: 2 of 3' in r.stdout and 'reference' in r.stdout
    assert pd.read_csv(tmp_path / 'l.csv').ref_patient.notna().sum() == 6

@pytest.mark.parametrize('flags, msg', [(['--patient-pattern', '(?P<patient>[0-9'], 'not a valid regular expression'),
                                        (['--patient-pattern', r'\d+'], 'named group'),
                                        (['--reference', 'nowhere'], '--reference nowhere: not a folder'),
                                        (['--patients', 'none.csv'], '--patients none.csv: no such file')])
def test_bad_patient_flags_exit_2_with_one_line(syn, tmp_path, flags, msg):
    for cmd in (['split', syn, '--out', tmp_path / 's.csv'], ['audit', syn]):
        r = radtl(*cmd, *flags, cwd=tmp_path)
        assert r.returncode == 2 and msg in r.stderr and 'Traceback' not in r.stderr, (cmd, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
