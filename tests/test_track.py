"Tracking in MLflow: a study on a tracking server the test starts on localhost, a resumed run in the local store, failures as one warning."
import contextlib, json, os, socket, subprocess, sys, time, urllib.request
import pandas as pd, pytest, yaml
pytest.importorskip('mlflow')
from mlflow.tracking import MlflowClient
import keras
from radtl.runconfig import RunConfig
from radtl.study import load_study
from radtl.synthetic import synthetic_brain_mri
from radtl.track import Tracker, TrackingConfig, local_store
from radtl.train import run
from run_helpers import radtl_in_process

@pytest.fixture(scope='module')
def syn(tmp_path_factory):
    return synthetic_brain_mri(tmp_path_factory.mktemp('syn'), n_train=60, n_test=24, size=32, seed=1)

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.fixture(scope='module')
def mlflow_server(tmp_path_factory):
    "An MLflow tracking server on a free loopback port, serving its artifacts; stopped when the module's tests end"
    d, port = tmp_path_factory.mktemp('mlflow-server'), _free_port()
    log = open(d / 'server.log', 'w')
    p = subprocess.Popen([sys.executable, '-m', 'mlflow', 'server', '--host', '127.0.0.1', '--port', str(port), '--workers', '1',
                          '--backend-store-uri', f'sqlite:///{d}/mlflow.db', '--artifacts-destination', str(d / 'artifacts')],
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f'http://127.0.0.1:{port}'
    try:
        for _ in range(600):
            if p.poll() is not None: pytest.fail(f'mlflow server exited: {(d / "server.log").read_text()[-2000:]}')
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(uri + '/health', timeout=1).status == 200: break
            time.sleep(0.5)
        else: pytest.fail(f'mlflow server did not answer: {(d / "server.log").read_text()[-2000:]}')
        yield uri
    finally:
        with contextlib.suppress(ProcessLookupError): os.killpg(p.pid, 15)
        try: p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9); p.wait()
        log.close()

def tiny_study(syn, out, **kw) -> dict:
    "Two smallcnn runs (two seeds) of the two-phase recipe, a few epochs each"
    return {**dict(name='tracked', out=str(out), data=dict(roots=[str(syn)], image_size=32), models=['smallcnn'], recipes=['two-phase'],
                   seeds=[0, 1], run=dict(epochs_scale=0.04, batch_size=16)), **kw}

def test_study_tracked_on_a_server(syn, tmp_path, mlflow_server):
    f = tmp_path / 'study.yaml'
    f.write_text(yaml.safe_dump(tiny_study(syn, tmp_path / 'out')))
    rc, out, err = radtl_in_process('study', f, '--track', 'mlflow', '--tracking-uri', mlflow_server, '--n-boot', '50', '--quiet')
    assert rc == 0, out + err
    assert 'warning' not in err, err
    c = MlflowClient(tracking_uri=mlflow_server)
    exp = c.get_experiment_by_name('tracked')
    runs = c.search_runs([exp.experiment_id])
    parents = [r for r in runs if r.data.tags.get('radtl.kind') == 'study']
    children = [r for r in runs if r.data.tags.get('radtl.kind') == 'run']
    assert len(parents) == 1 and len(children) == 2
    parent = parents[0]
    assert parent.info.status == 'FINISHED' and parent.data.params['name'] == 'tracked'
    assert 'report.md' in {a.path for a in c.list_artifacts(parent.info.run_id)}
    ids = sorted(cfg.run_id for cfg in load_study(f).runs())   # the run ids do not depend on tracking
    assert sorted(r.data.tags['radtl.run_id'] for r in children) == ids
    for r in children:
        d = tmp_path / 'out' / 'runs' / r.data.tags['radtl.run_id']
        cfg, h = yaml.safe_load((d / 'config.yaml').read_text()), pd.read_csv(d / 'history.csv')
        assert r.data.tags['mlflow.parentRunId'] == parent.info.run_id and r.info.status == 'FINISHED'
        assert r.data.tags['radtl.data_hash'] == cfg['data_hash'] and r.data.tags['radtl.design'] == 'smallcnn · random · two-phase'
        assert r.data.tags['radtl.seed'] == str(cfg['seed']) and r.data.tags['radtl.study'] == 'tracked'
        assert r.data.params['backbone'] == 'smallcnn' and r.data.params['data.image_size'] == '32' and r.data.params['run_id'] == d.name
        for key in ('loss', 'val_accuracy', 'phase'):   # every epoch of both phases once, at its global epoch
            hist = c.get_metric_history(r.info.run_id, key)
            assert sorted(m.step for m in hist) == h.epoch.tolist() == list(range(len(h))), key
        assert set(h.phase) == {1, 2}
        m = r.data.metrics
        assert m['test_accuracy_lo'] <= m['test_accuracy'] <= m['test_accuracy_hi']
        mj = json.loads((d / 'metrics.json').read_text())
        assert m['test_accuracy'] == pytest.approx(mj['accuracy']) and m['final_val_accuracy'] == pytest.approx(mj['val_accuracy'])
        top = {a.path for a in c.list_artifacts(r.info.run_id)}
        assert {'model.keras', 'config.yaml', 'history.csv', 'predictions_test.csv', 'figures'} <= top
        assert any(a.path.endswith('confusion.png') for a in c.list_artifacts(r.info.run_id, 'figures'))
    # a second invocation finds everything done: no new MLflow runs, nothing logged twice
    rc, out, err = radtl_in_process('study', f, '--track', 'mlflow', '--tracking-uri', mlflow_server, '--n-boot', '50', '--quiet')
    assert rc == 0, out + err
    assert len(c.search_runs([exp.experiment_id])) == 3
    r = children[0]
    assert len(c.get_metric_history(r.info.run_id, 'loss')) == len(pd.read_csv(tmp_path / 'out' / 'runs' / r.data.tags['radtl.run_id'] / 'history.csv'))

