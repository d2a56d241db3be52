"Strict loading of legacy Keras-2 .h5 files, written here in the exact layouts Keras 2 (tf_keras) writes"
import os, urllib.error
import numpy as np, pytest, keras
from keras import ops
from radtl.core import RadtlError, to_numpy
from radtl.backbones import (build_backbone, load_legacy_h5, check_weights_file, resolve_weights, find_weight_files,
                             weights_report, get_backbone, Preprocess, preprocessing_layer)

tf_keras = pytest.importorskip('tf_keras')
K2 = {'densenet121': ('DenseNet121', 32), 'resnet50': ('ResNet50', 32),
      'inceptionv3': ('InceptionV3', 75), 'inceptionresnetv2': ('InceptionResNetV2', 75)}

def _k2_model(name, seed=0):
    app, sz = K2[name]
    m = getattr(tf_keras.applications, app)(weights=None, include_top=False, input_shape=(sz, sz, 3))
    rng = np.random.default_rng(seed)
    m.set_weights([rng.normal(size=w.shape).astype('float32') for w in m.get_weights()])
    return m

@pytest.fixture(scope='module')
def k2_files(tmp_path_factory):
    "name -> (tf_keras model, full-model .h5, weights-only .h5), RadImageNet file names for the full models"
    d = tmp_path_factory.mktemp('k2')
    out = {}
    for name, rin in (('densenet121', 'RadImageNet-DenseNet121_notop.h5'), ('resnet50', 'RadImageNet-ResNet50_notop.h5'),
                      ('inceptionv3', 'RadImageNet-InceptionV3_notop.h5'), ('inceptionresnetv2', 'RadImageNet-IRV2_notop.h5')):
        m = _k2_model(name)
        m.save(d/rin); m.save_weights(d/f'{name}.weights-only.h5')
        out[name] = (m, d/rin, d/f'{name}.weights-only.h5')
    tf_keras.backend.clear_session()
    return out

@pytest.mark.parametrize('name', list(K2))
def test_legacy_layouts_load_exactly(name, k2_files):
    "Full-model and weights-only Keras-2 files load with every tensor equal, at another input size too"
    k2, full, wonly = k2_files[name]
    for path, fmt in ((full, 'keras2-full-model'), (wonly, 'keras2-weights')):
        sz = 96 if K2[name][1] == 75 else 64
        m = getattr(keras.applications, K2[name][0])(weights=None, include_top=False, input_shape=(sz, sz, 3))
        r = load_legacy_h5(m, path)
        assert r['format'] == fmt
        assert len(k2.weights) == len(m.weights)
        for a, b in zip(k2.weights, m.weights): np.testing.assert_array_equal(a.numpy(), to_numpy(b))
    keras.backend.clear_session()

def test_radimagenet_found_and_built(k2_files):
    "`weights='radimagenet'` finds the file by name, loads it, and records caffe_255 and the md5"
    k2, full, _ = k2_files['resnet50']
    base, info = build_backbone('resnet50', 'radimagenet', (32, 32, 3), search_dirs=[str(full.parent)])
    assert (info.source, info.preprocessing, info.file) == ('radimagenet', 'caffe_255', str(full))
    assert len(info.md5) == 32
    np.testing.assert_array_equal(to_numpy(base.weights[-1]), k2.weights[-1].numpy())
    assert 'RadImageNet-ResNet50_notop.h5' in find_weight_files([str(full.parent)])
    rep = weights_report([str(full.parent)]).query("source=='radimagenet'").set_index('backbone').found
    assert (rep != 'missing').all()

def test_resnet_file_into_densenet_fails_clearly(k2_files):
    _, full, _ = k2_files['resnet50']
    m = keras.applications.DenseNet121(weights=None, include_top=False, input_shape=(32, 32, 3))
    w0 = to_numpy(m.weights[0])
    with pytest.raises(RadtlError) as e: load_legacy_h5(m, full)
    msg = str(e.value)
    assert 'RadImageNet-ResNet50_notop.h5' in msg and '106 layers' in msg and 'resnet50' in msg and 'densenet121 expects 241' in msg
    np.testing.assert_array_equal(to_numpy(m.weights[0]), w0)   # nothing half-loaded
    with pytest.raises(RadtlError, match='looks like resnet50'): check_weights_file(full, 'densenet121')
    with pytest.raises(RadtlError, match='looks like resnet50'): build_backbone('densenet121', full, (32, 32, 3), search_dirs=[])

