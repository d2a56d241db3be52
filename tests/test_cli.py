"The radtl console script: scan and audit on the synthetic set, file names of any bytes under a strict UTF-8 console, and every bad argument one line with exit status 2."
import json, os, shutil, subprocess, sys
from pathlib import Path
import pytest
from radtl.core import read_csv
from radtl.synthetic import synthetic_brain_mri
from run_helpers import radtl_subprocess as radtl, radtl_in_process

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
        rc, out, err = radtl_in_process(cmd, root)
        assert rc == 2, (cmd, out, err)
        assert 'Traceback' not in err and len(err.strip().splitlines()) == 1, err

def test_weights_list_and_check(tmp_path):
    rc, out, err = radtl_in_process('weights', 'list', '--weights-dir', tmp_path)
    assert rc == 0, err
    assert 'RadImageNet-DenseNet121_notop.h5' in out and 'missing' in out and str(tmp_path) in out
    assert max(map(len, out.splitlines())) <= 80 or str(tmp_path) in max(out.splitlines(), key=len)
    assert 'of the 110 weight files radtl looks for are here; 4 listed' in ' '.join(out.split())
    assert radtl_in_process('weights', '--dir', tmp_path)[1] == out   # plain `weights` is `weights list`; --dir, the previous release's spelling
    bad = tmp_path / 'RadImageNet-DenseNet121_notop.h5'; bad.write_bytes(b'<html>not found</html>')
    rc, out, err = radtl_in_process('weights', 'check', bad, '--backbone', 'densenet121')
    assert rc == 2 and 'not a readable HDF5' in err and 'Traceback' not in err
    assert len([l for l in err.splitlines() if l.startswith('radtl')]) == 1, err
    import tf_keras
    good = tmp_path / 'good.h5'
    tf_keras.applications.DenseNet121(weights=None, include_top=False, input_shape=(32, 32, 3)).save_weights(str(good))
    rc, out, err = radtl_in_process('weights', 'check', good, '--backbone', 'densenet121')
    assert rc == 0, err
    assert 'fits densenet121' in out
    rc, out, err = radtl_in_process('weights', 'check', good, '--backbone', 'resnet50')
    assert rc == 2 and 'resnet50' in err.lower()


# ---- file names of any bytes, strict consoles, every bad argument one line (issue 17) ----

LATIN1 = os.fsdecode(b'scan-\xe9t\xe9-\xff.jpg')          # a Latin-1 name: not valid UTF-8

@pytest.fixture(scope='module')
def odd_names(syn, tmp_path_factory):
    "The synthetic set under a root whose name is not UTF-8, with some images and a stray file renamed to Latin-1 bytes"
    root = Path(tmp_path_factory.mktemp('names')) / os.fsdecode(b'br\xe4in')
    shutil.copytree(syn, root)
    for cls in ('glioma_tumor', 'no_tumor'):
        d = root / 'Training' / cls
        for i, f in enumerate(sorted(d.glob('*.jpg'))[:3]): f.rename(d / os.fsdecode(b'%d-\xe9\xff.jpg' % i))
    (root / 'Training' / 'glioma_tumor' / os.fsdecode(b'notes-\xff.txt')).write_text('x')
    shutil.copy(next((root / 'Training' / 'glioma_tumor').glob('*.jpg')), root / 'Training' / LATIN1)   # unlabelled, listed
    return root

def strict(*args, **kw):
    return radtl(*args, env=dict(os.environ, PYTHONIOENCODING='utf-8:strict', TF_CPP_MIN_LOG_LEVEL='3'), **kw)

def test_non_utf8_names_scan_csv_and_strict_console(odd_names, tmp_path):
    r = strict('scan', odd_names, '--csv', tmp_path / 'cat.csv')
    assert r.returncode == 0 and 'Traceback' not in r.stderr, r.stderr[-2000:]
    assert 'left out: 2 files (not_image 1, unlabelled 1)' in r.stdout
    assert r'scan-\xe9t\xe9-\xff.jpg' in r.stdout and r'br\xe4in' in r.stdout          # listed, bytes shown as \xNN
    raw = (tmp_path / 'cat.csv').read_bytes()
    assert os.fsencode(LATIN1) in raw and b'br\xe4in' in raw                           # the CSV keeps the names' own bytes
    cat = read_csv(tmp_path / 'cat.csv')
    assert len(cat) == 166 and all(os.path.exists(p) for p in cat.path)               # and reads back to paths that open
    assert sum('\udcff' in p for p in cat.path) == 8