class _Interrupting(Tracker):
    "A tracker whose run is interrupted (as by Ctrl-C) at the end of its second epoch, after that epoch is logged"
    def run_callbacks(self, mlrun, history):
        class Stop(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if epoch == 1: raise KeyboardInterrupt
        return super().run_callbacks(mlrun, history) + [Stop()]

def test_resumed_run_logs_every_epoch_once_in_the_local_store(syn, tmp_path, capsys):
    cfg = RunConfig(data=dict(roots=[str(syn)], image_size=32), backbone='smallcnn', recipe='two-phase', epochs_scale=0.06, batch_size=16)
    out = tmp_path / 'runs' / 'r1'
    with pytest.raises(KeyboardInterrupt): run(cfg, out, verbose=0, tracker=_Interrupting(TrackingConfig(), out.parent, n_boot=50, verbose=0).connect())
    uri, _ = local_store(out.parent)
    assert (out.parent / 'mlflow.db').is_file()
    c = MlflowClient(tracking_uri=uri)
    [r] = c.search_runs([c.get_experiment_by_name('radtl').experiment_id])
    assert r.info.status == 'KILLED' and sorted(m.step for m in c.get_metric_history(r.info.run_id, 'loss')) == [0, 1]
    tr = Tracker(TrackingConfig(), out.parent, n_boot=50).connect()
    assert f'mlflow ui --backend-store-uri {uri}' in capsys.readouterr().out
    run(cfg, out, verbose=0, tracker=tr)
    h = pd.read_csv(out / 'history.csv')
    [r] = c.search_runs([c.get_experiment_by_name('radtl').experiment_id])
    assert r.info.status == 'FINISHED' and r.data.tags['radtl.run_id'] == cfg.run_id
    assert sorted(m.step for m in c.get_metric_history(r.info.run_id, 'loss')) == h.epoch.tolist() == list(range(len(h)))
    assert len(h) > 2 and set(h.phase) == {1, 2}

def test_tracking_failure_is_one_warning_and_the_run_goes_on(syn, tmp_path, capsys):
    cfg = RunConfig(data=dict(roots=[str(syn)], image_size=32), backbone='smallcnn', recipe='linear-eval', epochs_scale=0.02, batch_size=16)
    (tmp_path / 'a-file').write_text('')   # a store under a file cannot be created
    tr = Tracker(TrackingConfig(uri=f'sqlite:///{tmp_path}/a-file/mlflow.db'), tmp_path, verbose=0).connect()
    assert tr.failed
    m = run(cfg, tmp_path / 'run', verbose=0, tracker=tr)
    assert 'accuracy' in m and (tmp_path / 'run' / 'metrics.json').is_file()
    warnings = [l for l in capsys.readouterr().err.splitlines() if 'radtl: warning: tracking failed' in l]
    assert len(warnings) == 1 and 'the runs go on untracked' in warnings[0]

def test_tracking_flags_are_checked_before_any_work(syn, tmp_path, monkeypatch):
    f = tmp_path / 'study.yaml'
    f.write_text(yaml.safe_dump(tiny_study(syn, tmp_path / 'out')))
    rc, out, err = radtl_in_process('study', f, '--tracking-uri', 'http://127.0.0.1:1')
    assert rc == 2 and err.strip().endswith('--tracking-uri: give --track mlflow too (or tracking: in the study file)') and len(err.splitlines()) == 1
    f.write_text(yaml.safe_dump(tiny_study(syn, tmp_path / 'out', tracking={'backend': 'wandb'})))
    rc, out, err = radtl_in_process('study', f)
    assert rc == 2 and "tracking.backend: one of 'mlflow' expected, got 'wandb'" in err
    import radtl.track
    monkeypatch.setattr(radtl.track, 'find_spec', lambda name: None)   # as if MLflow were not installed
    f.write_text(yaml.safe_dump(tiny_study(syn, tmp_path / 'out')))
    rc, out, err = radtl_in_process('study', f, '--track', 'mlflow')
    assert rc == 2 and 'pip install "radtl[mlflow]"' in err and len(err.splitlines()) == 1
    rc, out, err = radtl_in_process('run', '--data', syn, '--backbone', 'smallcnn', '--image-size', 32, '--out', tmp_path / 'run', '--track', 'mlflow')
    assert rc == 2 and 'pip install "radtl[mlflow]"' in err
    assert not (tmp_path / 'out').exists() and not (tmp_path / 'run').exists()
