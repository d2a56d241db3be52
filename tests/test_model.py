"The classifier builder: raw pixels in, augmentation, preprocessing, frozen-BN fine-tuning, save/reload, mixed precision"
import numpy as np, pytest, keras
from radtl.core import RadtlError
from radtl.model import build_classifier, base_of, freeze_base, unfreeze_last
from radtl.backbones import load_radtl_model

def _xy(n=4, sz=32, c=1, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, sz, sz, c)).astype('uint8'), np.arange(n) % 2

def test_phase2_bn_frozen_and_trains():
    m = build_classifier('resnet50', 2, image_size=32, channels=1)
    freeze_base(m)
    assert not base_of(m).trainable_weights
    unfreeze_last(m, 30)
    base = base_of(m)
    assert not any(l.trainable for l in base.layers if isinstance(l, keras.layers.BatchNormalization))
    assert any(l.trainable for l in base.layers[-30:] if l.weights)
    assert not any(l.trainable for l in base.layers[:-30] if l.weights)
    m.compile(keras.optimizers.Adam(1e-4), 'sparse_categorical_crossentropy')
    x, y = _xy()
    h = m.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(h.history['loss'][0])
    unfreeze_last(m)   # all, still no BN
    assert not any(l.trainable for l in base.layers if isinstance(l, keras.layers.BatchNormalization))

def test_save_reload_predicts_identically(tmp_path):
    aug = keras.layers.RandomFlip('horizontal', seed=1)
    m = build_classifier('mobilenetv3small', 3, image_size=32, channels=3, augment=aug, dense_units=8)
    x, _ = _xy(c=3)
    m.save(tmp_path/'m.keras')
    m2 = load_radtl_model(tmp_path/'m.keras')
    np.testing.assert_allclose(m2.predict(x, verbose=0), m.predict(x, verbose=0), rtol=1e-6, atol=1e-7)
    assert m2.get_layer('preprocess').mode == 'raw'

def test_idg_dict_augment(tmp_path):
    pytest.importorskip('radtl.augment')
    m = build_classifier('densenet121', 2, image_size=32, channels=1, augment=dict(rotation_range=10, horizontal_flip=True), seed=0)
    x, _ = _xy()
    a, b = m.predict(x, verbose=0), m(x, training=False)
    np.testing.assert_allclose(a, keras.ops.convert_to_numpy(b), rtol=1e-5, atol=1e-6)
    m.save(tmp_path/'m.keras')
    np.testing.assert_allclose(load_radtl_model(tmp_path/'m.keras').predict(x, verbose=0), a, rtol=1e-5, atol=1e-6)

def test_mixed_precision():
    keras.mixed_precision.set_global_policy('mixed_float16')
    try:
        m = build_classifier('efficientnetv2b0', 4, image_size=32, channels=1)
        p = m.predict(_xy()[0], verbose=0)
        assert p.dtype == np.float32 and np.allclose(p.sum(1), 1, atol=1e-3)
        assert m.get_layer('preprocess').compute_dtype == 'float16'
    finally: keras.mixed_precision.set_global_policy('float32')

def test_bad_arguments():
    with pytest.raises(RadtlError, match='channels'): build_classifier('resnet50', 2, image_size=32, channels=2)
    with pytest.raises(RadtlError, match='at least 75'): build_classifier('inceptionv3', 2, image_size=32)
    with pytest.raises(RadtlError, match='augment must be'): build_classifier('resnet50', 2, image_size=32, augment='flip')

def test_convnext_features_split_and_reload(tmp_path):
    "ConvNeXt pools inside its backbone: the feature-cache split ends at its pooled, normalised output, and the model reloads"
    from radtl.features import split_at_features
    m = build_classifier('convnext_tiny', 3, image_size=64, channels=1, dense_units=8)
    base = base_of(m)
    assert isinstance(base.layers[-1], keras.layers.LayerNormalization) and len(base.outputs[0].shape) == 2
    x, _ = _xy(3, 64)
    extractor, head = split_at_features(m)
    feats = extractor.predict(x, verbose=0)
    assert feats.shape == (3, 768)
    inner = keras.Model(base.input, base.output)
    pre = keras.Model(m.input, m.get_layer('preprocess').output)
    np.testing.assert_allclose(feats, inner.predict(pre.predict(x, verbose=0), verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(head.predict(feats, verbose=0), m.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert [l.name for l in head.layers[1:]] == ['head_dropout', 'head_dense', 'head_dense_dropout', 'predictions']
    m.save(tmp_path / 'cx.keras')
    np.testing.assert_allclose(load_radtl_model(tmp_path / 'cx.keras').predict(x, verbose=0), m.predict(x, verbose=0), rtol=1e-6, atol=1e-7)
