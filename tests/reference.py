"""Reference constructions for the equivalence test (tests/test_reference_equivalence.py) and its bench
(bench/reference_equivalence.py): every weight source's file written by the test in the layout its real files have,
the network Keras itself builds from that file, and the documented preprocessing, fed the same raw uint8 images.

Layouts: ImageNet notop files are Keras-2 HDF5 written by tf-keras `save_weights`; RadImageNet's are Keras-2 full-model
`.h5` (`save`); radtl's SimCLR files are what `radtl.pretrain` writes (the backbone's Keras-3 `save_weights` and a
sidecar naming backbone and preprocessing); a user's file is a Keras-3 `.weights.h5` under a name of its own.
Every tensor is moved away from its initial value, so a layer that is skipped, mis-ordered or left at its initialiser
shows up in the features."""
import contextlib, json, time, warnings
from pathlib import Path
import numpy as np, keras
from keras.applications import imagenet_utils
from radtl.backbones import BACKBONES, get_backbone, sidecar_path, build_backbone
from radtl.model import build_classifier
from radtl.features import split_at_features

N_IMAGES = 4

def image_size(name:str)->int:
    "Input side of the test: 64 px, or the backbone's minimum rounded up to a multiple of 32 when that is larger"
    return max(64, -(-get_backbone(name).min_size // 32) * 32)

def cases(names=None)->list:
    "(backbone, source, preprocessing) for every registered source of `names` (default: all); RadImageNet in each documented mode"
    out = []
    for n in names or BACKBONES:
        for src in BACKBONES[n].sources:
            if src == 'random': continue
            modes = ('caffe_255', 'minus_one_to_one') if src == 'radimagenet' else (None,)
            out += [(n, src, m) for m in modes]
        out.append((n, 'file', None))
    return out

def perturb(weights, seed:int=0):
    "Move every float tensor away from its initial value (variances stay positive)"
    rng = np.random.default_rng(seed)
    for w in weights:
        a = np.asarray(w.numpy() if hasattr(w, 'numpy') else keras.ops.convert_to_numpy(w))
        if not np.issubdtype(a.dtype, np.floating): continue
        b = a + rng.normal(0, 0.1 * (a.std() + np.abs(a).mean()) + 0.02, a.shape)
        if 'variance' in w.name or 'variance' in getattr(w, 'path', ''): b = np.abs(b) + 0.05
        w.assign(b.astype(a.dtype))

def _tf_keras_model(name, size, seed):
    import tf_keras
    m = getattr(tf_keras.applications, BACKBONES[name].app)(include_top=False, weights=None, input_shape=(size, size, 3))
    perturb(m.weights, seed)
    return m

def write_files(name:str, folder:Path, seed:int=0)->dict:
    "Write every source's file for backbone `name` into `folder`, each in its real layout; returns source -> path"
    spec, size, folder = BACKBONES[name], image_size(name), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    if 'imagenet' in spec.sources or 'radimagenet' in spec.sources:
        import tf_keras
        k2 = _tf_keras_model(name, size, seed)
        if 'imagenet' in spec.sources:
            files['imagenet'] = folder / spec.sources['imagenet'].files[0]; k2.save_weights(files['imagenet'])
        if 'radimagenet' in spec.sources:
            files['radimagenet'] = folder / spec.sources['radimagenet'].files[0]; k2.save(files['radimagenet'])
        tf_keras.backend.clear_session()
    for src in ('simclr', 'simclr-imagenet'):
        if src not in spec.sources: continue
        start = 'imagenet' if src == 'simclr-imagenet' else None   # what radtl.pretrain starts from (its --init)
        base, info = build_backbone(name, start, (size, size, 3), search_dirs=[str(folder)])
        perturb(base.weights, seed + 1 + (src == 'simclr-imagenet'))
        f = files[src] = folder / spec.sources[src].files[0]
        base.save_weights(f)
        mode = 'tf' if not spec.builtin_preprocessing and spec.imagenet_mode != 'tf' else spec.imagenet_mode   # a mode other than the default, as the sidecar may say
        sidecar_path(f).write_text(json.dumps(dict(backbone=spec.name, method='simclr', source=src, init=start or 'none', preprocessing=mode)))
    if spec.build is None:   # a user's own file: Keras-3 weights of the keras.applications network, under a name of its own
        m = spec.builder(include_top=False, weights=None, input_shape=(size, size, 3))
    else: m = build_backbone(name, None, (size, size, 3), search_dirs=[])[0]
    perturb(m.weights, seed + 3)
    files['file'] = folder / f'my-{name}.weights.h5'; m.save_weights(files['file'])
    keras.backend.clear_session()
    return files

def raw_images(size:int, channels:int, seed:int=0)->np.ndarray:
    "Raw uint8 images, smooth enough to look like scans and varied enough to tell positions apart"
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    base = [128 + 90 * np.sin(2 * np.pi * (xx * rng.uniform(.5, 3) + yy * rng.uniform(.5, 3)) + rng.uniform(0, 6)) for _ in range(N_IMAGES * channels)]
    x = np.stack(base).reshape(N_IMAGES, channels, size, size).transpose(0, 2, 3, 1)
    return np.clip(x + rng.normal(0, 20, x.shape), 0, 255).astype('uint8')

def preprocess(mode:str, x:np.ndarray, module)->np.ndarray:
    "The documented preprocessing: `<module>.preprocess_input` for 'imagenet', else the mode as 03_registry defines it"
    x = x.astype('float32')
    if mode == 'imagenet': return np.asarray(module.preprocess_input(x.copy()))
    if mode == 'raw': return x
    if mode in ('caffe', 'torch', 'tf'): return np.asarray(imagenet_utils.preprocess_input(x.copy(), mode=mode))
    if mode == 'caffe_255': return np.asarray(imagenet_utils.preprocess_input(x.copy(), mode='caffe')) / 255.   # ImageDataGenerator: preprocessing_function, then rescale
    if mode == 'minus_one_to_one': return (x[..., ::-1] - 127.5) / 127.5   # cv2.imread (BGR), (x - 127.5) * 2 / 255
    raise ValueError(mode)

@contextlib.contextmanager
def keras_serves(path):
    "Let the `keras.applications` builders' own `get_file` return `path` (the stand-in for Keras' ImageNet download)"
    from keras.src.utils import file_utils   # test-only: the reference is Keras' weights='imagenet' code path itself
    asked, orig = [], file_utils.get_file
    def get_file(fname=None, origin=None, *a, **k): asked.append(fname); return str(path)
    file_utils.get_file = get_file
    try: yield asked
    finally: file_utils.get_file = orig

def reference_network(name:str, source:str, path, size:int):
    "The network Keras builds for `source`'s file: `X(include_top=False, pooling='avg', weights=...)`, smallcnn: its constructor + GAP"
    spec = BACKBONES[name]
    if spec.build is not None:
        m = spec.build(include_top=False, weights=None, input_shape=(size, size, 3))
        m = keras.Model(m.input, keras.layers.GlobalAveragePooling2D()(m.output)); m.load_weights(path)
        return m
    app = getattr(keras.applications, spec.app)
    if source in ('imagenet', 'simclr-imagenet'):   # the ImageNet network as Keras builds it for weights='imagenet'
        with keras_serves(imagenet_file(path, source, spec)) as asked:
            m = app(include_top=False, weights='imagenet', input_shape=(size, size, 3), pooling='avg')
        assert asked == [spec.sources['imagenet'].files[0]], (asked, spec.sources['imagenet'].files)   # the registry's name is Keras' own
        if source == 'simclr-imagenet': m.load_weights(path)
        return m
    return app(include_top=False, weights=str(path), input_shape=(size, size, 3), pooling='avg')

def imagenet_file(path, source, spec)->Path:
    "The ImageNet file beside `path` (the hybrid SimCLR starts from it)"
    return Path(path) if source == 'imagenet' else Path(path).parent / spec.sources['imagenet'].files[0]

def reference_mode(name:str, source:str, mode, path)->str:
    "The preprocessing the reference applies: the mode asked for, else the sidecar's, else the source's documented default"
    spec = BACKBONES[name]
    if mode: return mode
    side = sidecar_path(path)
    if side.is_file(): return json.loads(side.read_text())['preprocessing']
    if source == 'radimagenet': return 'caffe_255'
    return 'imagenet' if spec.build is None else spec.imagenet_mode

def max_rel_diff(a, b)->float:
    "max |a - b| over every feature of every image, relative to the largest reference feature"
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.isfinite(b).all() and np.abs(b).max() > 0
    return float(np.abs(a - b).max() / np.abs(b).max())

def compare(name:str, source:str, mode, files:dict)->dict:
    "radtl's frozen feature extractor against the reference, on raw grey (tiled to RGB) and colour images"
    spec, size, path = BACKBONES[name], image_size(name), files[source]
    t0 = time.perf_counter()
    weights = str(path) if source == 'file' else source
    ref = reference_network(name, source, path, size)
    module = getattr(keras.applications, spec.builder.__module__.rsplit('.', 1)[1], None) if spec.build is None else None
    rmode = reference_mode(name, source, mode, path)
    out = dict(backbone=name, source=source, preprocessing=rmode if rmode != 'imagenet' else f'{module.__name__.rsplit(".", 1)[1]}.preprocess_input',
               size=size, features=int(ref.output.shape[-1]))
    diffs = []
    for channels in (1, 3):
        x = raw_images(size, channels, seed=channels)
        model = build_classifier(name, 2, weights=weights, image_size=size, channels=channels, preprocessing=mode, search_dirs=[str(Path(path).parent)])
        extractor, _ = split_at_features(model)
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message='The structure of `inputs`')   # a plain array for the one named input
            ours = keras.ops.convert_to_numpy(extractor(x, training=False))   # called, not predict: no graph to trace for four images
        theirs = keras.ops.convert_to_numpy(ref(preprocess(rmode, np.repeat(x, 3, -1) if channels == 1 else x, module), training=False))
        diffs.append(max_rel_diff(ours, theirs))
    out.update(max_rel_diff_grey=diffs[0], max_rel_diff_rgb=diffs[1], max_rel_diff=max(diffs), seconds=round(time.perf_counter() - t0, 1))
    keras.backend.clear_session()
    return out
