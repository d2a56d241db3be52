"""Grad-CAM peaks inside the known lesion of synthetic slices far more often than chance (slow).

Three tests: a small CNN (8×8 Grad-CAM map) trained about a minute on the CPU, which checks that radtl's Grad-CAM points
where the evidence is; DenseNet121 trained from scratch for four epochs at 96 px (3×3 map; test accuracy 0.95, peak in
lesion 0.74 against 0.18 by area and 0.24 with shuffled lesions); and the registered backbones (DenseNet121,
EfficientNetV2S, ConvNeXtTiny) fine-tuned briefly from ImageNet weights, skipped when the weights are not on this machine
(radtl never downloads them in tests). From scratch, EfficientNetV2S and ConvNeXtTiny do not learn the set in CPU
minutes (EfficientNetV2S: test accuracy 0.41 after six epochs at 96 px); on a GPU (`pytest -m gpu`, skipped without one)
both train from scratch for 20 epochs over 2,000 images at 128 px: EfficientNetV2S localises; ConvNeXtTiny did not
while Grad-CAM read its per-position-normalised map, and is not yet re-measured with the map before pooling."""
import time
import numpy as np, pandas as pd, pytest, keras
from radtl.core import seed_everything
from radtl.synthetic import synthetic_brain_mri
from radtl.data import scan, usable
from radtl.cache import build_cache
from radtl.batches import CacheBatches
from radtl.backbones import resolve_weights
from radtl.hardware import has_gpu
from radtl.model import build_classifier, freeze_base, unfreeze_last
from radtl.explain import gradcam, gradcam_raw, peak_in_lesion, lesion_area_fraction

def _synthetic(tmp, size, n_train=480, n_test=160):
    root = synthetic_brain_mri(tmp / 'syn', n_train=n_train, n_test=n_test, size=size, seed=1, leak_fracs={}, n_train_dups=0)
    cache = build_cache(usable(scan(root, progress=False, verbose=False)), size=size, cache_dir=tmp / 'c', progress=False)
    les = pd.read_csv(root.parent / 'lesions.csv').set_index('path')
    rel = ['/'.join(str(p).split('/')[-3:]) for p in cache.paths]
    split = np.array([r.split('/')[0] for r in rel])
    return cache, les.loc[rel].reset_index(), np.flatnonzero(split == 'Training'), np.flatnonzero(split == 'Testing')

def _localisation(model, cache, les, test, size):
    "Share of correctly classified lesion images whose Grad-CAM peak is within r + half a feature cell of the centre, and chance"
    has = test[les.loc[test, 'cx'].notna().to_numpy()]
    raw, p = gradcam_raw(model, cache.images[has])
    ok = p.argmax(1) == cache.labels[has]
    if not ok.any(): return 0., 0., 0., 0., raw.shape[1:]   # nothing classified right: nothing to localise
    margin = size / raw.shape[1] / 2   # an upsampled h×w map locates its peak to within half a cell
    cx, cy, r = (les[k].to_numpy()[has][ok] for k in ('cx', 'cy', 'r'))
    cams = gradcam(model, cache.images[has][ok])
    hit = peak_in_lesion(cams, cx, cy, r, margin).mean()
    area = lesion_area_fraction(cx, cy, r, size, margin).mean()
    perm = np.mean([peak_in_lesion(cams, cx[k], cy[k], r[k], margin).mean() for k in (np.random.default_rng(i).permutation(len(cx)) for i in range(50))])
    return hit, area, perm, ok.mean(), raw.shape[1:]

def _localised(label, model, cache, les, test, size, t0):
    "`_localisation` of a model trained since `t0`, printed as one line; (hit, area, perm, accuracy)"
    hit, area, perm, acc, shape = _localisation(model, cache, les, test, size)
    print(f'{label}: peak in lesion {hit:.2f}, chance {area:.2f} (area) {perm:.2f} (shuffled lesions); accuracy {acc:.2f}, map {shape}, {time.perf_counter() - t0:.0f} s')
    return hit, area, perm, acc

def _small_cnn(size, channels, n_classes):
    "A radtl-shaped classifier (outer model with a nested backbone) on a small CNN whose last conv map is size/8"
    x = inp = keras.Input((size, size, 3))
    for f in (16, 32, 64): x = keras.layers.MaxPooling2D()(keras.layers.Conv2D(f, 3, padding='same', activation='relu')(x))
    base = keras.Model(inp, keras.layers.Conv2D(64, 3, padding='same', activation='relu', name='last_conv')(x), name='small_cnn')
    x = img = keras.Input((size, size, channels))
    x = keras.layers.Concatenate(name='gray_to_rgb')([x] * 3) if channels == 1 else x
    x = keras.layers.Rescaling(1 / 255, name='preprocess')(x)
    x = keras.layers.GlobalMaxPooling2D()(base(x))
    return keras.Model(img, keras.layers.Dense(n_classes, activation='softmax', name='predictions')(x))

