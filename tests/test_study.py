"Studies: a sharded tiny study through the CLI (disjoint shards, failure isolation, report), re-invocation, invalid files, presets."
import json, os, re, subprocess, sys
from pathlib import Path
import pandas as pd, pytest, yaml
from radtl.study import load_study, PRESETS
from radtl.synthetic import synthetic_brain_mri
from run_helpers import CLI, radtl_in_process, radtl_subprocess

@pytest.fixture(scope='module')
def syn(tmp_path_factory):
    return synthetic_brain_mri(tmp_path_factory.mktemp('syn'), n_train=120, n_test=40, size=32, seed=3)

def tiny_study(syn, out, empty_dir, **kw) -> dict:
    "A random-init ResNet50 linear probe, one trained from scratch, and a linear probe whose RadImageNet file is missing: three runs, seconds each"
    Path(empty_dir).mkdir(exist_ok=True)
    d = dict(name='tiny', out=str(out), data=dict(roots=[str(syn)], image_size=32),
             models=[dict(backbone='resnet50', weights=['random', 'radimagenet'])], recipes=['linear-eval', 'random-finetune-all'], seeds=[0],
             run=dict(epochs_scale=0.02, batch_size=16, weights_dirs=[str(empty_dir)]))
    return {**d, **kw}

def write_study(path, d) -> Path:
    Path(path).write_text(yaml.safe_dump(d)); return Path(path)

def listed_ids(stdout:str) -> list: return re.findall(r'^\s*(\S+-s\d-[0-9a-f]{8})\s', stdout, flags=re.M)

def test_shards_partition_the_grid(syn, tmp_path):
    d = tiny_study(syn, tmp_path / 'out', tmp_path / 'no-weights', seeds=[0, 1, 2, 3], recipes=['linear-eval'])
    st = load_study(d); ids = [c.run_id for c in st.runs()]
    assert len(ids) == 8 and len(set(ids)) == 8
    f = write_study(tmp_path / 's.yaml', d)
    parts = []
    for i in range(3):
        rc, out, _ = radtl_in_process('study', f, '--shard', f'{i}/3', '--dry-run')
        assert rc == 0; parts.append(listed_ids(out))
    assert sorted(sum(parts, [])) == sorted(ids)              # the union is the grid ...
    assert len(sum(parts, [])) == len(set(sum(parts, [])))    # ... and no run is in two shards
    assert [len(p) for p in parts] == [3, 3, 2]
    assert not (tmp_path / 'out').exists()                     # a dry run writes nothing

