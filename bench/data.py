"""Benchmark radtl's data path on a real brain-MRI set at 224 px.

Measures scan + audit time (cold hash cache), cache build time (cold), the process's peak RSS,
and batch throughput from the cache against `keras.utils.image_dataset_from_directory` on the same
files. With --reference (and --reference-patients), first the linking step: scan + audit + link of ROOT
to the reference set (its patients inherited), cold caches; --link-only stops there.
Usage: python bench/data.py [ROOT] [--size 224] [--json] [--reference DIR ... --reference-patients CSV [--link-only]]
"""
import argparse, json, os, resource, sys, tempfile, time
from pathlib import Path

def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def images_per_s(batches, n_batches=None) -> float:
    n, t = 0, time.perf_counter()
    for i, b in enumerate(batches):
        n += len(b[0])
        if n_batches and i + 1 >= n_batches: break
    return n / (time.perf_counter() - t)

def keras_dataset_images_per_s(root, size, batch_size, n_batches=40) -> float:
    "Throughput of image_dataset_from_directory, in a subprocess so its buffers don't count in our RSS"
    import subprocess
    code = (f"import keras, time\nds = keras.utils.image_dataset_from_directory({str(root)!r}, image_size=({size},{size}), "
            f"batch_size={batch_size}, shuffle=True, seed=0, verbose=False)\nn, t = 0, time.perf_counter()\n"
            f"for i, (x, y) in enumerate(ds):\n    n += len(x)\n    if i + 1 >= {n_batches}: break\n"
            f"print(n / (time.perf_counter() - t))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True,
                       env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3'})
    return float(r.stdout.strip().splitlines()[-1])

def main(argv=None):
    default = Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'brain-mri-sartaj'
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('root', nargs='?', default=str(default))
    p.add_argument('--size', type=int, default=224)
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--json', action='store_true', help='print one JSON object')
    p.add_argument('--reference', nargs='+', help='reference folder(s) carrying patients: time the linking step first')
    p.add_argument('--reference-patients', help='patient table of the reference images')
    p.add_argument('--link-only', action='store_true', help='only the linking step')
    a = p.parse_args(argv)
    if not Path(a.root).is_dir(): sys.exit(f'bench/data.py: no data at {a.root}')
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    from radtl.data import scan, usable
    from radtl.audit import audit
    from radtl.cache import build_cache
    link = linking_step(a.root, a.reference, a.reference_patients) if a.reference else {}
    if a.link_only: return report(link, a.json)
    cache_dir = tempfile.mkdtemp(prefix='radtl-bench-')
    t0 = time.perf_counter()
    cat = scan(a.root, progress=False, verbose=False)
    au = audit(cat, cache_dir=cache_dir, progress=False)
    t1 = time.perf_counter()
    cache = build_cache(usable(cat), size=a.size, cache_dir=cache_dir, progress=False)
    t2 = time.perf_counter()
    data_rss = peak_rss_mb()
    from radtl.batches import CacheBatches   # imports Keras and its backend
    ours = images_per_s(CacheBatches(cache, batch_size=a.batch_size, shuffle=True, seed=0))
    theirs = keras_dataset_images_per_s(a.root, a.size, a.batch_size)
    res = dict(scan_audit_s=round(t1 - t0, 2), cache_build_s=round(t2 - t1, 2), peak_rss_mb=round(peak_rss_mb(), 1), data_path_peak_rss_mb=round(data_rss, 1),
               cache_images_per_s=round(ours, 1), keras_dataset_images_per_s=round(theirs, 1),
               n_images=len(cat), test_leaks=au.summary['test_leaks'], cache_shape=list(cache.images.shape),
               speedup=round(ours / theirs, 1), **link)
    report(res, a.json)

def linking_step(root, reference, reference_patients)->dict:
    "Seconds to scan `root`, load the reference, and audit + link (fresh cache folder), and what it found"
    from radtl.data import scan
    from radtl.audit import audit, load_reference
    cache_dir = tempfile.mkdtemp(prefix='radtl-bench-link-')
    t0 = time.perf_counter(); cat = scan(root, progress=False, verbose=False)
    t1 = time.perf_counter(); ref = load_reference(reference, reference_patients)
    t2 = time.perf_counter(); au = audit(cat, cache_dir=cache_dir, progress=False, reference=ref)
    t3 = time.perf_counter(); s = au.summary
    return dict(scan_audit_link_s=round(t3 - t0, 2), link_scan_s=round(t1 - t0, 2), link_reference_s=round(t2 - t1, 2), link_audit_s=round(t3 - t2, 2),
                link_n_images=len(cat), link_n_reference=len(ref), linked=s['link']['linked'], patient_test_leaks=s['patient_test_leaks'],
                link_peak_rss_mb=round(peak_rss_mb(), 1), cpus=os.cpu_count(), load_avg_1min=round(os.getloadavg()[0], 2))

def report(res:dict, as_json:bool):
    if as_json: print(json.dumps(res))
    else:
        for k, v in res.items(): print(f'{k:28s} {v}')

if __name__ == '__main__':
    main()