def test_check_weights_file(k2_files):
    r = check_weights_file(k2_files['inceptionv3'][2], 'inceptionv3')
    assert r['fits'] and r['n_layers'] == 188 and r['format'] == 'keras2-weights'

def test_truncated_and_not_hdf5(k2_files, tmp_path):
    _, full, _ = k2_files['densenet121']
    b = full.read_bytes()
    (tmp_path/'half.h5').write_bytes(b[:len(b)//2])
    (tmp_path/'page.h5').write_text('<html>403 Forbidden</html>')
    m = keras.applications.DenseNet121(weights=None, include_top=False, input_shape=(32, 32, 3))
    for f in ('half.h5', 'page.h5'):
        with pytest.raises(RadtlError, match='not a readable HDF5 weights file'): load_legacy_h5(m, tmp_path/f)
    with pytest.raises(RadtlError, match='does not exist'): load_legacy_h5(m, tmp_path/'nope.h5')

def test_keras3_weights_file(tmp_path):
    "A Keras-3 `.weights.h5` given as a path loads too"
    a = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3))
    a.save_weights(tmp_path/'r.weights.h5')
    base, info = build_backbone('resnet50', tmp_path/'r.weights.h5', (32, 32, 3), search_dirs=[])
    assert info.source == 'file'
    for x, y in zip(a.weights, base.weights): np.testing.assert_array_equal(to_numpy(x), to_numpy(y))

@pytest.fixture
def offline(monkeypatch):
    "Make Keras' download fail at once, as it does without network"
    from keras.src.utils import file_utils
    def fail(*a, **k): raise urllib.error.URLError('no network (test)')
    monkeypatch.setattr(file_utils, 'urlretrieve', fail)

def test_imagenet_offline_names_the_file(tmp_path, offline):
    with pytest.raises(RadtlError) as e: build_backbone('densenet121', 'imagenet', (32, 32, 3), search_dirs=[str(tmp_path)])
    msg = str(e.value)
    assert 'densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5' in msg
    assert '.keras' in msg and 'models' in msg and 'Kaggle' in msg and 'RADTL_WEIGHTS' in msg

@pytest.mark.parametrize('name', ['densenet121', 'resnet50v2', 'vgg16', 'xception', 'efficientnetb0', 'efficientnetv2b0',
                                  'convnext_tiny', 'mobilenetv2', 'mobilenetv3small', 'inceptionresnetv2'])
def test_imagenet_file_names_match_keras(name, tmp_path, offline):
    "The file name the registry looks for is the one Keras asks for"
    spec = get_backbone(name)
    with pytest.raises(RadtlError) as e:
        build_backbone(name, 'imagenet', (spec.min_size, spec.min_size, 3), search_dirs=[str(tmp_path)])
    assert f"needs '{spec.sources['imagenet'].files[0]}'" in str(e.value)
    keras.backend.clear_session()

def test_imagenet_offline_with_file(tmp_path, offline):
    "With the file in a search folder, ImageNet weights load without network (a Keras-2 weights file stands in)"
    m = tf_keras.applications.ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3))
    m.save_weights(tmp_path/'resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5')
    base, info = build_backbone('resnet50', 'imagenet', (32, 32, 3), search_dirs=[str(tmp_path)])
    assert info.source == 'imagenet' and info.preprocessing == 'caffe' and info.file.endswith('notop.h5')
    np.testing.assert_array_equal(to_numpy(base.weights[0]), m.weights[0].numpy())

def test_preprocessing_modes():
    x = np.full((1, 2, 2, 3), [10., 120., 250.], 'float32')
    y = ops.convert_to_numpy(Preprocess('caffe_255')(x))[0, 0, 0]
    np.testing.assert_allclose(y, (np.array([250., 120., 10.]) - [103.939, 116.779, 123.68]) / 255, rtol=1e-5)
    y = ops.convert_to_numpy(Preprocess('minus_one_to_one')(x))[0, 0, 0]
    np.testing.assert_allclose(y, np.array([250., 120., 10.]) / 127.5 - 1, rtol=1e-5)
    with pytest.raises(RadtlError, match='applied twice'): preprocessing_layer('caffe', 'efficientnetb0')
    assert resolve_weights('inceptionv3', None).preprocessing == 'imagenet'
    assert Preprocess.from_config(Preprocess('caffe').get_config()).mode == 'caffe'

