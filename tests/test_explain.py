"Grad-CAM (TensorFlow and JAX) and CKA of radtl.explain"
import os, subprocess, sys, textwrap, warnings
import numpy as np, pytest, keras
from radtl.core import RadtlError
from radtl.backbones import BACKBONES, load_radtl_model
from radtl.model import build_classifier, base_of
from radtl.explain import gradcam, gradcam_raw, gradcam_layer_of, gradcam_map, layer_activations, cka, peak_in_lesion, lesion_area_fraction, plot_gradcam_grid

def _imgs(n=3, sz=32, c=1, seed=0): return np.random.default_rng(seed).integers(0, 256, (n, sz, sz, c)).astype('uint8')

def _reference_gradcam(model, x, cls):
    "Textbook Grad-CAM with tf.GradientTape over a backbone model returning [conv, output] (independent of radtl's split)"
    import tensorflow as tf
    base = base_of(model); i = model.layers.index(base)
    pre = keras.Model(model.input, model.layers[i - 1].output)
    inner = keras.Model(base.input, [gradcam_map(base, gradcam_layer_of(model)), base.output])
    with tf.GradientTape() as tape:
        conv, feat = inner(pre(x.astype('float32')))
        for l in model.layers[i + 1:]: feat = l(feat, training=False)
        score = tf.reduce_sum(feat * tf.one_hot(cls, feat.shape[-1]))
    g = tape.gradient(score, conv)
    return tf.nn.relu(tf.reduce_sum(tf.reduce_mean(g, (1, 2), keepdims=True) * conv, -1)).numpy()

FAST = ['densenet121', 'resnet50', 'vgg16', 'efficientnetv2b0', 'convnext_tiny', 'mobilenetv3small', 'smallcnn']

