"The decode-once cache serves the labels of today's catalog: a relabel on a warm cache yields the new labels"
import shutil
import numpy as np, pytest
from radtl.synthetic import synthetic_brain_mri
from radtl.data import scan, usable
from radtl.cache import build_cache, load_cache

@pytest.fixture(scope='module')
def root(tmp_path_factory):
    return synthetic_brain_mri(tmp_path_factory.mktemp('syn') / 'syn', n_train=40, n_test=12, size=48, seed=5)

def _labels(c): return list(np.array(c.classes)[c.labels])

def test_alias_relabel_on_a_warm_cache(root, tmp_path):
    "An --alias renames a class: the warm cache's pixels are reused, its labels are the new ones"
    cache = tmp_path / 'cache'
    before = build_cache(usable(scan(root, progress=False, verbose=False)), size=32, cache_dir=cache, progress=False)
    cat = usable(scan(root, aliases={'no_tumor': 'healthy'}, progress=False, verbose=False))
    after = build_cache(cat, size=32, cache_dir=cache, progress=False)
    assert 'healthy' in after.classes and 'notumor' not in after.classes and after.key != before.key
    assert _labels(after) == list(cat.label)
    assert after.meta['pixels'] == before.meta['pixels'] and len(list(cache.glob('*.npy'))) == 1   # not decoded again
    np.testing.assert_array_equal(after.images, before.images)
    assert _labels(load_cache(before.key, cache)) == _labels(before)   # the old labelling is still what its key says

def test_renamed_class_folder_on_a_warm_cache(root, tmp_path):
    "Moving images into another class folder (a fixed label) changes the labels served, the class order follows the names"
    data = tmp_path / 'data'; shutil.copytree(root, data)
    cache = tmp_path / 'cache'
    first = build_cache(usable(scan(data, progress=False, verbose=False)), size=32, cache_dir=cache, progress=False)
    for d in data.glob('*/glioma_tumor'): d.rename(d.with_name('a_glioma'))   # renamed folders: a new class name, first in order
    moved = sorted(data.glob('Training/meningioma_tumor/*'))[0]; moved.rename(data / 'Training' / 'pituitary_tumor' / moved.name)
    cat = usable(scan(data, progress=False, verbose=False))
    c = build_cache(cat, size=32, cache_dir=cache, progress=False)
    assert c.classes[0] == 'a_glioma' and _labels(c) == list(cat.label) and c.key != first.key
    assert dict(zip(map(str, c.paths), _labels(c)))[str(data / 'Training' / 'pituitary_tumor' / moved.name)] == 'pituitary'
