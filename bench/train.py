"""Benchmark radtl's training path on this machine: DenseNet121 at 128 px.

(a) fit_ratio: images/s of a radtl run (CacheBatches from the memmap cache, radtl's callbacks: CSV log,
    checkpoint, early stopping, TerminateOnNaN, the per-epoch backup: EpochBackup, Keras' BackupAndRestore before issue 17) divided by images/s of a bare
    `model.fit` on the same uint8 images held in memory, same model, same compile, no callbacks.
(b) feature_cache_speedup: per-epoch time of linear evaluation without the frozen-feature cache
    divided by the time with it, after the first epoch (the first epoch computes the features).
(c) pipeline_ratio (with --pipeline ROOT): one training epoch of smallcnn with the study's augmentation
    (radtl.augment.BRAIN_MRI_AUGMENT) through radtl — the decode-once uint8 cache, CacheBatches, augmentation inside
    the model — against the Kaggle-kernel pipeline users run today: tf-keras `ImageDataGenerator(**BRAIN_MRI_AUGMENT)
    .flow_from_directory` over the JPEGs of ROOT/Training (decoded and resized every epoch), feeding the same network
    without in-model augmentation. Same machine, same process, epochs interleaved; the ratio is of images/s.
    loader_ratio: the input pipeline alone, without the network (radtl: cache batches through the augmentation layer,
    compiled as the model compiles it; ImageDataGenerator: its batches), i.e. the bound where the network is nearly
    free (a GPU): what the epoch ratio tends to when the network's share shrinks.
Usage: python bench/train.py [--size 128] [--n 256] [--epochs 3] [--json]
       python bench/train.py --pipeline ROOT [--size 128] [--epochs 3] [--json]
"""
import argparse, json, os, sys, tempfile, time
from pathlib import Path

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--backbone', default='densenet121')
    p.add_argument('--size', type=int, default=128)
    p.add_argument('--n', type=int, default=256, help='training images (synthetic set)')
    p.add_argument('--epochs', type=int, default=3)
    p.add_argument('--json', action='store_true')
    p.add_argument('--pipeline', metavar='ROOT', help='compare radtl with ImageDataGenerator.flow_from_directory on ROOT/Training')
    a = p.parse_args(argv)
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    if a.pipeline:
        res = pipeline_comparison(Path(a.pipeline), a.size, max(a.epochs, 2))
        print(json.dumps(res) if a.json else '\n'.join(f'{k:28s} {v}' for k, v in res.items())); return
    import numpy as np, pandas as pd, keras
    from radtl.synthetic import synthetic_brain_mri
    from radtl.train import RunConfig, run, prepare_data, run_model, set_trainable, _loss
    from radtl.recipe import get_recipe
    work = Path(tempfile.mkdtemp(prefix='radtl-bench-train-'))
    root = synthetic_brain_mri(work / 'syn', n_train=int(a.n / 0.7), n_test=40, size=a.size, seed=0)
    data_cfg = dict(roots=[str(root)], image_size=a.size, val=0.15, test=0.15)
    scale = a.epochs / 50  # random-finetune-all: 50 max epochs, patience 8 > epochs, so every epoch runs
    cfg = RunConfig(data=data_cfg, backbone=a.backbone, recipe='random-finetune-all', epochs_scale=scale, batch_size=32, seed=0)
    data = prepare_data(cfg.data, cache_dir=work / 'cache')
    run(cfg, work / 'radtl-run', data=data, verbose=0)
    h = pd.read_csv(work / 'radtl-run' / 'history.csv')
    n_train = len(data.subsets['train'])
    radtl_ips = n_train / h.epoch_time_s.iloc[1:].mean()

    # the same model, compile and images, bare model.fit from memory
    keras.utils.set_random_seed(0)
    model = run_model(cfg, data)
    set_trainable(model, cfg.recipe_obj.phases[0], cfg.recipe_obj.n_unfrozen)
    model.compile(keras.optimizers.Adam(1e-4), _loss(0, len(data.classes)), metrics=['accuracy'])
    x = np.asarray(data.cache.images[np.sort(data.subsets['train'])]); y = data.cache.labels[np.sort(data.subsets['train'])]
    times = []
    class T(keras.callbacks.Callback):
        def on_epoch_begin(self, e, logs=None): self.t = time.perf_counter()
        def on_epoch_end(self, e, logs=None): times.append(time.perf_counter() - self.t)
    xv = np.asarray(data.cache.images[np.sort(data.subsets['val'])]); yv = data.cache.labels[np.sort(data.subsets['val'])]
    model.fit(x, y, batch_size=32, epochs=a.epochs, validation_data=(xv, yv), callbacks=[T()], verbose=0)
    bare_ips = n_train / np.mean(times[1:])

    # linear evaluation with and without the frozen-feature cache
    lin = dict(data=data_cfg, backbone=a.backbone, recipe='linear-eval', epochs_scale=a.epochs / 100, batch_size=32, seed=0)
    run(RunConfig(**lin), work / 'lin-cache', data=data, verbose=0)
    run(RunConfig(**lin, feature_cache=False), work / 'lin-nocache', data=data, verbose=0)
    t_cache = pd.read_csv(work / 'lin-cache' / 'history.csv').epoch_time_s
    t_full = pd.read_csv(work / 'lin-nocache' / 'history.csv').epoch_time_s
    res = dict(fit_ratio=round(radtl_ips / bare_ips, 3), feature_cache_speedup=round(t_full.iloc[1:].mean() / t_cache.iloc[1:].mean(), 1),
               radtl_images_per_s=round(radtl_ips, 1), bare_fit_images_per_s=round(bare_ips, 1),
               linear_eval_epoch_s_cached=[round(v, 3) for v in t_cache], linear_eval_epoch_s_full=[round(v, 3) for v in t_full],
               backbone=a.backbone, size=a.size, n_train=n_train, epochs=a.epochs)
    print(json.dumps(res) if a.json else '\n'.join(f'{k:28s} {v}' for k, v in res.items()))