@pytest.mark.parametrize('name', FAST)
def test_gradcam_shapes_and_range(name):
    spec = BACKBONES[name]; sz = max(spec.min_size, 32)
    m = build_classifier(name, 3, image_size=sz, channels=1, dense_units=4)
    x = _imgs(2, sz)
    with warnings.catch_warnings():
        warnings.simplefilter('error', UserWarning)   # every registered Grad-CAM layer is one the class score depends on alone
        raw, p = gradcam_raw(m, x); cams = gradcam(m, x, class_index=1)
    np.testing.assert_allclose(p, m.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
    assert raw.ndim == 3 and (raw >= 0).all()
    assert cams.shape == (2, sz, sz) and cams.min() >= 0 and cams.max() <= 1

def test_gradcam_matches_textbook_reference():
    m = build_classifier('densenet121', 3, image_size=64, channels=1, dense_units=8)
    x = _imgs(3, 64)
    for cls in (0, 2):
        raw, _ = gradcam_raw(m, x, class_index=cls)
        np.testing.assert_allclose(raw, _reference_gradcam(m, x, np.full(3, cls)), rtol=1e-4, atol=1e-7)

def test_gradcam_convnext_reads_the_map_before_its_pooling_and_norm():
    "ConvNeXt pools, then normalises, inside its backbone: Grad-CAM reads the last map at the pooling's input, as the textbook does"
    m = build_classifier('convnext_tiny', 3, image_size=64, channels=1, dense_units=4)
    base = base_of(m)
    pool = base.get_layer(gradcam_layer_of(m))
    assert isinstance(pool, keras.layers.GlobalAveragePooling2D) and isinstance(base.layers[-1], keras.layers.LayerNormalization)
    assert tuple(gradcam_map(base, pool.name).shape) == (None, 2, 2, 768)
    x = _imgs(3, 64)
    with warnings.catch_warnings():
        warnings.simplefilter('error', UserWarning)
        raw, p = gradcam_raw(m, x, class_index=1)
    assert raw.shape == (3, 2, 2)
    np.testing.assert_allclose(p, m.predict(x, verbose=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(raw, _reference_gradcam(m, x, np.full(3, 1)), rtol=1e-4, atol=1e-7)
    with pytest.warns(UserWarning, match='skip connection'):                    # a block layer named explicitly still warns
        assert gradcam_raw(m, x[:1], layer='convnext_tiny_stage_3_block_2_identity')[0].shape == (1, 2, 2)

def test_gradcam_after_reload_and_bad_layer(tmp_path):
    m = build_classifier('mobilenetv3small', 2, image_size=32, channels=1)
    m.save(tmp_path / 'm.keras'); m2 = load_radtl_model(tmp_path / 'm.keras')
    assert gradcam_layer_of(m2) == 'conv_1_bn'   # found from the model's name after reloading
    np.testing.assert_allclose(gradcam_raw(m2, _imgs())[0], gradcam_raw(m, _imgs())[0], rtol=1e-4, atol=1e-8)
    with pytest.raises(RadtlError, match='has no layer'): gradcam(m, _imgs(), layer='nope')

_JAX = textwrap.dedent('''
    import sys, numpy as np, keras
    assert keras.backend.backend() == 'jax'
    from radtl.backbones import load_radtl_model
    from radtl.explain import gradcam_raw
    m = load_radtl_model(sys.argv[1]); x = np.load(sys.argv[2])
    raw, p = gradcam_raw(m, x, class_index=1)
    np.testing.assert_allclose(p, m.predict(x, verbose=0), rtol=1e-4, atol=1e-6)
    np.save(sys.argv[3], raw)
''')

def test_gradcam_jax_equals_tensorflow(tmp_path):
    "The same saved classifier gives the same Grad-CAM under KERAS_BACKEND=jax (jax.grad) as under TensorFlow"
    m = build_classifier('mobilenetv3small', 3, image_size=48, channels=1, dense_units=8)
    x = _imgs(3, 48); m.save(tmp_path / 'm.keras'); np.save(tmp_path / 'x.npy', x)
    env = {**os.environ, 'KERAS_BACKEND': 'jax', 'JAX_PLATFORMS': 'cpu'}
    r = subprocess.run([sys.executable, '-c', _JAX, tmp_path / 'm.keras', tmp_path / 'x.npy', tmp_path / 'cam.npy'], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / 'cam.npy'), gradcam_raw(m, x, class_index=1)[0], rtol=1e-3, atol=1e-6)

@pytest.mark.slow
def test_gradcam_every_registered_backbone():
    for name, spec in BACKBONES.items():
        sz = max(spec.min_size, 32)
        m = build_classifier(name, 2, image_size=sz, channels=1)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            raw, p = gradcam_raw(m, _imgs(1, sz))
        assert raw.ndim == 3 and (raw >= 0).all() and np.isfinite(raw).all(), name
        keras.backend.clear_session()

def test_peak_in_lesion_and_chance():
    cams = np.zeros((2, 30, 30)); cams[0, 10, 12] = 1; cams[1, 29, 29] = 1
    assert list(peak_in_lesion(cams, [12, 12], [10, 10], [3, 3])) == [True, False]
    assert lesion_area_fraction([15], [15], [5], 30)[0] == pytest.approx(np.pi * 25 / 900, rel=0.05)

def test_gradcam_grid_figure():
    rng = np.random.default_rng(0); y = np.repeat([0, 1], 4); p = rng.dirichlet(np.ones(2), 8)
    fig = plot_gradcam_grid(_imgs(8), rng.random((8, 32, 32)), y, p, ['glioma', 'no_tumor'], n=2)
    assert len(fig.axes) == 8

def test_cka_properties_and_reference():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 30)); Y = X[:, :10] @ rng.normal(size=(10, 5)) + .5 * rng.normal(size=(60, 5))
    Q, _ = np.linalg.qr(rng.normal(size=(30, 30)))
    for k in ('linear', 'rbf'):
        assert cka(X, X, k) == pytest.approx(1)
        assert cka(X, 2.5 * X @ Q, k) == pytest.approx(1)                      # orthogonal transform and isotropic scaling
        assert cka(X, Y, k) == pytest.approx(cka(7 * Y @ np.linalg.qr(rng.normal(size=(5, 5)))[0], X, k))  # symmetric, invariant
        assert 0 < cka(X, Y, k) < 1
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)   # Kornblith et al. 2019, eq. for linear CKA in feature space
    ref = np.linalg.norm(Yc.T @ Xc, 'fro') ** 2 / (np.linalg.norm(Xc.T @ Xc, 'fro') * np.linalg.norm(Yc.T @ Yc, 'fro'))
    assert cka(X, Y) == pytest.approx(ref, rel=1e-10)
    assert cka(X, rng.normal(size=(60, 30))) < cka(X, Y)
    assert cka(X, X @ rng.normal(size=(30, 30))) < 0.99   # not invariant to any invertible linear map
    with pytest.raises(RadtlError, match='kernel'): cka(X, Y, 'poly')
    with pytest.raises(RadtlError, match='same inputs'): cka(X, Y[:10])

def test_layer_activations_before_and_after_training():
    m = build_classifier('mobilenetv3small', 2, image_size=32, channels=1, dense_units=4)
    x = _imgs(8)
    a = layer_activations(m, 'conv_1_bn', x, batch_size=3)
    assert a.shape[0] == 8 and layer_activations(m, 'head_dense', x).shape == (8, 4)
    assert cka(a, layer_activations(m, 'conv_1_bn', x)) == pytest.approx(1)
    with pytest.raises(RadtlError, match='has a layer'): layer_activations(m, 'nope', x)
