import importlib.util, os, subprocess, sys, textwrap
import numpy as np, pytest

_AUGMENT_JAX = textwrap.dedent('''
    import numpy as np, keras
    from keras import ops
    assert keras.backend.backend() == 'jax', keras.backend.backend()
    from radtl.augment import IDGAugment, BRAIN_MRI_AUGMENT
    x = np.random.RandomState(0).randint(0, 256, (8, 16, 16, 1)).astype('uint8'); y = np.arange(8) % 2
    aug = IDGAugment(**BRAIN_MRI_AUGMENT, seed=0)
    m = keras.Sequential([keras.Input((16, 16, 1)), aug, keras.layers.Rescaling(1/255),
                          keras.layers.Conv2D(2, 3), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    m.compile('adam', keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    h = m.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(h.history['loss'][0])
    a = ops.convert_to_numpy(aug(x, training=True))
    assert a.dtype == np.float32 and a.shape == x.shape and np.abs(a - x).mean() > 1
    np.testing.assert_array_equal(ops.convert_to_numpy(aug(x)), x.astype('float32'))
    print('ok')
''')

def _need_jax():
    "Skip without JAX, without importing it here: the JAX backend runs in a subprocess, and JAX imported into this process (TensorFlow's) ends it with a KeyboardInterrupt traceback at exit"
    if importlib.util.find_spec('jax') is None: pytest.skip('jax is not installed (pip install jax)')

def test_augment_jax():
    "IDGAugment trains a tiny model under KERAS_BACKEND=jax (jit-compiled fit, seeded augmentation)"
    _need_jax()
    env = {**os.environ, 'KERAS_BACKEND': 'jax', 'JAX_PLATFORMS': 'cpu'}
    r = subprocess.run([sys.executable, '-c', _AUGMENT_JAX], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip().endswith('ok'), r.stderr[-3000:]

def test_augment_keras_roundtrip(tmp_path):
    "A `.keras` model containing IDGAugment saves, reloads with the same config, and predicts the same"
    import keras
    from radtl.augment import IDGAugment
    aug = IDGAugment(rotation_range=15, width_shift_range=[2, 4], zoom_range=(0.9, 1.1), brightness_range=(0.8, 1.2), seed=3)
    m = keras.Sequential([keras.Input((16, 16, 3)), aug, keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    m.save(tmp_path/'m.keras')
    m2 = keras.models.load_model(tmp_path/'m.keras')
    got = next(l for l in m2.layers if isinstance(l, IDGAugment))
    assert got.get_config() == aug.get_config() | {'width_shift_range': [2, 4], 'zoom_range': [0.9, 1.1], 'brightness_range': [0.8, 1.2]}
    x = np.random.RandomState(0).randint(0, 256, (2, 16, 16, 3)).astype('uint8')
    np.testing.assert_allclose(m2.predict(x, verbose=0), m.predict(x, verbose=0), rtol=1e-6)
    assert got(x, training=True).shape == (2, 16, 16, 3)

_MODEL_JAX = textwrap.dedent('''
    import numpy as np, keras
    assert keras.backend.backend() == 'jax', keras.backend.backend()
    from radtl.model import build_classifier, freeze_base, unfreeze_last
    x = np.random.RandomState(0).randint(0, 256, (4, 32, 32, 1)).astype('uint8'); y = np.arange(4) % 2
    m = freeze_base(build_classifier('densenet121', 2, image_size=32, channels=1))
    m.compile('adam', 'sparse_categorical_crossentropy')
    h = m.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(h.history['loss'][0])
    unfreeze_last(m, 10); m.compile(keras.optimizers.Adam(1e-5), 'sparse_categorical_crossentropy')
    h = m.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(h.history['loss'][0]) and m.predict(x, verbose=0).shape == (4, 2)
    print('ok')
''')

def test_model_jax():
    "The classifier builds and trains one tiny step (phase 1 and 2) under KERAS_BACKEND=jax"
    _need_jax()
    env = {**os.environ, 'KERAS_BACKEND': 'jax', 'JAX_PLATFORMS': 'cpu'}
    r = subprocess.run([sys.executable, '-c', _MODEL_JAX], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip().endswith('ok'), r.stderr[-3000:]
