"""Seconds per training step of the brain-MRI study's models on this machine, per phase of its recipe.

Each of the study's backbones (random weights: the cost of a step does not depend on them) is built as radtl
builds it for a run (`radtl.model.build_classifier`: one grey channel tiled to RGB, the study's augmentation,
the backbone, the head) at --size px, made trainable as each phase of the `two-phase` recipe says (the head on a
frozen base, then the last layers), and trained on random uint8 batches of --batch-size: --warmup steps, then the
mean of --steps timed steps, in wall time and in this process's CPU time (all its threads: on a machine shared with
other jobs the wall time is inflated, the CPU time is not; a quiet machine's wall time lies between the CPU time
divided by its cores and the CPU time). The study notebook multiplies these by its runs' steps for its time estimates; run
it on each GPU type a study will use (`bench/steps-<device>.json`, e.g. on Kaggle's T4 or P100).

Usage: python bench/steps.py [--size 224] [--batch-size 32] [--steps 3] [--warmup 2] [--json]
"""
import argparse, json, os, platform, time
from pathlib import Path

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--backbones', default='densenet121,efficientnetv2s,convnext_tiny')
    p.add_argument('--size', type=int, default=224)
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--steps', type=int, default=3)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--json', action='store_true', help='write bench/steps-<device>.json')
    a = p.parse_args(argv)
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    import numpy as np, keras
    from radtl.augment import BRAIN_MRI_AUGMENT
    from radtl.hardware import has_gpu
    from radtl.model import build_classifier
    from radtl.recipe import get_recipe
    from radtl.train import set_trainable
    recipe, rng = get_recipe('two-phase'), np.random.default_rng(0)
    x = rng.integers(0, 256, (a.batch_size, a.size, a.size, 1)).astype('uint8')
    y = rng.integers(0, 4, a.batch_size)
    out = []
    for b in a.backbones.split(','):
        model = build_classifier(b, 4, weights=None, image_size=a.size, channels=1, augment=BRAIN_MRI_AUGMENT, seed=0)
        for ph in recipe.phases:
            set_trainable(model, ph, recipe.n_unfrozen)
            model.compile(optimizer=keras.optimizers.Adam(ph.lr), loss='sparse_categorical_crossentropy', metrics=['accuracy'])
            for _ in range(a.warmup): model.train_on_batch(x, y)
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(a.steps): model.train_on_batch(x, y)
            out.append(dict(backbone=b, phase=ph.name, trainable=ph.trainable, seconds_per_step=round((time.perf_counter() - t0) / a.steps, 4),
                            cpu_seconds_per_step=round((time.process_time() - c0) / a.steps, 4)))
            print(out[-1], flush=True)
        keras.backend.clear_session()
    gpu = has_gpu()
    device = 'gpu' if gpu else f'cpu-{os.cpu_count()}-cores'
    res = dict(device=device, machine=platform.processor() or platform.machine(), load_average=[round(v, 2) for v in os.getloadavg()], cores=os.cpu_count(),
               size=a.size, batch_size=a.batch_size, steps=a.steps, warmup=a.warmup, backend=keras.backend.backend(),
               keras=keras.__version__, command=f'python bench/steps.py --size {a.size} --batch-size {a.batch_size} --steps {a.steps} --json', results=out)
    print(json.dumps(res, indent=1))
    if a.json: (Path(__file__).parent / f'steps-{device}.json').write_text(json.dumps(res, indent=1) + '\n')

if __name__ == '__main__': main()
