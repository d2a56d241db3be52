"Every registered backbone builds at its minimum size, and the registry's facts match the real build"
import keras, pytest
from radtl.backbones import BACKBONES, build_backbone, get_backbone, list_backbones, weights_report

@pytest.mark.parametrize('name', list(BACKBONES))
def test_backbone_builds(name):
    "`weights=None` build at the minimum size; Grad-CAM layer exists and has a 4-D output; layer count matches"
    spec = get_backbone(name)
    base, info = build_backbone(name, None, (spec.min_size, spec.min_size, 3), search_dirs=[])
    assert info.source == 'random' and info.file is None
    out = (base.get_layer(spec.gradcam_layer) if spec.gradcam_layer else base.layers[-1]).output
    assert len(out.shape) == 4, (name, out.shape)
    assert sum(1 for l in base.layers if l.weights) == spec.n_weighted
    if spec.signature: assert spec.signature in [l.name for l in base.layers]
    assert base.output.shape[-1] > 0
    keras.backend.clear_session()

def test_registry_table():
    df = list_backbones()
    assert {'densenet121', 'efficientnetv2s', 'convnext_tiny', 'resnet50', 'mobilenetv3large', 'efficientnetb7'} <= set(df.index)
    assert df.loc['efficientnetv2s', 'builtin_preprocessing'] and not df.loc['densenet121', 'builtin_preprocessing']
    assert df.loc['inceptionv3', 'min_size'] == 75 and df.loc['xception', 'native_size'] == 299

def test_weights_report_missing(tmp_path):
    rep = weights_report([str(tmp_path)])
    assert (rep.found == 'missing').all() and set(rep.source) == {'imagenet', 'radimagenet', 'simclr', 'simclr-imagenet'}