def test_sharded_study_end_to_end(syn, tmp_path):
    small = [dict(backbone='smallcnn', weights=['random', 'simclr'])]   # the small CNN: the same three runs, cheaper to build and train
    f = write_study(tmp_path / 'study.yaml', tiny_study(syn, 'out', tmp_path / 'no-weights', models=small))  # relative out: relative to the study file
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
    procs = [subprocess.Popen([sys.executable, '-c', CLI, 'study', str(f), '--shard', f'{i}/3', '--n-boot', '200'],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) for i in range(3)]
    logs = [p.communicate(timeout=600)[0] for p in procs]
    rcs = [p.returncode for p in procs]
    assert sorted(rcs) == [0, 0, 1], logs                       # the shard holding the missing-weights run exits 1
    started = [rid for log in logs for rid in re.findall(r'^\[\d+/\d+\] (\S+)$', log, flags=re.M)]
    assert len(started) == 3 and len(set(started)) == 3, logs  # each run trained by exactly one shard
    out = tmp_path / 'out'
    failed = json.loads(next((out / 'runs').glob('*.failed.json')).read_text())
    assert 'simclr' in failed['error'] and 'not found' in failed['error']
    r = pd.read_csv(out / 'results.csv')
    assert sorted(r.status) == ['done', 'done', 'failed'] and r[r.status == 'done'].accuracy_lo.notna().all()
    assert json.loads((out / 'audit.json').read_text())['n_images'] > 0
    rep = (out / 'report.md').read_text()
    for s in ('## Data audit', '## Results', '## Failed runs', '## Statistical comparisons', 'confusion.png', 'random initialisation'):
        assert s in rep, s
    for img in re.findall(r'src="([^"]+)"', rep): assert (out / img).is_file(), img
    assert not list((out / 'runs').glob('*.lock'))
    # a second invocation of the finished runs does nothing new
    done = {p: p.stat().st_mtime_ns for p in (out / 'runs').glob('*/metrics.json')}
    again = radtl_subprocess('study', f, '--only', 'smallcnn-random-', '--no-report', env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert '0 runs finished now, 0 failed' in again.stdout and '2 already done, 0 to run' in again.stdout
    assert {p: p.stat().st_mtime_ns for p in (out / 'runs').glob('*/metrics.json')} == done

@pytest.mark.parametrize('change, key', [
    (dict(modles=[]), "unknown key 'modles'"),
    (dict(data=dict(roots=['x'], image_sise=32)), "data: unknown key 'image_sise'"),
    (dict(models=[dict(backbone='resnet50', weight='random')]), "models[0]: unknown key 'weight'"),
    (dict(run=dict(epochs=3)), "run: unknown key 'epochs'"),
    (dict(seeds='many'), 'seeds:'),
    (dict(recipes=['three-phase']), 'recipes[0]: unknown recipe'),
    (dict(data=dict(roots=['x'], image_size=0)), 'data.image_size: an integer in [8, 2048] expected, got 0'),
    (dict(data=dict(roots=['x'], image_size=16)), 'data.image_size: resnet50 needs images of at least 32 px, got 16'),
    (dict(data=dict(roots=['x'], split='patients')), "data.split: one of 'group', 'official', 'kfold', 'random' expected, got 'patients'"),
    (dict(data='/path'), "data: a mapping (key: value) expected, got '/path'"),
    (dict(run=dict(epochs_scale='0.02x')), "run.epochs_scale: a number in (0, 100] expected, got '0.02x'"),
    (dict(run=dict(batch_size=0)), 'run.batch_size: an integer in [1, 65536] expected, got 0'),
    (dict(seeds=[0, 'abc']), "seeds[1]: an integer in [0, 1000000] expected, got 'abc'"),
    (dict(models=[dict(backbone='resnet50', preprocessing='zscore')]), 'models[0].preprocessing: unknown preprocessing mode'),
])
def test_invalid_study_file_names_the_key(syn, tmp_path, change, key):
    f = write_study(tmp_path / 'bad.yaml', {**tiny_study(syn, tmp_path / 'out', tmp_path / 'no-weights'), **change})
    rc, out, err = radtl_in_process('study', f, '--dry-run')
    assert rc == 2 and key in err and 'Traceback' not in err, err
    assert len(err.strip().splitlines()) == 1

@pytest.mark.parametrize('preset, n', [('brain-mri-pretraining', 12), ('five-settings', 24), ('data-fractions', 48), ('double-finetuning', 12), ('in-domain-pretraining', 30)])
def test_preset_dry_run_lists_its_runs(syn, tmp_path, preset, n):
    rc, out, err = radtl_in_process('study', '--preset', preset, '--data', syn, '--intermediate', syn, '--out', tmp_path / 'o', '--dry-run')
    assert rc == 0, err
    ids = listed_ids(out)
    assert len(ids) == n == len(set(ids)) and f'{n} runs in all' in out
    study = yaml.safe_load(PRESETS[preset])
    for m in study['models']: assert any(i.startswith(f"{m['backbone']}-") for i in ids)
    for r in study['recipes']: assert any(f'-{r}-s' in i for i in ids)
    assert {int(s) for s in re.findall(r'-s(\d)-', ' '.join(ids))} == set(study['seeds'])

def test_cpu_preset_takes_its_reference_and_condition_weights(syn, tmp_path):
    "brain-mri-cpu: three conditions, the reference for two of them, each condition's weights folder searched first; refused without the reference"
    ref, pid = tmp_path / 'figshare', tmp_path / 'pid.csv'
    ref.mkdir(); pid.write_text('index,patient,label\n'); (tmp_path / 'simclr' / 'naive').mkdir(parents=True)
    args = ('study', '--preset', 'brain-mri-cpu', '--data', syn, '--out', tmp_path / 'o', '--dry-run')
    rc, out, err = radtl_in_process(*args, '--reference', ref, '--reference-patients', pid, '--condition-weights', tmp_path / 'simclr')
    assert rc == 0, err
    assert '18 runs in all' in out and f"condition naive: its weight files searched for first in {tmp_path / 'simclr' / 'naive'}" in out
    assert len(listed_ids(out)) == 18 and 'patient-clean' in out
    rc, out, err = radtl_in_process(*args)
    assert rc == 2 and 'give --reference DIR (repeatable) and --reference-patients CSV: conditions naive, patient-clean' in err
    f = tmp_path / 's.yaml'; f.write_text(yaml.safe_dump(dict(data=dict(roots=[str(syn)]), models=['smallcnn'], out=str(tmp_path / 'o'))))
    rc, out, err = radtl_in_process('study', f, '--reference', ref, '--dry-run')
    assert rc == 2 and '--reference, --reference-patients and --condition-weights apply to --preset' in err

def test_preset_without_data_finds_nothing_and_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, out, err = radtl_in_process('study', '--preset', 'brain-mri-pretraining', '--dry-run')
    assert rc == 2 and '--data ROOT' in err


def test_study_file_that_is_not_a_mapping(tmp_path):
    for text, says in (('- name: a\n', 'a mapping (key: value lines) expected, got a list'), ('just words\n', "expected, got 'just words'")):
        f = tmp_path / 'bad.yaml'; f.write_text(text)
        rc, out, err = radtl_in_process('study', f, '--dry-run')
        assert rc == 2 and says in err and len(err.strip().splitlines()) == 1, err

def test_study_prints_and_reports_files_left_out(syn, tmp_path):
    "The study's data line and its report's audit table say how many files were left out and why"
    import shutil
    from radtl.study import write_audit, _files_line
    root = tmp_path / 'data'; shutil.copytree(syn, root)
    (root / 'Training' / 'glioma_tumor' / 'notes.txt').write_text('x'); shutil.copy(next((root / 'Training' / 'no_tumor').iterdir()), root / 'Training' / 'stray.jpg')
    st = load_study(tiny_study(root, tmp_path / 'out', tmp_path / 'no-weights'))
    a = json.loads(write_audit(st)[""][0].read_text())
    assert _files_line(st, a).endswith('left out: 2 files (not_image 1, unlabelled 1)')
    from radtl.report import _audit_md
    assert '| … by kind | not_image 1, unlabelled 1 |' in '\n'.join(_audit_md(st.out))
def test_kfold_study_runs_every_fold_and_reports_over_folds(tmp_path):
    from radtl.synthetic import synthetic_patients
    from radtl.study import run_study
    root = synthetic_patients(tmp_path / 'pat', n_patients=36, size=32, seed=4)
    d = dict(name='cv', out=str(tmp_path / 'out'), data=dict(roots=[str(root)], image_size=32, split='kfold', n_folds=3, patient_pattern=r'(?P<patient>P\d+)_'),
             models=[dict(backbone='smallcnn', weights='random')], recipes=['linear-eval'], seeds=[0],
             run=dict(epochs_scale=0.02, batch_size=16))
    st = load_study(d)
    ids = [c.run_id for c in st.runs()]
    assert len(ids) == 3 and [re.search(r'-s0-f(\d)-', i).group(1) for i in ids] == ['0', '1', '2']
    res = run_study(st, n_boot=100, verbose=0)
    assert res['exit_status'] == 0 and len(res['ran']) == 3
    tests = [pd.read_csv(tmp_path / 'out' / 'runs' / i / 'predictions_test.csv').path for i in ids]
    assert sum(map(len, tests)) == len(set(pd.concat(tests))) == len(pd.read_csv(root.parent / 'patients.csv'))   # each image tested once
    cfg = yaml.safe_load((tmp_path / 'out' / 'runs' / ids[1] / 'config.yaml').read_text())
    assert cfg['data']['fold'] == 1 and cfg['data_summary']['groups']['sources'] == ['image duplicates', 'pattern']
    assert cfg['data_summary']['patient_leaks'] == 0 and cfg['data_summary']['leaking_patients'] == 0
    r = pd.read_csv(tmp_path / 'out' / 'results.csv')
    assert sorted(r.fold) == [0, 1, 2]
    rep = (tmp_path / 'out' / 'report.md').read_text()
    assert '| seeds | folds |' in rep and ' ± ' in rep and 'patients' in rep
    au = json.loads((tmp_path / 'out' / 'audit.json').read_text())
    assert au['n_patients'] == 36 and au['groups'] == 36 and au['group_record']['sources'] == ['image duplicates', 'pattern']

def test_exported_runs_are_restored_on_another_machine_and_reported_again(syn, tmp_path):
    "export_report(runs=True) on one machine, restore_runs on another (the data elsewhere, same set): the same report, no training"
    import shutil
    from radtl.study import run_study, restore_runs, write_study_files
    from radtl.report import write_report, export_report
    d = lambda root, out: load_study(dict(name='moved', out=str(out), data=dict(roots=[str(root)], image_size=32), models=['smallcnn'],
                                          recipes=['random-finetune-all'], seeds=[0, 1], run=dict(epochs_scale=0.02, batch_size=16)))
    here = d(syn, tmp_path / 'here')
    assert not run_study(here, report=False, verbose=0)['failed']
    write_report(here.out, n_boot=50, verbose=0)
    export_report(here.out, tmp_path / 'results', runs=True)
    committed = sorted((tmp_path / 'results' / 'runs').iterdir())
    assert len(committed) == 2 and sum((p / 'model.keras').exists() for p in committed) == 1   # the Grad-CAM run's model only
    elsewhere = shutil.copytree(syn, tmp_path / 'machine2' / syn.name)
    there = d(elsewhere, tmp_path / 'there')
    assert sorted(restore_runs(there, tmp_path / 'results', verbose=0)) == sorted(c.run_id for c in there.runs())
    assert not {c.run_id for c in there.runs()} & {c.run_id for c in here.runs()}   # the ids name the data folders: matched by config
    assert run_study(there, report=False, verbose=0)['ran'] == []                   # nothing left to train
    write_study_files(there, verbose=0)
    write_report(there.out, n_boot=50, verbose=0)
    a, b = (pd.read_csv(s.out / 'results.csv').sort_values('seed') for s in (here, there))
    assert a.accuracy.tolist() == b.accuracy.tolist() and a.auc_macro.tolist() == b.auc_macro.tolist()
    assert 'gradcam.png' in (there.out / 'report.md').read_text()
    assert str(syn) not in ''.join((p / f).read_text() for p in committed for f in ('config.yaml', 'predictions_test.csv'))
