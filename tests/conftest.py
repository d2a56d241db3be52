import os
from pathlib import Path
import pytest

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
REAL_DATA = Path(__file__).resolve().parents[2] / 'shared' / 'data'

@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    "Every test gets its own radtl cache folder"
    monkeypatch.setenv('RADTL_CACHE', str(tmp_path / 'radtl-cache'))

def real_data(name: str) -> Path:
    "Path of a real data set under ../shared/data, or skip the test saying why"
    p = Path(os.environ.get('RADTL_REAL_DATA', REAL_DATA)) / name
    if not p.is_dir(): pytest.skip(f'real data set {name} not found at {p} (set RADTL_REAL_DATA to its parent folder)')
    return p

def pytest_configure(config):
    "Register the `slow` (minutes on a CPU) and `gpu` (skips without a GPU) markers"
    config.addinivalue_line('markers', 'slow: trains models or builds every backbone; minutes on a CPU (deselect with -m "not slow")')
    config.addinivalue_line('markers', 'gpu: needs a GPU and skips without one (also marked slow; run with -m gpu)')

WORK_DATA = Path(__file__).resolve().parents[2] / 'data'

def real_data_at(var: str, default: Path) -> Path:
    "Path from environment variable `var` (default `default`), or skip the test saying why"
    p = Path(os.environ.get(var, default))
    if not p.exists(): pytest.skip(f'real data not found at {p} (set {var})')
    return p

# The longest test files first: pytest-xdist (--dist loadfile --no-loadscope-reorder, pyproject) hands files to workers in
# collection order, so a long file collected last would run alone at the end while the other worker idles.
LONGEST_FIRST = ('test_train.py', 'test_resume.py', 'test_study.py', 'test_reference_equivalence.py', 'test_pretrain.py',
                 'test_weights.py', 'test_two_phase_learns.py', 'test_cli.py', 'test_model.py', 'test_explain.py', 'test_patients.py')

def pytest_collection_modifyitems(config, items):
    "Order test files longest first (the tests within a file keep their order, and so their module fixtures)"
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
