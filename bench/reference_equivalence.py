"""radtl's frozen feature extractor against the network Keras builds from the same weights file, for every registered
backbone × weight source (the cases of tests/test_reference_equivalence.py, all of them), written as a CSV.

Each row: the largest |radtl - reference| over every pooled feature of four raw uint8 images (grey, tiled to RGB, and
colour), relative to the largest reference feature, and the seconds the case took (file writing excluded).
Usage: python bench/reference_equivalence.py [--backbones densenet121,convnext_tiny] [--out bench/reference_equivalence.csv] [--update]
(--update: replace only the named backbones' rows of an existing --out file)
"""
import argparse, os, platform, sys, tempfile, time
from pathlib import Path

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--backbones', default='', help='comma-separated registry names (default: every registered backbone)')
    p.add_argument('--out', default=str(Path(__file__).with_name('reference_equivalence.csv')))
    p.add_argument('--update', action='store_true', help="replace the named backbones' rows of an existing --out file, keep the rest")
    a = p.parse_args(argv)
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'tests'))
    import pandas as pd, keras
    import reference as R
    names = [n for n in a.backbones.split(',') if n] or None
    rows, work = [], Path(tempfile.mkdtemp(prefix='radtl-bench-reference-'))
    for name in names or list(R.BACKBONES):
        t0 = time.perf_counter(); files = R.write_files(name, work / name); t_files = time.perf_counter() - t0
        for _, source, mode in R.cases([name]):
            r = R.compare(name, source, mode, files); r['files_seconds'] = round(t_files, 1)
            rows.append(r); print(f"{name:18s} {source:16s} {r['preprocessing']:28s} {r['max_rel_diff']:.2e}  {r['seconds']:6.1f} s", flush=True)
        df = _write(pd.DataFrame(rows), Path(a.out), a.update, keras, platform)   # after every backbone: a long run keeps what it measured
    print(f'{len(df)} cases in {a.out}, max {df.max_rel_diff.max():.2e}')

def _write(df, out:Path, update:bool, keras, platform):
    "Write `df` to `out`; with `update`, keep the rows of other backbones already there"
    import pandas as pd
    if update and out.is_file():
        old = pd.read_csv(out, comment='#')
        order = list(dict.fromkeys([*old.backbone, *df.backbone]))
        df = pd.concat([old[~old.backbone.isin(df.backbone)], df]).set_index('backbone').loc[order].reset_index()
    meta = f'# keras {keras.__version__}, backend {keras.backend.backend()}, python {platform.python_version()}, {platform.machine()}\n'
    out.write_text(meta + df.to_csv(index=False))
    return df

if __name__ == '__main__': main()
