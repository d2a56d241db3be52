"""Training runs resumable at any instant (issue 17): killed right after an epoch end, in the middle of a backup write, from corrupt
backups, between the last write and the rename; one process per run folder; names of any bytes."""
import json, os, shutil, signal, socket, subprocess, sys, time
from pathlib import Path
import numpy as np, pytest, yaml
from radtl.callbacks import read_history
from radtl.core import read_csv
from run_helpers import CLI, ARTIFACTS, radtl_subprocess, synthetic_set, history, same_history, same_predictions

@pytest.fixture(scope='module')
def syn(tmp_path_factory): return synthetic_set(tmp_path_factory)

TINY_RECIPE = dict(name='tiny-two-phase', phases=[dict(name='head', trainable='head', lr=1e-3, epochs=3, patience=None),
                                                   dict(name='all', trainable='all', lr=1e-3, epochs=3, patience=2)])
TIMING = ('epoch_time_s_mean', 'train_time_s', 'time_to_convergence')

def tiny_config(tmp, root) -> Path:
    "A smallcnn run of two short phases (head, then everything) at 32 px: seconds of training"
    f = Path(tmp) / 'tiny.yaml'
    f.write_text(yaml.safe_dump(dict(data=dict(roots=[str(root)], image_size=32), backbone='smallcnn', weights='random',
                                     recipe=TINY_RECIPE, batch_size=16, seed=0)))
    return f

