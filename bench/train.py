"""Benchmark radtl's training path on this machine: DenseNet121 at 128 px.

(a) fit_ratio: images/s of a radtl run (CacheBatches from the memmap cache, radtl's callbacks: CSV log,
    checkpoint, early stopping, TerminateOnNaN, the per-epoch backup: EpochBackup, Keras' BackupAndRestore before issue 17) divided by images/s of a bare
    `model.fit` on the same uint8 images held in memory, same model, same compile, no callbacks.
(b) feature_cache_speedup: per-epoch time of linear evaluation without the frozen-feature cache
    divided by the time with it, after the first epoch (the first epoch computes the features).
Usage: python bench/train.py [--size 128] [--n 256] [--epochs 3] [--json]
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
    a = p.parse_args(argv)
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
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

if __name__ == '__main__':
    main()
