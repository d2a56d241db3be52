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

# Patients by content: the Kaggle sets linked to the figshare set (Cheng et al.), whose patient IDs are public.
# Nickparvar at $RADTL_NICKPARVAR (default ../data/nickparvar), the figshare JPEGs at $RADTL_FIGSHARE (../data/figshare),
# the patient table at ../shared/data/figshare-pid.csv; see ../shared/data/README.md.
from conftest import real_data_at, WORK_DATA
from radtl.audit import load_reference
from radtl.splits import patient_leaks, leaking_patients

@pytest.fixture(scope='module')
def figshare(tmp_path_factory):
    fs = real_data_at('RADTL_FIGSHARE', WORK_DATA / 'figshare')
    return load_reference([fs / c for c in '012'], real_data('.') / 'figshare-pid.csv')

@pytest.fixture(scope='module')
def nickparvar_linked(figshare, tmp_path_factory):
    cat = scan(real_data_at('RADTL_NICKPARVAR', WORK_DATA / 'nickparvar'), progress=False, verbose=False)
    return audit(cat, cache_dir=tmp_path_factory.mktemp('cache'), progress=False, reference=figshare)

def test_figshare_reference_has_its_patients(figshare):
    assert len(figshare) == 3064 and figshare.patient.nunique() == 233
    assert figshare.label.value_counts().to_dict() == {'glioma': 1426, 'pituitary': 930, 'meningioma': 708}

def test_nickparvar_links_to_figshare_and_every_test_patient_leaks(nickparvar_linked):
    s = nickparvar_linked.summary
    assert s['link']['linked_by_class'] == {'glioma': [1621, 1621], 'meningioma': [1387, 1645], 'notumor': [0, 2000], 'pituitary': [1742, 1757]}
    assert s['link']['ambiguous'] == 0 and s['link']['linked_patients'] == 233
    assert (s['patient_test_leaks'], s['patient_test_leak_patients'], s['test_patients']) == (788, 210, 210)
    assert s['patient_test_leaks'] > s['test_leaks_by_class']['glioma'] + s['test_leaks_by_class']['meningioma'] + s['test_leaks_by_class']['pituitary']
    assert nickparvar_linked.images.link_corr.dropna().min() > 0.999

@pytest.mark.parametrize('seed', [0, 1])
def test_nickparvar_group_split_has_zero_patient_leakage(nickparvar_linked, seed):
    im = nickparvar_linked.images
    aware, blind = make_splits(im, 'group', seed=seed), make_splits(im.assign(group=im.dup_group), 'group', seed=seed)
    assert patient_leaks(aware) == 0 and leaking_patients(aware) == 0 and leaking_groups(aware) == 0
    assert patient_leaks(blind) > 600                                # duplicates alone leave most tumour test patients in training

def test_sartaj_links_to_figshare(figshare, tmp_path):
    a = audit(scan(real_data('brain-mri-sartaj'), progress=False, verbose=False), cache_dir=tmp_path, progress=False, reference=figshare)
    s = a.summary
    assert s['link']['linked'] > 2000 and s['link']['linked_by_class']['notumor'][0] == 0 and s['link']['ambiguous'] == 0
    assert s['patient_test_leaks'] == s['n_test_with_patient'] > 0
    sp = make_splits(a.images, 'group', seed=0)
    assert patient_leaks(sp) == 0 and leaking_patients(sp) == 0
