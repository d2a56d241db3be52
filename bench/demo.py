"""Time `radtl demo` end to end, as a newcomer runs it, and record what it showed.

It runs `radtl demo --out DIR --quiet` in a subprocess (a fresh folder: the synthetic set is drawn, audited, cached and
every run trained from nothing), measures its wall time, and reads the demo's results: each run's condition, design and
test accuracy, and the audit scored against the planted copies. With --json it writes bench/demo.json, which the
README quotes (the demo's minutes). Beside the wall time it records the demo's CPU time (user + system, all its
threads) and the machine's load average at the start and the end: on a shared machine the wall time is longer than on
a quiet one, while the CPU time is what the demo itself needs (on a quiet 2-core machine its wall time lies between half
its CPU time, both cores busy, and all of it).

Usage: python bench/demo.py [--out DIR] [--json]
"""
import argparse, json, os, platform, resource, subprocess, sys, tempfile, time
from pathlib import Path
import pandas as pd

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', help='demo folder (default: a fresh temporary one)')
    ap.add_argument('--json', action='store_true', help='write bench/demo.json')
    a = ap.parse_args()
    out = Path(a.out or tempfile.mkdtemp(prefix='radtl-demo-bench-')) / 'radtl-demo'
    load0, t0 = os.getloadavg(), time.perf_counter()
    p = subprocess.run([sys.executable, '-c', 'import sys; from radtl.cli import main; sys.exit(main())', 'demo', '--out', str(out), '--quiet'],
                       capture_output=True, text=True, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3'})
    seconds, load1 = time.perf_counter() - t0, os.getloadavg()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode: sys.exit(f'radtl demo failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}')
    r = pd.read_csv(out / 'study' / 'results.csv')
    runs = [dict(condition=x.condition, design=f'{x.backbone} · {x.weights} · {x.recipe}', accuracy=round(float(x.accuracy), 3)) for x in r.itertuples()]
    planted = pd.read_csv(out / 'study' / 'planted_vs_found.csv').fillna('').to_dict('records')
    res = dict(seconds=round(seconds, 1), cpu_seconds=round(ru.ru_utime + ru.ru_stime, 1), cores=os.cpu_count(), load_average_start=[round(v, 2) for v in load0],
               load_average_end=[round(v, 2) for v in load1], machine=platform.processor() or platform.machine(), python=platform.python_version(),
               command='radtl demo --out DIR --quiet', runs=runs, planted_vs_found=planted)
    print(json.dumps(res, indent=1))
    if a.json: (Path(__file__).parent / 'demo.json').write_text(json.dumps(res, indent=1) + '\n')

if __name__ == '__main__': main()
