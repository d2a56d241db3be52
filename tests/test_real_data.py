"The data foundation on the real Sartaj brain-MRI set (full resolution); skipped where ../shared/data is absent."
import pytest
from conftest import real_data
from radtl.data import scan, usable
from radtl.audit import audit
from radtl.splits import make_splits, leaking_groups

@pytest.fixture(scope='module')
def sartaj_audit(tmp_path_factory):
    cat = scan(real_data('brain-mri-sartaj'), progress=False, verbose=False)
    return cat, audit(cat, cache_dir=tmp_path_factory.mktemp('cache'), progress=False)

def test_scan_reads_every_image(sartaj_audit):
    cat, _ = sartaj_audit
    assert len(cat) == 3264 and cat.error.isna().all()
    assert usable(cat).groupby('split').size().to_dict() == {'test': 394, 'train': 2870}
    assert sorted(cat.label.unique()) == ['glioma', 'meningioma', 'notumor', 'pituitary']

def test_audit_reports_test_leakage_per_class(sartaj_audit):
    _, a = sartaj_audit
    s = a.summary
    assert s['test_leaks'] >= 200                                  # most of Testing has a copy in Training
    assert set(s['test_leaks_by_class']) == {'glioma', 'meningioma', 'notumor', 'pituitary'}
    assert s['test_leaks_by_class']['notumor'] >= 90
    assert s['pairs_by_kind']['exact'] > 100 and s['within_split_duplicates']['train'] > 0
    assert len(a.leaked()) == s['test_leaks']

@pytest.mark.parametrize('policy', ['official', 'group'])
def test_clean_split_leaves_no_test_image_with_a_copy_in_train(sartaj_audit, policy):
    _, a = sartaj_audit
    sp = make_splits(a.images, policy, seed=0)
    assert leaking_groups(sp) == 0
    test_groups = set(sp[sp.subset == 'test'].group)
    assert not test_groups & set(sp[sp.subset.isin(['train', 'val'])].group)
    assert (sp.subset == 'test').sum() > 50

def test_naive_official_split_leaks(sartaj_audit):
    _, a = sartaj_audit
    assert leaking_groups(make_splits(a.images, 'official', clean_test=False)) > 100