@pytest.mark.slow
def test_gradcam_of_small_cnn_peaks_in_lesion(tmp_path):
    size = 64; cache, les, train, test = _synthetic(tmp_path, size)
    seed_everything(0); t0 = time.perf_counter()
    model = _small_cnn(size, cache.images.shape[-1], len(cache.classes))
    model.compile(keras.optimizers.Adam(2e-3), 'sparse_categorical_crossentropy', metrics=['accuracy'])
    model.fit(CacheBatches(cache, train, batch_size=32, shuffle=True, seed=0), epochs=12, verbose=0)
    hit, area, perm, acc = _localised('small CNN', model, cache, les, test, size, t0)
    assert acc > 0.8 and hit >= max(3 * area, area + 0.2) and hit >= perm + 0.15   # seen: 0.35 vs 0.06 and 0.12, accuracy 0.95

@pytest.mark.slow
@pytest.mark.parametrize('backbone', ['densenet121', 'efficientnetv2s', 'convnext_tiny'])
def test_gradcam_of_finetuned_backbone_peaks_in_lesion(tmp_path, backbone):
    if resolve_weights(backbone, 'imagenet').file is None:   # Keras would download them: not in a test
        pytest.skip(f'ImageNet weights for {backbone} are not on this machine (Keras cache, $RADTL_WEIGHTS or ./weights)')
    size = 128; cache, les, train, test = _synthetic(tmp_path, size)
    seed_everything(0); t0 = time.perf_counter()
    model = build_classifier(backbone, len(cache.classes), weights='imagenet', image_size=size, channels=cache.images.shape[-1], seed=0)
    batches = CacheBatches(cache, train, batch_size=32, shuffle=True, seed=0)
    freeze_base(model); model.compile(keras.optimizers.Adam(1e-3), 'sparse_categorical_crossentropy'); model.fit(batches, epochs=2, verbose=0)
    unfreeze_last(model); model.compile(keras.optimizers.Adam(1e-4), 'sparse_categorical_crossentropy'); model.fit(batches, epochs=3, verbose=0)
    hit, area, perm, acc = _localised(backbone, model, cache, les, test, size, t0)
    assert hit >= max(2 * area, area + 0.2) and hit >= perm + 0.1

@pytest.mark.slow
def test_gradcam_of_densenet121_trained_from_scratch_peaks_in_lesion(tmp_path):
    "Random init (BatchNorm momentum 0.9, radtl's default from scratch), Adam 1e-3, four epochs at 96 px"
    size = 96; cache, les, train, test = _synthetic(tmp_path, size)
    seed_everything(0); t0 = time.perf_counter()
    model = build_classifier('densenet121', len(cache.classes), weights=None, image_size=size, channels=cache.images.shape[-1], seed=0)
    model.compile(keras.optimizers.Adam(1e-3), 'sparse_categorical_crossentropy')
    for e in range(4): model.fit(CacheBatches(cache, train, batch_size=32, shuffle=True, seed=e), epochs=1, verbose=0)
    hit, area, perm, acc = _localised('densenet121 from scratch', model, cache, les, test, size, t0)
    assert acc > 0.8 and hit >= max(2 * area, area + 0.2) and hit >= perm + 0.15   # seen: 0.74 vs 0.18 and 0.24, accuracy 0.95

@pytest.mark.slow
@pytest.mark.gpu
@pytest.mark.parametrize('backbone', ['efficientnetv2s', 'convnext_tiny'])
def test_gradcam_of_backbone_trained_from_scratch_on_gpu_peaks_in_lesion(tmp_path, backbone):
    """From scratch these two need a few hundred steps over a few thousand images: minutes on a GPU, hours on this CPU.
    EfficientNetV2S, H100 with JAX: peak in lesion 0.40 against 0.12 by area and 0.22 shuffled, accuracy 0.99, 281 s.
    ConvNeXtTiny was an expected failure (peak in lesion 0.06 against 0.12 by area, accuracy 0.92) while Grad-CAM read the
    per-position LayerNormalization of Keras' notop ConvNeXt; it now reads the map before radtl's pool-then-normalise
    backbone, and has not been run on a GPU since: no expectation is recorded until it has."""
    if not has_gpu(): pytest.skip(f'{backbone} from scratch needs about 600 training steps at 128 px: run on a GPU (pytest -m gpu)')
    size = 128; cache, les, train, test = _synthetic(tmp_path, size, n_train=2000, n_test=400)
    seed_everything(0); t0 = time.perf_counter()
    model = build_classifier(backbone, len(cache.classes), weights=None, image_size=size, channels=cache.images.shape[-1], seed=0)
    model.compile(keras.optimizers.Adam(1e-3), 'sparse_categorical_crossentropy')
    model.fit(CacheBatches(cache, train, batch_size=64, shuffle=True, seed=0), epochs=20, verbose=0)
    hit, area, perm, acc = _localised(f'{backbone} from scratch', model, cache, les, test, size, t0)
    assert acc > 0.8 and hit >= max(2 * area, area + 0.2) and hit >= perm + 0.15
