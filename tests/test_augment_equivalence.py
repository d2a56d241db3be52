"""`radtl.augment.IDGAugment` against tf-keras' `ImageDataGenerator`, the Keras-2 original.

Both get the SAME transform parameters (drawn once, fed to `IDGAugment.apply_params` and to
`ImageDataGenerator.apply_transform`), on smooth synthetic images (sines plus a Gaussian blob, values 20..235).

Tolerances (pixel values are 0..255):
- geometric transforms and channel shift: max |diff| <= GEOM_TOL over EVERY pixel, borders included, for all four
  fill modes. The layer reproduces scipy's `constant` (no blending with cval across the edge) and scipy's legacy
  `wrap` (period n-1), so no border band needs excluding; what remains is float32-vs-float64 rounding (~1e-4).
- brightness: `ImageDataGenerator` truncates to uint8 before and after PIL's multiply. Alone (no resample) the
  outputs are identical. After a resample, a value within float rounding of an integer can truncate to either side,
  so up to BRIGHT_FRAC of pixels may differ by exactly 1 (<= 1 + GEOM_TOL); all others agree within GEOM_TOL.
"""
import numpy as np, pytest
pytest.importorskip('tf_keras', reason='tf-keras (Keras 2) provides the reference ImageDataGenerator')
import keras
from keras import ops
from scipy import stats
from tf_keras.preprocessing.image import ImageDataGenerator
from radtl.augment import IDGAugment

GEOM_TOL, BRIGHT_FRAC = 0.01, 0.01
pytestmark = pytest.mark.filterwarnings('ignore::DeprecationWarning')  # tf-keras calls scipy.ndimage.interpolation
MODES = ['nearest', 'constant', 'reflect', 'wrap']

def smooth(h, w, c, seed=0):
    "Sum of low-frequency sines and a Gaussian blob per channel, scaled to 20..235"
    r = np.random.RandomState(seed); y, x = np.mgrid[0:h, 0:w].astype('float64')
    out = np.zeros((h, w, c))
    for k in range(c):
        for _ in range(4):
            fy, fx, ph = r.uniform(0.5, 2.5), r.uniform(0.5, 2.5), r.uniform(0, 6.3)
            out[..., k] += np.sin(2*np.pi*(fy*y/h + fx*x/w) + ph)
        cy, cx = r.uniform(0.3, 0.7)*h, r.uniform(0.3, 0.7)*w
        out[..., k] += 2*np.exp(-((y-cy)**2 + (x-cx)**2)/(2*(0.15*h)**2))
    out = (out - out.min())/(out.max() - out.min())
    return (20 + 215*out).astype('float32')

NEUTRAL = dict(theta=0., tx=0., ty=0., shear=0., zx=1., zy=1., flip_h=0., flip_v=0., channel_shift=0., brightness=1.)
CASES = {  # name: (layer switches, fixed parameters)
    'rotation': (dict(rotation_range=30), dict(theta=17.3)),
    'shift_rows': (dict(height_shift_range=0.2), dict(tx=5.3)),
    'shift_cols': (dict(width_shift_range=0.2), dict(ty=-7.6)),
    'shear': (dict(shear_range=20), dict(shear=12.5)),
    'zoom': (dict(zoom_range=0.2), dict(zx=0.85, zy=1.12)),
    'flip_h': (dict(horizontal_flip=True), dict(flip_h=1.)),
    'flip_v': (dict(vertical_flip=True), dict(flip_v=1.)),
    'channel_shift': (dict(channel_shift_range=40.), dict(channel_shift=31.7)),
    'brightness': (dict(brightness_range=(0.5, 1.5)), dict(brightness=1.23)),
    'combined': (dict(rotation_range=30, height_shift_range=0.2, width_shift_range=0.2, shear_range=20, zoom_range=0.2,
                      horizontal_flip=True, vertical_flip=True, channel_shift_range=40., brightness_range=(0.5, 1.5)),
                 dict(theta=-11.2, tx=3.3, ty=-4.1, shear=8.4, zx=1.08, zy=0.9, flip_h=1., flip_v=1.,
                      channel_shift=-12.5, brightness=0.87)),
}

def idg_params(p, i, switches):
    "The `transform_parameters` dict `ImageDataGenerator.apply_transform` takes, for image `i` of a layer draw"
    v = {k: float(np.asarray(p[k])[i]) for k in p}
    if not switches.get('channel_shift_range'): v['channel_shift'] = None  # IDG skips these when None
    if switches.get('brightness_range') is None: v['brightness'] = None
    return dict(theta=v['theta'], tx=v['tx'], ty=v['ty'], shear=v['shear'], zx=v['zx'], zy=v['zy'],
                flip_horizontal=bool(v['flip_h']), flip_vertical=bool(v['flip_v']),
                channel_shift_intensity=v['channel_shift'], brightness=v['brightness'])

def compare(switches, params, x, mode):
    "Max |diff| and fraction of pixels differing by > GEOM_TOL, layer vs ImageDataGenerator, on images `x`"
    layer = IDGAugment(**switches, fill_mode=mode, cval=7.)
    p = {k: np.asarray(v, 'float32') for k, v in params.items()}
    out = ops.convert_to_numpy(layer.apply_params(x, p))
    idg = ImageDataGenerator(**switches, fill_mode=mode, cval=7.)
    ref = np.stack([idg.apply_transform(xi, idg_params(p, i, switches)) for i, xi in enumerate(x)])
    d = np.abs(out - ref)
    return d.max(), (d > GEOM_TOL).mean()

