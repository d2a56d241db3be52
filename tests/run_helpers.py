"Helpers the training-run tests share: the CLI in a subprocess, the synthetic set, and run folders compared"
from pathlib import Path
import numpy as np, pandas as pd
from radtl.synthetic import synthetic_brain_mri

CLI = 'import sys; from radtl.cli import main; sys.exit(main())'
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
