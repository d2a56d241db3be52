"""radtl predict and external validation: a trained run applied to other images (issue 20), on the synthetic set."""
import json, shutil
from pathlib import Path
import numpy as np, pandas as pd, pytest, yaml
from PIL import Image, ImageOps
from radtl.core import read_csv
from radtl.metrics import prob_columns
from run_helpers import radtl_in_process as _cli


RUN = dict(backbone='smallcnn', recipe='random-finetune-all', epochs_scale=0.02, seed=0)

@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    "A tiny finished run (smallcnn from scratch, 32 px, one epoch) on a synthetic set, with its own cache"
    from radtl.synthetic import synthetic_brain_mri
    from radtl.train import run
    tmp = tmp_path_factory.mktemp('predict')
    root = synthetic_brain_mri(tmp / 'syn', n_train=80, n_test=20, size=48, seed=1)
    run(dict(data=dict(roots=[str(root)], image_size=32), **RUN), tmp / 'run', cache_dir=tmp / 'cache', verbose=0)
    return tmp

@pytest.fixture(scope='module')
def external(trained):
    "Fresh synthetic images of another seed plus three planted copies of the run's training images: bytes, re-encoded, mirrored"
    from radtl.synthetic import synthetic_brain_mri
    from radtl.predict import run_images, trained_run
    ext = synthetic_brain_mri(trained / 'ext', n_train=20, n_test=0, size=48, seed=7, leak_fracs={}, n_train_dups=0)
    sp, _ = run_images(trained_run(trained / 'run'), cache_dir=trained / 'cache')
    train = sp[sp.subset == 'train'].path.iloc[:3].tolist()
    at = lambda k, name: ext / 'Training' / Path(train[k]).parent.name / name
    shutil.copy(train[0], at(0, 'planted-bytes.jpg'))
    Image.open(train[1]).save(at(1, 'planted-reencoded.jpg'), quality=75)
    ImageOps.mirror(Image.open(train[2])).save(at(2, 'planted-mirrored.png'))
    return ext

def test_predictions_equal_the_runs_own_on_its_test_images(trained):
    from radtl.predict import predict
    own = read_csv(trained / 'run' / 'predictions_test.csv')
    d = trained / 'own-test'
    for f in own.path: (d / Path(f).parent.name).mkdir(parents=True, exist_ok=True); shutil.copy(f, d / Path(f).parent.name)
    t = predict(trained / 'run', d, cache_dir=trained / 'cache').assign(name=lambda x: x.path.map(lambda p: Path(p).name)).set_index('name')
    t = t.loc[own.path.map(lambda p: Path(p).name)]
    cols = prob_columns(yaml.safe_load((trained / 'run' / 'config.yaml').read_text())['classes'])
    assert np.abs(t[cols].to_numpy() - own[cols].to_numpy()).max() < 1e-6
    assert list(t.pred) == list(own.pred) and list(t.label) == list(own.label)
    assert set(t.overlap_subset) == {'test'} and not t.in_metrics.any()   # each a copy of the run's test image: not external

def test_planted_copies_are_found_and_left_out(trained, external):
    rc, out, err = _cli('predict', trained / 'run', '--data', external, '--out', trained / 'ev', '--n-boot', 50, '--tta', 2, '--gradcam', 4)
    assert rc == 0, err[-2000:]
    o = read_csv(trained / 'ev' / 'overlap.csv')
    assert sorted(Path(p).stem for p in o.path) == ['planted-bytes', 'planted-mirrored', 'planted-reencoded']
    assert sorted(o.copy_kind) == ['exact', 'mirror', 'near'] and set(o.overlap_subset) <= {'train', 'train val', 'train test', 'train test val'}
    t = read_csv(trained / 'ev' / 'predictions.csv')
    assert t.in_metrics.sum() == 20 and not t[t.path.str.contains('planted')].in_metrics.any()
    s = json.loads((trained / 'ev' / 'summary.json').read_text())
    assert (s['overlap']['n'], s['overlap']['training'], s['n_metrics'], s['tta']) == (3, 3, 20, 2)
    assert {'tta_pred', *('tta_' + c for c in prob_columns(s['classes']))} <= set(t.columns)
    assert all((trained / 'ev' / f).is_file() for f in ('metrics.csv', 'metrics_tta.csv', 'metrics_overlap.csv', 'gradcam.png', 'figures/roc.png'))
    assert "overlapping the run's images: 3" in out and 'left out of the metrics' in out
    rc, out, err = _cli('predict', trained / 'run', '--data', external, '--out', trained / 'ev-keep', '--keep-overlap', '--n-boot', 20)
    assert rc == 0 and read_csv(trained / 'ev-keep' / 'predictions.csv').in_metrics.sum() == 23 and 'kept in the metrics' in out

