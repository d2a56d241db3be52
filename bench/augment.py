"""Images/s of three ways to apply the brain-MRI augmentation recipe (`radtl.augment.BRAIN_MRI_AUGMENT`).

(a) radtl's `IDGAugment` (training=True) inside a `tf.function` on the TensorFlow backend;
(b) tf-keras' `ImageDataGenerator.flow` with the same arguments (NumPy + scipy, one image at a time);
(c) a chain of Keras 3 `Random*` layers approximating the recipe (one resample per layer), inside a `tf.function`.

Input: 256 in-memory smooth uint8 images, 224x224x3, batches of 32. Each method is warmed up on one batch, then
timed over `--epochs` passes through the 256 images; the best pass is reported.

    python bench/augment.py [--json] [--epochs 3] [--n 256] [--size 224]
"""
import argparse, json, math, os, sys, time, warnings
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('KERAS_BACKEND', 'tensorflow')
import numpy as np

def smooth_images(n, size, seed=0):
    "`n` smooth uint8 RGB images: low-frequency sines plus a blob, varying per image"
    r = np.random.RandomState(seed); y, x = np.mgrid[0:size, 0:size].astype('float32') / size
    out = np.empty((n, size, size, 3), 'uint8')
    for i in range(n):
        f = r.uniform(0.5, 3, (3, 2)); ph = r.uniform(0, 6.3, 3); cy, cx = r.uniform(0.3, 0.7, 2)
        img = np.stack([np.sin(2*np.pi*(f[k, 0]*y + f[k, 1]*x) + ph[k]) for k in range(3)], -1)
        img += 2*np.exp(-((y-cy)**2 + (x-cx)**2)/0.02)[..., None]
        out[i] = (255*(img - img.min())/(img.max() - img.min())).astype('uint8')
    return out

def timed(run_epoch, n, epochs):
    "Best images/s over `epochs` calls of `run_epoch` (each processes `n` images)"
    best = math.inf
    for _ in range(epochs):
        t = time.perf_counter(); run_epoch(); best = min(best, time.perf_counter() - t)
    return n / best

def bench_radtl(x, bs, epochs):
    import tensorflow as tf
    from radtl.augment import IDGAugment, BRAIN_MRI_AUGMENT
    layer = IDGAugment(**BRAIN_MRI_AUGMENT, seed=0)
    f = tf.function(lambda b: layer(b, training=True))
    batches = [tf.constant(x[i:i+bs]) for i in range(0, len(x), bs)]
    f(batches[0]).numpy()
    def epoch():
        for b in batches: out = f(b)
        out.numpy()
    return timed(epoch, len(x), epochs)

def bench_idg(x, bs, epochs):
    import tf_keras
    from radtl.augment import BRAIN_MRI_AUGMENT
    idg = tf_keras.preprocessing.image.ImageDataGenerator(**BRAIN_MRI_AUGMENT)
    it = idg.flow(x, batch_size=bs, shuffle=False, seed=0)
    next(it)
    def epoch():
        for _ in range(len(x) // bs): next(it)
    return timed(epoch, len(x), epochs)

def keras_chain():
    "Keras 3 `Random*` layers approximating `BRAIN_MRI_AUGMENT` (their units: turns, fractions, additive brightness)"
    import keras
    L = keras.layers
    return keras.Sequential([
        L.RandomRotation(15/360, fill_mode='nearest', seed=0),
        L.RandomTranslation(0.1, 0.1, fill_mode='nearest', seed=1),
        L.RandomShear(x_factor=math.tan(math.radians(10)), fill_mode='nearest', seed=2),
        L.RandomZoom(0.1, 0.1, fill_mode='nearest', seed=3),
        L.RandomFlip('horizontal', seed=4),
        L.RandomBrightness(0.2, value_range=(0, 255), seed=5)])

def bench_keras(x, bs, epochs):
    import tensorflow as tf
    chain = keras_chain()
    f = tf.function(lambda b: chain(tf.cast(b, 'float32'), training=True))
    batches = [tf.constant(x[i:i+bs]) for i in range(0, len(x), bs)]
    f(batches[0]).numpy()
    def epoch():
        for b in batches: out = f(b)
        out.numpy()
    return timed(epoch, len(x), epochs)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--json', action='store_true', help='print one JSON object of images/s')
    p.add_argument('--epochs', type=int, default=3, help='timed passes per method (best is kept)')
    p.add_argument('--n', type=int, default=256, help='number of images')
    p.add_argument('--size', type=int, default=224, help='image side, pixels')
    p.add_argument('--batch-size', type=int, default=32)
    a = p.parse_args(argv)
    warnings.simplefilter('ignore')
    x = smooth_images(a.n, a.size)
    res = {'radtl': bench_radtl(x, a.batch_size, a.epochs),
           'image_data_generator': bench_idg(x, a.batch_size, a.epochs),
           'keras_layers': bench_keras(x, a.batch_size, a.epochs)}
    res = {k: round(v, 1) for k, v in res.items()}
    if a.json: print(json.dumps(res))
    else:
        for k, v in res.items(): print(f'{k:>22}: {v:8.1f} images/s')
        print(f"radtl vs ImageDataGenerator: {res['radtl']/res['image_data_generator']:.2f}x (target >= 2.5x); "
              f"vs Random* chain: {res['radtl']/res['keras_layers']:.2f}x (target >= 2x)")
    return res

if __name__ == '__main__': main()
