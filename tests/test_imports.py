"What `import radtl` and `radtl scan` load: neither MLflow nor submitit (nor radtl's modules that use them) unless a run is tracked or a study launched."
import subprocess, sys, json
from radtl.synthetic import synthetic_brain_mri

OPTIONAL = ('mlflow', 'submitit', 'kaggle', 'radtl.track', 'radtl.launch')
PROBE = ("import sys, json\n{body}\n"
         "print(json.dumps(sorted(m for m in sys.modules if any(m == o or m.startswith(o + '.') for o in {opt!r}))))")

def loaded(body:str) -> list:
    r = subprocess.run([sys.executable, '-c', PROBE.format(body=body, opt=OPTIONAL)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])

def test_import_radtl_loads_no_tracking_or_launcher():
    assert loaded('import radtl') == []

def test_radtl_scan_loads_no_tracking_or_launcher(tmp_path):
    root = synthetic_brain_mri(tmp_path / 'syn', n_train=8, n_test=4, size=16, seed=0)
    assert loaded(f'from radtl.cli import main\nassert main(["scan", {str(root)!r}]) == 0') == []

def test_the_probe_sees_a_tracking_import():
    "The probe can fail: importing radtl.track shows up (MLflow itself only loads when a tracker connects)"
    assert loaded('import radtl.track') == ['radtl.track']
