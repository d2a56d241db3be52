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