@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('case', list(CASES))
@pytest.mark.parametrize('channels', [1, 3])
def test_fixed_parameters(case, mode, channels):
    switches, fixed = CASES[case]
    x = np.stack([smooth(64, 64, channels, s) for s in range(2)])
    params = {k: [fixed.get(k, d)]*2 for k, d in NEUTRAL.items()}
    dmax, frac = compare(switches, params, x, mode)
    if 'brightness_range' in switches and case != 'brightness':
        assert dmax <= 1 + GEOM_TOL and frac <= BRIGHT_FRAC, (dmax, frac)
    else: assert dmax <= GEOM_TOL, dmax

@pytest.mark.parametrize('mode', MODES)
def test_random_draws_non_square(mode):
    "Eight random draws of the combined recipe (layer's own sampler) on a non-square RGB batch, brightness off"
    switches = {k: v for k, v in CASES['combined'][0].items() if k != 'brightness_range'}
    x = np.stack([smooth(48, 64, 3, s) for s in range(8)])
    params = IDGAugment(**switches, seed=5).sample_params(8, image_shape=(48, 64))
    dmax, _ = compare(switches, {k: ops.convert_to_numpy(v) for k, v in params.items()}, x, mode)
    assert dmax <= GEOM_TOL, dmax

def test_uint8_input_matches_float():
    x = smooth(32, 32, 3).round().astype('uint8')[None]
    layer, p = IDGAugment(rotation_range=20, seed=0), {k: np.array([v], 'float32') for k, v in NEUTRAL.items()}
    p['theta'][:] = 9.
    np.testing.assert_array_equal(ops.convert_to_numpy(layer.apply_params(x, p)),
                                  ops.convert_to_numpy(layer.apply_params(x.astype('float32'), p)))

# --- distributions: `sample_params` against `get_random_transform` -----------------------------------------------
N = 2000
DIST_CFGS = {
    'fractions': dict(rotation_range=15, width_shift_range=0.1, height_shift_range=0.2, shear_range=10, zoom_range=0.1,
                      horizontal_flip=True, vertical_flip=True, brightness_range=(0.8, 1.2), channel_shift_range=20.),
    'pixels_and_choices': dict(width_shift_range=[2, 5, 9], height_shift_range=4, zoom_range=[0.7, 1.05]),
    'float_pixels': dict(width_shift_range=3.0, height_shift_range=[0.1, 0.3]),
}

def draws(cfg, shape=(48, 64)):
    "N draws from tf-keras' `get_random_transform` and from the layer, as dicts of arrays in the layer's keys"
    idg = ImageDataGenerator(**cfg); np.random.seed(0)
    ref = [idg.get_random_transform(shape + (3,)) for _ in range(N)]
    names = dict(flip_h='flip_horizontal', flip_v='flip_vertical', channel_shift='channel_shift_intensity')
    ref = {k: np.array([r[names.get(k, k)] if r[names.get(k, k)] is not None else NEUTRAL[k] for r in ref], 'float32')
           for k in NEUTRAL}
    ours = IDGAugment(**cfg, seed=1).sample_params(N, image_shape=shape)
    return ref, {k: ops.convert_to_numpy(v).astype('float32') for k, v in ours.items()}

@pytest.mark.parametrize('cfg', list(DIST_CFGS))
def test_sample_distributions(cfg):
    ref, ours = draws(DIST_CFGS[cfg])
    for k in NEUTRAL:
        a, b = ref[k].round(3), ours[k].round(3)  # float32 vs float64 products (0.3*48) differ in the last bit
        if len(np.unique(a)) <= 20:  # discrete: same support, frequencies within 4 binomial SEs
            test_vals = np.unique(np.concatenate([a, b]))
            assert set(np.unique(b)) == set(np.unique(a)), (k, np.unique(a), np.unique(b))
            for v in test_vals:
                pa, pb = (a == v).mean(), (b == v).mean()
                assert abs(pa - pb) <= 4*np.sqrt(pa*(1-pa)*2/N) + 1e-9, (k, v, pa, pb)
        else:  # continuous: same range and a two-sample KS test
            assert stats.ks_2samp(a, b).pvalue > 1e-3, (k, stats.ks_2samp(a, b))
            span = a.max() - a.min()
            assert abs(a.min() - b.min()) < 0.02*span and abs(a.max() - b.max()) < 0.02*span, (k, a.min(), b.min(), a.max(), b.max())

def test_tf_data_pipeline():
    import tensorflow as tf
    if keras.backend.backend() != 'tensorflow': pytest.skip('tf.data maps run the layer on the TensorFlow backend')
    layer = IDGAugment(rotation_range=10, width_shift_range=0.1, zoom_range=0.1, seed=0)
    ds = tf.data.Dataset.from_tensor_slices(np.zeros((6, 16, 16, 1), 'uint8')).batch(3)
    ds = ds.map(lambda x: layer(x, training=True))
    shapes = [tuple(b.shape) for b in ds]
    assert shapes == [(3, 16, 16, 1)]*2 and all(b.dtype == tf.float32 for b in ds)
