"Training runs: artifacts through the CLI, kill-and-resume in each phase, reproducibility, double fine-tuning, frozen features (resume at any instant: test_resume.py)."
import json, shutil, signal, subprocess, sys, time
import numpy as np, pandas as pd, pytest, yaml
from radtl.runconfig import RunConfig
from radtl.train import run
from radtl.callbacks import read_history
from run_helpers import CLI, ARTIFACTS, radtl_in_process, synthetic_set, history, same_history, same_predictions

# radtl's smallcnn at 32 px: seconds per run, batch normalisation in its base (frozen in phase 1, trained in phase 2), and
# random-init features that are not degenerate (MobileNet/EfficientNet features vanish at random init)
BASE = ['--backbone', 'smallcnn', '--weights', 'random', '--recipe', 'two-phase', '--seed', '0', '--image-size', '32', '--batch-size', '16', '--deterministic']

@pytest.fixture(scope='module')
def syn(tmp_path_factory): return synthetic_set(tmp_path_factory)

def radtl_run(out, syn, *extra, **kw):
    return subprocess.Popen([sys.executable, '-c', CLI, 'run', '--data', str(syn), '--out', str(out), *BASE, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)

@pytest.fixture(scope='module')
def reference(syn, tmp_path_factory):
    "One uninterrupted run through the CLI"
    out = tmp_path_factory.mktemp('ref') / 'run'
    p = radtl_run(out, syn, '--epochs-scale', '0.04'); log = p.communicate(timeout=600)[0]
    assert p.returncode == 0, log
    return out, log

def test_cli_run_writes_every_artifact(reference, syn):
    out, log = reference
    assert sorted(f.name for f in out.iterdir()) == ARTIFACTS
    h = history(out)
    assert h.epoch.tolist() == list(range(len(h))) and sorted(h.phase.unique()) == [1, 2]
    assert {'epoch_time_s', 'phase_name', 'val_accuracy'} <= set(h.columns)
    cfg = yaml.safe_load((out / 'config.yaml').read_text())
    for k in ('run_id', 'seed', 'data_hash', 'versions', 'backend', 'preprocessing_mode', 'classes', 'recipe', 'weights_info'):
        assert k in cfg, k
    assert cfg['recipe']['name'] == 'two-phase' and cfg['weights_info']['source'] == 'random'
    m = json.loads((out / 'metrics.json').read_text())
    for k in ('accuracy', 'auc_macro', 'balanced_accuracy', 'epoch_time_s_mean', 'time_to_convergence', 'epochs_by_phase'):
        assert k in m, k
    p = pd.read_csv(out / 'predictions_test.csv')
    assert list(p.columns) == ['path', 'label', 'pred', 'p_glioma', 'p_meningioma', 'p_notumor', 'p_pituitary']
    np.testing.assert_allclose(p.filter(like='p_').sum(axis=1), 1, atol=1e-4)
    assert 'phase 1 (head' in log and 'phase 2 (finetune' in log
    again = radtl_run(out, syn, '--epochs-scale', '0.04').communicate(timeout=300)[0]
    assert 'already finished, nothing to do' in again

def killed_at_point(partial, when) -> bool:
    "Whether the run in `partial` has reached `when`: an epoch of phase 1 or 2 logged, or phase 1 complete and phase 2 not begun"
    h, state = partial / 'history.csv', partial / 'state.json'
    phases = read_history(h).phase.tolist()
    if when == 'between': return state.exists() and json.loads(state.read_text())['completed'] == 1 and 2 not in phases
    return int(when[-1]) in phases

def kill_when(partial, p, when):
    "SIGKILL the run `p` writes into `partial` as soon as it reaches `when` (see `killed_at_point`)"
    t0 = time.time()
    while time.time() - t0 < 300:
        if killed_at_point(partial, when): break
        assert p.poll() is None, p.communicate()[0]
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL); p.wait()

