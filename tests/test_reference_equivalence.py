"""radtl's frozen feature extractor equals the network Keras builds from the same weights file, for every registered
backbone and every weight source it has (ImageNet, RadImageNet in each documented mode, own SimCLR and the hybrid,
a user's file).

Each case: the file written in its source's real layout (tests/reference.py), radtl's classifier up to its pooled
features (`split_at_features`) fed raw uint8 images, grey (tiled to RGB inside the model) and colour, against
`keras.applications.X(include_top=False, pooling='avg', weights=...)` (smallcnn: its constructor + GAP) fed the
source's documented preprocessing. The study's backbones run by default; the rest are slow (`pytest -m slow`; the
measured table for all of them is bench/reference_equivalence.csv, written by bench/reference_equivalence.py)."""
import pytest
import reference as R

STUDY = ('densenet121', 'efficientnetv2s', 'convnext_tiny')
TOL = 1e-4

def _param(case):
    name, source, mode = case
    return pytest.param(name, source, mode, id=f'{name}-{source}' + (f'-{mode}' if mode else ''),
                        marks=() if name in STUDY else (pytest.mark.slow,))

@pytest.fixture(scope='module')
def weight_files(tmp_path_factory):
    "backbone -> {source: file}, written once per backbone"
    made, root = {}, tmp_path_factory.mktemp('weights')
    def files(name):
        if name not in made: made[name] = R.write_files(name, root / name)
        return made[name]
    return files

@pytest.mark.parametrize('name,source,mode', [_param(c) for c in R.cases()])
def test_features_equal_keras_reference(name, source, mode, weight_files):
    r = R.compare(name, source, mode, weight_files(name))
    assert r['max_rel_diff'] <= TOL, r

def test_every_source_is_covered():
    "Each registered source but random initialisation has a case, and RadImageNet each documented mode"
    covered = {(n, s) for n, s, _ in R.cases()}
    assert covered == {(n, s) for n, spec in R.BACKBONES.items() for s in (*spec.sources, 'file') if s != 'random'}
    assert {m for _, s, m in R.cases() if s == 'radimagenet'} == {'caffe_255', 'minus_one_to_one'}
