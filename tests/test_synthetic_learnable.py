"The synthetic MRI set is learnable: a small CNN trained for about a minute on 2 cores is far above chance."
import numpy as np
import keras
from sklearn.metrics import balanced_accuracy_score
from radtl.core import seed_everything
from radtl.synthetic import synthetic_brain_mri
from radtl.data import scan, usable
from radtl.cache import build_cache
from radtl.batches import CacheBatches

def small_cnn(size, channels, n_classes):
    x = inp = keras.Input((size, size, channels))
    x = keras.layers.Rescaling(1 / 255)(x)
    for f in (16, 32, 64):
        x = keras.layers.Conv2D(f, 3, padding='same', activation='relu')(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(64, 3, padding='same', activation='relu')(x)
    x = keras.layers.GlobalMaxPooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(n_classes, activation='softmax')(x))

def test_small_cnn_learns_synthetic_set(tmp_path):
    seed_everything(0)
    root = synthetic_brain_mri(tmp_path / 'syn', n_train=600, n_test=200, size=64, seed=0)
    cat = usable(scan(root, progress=False, verbose=False))
    cache = build_cache(cat, size=64, cache_dir=tmp_path / 'c', progress=False)
    split = np.array([p.split('/')[-3] for p in cache.paths])
    train, test = np.flatnonzero(split == 'Training'), np.flatnonzero(split == 'Testing')
    model = small_cnn(64, cache.images.shape[-1], len(cache.classes))
    model.compile(keras.optimizers.Adam(2e-3), 'sparse_categorical_crossentropy', metrics=['accuracy'])
    model.fit(CacheBatches(cache, train, batch_size=32, shuffle=True, seed=0), epochs=12, verbose=0)
    probs = model.predict(CacheBatches(cache, test, batch_size=64), verbose=0)
    bacc = balanced_accuracy_score(cache.labels[test], probs.argmax(1))
    print(f'balanced accuracy {bacc:.3f}')
    assert bacc >= 0.8, f'balanced accuracy {bacc:.3f} (chance 0.25)'