def test_non_utf8_names_audit_csv_pairs_json(odd_names, tmp_path):
    r = strict('audit', odd_names, '--csv', tmp_path / 'cat.csv', '--pairs', tmp_path / 'pairs.csv', '--json', tmp_path / 'a.json')
    assert r.returncode == 0 and 'Traceback' not in r.stderr, r.stderr[-2000:]
    s = json.loads((tmp_path / 'a.json').read_text())
    assert s['n_images'] == 166 and s['errors'] == {'not_image': 1, 'unlabelled': 1}
    pairs = read_csv(tmp_path / 'pairs.csv')
    assert all(os.path.exists(p) for p in pairs.path_a) and len(read_csv(tmp_path / 'cat.csv')) == 166

def bad_args(syn, tmp):
    "(argv, what the one line must say): each refused before any scan or write"
    f = lambda name, text: (tmp / name).write_text(text) and tmp / name
    study = lambda name, **kw: f(name, json.dumps(dict(out=str(tmp / 'st'), data=dict(roots=[str(syn)], image_size=32), models=['resnet50'], **kw)))
    (tmp / 'afile').write_text('x')
    run = ['run', '--data', syn, '--out', tmp / 'r', '--backbone', 'smallcnn']
    return [
        (['scan', syn, '--errors', '-1'], 'argument --errors: an integer ≥ 0 expected, got -1'),
        (['scan', syn, '--csv', tmp / 'nowhere' / 'c.csv'], 'does not exist'),
        (['scan', syn, '--csv', tmp], 'is a folder'),
        (['audit', syn, '--threshold', '99'], 'argument --threshold: an integer in [0, 64] expected, got 99'),
        (['audit', syn, '--min-corr', 'high'], "argument --min-corr: a number in [-1, 1] expected, got 'high'"),
        (run + ['--image-size', '0'], '--image-size: an integer in [8, 2048] expected, got 0'),
        (run + ['--image-size', '-5'], '--image-size: an integer in [8, 2048] expected, got -5'),
        (run + ['--image-size', '8'], 'data.image_size: smallcnn needs images of at least 16 px, got 8'),
        (run + ['--epochs-scale', 'nan'], "--epochs-scale: a number in (0, 100] expected, got 'nan'"),
        (run + ['--epochs-scale', 'inf'], "--epochs-scale: a number in (0, 100] expected, got 'inf'"),
        (run + ['--batch-size', '0'], '--batch-size: an integer in [1, 65536] expected, got 0'),
        (run + ['--seed', 'abc'], "--seed: an integer in [0, 1000000] expected, got 'abc'"),
        (run + ['--fraction', '0'], '--fraction: a number in (0, 1] expected, got 0'),
        (run + ['--split', 'patients'], "--split: one of 'group', 'official', 'kfold', 'random' expected, got 'patients'"),
        (run + ['--resize', 'crop'], "--resize: one of 'stretch', 'pad', 'center_crop' expected, got 'crop'"),
        (run + ['--backbone', 'resnet5'], "backbone: unknown backbone 'resnet5'"),
        (run + ['--weights', 'radimagenet'], "weights: smallcnn has no weights source 'radimagenet'"),
        (run + ['--weights', tmp / 'missing.h5'], 'does not exist'),
        (run + ['--recipe', 'three-phase'], "unknown recipe 'three-phase'"),
        (run + ['--preprocessing', 'zscore'], "--preprocessing: one of"),
        (['run', '--data', syn, '--out', tmp / 'afile'], 'afile exists and is not a folder'),
        (['run', '--data', tmp / 'none', '--out', tmp / 'r'], 'not a folder'),
        (run + ['--config', f('list.yaml', '- seed: 1\n')], 'list.yaml: a mapping (key: value lines) expected, got a list'),
        (run + ['--config', f('text.yaml', 'just words\n')], "text.yaml: a mapping (key: value lines) expected, got 'just words'"),
        (run + ['--config', f('data.yaml', 'data: /path\n')], "data: a mapping (key: value) expected, got '/path'"),
        (run + ['--config', f('num.yaml', 'epochs_scale: "0.02"\nseed: abc\n')], "seed: an integer in [0, 1000000] expected, got 'abc'"),
        (run + ['--config', f('key.yaml', 'lr: 0.1\n')], "unknown key 'lr'; allowed: data, backbone"),
        (run + ['--config', f('tag.yaml', 'seed: !!python/object/apply:os.getpid []\n')], 'not valid YAML'),
        (run + ['--config', tmp / 'missing.yaml'], 'cannot read it'),
        (['study', study('s1.yaml'), '--dry-run', '--n-boot', '0'], 'argument --n-boot: an integer ≥ 1 expected, got 0'),
        (['study', study('s2.yaml', run=dict(epochs_scale='abc')), '--dry-run'], "run.epochs_scale: a number in (0, 100] expected, got 'abc'"),
        (['study', f('s0.yaml', json.dumps(dict(out=str(tmp / 'st'), data=dict(roots=[str(syn)], image_size=0), models=['resnet50']))), '--dry-run'],
         'data.image_size: an integer in [8, 2048] expected, got 0'),
        (['study', f('sl.yaml', '- a\n'), '--dry-run'], 'a mapping (key: value lines) expected, got a list'),
        (['study', study('s3.yaml'), '--out', tmp / 'afile'], 'exists and is a file'),
        (['study', study('s4.yaml'), '--shard', '3/2'], '--shard 3/2: need 0 ≤ i < n'),
        (['study', study('s5.yaml'), '--external', 'nick', '--dry-run'], "--external takes NAME=ROOT, got 'nick'"),
        (['study', study('s6.yaml'), '--external', f'nick={tmp / "none"}', '--dry-run'], 'none: not a folder'),
        (['pretrain', '--data', syn, '--out', tmp / 'p', '--epochs', '0'], '--epochs: an integer ≥ 1 expected, got 0'),
        (['pretrain', '--data', syn, '--out', tmp / 'p', '--batch-size', '1'], '--batch-size: an integer in [2, 65536] expected, got 1'),
        (['pretrain', '--data', syn, '--out', tmp / 'p', '--image-size', '0'], '--image-size: an integer in [8, 2048] expected, got 0'),
        (['pretrain', '--data', syn, '--out', tmp / 'p', '--temperature', '0'], '--temperature: a number > 0 expected, got 0'),
        (['pretrain', '--data', syn, '--out', tmp / 'afile', '--backbone', 'smallcnn', '--image-size', '32'], 'exists and is not a folder'),
        (['report', tmp / 'r', '--n-boot', '-1'], 'argument --n-boot: an integer ≥ 1 expected, got -1'),
        (['evaluate', tmp / 'r', '--out', tmp / 'afile'], 'is a file'),
        (['predict', tmp / 'r', '--data', syn], 'run directory'),
        (['predict', tmp / 'r', '--data', syn, '--tta', '-1'], 'argument --tta: an integer in [0, 1000] expected, got -1'),
        (['predict', tmp / 'r', '--data', syn, '--gradcam', 'x'], "argument --gradcam: an integer in [0, 1000] expected, got 'x'"),
        (['demo', '--image-size', '0'], 'argument --image-size: an integer in [32, 2048] expected, got 0'),
        (['demo', '--size', '0'], 'argument --image-size: an integer in [32, 2048] expected, got 0'),   # the previous release's spelling
        (['demo', '--epochs-scale', 'nan'], "argument --epochs-scale: a number in (0, 100] expected, got 'nan'"),
    ]

