"""Time the README's test command (`nbdev-test && pytest`, without its `pip install`) and record where the time goes.

Runs `nbdev-test --timing` and then `pytest --durations=25` in subprocesses from the repository root, as `.ci/run` does,
and records each one's wall time, CPU time (user + system of all its processes), the machine's load average at the
start and the end, each notebook's seconds (nbdev-test's `--timing` lines), pytest's summary line and its slowest 25
test phases, and first a CPU probe (GFLOP/s of a fixed matrix product), so that runs on different days compare. With
--json it writes bench/testrun.json; `--markdown` prints bench/RESULTS.md's table from that file, running nothing. The CI
budget is 20 minutes for the whole `.ci/run` on 2 cores, install included; a quiet machine is needed for a meaningful
wall time (the load averages say whether it was). Where `../data` beside the repository holds the Nickparvar and figshare
copies, their real-data tests run too (elsewhere they skip).

Usage: python bench/testrun.py [--json]; python bench/testrun.py --markdown
"""
import argparse, json, os, platform, re, resource, subprocess, sys, time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

def timed(cmd:list)->dict:
    "Run `cmd` in the repository root: its output, exit code, wall and CPU seconds, load averages"
    before, load0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), os.getloadavg(), time.perf_counter()
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'})
    wall, after = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return dict(command=' '.join(cmd), returncode=p.returncode, seconds=round(wall, 1), cpu_seconds=round(cpu, 1),
                load_average_start=[round(v, 2) for v in load0], load_average_end=[round(v, 2) for v in os.getloadavg()],
                output=p.stdout + p.stderr)

def cpu_probe(n:int=768, repeats:int=20)->float:
    "GFLOP/s of a float32 matrix product in this process: the same work on every machine, to tell a slow day from a slow suite"
    import numpy as np
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    t0 = time.perf_counter()
    for _ in range(repeats): a @ a
    return round(2 * n ** 3 * repeats / (time.perf_counter() - t0) / 1e9, 1)

def notebook_seconds(log:str)->dict:
    "nbdev-test --timing's `NAME.ipynb: N secs` lines, slowest first"
    t = {m[1]: int(m[2]) for m in re.finditer(r'^(\S+\.ipynb): (\d+) secs$', log, re.M)}
    return dict(sorted(t.items(), key=lambda kv: -kv[1]))

def slowest_tests(log:str)->list:
    "pytest --durations' rows: seconds, phase, test"
    return [dict(seconds=float(m[1]), phase=m[2], test=m[3]) for m in re.finditer(r'^([\d.]+)s (call|setup|teardown)\s+(\S+)$', log, re.M)]

def summary_line(log:str)->str:
    "pytest's final `N passed, ... in S s` line"
    lines = [l.strip('= ') for l in log.splitlines() if re.search(r'\d+ (passed|failed)', l)]
    return lines[-1] if lines else ''

def markdown(res:dict)->str:
    "The table of bench/RESULTS.md's test-run section"
    nb, pt = res['nbdev_test'], res['pytest']
    rows = ['| step | wall (s) | CPU (s) | load average at start | result |', '|---|---|---|---|---|',
            f"| nbdev-test | {nb['seconds']:,} | {nb['cpu_seconds']:,} | {nb['load_average_start'][0]} | rc {nb['returncode']} |",
            f"| pytest | {pt['seconds']:,} | {pt['cpu_seconds']:,} | {pt['load_average_start'][0]} | {pt['summary']} |",
            f"| both | {nb['seconds'] + pt['seconds']:,.1f} | {nb['cpu_seconds'] + pt['cpu_seconds']:,.1f} | | |", '',
            *([f"CPU probe: {res['cpu_probe_gflops']} GFLOP/s.", ''] if res.get('cpu_probe_gflops') else []),
            'Slowest notebooks (s): ' + ', '.join(f'{k} {v}' for k, v in list(nb['notebooks'].items())[:8]), '',
            'Slowest test phases (s): ' + ', '.join(f"{t['test'].split('::')[-1]} ({t['phase']}) {t['seconds']:.0f}" for t in pt['slowest'][:10])]
    return '\n'.join(rows)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--json', action='store_true', help='write bench/testrun.json')
    ap.add_argument('--markdown', action='store_true', help="print bench/RESULTS.md's table of bench/testrun.json; run nothing")
    a = ap.parse_args()
    if a.markdown: return print(markdown(json.loads((Path(__file__).parent / 'testrun.json').read_text())))
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO, capture_output=True, text=True).stdout.strip()
    probe = cpu_probe()
    nb = timed(['nbdev-test', '--timing'])
    nb['notebooks'] = notebook_seconds(nb.pop('output'))
    pt = timed(['pytest', '--durations=25'])
    log = pt.pop('output')
    pt.update(summary=summary_line(log), slowest=slowest_tests(log))
    res = dict(commit=commit, cores=os.cpu_count(), machine=platform.processor() or platform.machine(), python=platform.python_version(),
               cpu_probe_gflops=probe, nbdev_test=nb, pytest=pt)
    print(json.dumps(res, indent=1))
    if a.json: (Path(__file__).parent / 'testrun.json').write_text(json.dumps(res, indent=1) + '\n')
    if nb['returncode'] or pt['returncode']: sys.exit(f"test run failed: nbdev-test rc {nb['returncode']}, pytest rc {pt['returncode']}\n{log[-4000:]}")

if __name__ == '__main__': main()
