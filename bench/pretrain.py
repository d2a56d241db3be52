"""Benchmark radtl's SimCLR pretraining on this machine: DenseNet121 at 128 px.

images_per_s: images (each giving two augmented views through the backbone) per second of `radtl.pretrain.pretrain`
over the epochs after the first (the first includes graph tracing), with radtl's callbacks (CSV log, TerminateOnNaN,
the per-epoch backup: EpochBackup, Keras' BackupAndRestore before issue 17; epoch seeds) and the data path from the memmap cache.
Usage: python bench/pretrain.py [--backbone densenet121] [--size 128] [--n 256] [--epochs 3] [--batch-size 32] [--json]
"""
import argparse, json, os, platform, tempfile, time
from pathlib import Path

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--backbone', default='densenet121')
    p.add_argument('--size', type=int, default=128)
    p.add_argument('--n', type=int, default=256, help='pretraining images (synthetic set, test split excluded)')
    p.add_argument('--epochs', type=int, default=3)
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--json', action='store_true')
    a = p.parse_args(argv)
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    import pandas as pd, keras
    from radtl.synthetic import synthetic_brain_mri
    from radtl.pretrain import PretrainConfig, pretrain
    from radtl.hardware import has_gpu
    work = Path(tempfile.mkdtemp(prefix='radtl-bench-pretrain-'))
    root = synthetic_brain_mri(work / 'syn', n_train=int(a.n / 0.85), n_test=20, size=a.size, seed=0)
    cfg = PretrainConfig(data=dict(roots=[str(root)], image_size=a.size), backbone=a.backbone, epochs=a.epochs, batch_size=a.batch_size)
    t0 = time.perf_counter()
    s = pretrain(cfg, work / 'out', cache_dir=work / 'cache', verbose=0)
    wall = time.perf_counter() - t0
    h = pd.read_csv(work / 'out' / 'history.csv')
    steady = h.epoch_time_s.iloc[1:] if len(h) > 1 else h.epoch_time_s
    res = dict(images_per_s=round(s['n_images'] / steady.mean(), 2), views_per_s=round(2 * s['n_images'] / steady.mean(), 2),
               epoch_s=[round(v, 2) for v in h.epoch_time_s], first_epoch_s=round(float(h.epoch_time_s.iloc[0]), 2),
               loss_before=round(s['loss_before'], 4), loss_after=round(s['loss_after'], 4), wall_s=round(wall, 1),
               backbone=a.backbone, size=a.size, n_images=s['n_images'], batch_size=a.batch_size, epochs=a.epochs,
               gpu=has_gpu(), backend=keras.backend.backend(), cpu_count=os.cpu_count(), load_avg_1m=round(os.getloadavg()[0], 2),
               machine=platform.processor() or platform.machine())
    print(json.dumps(res) if a.json else '\n'.join(f'{k:16s} {v}' for k, v in res.items()))

if __name__ == '__main__':
    main()