def test_every_bad_argument_is_one_line_and_exit_2(syn, tmp_path):
    seen = set()
    for argv, says in bad_args(syn, tmp_path):
        rc, out, err = radtl_in_process(*argv)
        assert rc == 2, (argv, rc, out[-500:], err[-500:])
        assert says in err and 'Traceback' not in err and len(err.strip().splitlines()) == 1, (argv, err)
        seen.add(argv[0])
    assert seen == {'scan', 'audit', 'run', 'study', 'pretrain', 'report', 'evaluate', 'predict', 'demo'}
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == []                # no run, study or .partial folder was made

def test_bad_argument_through_the_console_script(syn, tmp_path):
    r = strict('run', '--data', syn, '--out', tmp_path / 'r', '--image-size', '0')
    assert r.returncode == 2 and r.stderr.strip() == 'radtl run: error: --image-size: an integer in [8, 2048] expected, got 0', r.stderr
    r = strict('run', '--data', syn)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and 'the following arguments are required: --out' in r.stderr, r.stderr
    assert not list(tmp_path.iterdir())
@pytest.fixture(scope='module')
def pat(tmp_path_factory):
    from radtl.synthetic import synthetic_patients
    return synthetic_patients(tmp_path_factory.mktemp('pat'), n_patients=30, size=48, seed=5)

