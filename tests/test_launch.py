"Launching a study's shards through submitit: three local jobs run a grid end to end; launch options checked before any work."
import re
from pathlib import Path
import pandas as pd, pytest, yaml
pytest.importorskip('submitit')
from radtl.study import load_study
from radtl.synthetic import synthetic_brain_mri
from run_helpers import radtl_in_process

@pytest.fixture(scope='module')
def syn(tmp_path_factory):
    return synthetic_brain_mri(tmp_path_factory.mktemp('syn'), n_train=60, n_test=24, size=32, seed=2)

def study_file(syn, tmp_path) -> Path:
    "Three smallcnn runs (three seeds) of the linear probe: a few seconds each"
    f = tmp_path / 'study.yaml'
    f.write_text(yaml.safe_dump(dict(name='launched', out='out', data=dict(roots=[str(syn)], image_size=32), models=['smallcnn'],
                                     recipes=['linear-eval'], seeds=[0, 1, 2], run=dict(epochs_scale=0.02, batch_size=16))))
    return f

def test_local_launch_runs_the_grid_as_three_jobs(syn, tmp_path):
    f = study_file(syn, tmp_path)
    rc, out, err = radtl_in_process('study', f, '--launch', 'local', '--array', 3, '--n-boot', 50)
    assert rc == 0, out + err
    ids = re.search(r'3 local jobs submitted: (.+); logs in', out).group(1).split()
    assert len(ids) == 3 and len(set(ids)) == 3
    o = tmp_path / 'out'
    logs = {j: next((o / 'launch' / j).glob('*_log.out')).read_text() for j in ids}
    started = {j: re.findall(r'^\[\d+/\d+\] (\S+)$', t, flags=re.M) for j, t in logs.items()}
    assert all(len(s) == 1 for s in started.values()), logs                 # each job trained its one shard's run ...
    grid = sorted(c.run_id for c in load_study(f).runs())
    assert sorted(sum(started.values(), [])) == grid                         # ... and every run was trained once
    writers = [j for j, t in logs.items() if re.search(r'^report: \S+report\.md$', t, flags=re.M)]
    assert len(writers) == 1, logs                                            # the report was written once, by one job
    r = pd.read_csv(o / 'results.csv')
    assert sorted(r.run_id) == grid and (r.status == 'done').all()
    assert '## Results' in (o / 'report.md').read_text()
    assert not list((o / 'runs').glob('*.lock'))

@pytest.mark.parametrize('args, msg', [
    (['--array', 3], '--array: only with --launch local or --launch slurm'),
    (['--launch', 'local'], 'give --array N'),
    (['--launch', 'local', '--array', 2, '--shard', '0/2'], '--shard: not with --launch'),
    (['--launch', 'local', '--array', 2, '--time', '10'], 'SLURM options'),
    (['--launch', 'local', '--array', 2, '--dry-run'], 'not with --dry-run or --print'),
])
def test_launch_options_are_checked_before_any_work(syn, tmp_path, args, msg):
    rc, out, err = radtl_in_process('study', study_file(syn, tmp_path), *args)
    assert rc == 2 and msg in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / 'out').exists()

def test_slurm_without_sbatch_or_submitit_is_a_clear_error(syn, tmp_path, monkeypatch):
    import radtl.launch
    f = study_file(syn, tmp_path)
    monkeypatch.setattr(radtl.launch.shutil, 'which', lambda name: None)
    rc, out, err = radtl_in_process('study', f, '--launch', 'slurm', '--array', 4, '--partition', 'gpu', '--gpus', 1, '--time', '2:00:00')
    assert rc == 2 and 'sbatch is not on PATH' in err and len(err.splitlines()) == 1
    monkeypatch.setattr(radtl.launch, 'find_spec', lambda name: None)   # as if submitit were not installed
    rc, out, err = radtl_in_process('study', f, '--launch', 'local', '--array', 2)
    assert rc == 2 and 'pip install "radtl[slurm]"' in err
    assert not (tmp_path / 'out').exists()

def test_a_shard_leaves_a_report_another_wrote_after_the_last_run(tmp_path):
    "Two shards ending together both find the grid settled: the one that gets the report lock second does not write it again"
    import os, time
    from fake_runs import fake_run
    from radtl.study import _report_is_current
    st = load_study(dict(name='s', out=str(tmp_path / 'out'), data=dict(roots=[str(tmp_path)], image_size=32), models=['smallcnn'],
                         recipes=['linear-eval'], seeds=[0, 1]))
    cfgs = st.runs()
    for c in cfgs: fake_run(st.run_dir(c))
    started = time.time() - 60   # this shard started before the runs ended
    assert not _report_is_current(st, cfgs, started)               # no report yet: write it
    (st.out / 'report.md').write_text('# report\n')
    assert _report_is_current(st, cfgs, started)                   # another shard wrote it after every run ended: leave it
    assert not _report_is_current(st, cfgs, time.time() + 60)      # a later invocation writes it again
    later = time.time() + 120
    os.utime(st.run_dir(cfgs[0]) / 'metrics.json', (later, later))
    assert not _report_is_current(st, cfgs, started)               # a run ended after the report: write it again