def test_class_mismatch_and_bad_folders_are_one_line_errors(trained):
    cats = trained / 'cats' / 'Training' / 'cat'
    cats.mkdir(parents=True)
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(cats / 'c.png')
    for argv, says in [(('predict', trained / 'run', '--data', trained / 'cats'), "share none with the run's (glioma, meningioma, notumor, pituitary)"),
                       (('predict', trained / 'run', '--data', trained / 'nowhere'), '--data'),
                       (('predict', trained / 'syn', '--data', trained / 'cats'), 'lacks config.yaml, model.keras'),
                       (('predict', trained / 'run', '--data', trained / 'cats', '--train-data', trained / 'nowhere'), '--train-data')]:
        rc, out, err = _cli(*argv)
        assert rc == 2 and says in err and len(err.strip().splitlines()) == 1 and 'Traceback' not in err, (argv, err)
    assert not (trained / 'run' / 'external').exists()   # nothing written

def test_study_with_an_external_source_reports_internal_and_external(trained, external, tmp_path):
    from radtl.study import load_study, run_study
    study = dict(name='ext', out=str(tmp_path / 'st'), data=dict(roots=[str(trained / 'syn' / 'images')], image_size=32),
                 models=['smallcnn'], recipes='random-finetune-all', seeds=[0], run=dict(epochs_scale=0.02),
                 external=dict(fresh=[str(external)]))
    res = run_study(load_study(study), cache_dir=trained / 'cache', n_boot=50, verbose=0)
    assert res['exit_status'] == 0 and not res['external_failed'], res
    rid = res['table'].run_id.iloc[0]
    assert (tmp_path / 'st' / 'runs' / rid / 'external' / 'fresh' / 'summary.json').is_file()
    e = pd.read_csv(tmp_path / 'st' / 'external.csv')
    assert (e.source.tolist(), int(e.n_external.iloc[0]), int(e.excluded_overlap.iloc[0])) == (['fresh'], 20, 3)
    assert np.isfinite(e[['internal_accuracy', 'external_accuracy', 'internal_auc_macro_lo', 'external_auc_macro_hi']].to_numpy()).all()
    md = (tmp_path / 'st' / 'report.md').read_text()
    assert '## External validation' in md and 'accuracy internal' in md and 'accuracy external' in md
    mtime = (tmp_path / 'st' / 'runs' / rid / 'external' / 'fresh' / 'summary.json').stat().st_mtime
    run_study(load_study(study), cache_dir=trained / 'cache', n_boot=50, verbose=0, report=False)   # resumed: nothing to redo
    assert (tmp_path / 'st' / 'runs' / rid / 'external' / 'fresh' / 'summary.json').stat().st_mtime == mtime

def test_evaluate_tta_is_reported_beside_the_plain_metrics(trained):
    rc, out, err = _cli('evaluate', trained / 'run', '--out', trained / 'evaluation', '--n-boot', 20, '--no-figures', '--tta', 2)
    assert rc == 0, err[-2000:]
    m, tta = pd.read_csv(trained / 'evaluation' / 'metrics.csv'), pd.read_csv(trained / 'evaluation' / 'metrics_tta.csv')
    assert set(tta.tta) == {2} and {'accuracy', 'auc_macro'} <= set(tta.metric) and len(m) == 1   # the plain table is untouched
    own = read_csv(trained / 'run' / 'predictions_test.csv')
    t = read_csv(trained / 'evaluation' / 'tta' / m.run_id.iloc[0] / 'predictions_test.csv')
    assert sorted(t.path) == sorted(own.path) and 'with test-time augmentation (2 passes' in out
