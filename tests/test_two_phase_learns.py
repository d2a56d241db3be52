"""The two-phase recipe reaches balanced accuracy ≥ 0.7 on the synthetic set at 64 px, through `radtl run`, in about a minute.

The recipe freezes the base for its first phase, so it is a recipe for *pretrained* weights: from random initialisation
its head trains on random features (the closing note of issue 4 has that run on real data). Here, as in the study, the
backbone starts from in-domain weights in a Keras-2 `.h5` file, the role RadImageNet plays: the test pretrains a small
backbone, MobileNetV3Small (supervised, three epochs from scratch), on a second synthetic set drawn with another seed,
writes the file in the exact layout tf_keras writes, and hands the path to `radtl run --weights`. The target set's images
are never seen before. The pretraining set is large (2,400 images) because a small one is memorised: after eight epochs
on 480 images MobileNetV3Small was 0.99 right on them and 0.58 on a fresh draw (0.91 with 2,400 images and four epochs)."""
import json, time
from pathlib import Path
import numpy as np, pytest, keras
from radtl.core import to_numpy
from radtl.synthetic import synthetic_brain_mri
from radtl.data import scan, usable
from radtl.cache import build_cache
from radtl.batches import CacheBatches
from radtl.model import build_classifier, base_of, bn_layers
from run_helpers import radtl_subprocess

tf_keras = pytest.importorskip('tf_keras')
SIZE = 64

def pretrain_h5(tmp:Path, backbone:str='mobilenetv3small', app:str='MobileNetV3Small', n:int=2400, epochs:int=3)->Path:
    "`backbone` trained from scratch on a synthetic set of its own (seed 3), saved as a Keras-2 full-model notop .h5"
    root = synthetic_brain_mri(tmp / 'pretrain-set', n_train=n, n_test=0, size=SIZE, seed=3, leak_fracs={}, n_train_dups=0)
    cache = build_cache(usable(scan(root, progress=False, verbose=False)), size=SIZE, cache_dir=tmp / 'c', progress=False)
    keras.utils.set_random_seed(3)
    model = build_classifier(backbone, len(cache.classes), weights=None, image_size=SIZE, channels=cache.images.shape[-1], seed=3)
    assert {l.momentum for l in bn_layers(base_of(model))} == {0.9}   # random init: statistics that settle within a few dozen steps
    model.compile(keras.optimizers.Adam(2e-3), 'sparse_categorical_crossentropy')
    model.fit(CacheBatches(cache, np.arange(len(cache.labels)), batch_size=64, shuffle=True, seed=3), epochs=epochs, verbose=0)
    k2 = getattr(tf_keras.applications, app)(weights=None, include_top=False, input_shape=(SIZE, SIZE, 3))
    k2.set_weights([to_numpy(w) for w in base_of(model).weights])
    path = tmp / f'indomain-{backbone}_notop.h5'; k2.save(path)
    tf_keras.backend.clear_session(); keras.backend.clear_session()
    return path

def test_two_phase_from_indomain_weights_reaches_0_7(tmp_path):
    t0 = time.perf_counter()
    weights = pretrain_h5(tmp_path)
    t1 = time.perf_counter()
    target = synthetic_brain_mri(tmp_path / 'target', n_train=400, n_test=160, size=SIZE, seed=0)
    out = tmp_path / 'run'
    p = radtl_subprocess('run', '--data', target, '--out', out, '--backbone', 'mobilenetv3small', '--weights', weights,
                         '--recipe', 'two-phase', '--seed', '0', '--image-size', SIZE, '--epochs-scale', '0.1', '--batch-size', '16',
                         timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    for f in ('config.yaml', 'history.csv', 'model.keras', 'predictions_val.csv', 'predictions_test.csv', 'metrics.json'): assert (out / f).is_file(), f
    m = json.loads((out / 'metrics.json').read_text())
    print(f"pretraining {t1 - t0:.0f} s, run {time.perf_counter() - t1:.0f} s: balanced accuracy {m['balanced_accuracy']:.3f}, accuracy {m['accuracy']:.3f}, macro AUC {m['auc_macro']:.3f}")
    assert m['balanced_accuracy'] >= 0.7, m   # seen: 0.886 (0.719 with 1,600 pretraining images)