def test_split_writes_the_split_split_data_makes(pat, tmp_path):
    import pandas as pd
    from radtl.splits import split_data
    r = radtl('split', pat, '--split-seed', 3, '--patient-pattern', r'(?P<patient>P\d+)_', '--out', tmp_path / 's.csv')
    assert r.returncode == 0, r.stderr
    s = pd.read_csv(tmp_path / 's.csv')
    assert list(s.columns[:5]) == ['path', 'label', 'subset', 'group', 'patient'] and s.groupby('patient').subset.nunique().max() == 1
    ds = split_data(pat, split_seed=3, patient_pattern=r'(?P<patient>P\d+)_', cache_dir=tmp_path / 'c')
    assert s.set_index('path').subset.to_dict() == ds.images.set_index('path').subset.to_dict()
    assert 'groups from image duplicates, pattern' in r.stdout and 'test images whose patient is in training: 0' in r.stdout
    r = radtl('split', pat, '--split', 'kfold', '--n-folds', 3, '--fold', 1, '--patients', pat.parent / 'patients.csv', '--out', tmp_path / 'k.csv')
    assert r.returncode == 0, r.stderr
    k = pd.read_csv(tmp_path / 'k.csv')
    assert set(k.fold) == {0, 1, 2} and set(k[k.subset == 'test'].fold) == {1} and k.groupby('patient').fold.nunique().max() == 1
    r = radtl('split', pat, '--policy', 'kfold', '--seed', 0, '--n-folds', 3, '--fold', 1, '--patients', pat.parent / 'patients.csv',
              '--out', tmp_path / 'k_old.csv')   # the previous release's spellings
    assert r.returncode == 0, r.stderr
    assert pd.read_csv(tmp_path / 'k_old.csv').equals(k)

def test_scan_audit_split_start_without_keras(syn, tmp_path):
    "The data commands never import Keras or TensorFlow"
    code = ('import sys; from radtl.cli import main; rc = main(sys.argv[1:]); '
            "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules, 'Keras imported'; sys.exit(rc)")
    for args in (['scan', syn], ['audit', syn], ['split', syn, '--out', tmp_path / 's.csv']):
        r = subprocess.run([sys.executable, '-c', code, *map(str, args)], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, (args, r.stderr[-2000:])

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
def test_bad_patient_flags_exit_2_with_one_line(syn, tmp_path, flags, msg, monkeypatch):
    monkeypatch.chdir(tmp_path)                                # the relative paths of `flags` are relative to it
    for cmd in (['split', syn, '--out', tmp_path / 's.csv'], ['audit', syn]):
        rc, out, err = radtl_in_process(*cmd, *flags)
        assert rc == 2 and msg in err and 'Traceback' not in err, (cmd, err)
        assert len(err.strip().splitlines()) == 1, err