def _timed_fit(model, data, epochs:int)->list:
    "Seconds of each epoch of `model.fit(data)` (training only, no validation)"
    import keras
    times = []
    class T(keras.callbacks.Callback):
        def on_epoch_begin(self, e, logs=None): self.t = time.perf_counter()
        def on_epoch_end(self, e, logs=None): times.append(time.perf_counter() - self.t)
    model.fit(data, epochs=epochs, callbacks=[T()], shuffle=False, verbose=0)
    return times

def _compiled(fn):
    "`fn` compiled by the backend the way `model.fit` compiles a step (tf.function / jax.jit), eager on torch"
    import keras
    if keras.backend.backend() == 'tensorflow':
        import tensorflow as tf; return tf.function(fn)
    if keras.backend.backend() == 'jax':
        import jax; return jax.jit(fn)
    return fn

def _timed_pass(batches, fn)->float:
    "Seconds to draw every batch of `batches` and pass its images through `fn` (the input pipeline alone)"
    import numpy as np
    t = time.perf_counter()
    for i in range(len(batches)): np.asarray(fn(batches[i][0]))
    batches.on_epoch_end()
    return time.perf_counter() - t

def pipeline_comparison(root:Path, size:int, epochs:int)->dict:
    "images/s of one smallcnn epoch through radtl's cache + in-model augmentation vs ImageDataGenerator.flow_from_directory"
    import numpy as np, keras, tf_keras
    from radtl.data import scan, usable
    from radtl.cache import build_cache
    from radtl.batches import CacheBatches
    from radtl.model import build_classifier
    from radtl.augment import BRAIN_MRI_AUGMENT, IDGAugment
    train_dir = root / 'Training'
    cat = usable(scan(train_dir, progress=False, verbose=False))
    t0 = time.perf_counter(); cache = build_cache(cat, size, cache_dir=Path(tempfile.mkdtemp(prefix='radtl-bench-pipe-')), progress=False)
    cache_build_s = time.perf_counter() - t0
    compile_ = lambda m: m.compile(keras.optimizers.Adam(1e-4), 'sparse_categorical_crossentropy', metrics=['accuracy'])
    keras.utils.set_random_seed(0)
    ours = build_classifier('smallcnn', len(cache.classes), image_size=size, channels=cache.images.shape[-1], augment=BRAIN_MRI_AUGMENT, seed=0)
    compile_(ours)
    idg = tf_keras.preprocessing.image.ImageDataGenerator(**BRAIN_MRI_AUGMENT)
    flow = idg.flow_from_directory(str(train_dir), target_size=(size, size), batch_size=32, class_mode='sparse', seed=0)
    class Flow(keras.utils.PyDataset):   # the Keras-2 iterator as a Keras-3 dataset (workers=2: two loader threads)
        def __len__(self): return len(flow)
        def __getitem__(self, i): return flow[i]
        def on_epoch_end(self): flow.on_epoch_end()
    keras.utils.set_random_seed(0)
    theirs = build_classifier('smallcnn', len(flow.class_indices), image_size=size, channels=3, augment=None, seed=0)
    compile_(theirs)
    augment = IDGAugment(**BRAIN_MRI_AUGMENT, seed=0)
    augment_fn = _compiled(lambda x: augment(keras.ops.cast(x, 'float32'), training=True))
    radtl_t, idg_t, idg2_t, radtl_load_t, idg_load_t = [], [], [], [], []
    for _ in range(epochs):   # interleaved, so all see the same machine load
        radtl_t += _timed_fit(ours, CacheBatches(cache, None, 32, shuffle=True, seed=len(radtl_t)), 1)
        idg_t += _timed_fit(theirs, Flow(), 1)
        idg2_t += _timed_fit(theirs, Flow(workers=2), 1)
        radtl_load_t.append(_timed_pass(CacheBatches(cache, None, 32, shuffle=True, seed=len(radtl_load_t)), augment_fn))
        idg_load_t.append(_timed_pass(Flow(), lambda x: x))
    n_ours, n_theirs = len(cache), flow.samples
    ips = lambda n, t: n / np.mean(t[1:])   # the first epoch traces the graph
    r_ips, i_ips, i2_ips = ips(n_ours, radtl_t), ips(n_theirs, idg_t), ips(n_theirs, idg2_t)
    rl_ips, il_ips = ips(n_ours, radtl_load_t), ips(n_theirs, idg_load_t)
    return dict(pipeline_ratio=round(r_ips / i_ips, 2), pipeline_ratio_idg_2_threads=round(r_ips / i2_ips, 2),
                loader_ratio=round(rl_ips / il_ips, 2), radtl_loader_images_per_s=round(rl_ips, 1),
                idg_loader_images_per_s=round(il_ips, 1),
                radtl_images_per_s=round(r_ips, 1), idg_images_per_s=round(i_ips, 1), idg_2_threads_images_per_s=round(i2_ips, 1),
                radtl_epoch_s=[round(v, 2) for v in radtl_t], idg_epoch_s=[round(v, 2) for v in idg_t], idg_2_threads_epoch_s=[round(v, 2) for v in idg2_t],
                cache_build_s_once=round(cache_build_s, 2), n_images=[n_ours, n_theirs], size=size, channels_cached=int(cache.images.shape[-1]),
                backbone='smallcnn', augment='BRAIN_MRI_AUGMENT', root=root.name, load_avg_end=round(os.getloadavg()[0], 2))

if __name__ == '__main__':
    main()