def tiny_run(cfg, out, *extra, env=None):
    return subprocess.Popen([sys.executable, '-c', CLI, 'run', '--config', str(cfg), '--out', str(out), '--deterministic', *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)

def finished(p, timeout=600):
    log = p.communicate(timeout=timeout)[0]; assert p.returncode == 0, log[-3000:]; return log

def same_run(a, b):
    "History, predictions and metrics (but wall times) equal"
    same_history(history(a), history(b)); same_predictions(a, b)
    ma, mb = (json.loads((Path(d) / 'metrics.json').read_text()) for d in (a, b))
    assert {k: v for k, v in ma.items() if k not in TIMING} == {k: v for k, v in mb.items() if k not in TIMING}

def wait_for(cond, p, timeout=300, poll=0.001):
    t0 = time.time()
    while not cond():
        assert p.poll() is None, p.communicate()[0][-3000:]
        assert time.time() - t0 < timeout, 'timed out'
        time.sleep(poll)

def rows(partial): return len(read_history(partial / 'history.csv'))

@pytest.fixture(scope='module')
def tiny(syn, tmp_path_factory):
    "The tiny config and one uninterrupted run of it"
    tmp = tmp_path_factory.mktemp('tiny'); cfg = tiny_config(tmp, syn)
    finished(tiny_run(cfg, tmp / 'ref'))
    assert sorted(history(tmp / 'ref').phase.unique()) == [1, 2]
    return cfg, tmp / 'ref'

@pytest.mark.parametrize('n_rows', [1, 3, 4])
def test_kill_right_after_an_epoch_end_resumes_identically(tiny, tmp_path, n_rows):
    "SIGKILL the moment epoch `n_rows` is logged: while its checkpoint and backup are being written (epoch 3 ends phase 1)"
    cfg, ref = tiny; out, partial = tmp_path / 'run', tmp_path / 'run.partial'
    p = tiny_run(cfg, out)
    wait_for(lambda: rows(partial) >= n_rows, p)
    p.send_signal(signal.SIGKILL); p.wait()
    assert not out.exists()
    log = finished(tiny_run(cfg, out))
    assert 'resuming from' in log and 'Traceback' not in log
    assert sorted(f.name for f in out.iterdir()) == ARTIFACTS and not partial.exists()
    same_run(out, ref)

KILL_MID_WRITE = '''
import os, signal, sys
from pathlib import Path
import radtl.train as t, radtl.callbacks as c   # phase weights are written by the run, backups and checkpoints by the callbacks
real = t.save_weights_atomic
def dying(model, path):
    if Path(path).name == sys.argv[1]:   # what a kill during this write leaves: a partial temporary file, nothing renamed
        real(model, Path(path).with_name('whole.weights.h5'))
        data = Path(path).with_name('whole.weights.h5').read_bytes(); Path(path).with_name('whole.weights.h5').unlink()
        Path(path).with_name(f'.{Path(path).name}.x1y2.tmp.weights.h5').write_bytes(data[:len(data) // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    return real(model, path)
t.save_weights_atomic = c.save_weights_atomic = dying
from radtl.cli import main
sys.exit(main(sys.argv[2:]))
'''

def test_kill_in_the_middle_of_a_backup_write(tiny, tmp_path):
    cfg, ref = tiny; out, partial = tmp_path / 'run', tmp_path / 'run.partial'
    p = subprocess.run([sys.executable, '-c', KILL_MID_WRITE, 'epoch2.weights.h5', 'run', '--config', cfg, '--out', out, '--deterministic'],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == -signal.SIGKILL, p.stdout[-2000:] + p.stderr[-2000:]
    backup = partial / 'backup-phase1'
    assert sorted(f.name for f in backup.iterdir()) == ['.epoch2.weights.h5.x1y2.tmp.weights.h5', 'backup.json', 'epoch1.weights.h5']
    finished(tiny_run(cfg, out))
    assert sorted(f.name for f in out.iterdir()) == ARTIFACTS
    same_run(out, ref)

@pytest.mark.parametrize('damage', ['newest_truncated', 'keras_backup_truncated'])
def test_corrupt_or_partial_backup_never_crashes_a_resume(tiny, tmp_path, damage):
    """A backup whose newest file is cut short resumes from the one before; a Keras BackupAndRestore folder with a truncated
    latest.weights.h5 (what older radtl left, and what every resume then died on) restarts the phase: both end as the uninterrupted run"""
    cfg, ref = tiny; out, partial = tmp_path / 'run', tmp_path / 'run.partial'
    p = tiny_run(cfg, out)
    backup = partial / 'backup-phase1'
    wait_for(lambda: (backup / 'epoch2.weights.h5').exists() and json.loads((backup / 'backup.json').read_text())['backups'][-1]['epoch'] == 2, p)
    p.send_signal(signal.SIGKILL); p.wait()
    newest = backup / json.loads((backup / 'backup.json').read_text())['backups'][-1]['file']
    if damage == 'newest_truncated': newest.write_bytes(newest.read_bytes()[:1000])
    else:
        data = newest.read_bytes(); shutil.rmtree(backup); backup.mkdir()
        (backup / 'latest.weights.h5').write_bytes(data[:len(data) // 3]); (backup / 'training_metadata.json').write_text('{"epoch": 2, "batch": -1}')
    log = finished(tiny_run(cfg, out))
    if damage == 'keras_backup_truncated': assert 'no whole backup' in log and 'the phase starts again' in log
    same_run(out, ref)

def test_two_processes_on_one_out(tiny, tmp_path):
    "A second process on the same --out exits 2 naming the holder; a lock left by a dead process is taken over"
    cfg, ref = tiny; out = tmp_path / 'run'; lock = tmp_path / 'run.lock'
    lock.write_text(json.dumps(dict(host=socket.gethostname(), pid=2**22 + 4321, started='2020-01-01T00:00:00')))   # a dead process's lock
    a = tiny_run(cfg, out)
    wait_for(lambda: lock.exists() and json.loads(lock.read_text() or '{}').get('pid') == a.pid, a, poll=0.05)
    b = radtl_subprocess('run', '--config', cfg, '--out', out)
    assert b.returncode == 2 and len(b.stderr.strip().splitlines()) == 1, b.stderr
    assert f'being written by another radtl process {a.pid} on {socket.gethostname()} since ' in b.stderr, b.stderr
    finished(a)
    assert not lock.exists() and sorted(f.name for f in out.iterdir()) == ARTIFACTS
    same_run(out, ref)
    h = (out / 'history.csv').read_text(); assert h.count('epoch,') == 1   # one header: nobody else wrote into it

def test_failed_start_leaves_nothing_behind(syn, tmp_path):
    bogus = tmp_path / 'weights.h5'; bogus.write_bytes(np.random.default_rng(0).bytes(5000))
    out = tmp_path / 'new' / 'deeper' / 'run'
    r = radtl_subprocess('run', '--data', syn, '--out', out, '--backbone', 'smallcnn', '--weights', bogus, '--image-size', '32')
    said = [l for l in r.stderr.splitlines() if l.startswith('radtl')]   # (TensorFlow may log its own lines)
    assert r.returncode == 2 and 'Traceback' not in r.stderr and len(said) == 1 and 'not a readable HDF5' in said[0], r.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['radtl-cache', 'weights.h5']   # no run.partial, no lock, no folders made for it

def test_names_of_any_bytes_through_a_killed_and_resumed_run(syn, tmp_path):
    "A root and images whose names are not UTF-8, a strict UTF-8 console, a kill and a resume; and the files left out, recorded"
    root = tmp_path / os.fsdecode(b'mri-\xe9\xff')
    shutil.copytree(syn, root)
    for f in sorted(root.rglob('*.jpg')): f.rename(f.with_name(os.fsdecode(b'\xff' + os.fsencode(f.name))))
    (root / 'Training' / 'glioma_tumor' / '.DS_Store').write_bytes(b'\0')
    shutil.copy(next((root / 'Training' / 'no_tumor').iterdir()), root / 'Training' / os.fsdecode(b'stray-\xfe.jpg'))
    cfg = tiny_config(tmp_path, root); out = tmp_path / os.fsdecode(b'run-\xe9\xff'); partial = out.with_name(out.name + '.partial')
    env = dict(os.environ, PYTHONIOENCODING='utf-8:strict')
    p = tiny_run(cfg, out, env=env)
    wait_for(lambda: rows(partial) >= 2, p, poll=0.01)
    p.send_signal(signal.SIGKILL); p.wait()
    log = finished(tiny_run(cfg, out, env=env))
    assert r'run-\xe9\xff: resuming from' in log and 'data: 226 files, 224 usable labelled images; left out: 2 files (hidden 1, unlabelled 1)' in log
    raw = (out / 'predictions_test.csv').read_bytes()
    assert b'\xff' in raw and b'mri-\xe9\xff' in raw                               # the names' own bytes
    pred = read_csv(out / 'predictions_test.csv')
    assert len(pred) and all(os.path.exists(p) for p in pred.path)
    c = yaml.safe_load((out / 'config.yaml').read_text())
    assert c['data']['roots'] == [str(root)]
    assert c['data_summary']['files'] == {'n': 226, 'usable': 224, 'left_out': {'hidden': 1, 'unlabelled': 1}}
    assert json.loads((out / 'metrics.json').read_text())['files_left_out'] == {'hidden': 1, 'unlabelled': 1}

def test_killed_between_the_last_write_and_the_rename(tiny, tmp_path):
    "A .partial folder already holding metrics.json (killed just before the rename) is completed without training again"
    cfg, ref = tiny; out = tmp_path / 'run'
    shutil.copytree(ref, tmp_path / 'run.partial'); (tmp_path / 'run.partial' / '.metrics.json.x1.tmp').write_text('{')
    log = finished(tiny_run(cfg, out))
    assert 'already finished' in log and 'Epoch' not in log
    assert sorted(f.name for f in out.iterdir()) == ARTIFACTS and not (tmp_path / 'run.partial').exists()
    same_run(out, ref)