def test_nested_full_model(tmp_path):
    "A Keras-2 full model with the backbone nested inside (one entry holding all its weights) loads too"
    b = _k2_model('densenet121', seed=1)
    inp = tf_keras.Input((32, 32, 3))
    tf_keras.Model(inp, tf_keras.layers.GlobalAveragePooling2D()(b(inp))).save(tmp_path/'nested.h5')
    m = keras.applications.DenseNet121(weights=None, include_top=False, input_shape=(32, 32, 3))
    assert load_legacy_h5(m, tmp_path/'nested.h5')['n_layers'] == 241
    for a, c in zip(b.weights, m.weights): np.testing.assert_array_equal(a.numpy(), to_numpy(c))

def test_download_errors_keep_their_own_messages(tmp_path, monkeypatch):
    "A download whose hash does not match, or that cannot be written, is reported as what it is, not as 'could not download'"
    import errno
    from keras.src.utils import file_utils   # only to stand in for the network
    if resolve_weights('resnet50', 'imagenet').file: pytest.skip("the real ResNet50 file is in Keras' cache: Keras would not download")
    written = []
    def junk(url, target, *a): written.append(target); open(target, 'wb').write(b'<html>captive portal</html>')
    monkeypatch.setattr(file_utils, 'urlretrieve', junk)
    try:
        with pytest.raises(RadtlError) as e: build_backbone('resnet50', 'imagenet', (32, 32, 3), search_dirs=[str(tmp_path)])
    finally:
        for f in written: os.remove(f)   # Keras keeps a download that failed its hash check
    assert 'hash does not match' in str(e.value) and 'could not download' not in str(e.value) and 'resnet50_weights' in str(e.value)
    def full(url, target, *a): raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(file_utils, 'urlretrieve', full)
    with pytest.raises(RadtlError) as e: build_backbone('resnet50', 'imagenet', (32, 32, 3), search_dirs=[str(tmp_path)])
    assert 'No space left on device' in str(e.value) and 'could not download' not in str(e.value) and 'KERAS_HOME' in str(e.value)

def test_local_imagenet_file_that_does_not_fit(tmp_path):
    "A local ImageNet file Keras cannot load into the network is named, with what Keras said"
    m = tf_keras.applications.DenseNet121(weights=None, include_top=False, input_shape=(32, 32, 3))
    m.save_weights(tmp_path/'resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5')
    with pytest.raises(RadtlError, match='does not fit resnet50 as its ImageNet weights'):
        build_backbone('resnet50', 'imagenet', (32, 32, 3), search_dirs=[str(tmp_path)])

def test_efficientnet_b_keeps_keras_imagenet_stem(tmp_path, offline):
    "EfficientNet B0 from a local ImageNet file is the network Keras builds for weights='imagenet' (its stem Rescaling), random init is not"
    m = tf_keras.applications.EfficientNetB0(weights=None, include_top=False, input_shape=(32, 32, 3))
    m.save_weights(tmp_path/'efficientnetb0_notop.h5')
    base, info = build_backbone('efficientnetb0', 'imagenet', (32, 32, 3), search_dirs=[str(tmp_path)])
    assert info.file == str(tmp_path/'efficientnetb0_notop.h5') and 'imagenet_stddev_rescaling' in [l.name for l in base.layers]
    np.testing.assert_array_equal(to_numpy(base.weights[-1]), m.weights[-1].numpy())
    assert 'imagenet_stddev_rescaling' not in [l.name for l in build_backbone('efficientnetb0', None, (32, 32, 3), search_dirs=[])[0].layers]

def test_no_keras_internals_in_radtl():
    "radtl reaches Keras only through its public API (keras.src is Keras' private package)"
    from pathlib import Path
    import radtl
    hits = [f'{p.name}:{i}' for p in Path(radtl.__file__).parent.glob('*.py') for i, l in enumerate(p.read_text().splitlines(), 1) if 'keras.src' in l]
    assert not hits, hits