def test_killed_run_resumes_and_matches(syn, reference, tmp_path):
    """Killed inside phase 1, resumed and killed between the phases, resumed and killed after phase 2's epoch, a run resumed
    once more ends exactly as an uninterrupted one (one run killed three times: each resume starts from the previous kill)"""
    out = tmp_path / 'run'; partial = tmp_path / 'run.partial'
    lengths = []
    for i, when in enumerate(['phase1', 'between', 'phase2']):
        p = radtl_run(out, syn, '--epochs-scale', '0.04')
        kill_when(partial, p, when)
        if i: assert 'resuming from' in p.stdout.read()
        assert partial.exists() and not out.exists(), when
        lengths.append(len(history(partial)))
    assert lengths == sorted(lengths), lengths                 # no resume went back before the last kill
    p = radtl_run(out, syn, '--epochs-scale', '0.04'); log = p.communicate(timeout=600)[0]
    assert p.returncode == 0, log
    assert 'resuming from' in log
    assert sorted(f.name for f in out.iterdir()) == ARTIFACTS and not partial.exists()
    h = history(out)
    assert h.epoch.tolist() == list(range(len(h)))             # numbering continues, no epoch twice
    assert len(h) >= lengths[-1]
    same_history(h, history(reference[0])); same_predictions(out, reference[0])   # the same as the uninterrupted run

def test_same_config_in_process_is_identical_to_the_cli_run(syn, reference, tmp_path):
    "The reference's configuration run again through the Python API, in this process, gives the same history and predictions"
    cfg = RunConfig(data=dict(roots=[str(syn)], image_size=32), backbone='smallcnn', weights='random', recipe='two-phase', seed=0,
                    batch_size=16, epochs_scale=0.04, deterministic=True)
    run(cfg, tmp_path / 'a', verbose=0)
    assert yaml.safe_load((tmp_path / 'a' / 'config.yaml').read_text())['run_id'] == yaml.safe_load((reference[0] / 'config.yaml').read_text())['run_id']
    same_history(history(tmp_path / 'a'), history(reference[0]))
    same_predictions(tmp_path / 'a', reference[0])

def test_double_finetune_changes_class_count(syn, tmp_path):
    target = tmp_path / 'target'
    for split in ('Training', 'Testing'):
        for cls in ('glioma_tumor', 'no_tumor'): shutil.copytree(syn / split / cls, target / split / cls)
    cfg = RunConfig(data=dict(roots=[str(target)], image_size=32), intermediate=dict(roots=[str(syn)], image_size=32),
                    backbone='smallcnn', recipe='double-finetune', epochs_scale=0.02, batch_size=16, seed=0)
    m = run(cfg, tmp_path / 'run', cache_dir=tmp_path / 'c', verbose=0)
    c = yaml.safe_load((tmp_path / 'run' / 'config.yaml').read_text())
    assert c['intermediate_classes'] == ['glioma', 'meningioma', 'notumor', 'pituitary'] and c['classes'] == ['glioma', 'notumor']
    assert sorted(history(tmp_path / 'run').phase.unique()) == [1, 2, 3, 4]
    assert list(pd.read_csv(tmp_path / 'run' / 'predictions_test.csv').filter(like='p_').columns) == ['p_glioma', 'p_notumor']
    assert 0 <= m['accuracy'] <= 1

def test_linear_eval_trains_on_cached_features(syn, tmp_path):
    cfg = RunConfig(data=dict(roots=[str(syn)], image_size=32), backbone='resnet50', recipe='linear-eval', epochs_scale=0.05, batch_size=16)
    assert cfg.recipe_obj.frozen_features
    m = run(cfg, tmp_path / 'run', cache_dir=tmp_path / 'c', verbose=0)
    h = history(tmp_path / 'run')
    assert len(h) == 5 and m['accuracy'] > 0.25                # above the 4-class floor on random ResNet50 features
    assert not list((tmp_path / 'run').glob('features*'))      # work files are gone from the finished run

def test_bad_arguments_exit_2(syn, tmp_path):
    for extra in (['--recipe', 'three-phase'], ['--backbone', 'resnet5'], ['--data', str(tmp_path / 'none')]):
        args = [a for a in BASE]; i = args.index(extra[0]) if extra[0] in args else None
        if i is not None: args[i + 1] = extra[1]; extra = []
        rc, out, err = radtl_in_process('run', '--data', syn, '--out', tmp_path / 'x', *args, *extra)
        assert rc == 2, (extra, out[-500:], err[-500:])
        assert 'Traceback' not in err and any(l.startswith('radtl run: error') for l in err.splitlines()), err[-800:]
        assert not (tmp_path / 'x').exists() and not (tmp_path / 'x.partial').exists()   # refused before anything is written
