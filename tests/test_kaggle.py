"Kaggle kernels: each study notebook's kernel-metadata.json parses, names a notebook that exists, has the documented fields, and passes `kaggle kernels push`'s own validation (network client replaced by a fake)."
import contextlib, json, re
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
KERNELS = sorted((ROOT / 'nbs' / 'studies' / 'kaggle').glob('*/kernel-metadata.json'))
MRI_SETS = {'sartajbhuvaji/brain-tumor-classification-mri', 'masoudnickparvar/brain-tumor-mri-dataset'}

def test_every_study_notebook_has_a_kernel():
    named = {(m.parent / json.loads(m.read_text())['code_file']).resolve() for m in KERNELS}
    assert named == {p.resolve() for p in (ROOT / 'nbs' / 'studies').glob('*.ipynb')}

@pytest.mark.parametrize('meta', KERNELS, ids=lambda p: p.parent.name)
def test_metadata_has_the_documented_fields(meta):
    m = json.loads(meta.read_text())
    nb = meta.parent / m['code_file']
    assert nb.is_file() and nb.suffix == '.ipynb' and json.loads(nb.read_text())['cells']   # relative to the metadata's folder
    owner, slug = m['id'].split('/')
    assert owner and re.fullmatch(r'[a-z0-9]+(-[a-z0-9]+)*', slug)
    assert len(m['title']) >= 5 and slug == re.sub(r'[^a-z0-9]+', '-', m['title'].lower()).strip('-')   # slug = title, lowercased, dashes
    assert (m['language'], m['kernel_type']) == ('python', 'notebook')
    for k in ('is_private', 'enable_gpu', 'enable_internet'): assert isinstance(m[k], bool), k
    assert m['enable_gpu'] is True
    assert all(re.fullmatch(r'[\w.-]+/[\w.-]+', s) for s in m['dataset_sources'])
    assert MRI_SETS <= set(m['dataset_sources']) and any('radimagenet' in s for s in m['dataset_sources'])

@pytest.mark.parametrize('meta', KERNELS, ids=lambda p: p.parent.name)
def test_kaggle_kernels_push_accepts_it(meta, tmp_path, monkeypatch):
    "The kaggle client's `kernels_push` validates the metadata before any network call; its client is a fake here"
    monkeypatch.setenv('KAGGLE_CONFIG_DIR', str(tmp_path))   # no credentials: nothing can reach Kaggle
    pytest.importorskip('kaggle')
    from kaggle.api.kaggle_api_extended import KaggleApi
    sent = []
    class Fake:
        class kernels:
            class kernels_api_client:
                @staticmethod
                def save_kernel(request): sent.append(request); return 'saved'
    api = KaggleApi()
    monkeypatch.setattr(api, 'build_kaggle_client', lambda: contextlib.nullcontext(Fake()))
    assert api.kernels_push(str(meta.parent)) == 'saved'
    m, [r] = json.loads(meta.read_text()), sent
    assert (r.slug, r.new_title, r.kernel_type, r.language) == (m['id'], m['title'], 'notebook', 'python')
    assert list(r.dataset_data_sources) == m['dataset_sources'] and r.enable_gpu and r.enable_internet == m['enable_internet']
    assert json.loads(r.text)['cells']   # the notebook itself, outputs cleared

def test_push_refuses_what_kaggle_refuses(tmp_path, monkeypatch):
    "The same validation fails on a title under 5 characters and on a missing notebook: the test above can fail"
    monkeypatch.setenv('KAGGLE_CONFIG_DIR', str(tmp_path))
    pytest.importorskip('kaggle')
    from kaggle.api.kaggle_api_extended import KaggleApi
    m = json.loads(KERNELS[0].read_text())
    (tmp_path / 'k').mkdir()
    (tmp_path / 'k' / 'kernel-metadata.json').write_text(json.dumps(dict(m, title='abc')))
    with pytest.raises(ValueError, match='at least five'): KaggleApi().kernels_push(str(tmp_path / 'k'))
    (tmp_path / 'k' / 'kernel-metadata.json').write_text(json.dumps(m))   # its code_file is not there, relative to this folder
    with pytest.raises(ValueError, match='Source file not found'): KaggleApi().kernels_push(str(tmp_path / 'k'))
