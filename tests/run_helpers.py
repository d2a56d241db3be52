"Helpers the tests share: the CLI in a subprocess or in this process, the synthetic set, and run folders compared"
import contextlib, io, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd
from radtl.synthetic import synthetic_brain_mri

CLI = 'import sys; from radtl.cli import main; sys.exit(main())'

def radtl_subprocess(*args, timeout:int=300, **kw) -> subprocess.CompletedProcess:
    "`radtl *args` in a fresh Python process (what a user's shell runs), its output captured as text"
    return subprocess.run([sys.executable, '-c', CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout, **kw)

def radtl_in_process(*args) -> tuple:
    "`radtl *args` in this process: (exit code, stdout, stderr)"
    from radtl.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try: rc = main([str(a) for a in args])
        except SystemExit as e: rc = e.code                    # argparse's own exits (--help, a refused argument)
    return rc, out.getvalue(), err.getvalue()

ARTIFACTS = ['config.yaml', 'history.csv', 'metrics.json', 'model.keras', 'predictions_test.csv', 'predictions_val.csv']

def synthetic_set(tmp_path_factory) -> Path:
    "The synthetic brain-MRI set of the run tests: 160 training and 60 test images at 48 px"
    return synthetic_brain_mri(tmp_path_factory.mktemp('syn'), n_train=160, n_test=60, size=48, seed=11)

def history(d): return pd.read_csv(Path(d) / 'history.csv')

def same_history(a, b):
    cols = ['epoch', 'phase', 'loss', 'accuracy', 'val_loss', 'val_accuracy']
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), b[cols].reset_index(drop=True), rtol=1e-5, atol=1e-6)

def same_predictions(a, b):
    for s in ('val', 'test'):
        pa, pb = pd.read_csv(Path(a) / f'predictions_{s}.csv'), pd.read_csv(Path(b) / f'predictions_{s}.csv')
        assert list(pa.path) == list(pb.path)
        np.testing.assert_allclose(pa.filter(like='p_').to_numpy(), pb.filter(like='p_').to_numpy(), atol=1e-5)
