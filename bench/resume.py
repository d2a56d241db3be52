"""Kill a tiny radtl run with SIGKILL at random instants, resume it, and check it ends identical to an uninterrupted run.

The run: the synthetic brain-MRI set (112 training images), smallcnn at 32 px, two phases of three epochs (the head,
then everything; early stopping in the second), `--deterministic`, one CPU thread. It runs once uninterrupted; then,
for each of `--kills` instants drawn with `--seed`, a fresh run is started, killed at that instant and started again
until it finishes. Half of the instants are *anywhere* (uniform over the uninterrupted run's wall time, start-up
included; an instant at which the run folder was already complete is drawn again, inside that run's own duration), half *right after an epoch end*: 0-30 ms after epoch k's row appears in history.csv (k drawn), while that
epoch's checkpoint and backup are being written. Each resumed run's history, predictions and metrics are compared
with the uninterrupted run's (wall times excepted).

Usage: python bench/resume.py [--kills 20] [--seed 0] [--json]
"""
import argparse, json, os, shutil, signal, subprocess, sys, tempfile, time
from pathlib import Path

CLI = 'import sys; from radtl.cli import main; sys.exit(main())'
RECIPE = dict(name='tiny-two-phase', phases=[dict(name='head', trainable='head', lr=1e-3, epochs=3, patience=None),
                                              dict(name='all', trainable='all', lr=1e-3, epochs=3, patience=2)])
TIMING = ('epoch_time_s_mean', 'train_time_s', 'time_to_convergence')

def launch(cfg, out, env):
    return subprocess.Popen([sys.executable, '-c', CLI, 'run', '--config', str(cfg), '--out', str(out), '--deterministic', '--quiet'],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)

def rows(partial:Path)->int:
    "Epochs logged in the run's history.csv so far"
    try: return max(0, len((partial / 'history.csv').read_text().splitlines()) - 1)
    except OSError: return 0

def kill_at(p, instant:dict, partial:Path)->tuple:
    "SIGKILL `p` at `instant`: (seconds since its start, whether it was killed or had finished first)"
    t0 = time.perf_counter()
    if instant['kind'] == 'anywhere':
        while p.poll() is None and time.perf_counter() - t0 < instant['t']: time.sleep(0.001)
    else:
        while p.poll() is None and rows(partial) < instant['epoch']: time.sleep(0.001)
        end = time.perf_counter() + instant['delay']
        while p.poll() is None and time.perf_counter() < end: pass
    if p.poll() is not None: p.communicate(); return time.perf_counter() - t0, False
    p.send_signal(signal.SIGKILL); p.wait()
    return time.perf_counter() - t0, True

def state_at_kill(out:Path, partial:Path)->dict:
    "What the killed run left: epochs logged, phases completed, temporary files of interrupted writes"
    if out.exists(): return dict(where='finished', rows=None, tmp=0)
    if not partial.exists(): return dict(where='before any write', rows=0, tmp=0)
    st = json.loads((partial / 'state.json').read_text())['completed'] if (partial / 'state.json').exists() else 0
    n = rows(partial); tmp = len([f for f in partial.rglob('.*') if f.is_file()])
    where = 'phase 1' if st == 0 and n < 3 else 'phase 2' if st < 2 else 'predicting / saving'
    return dict(where=where if n or st else 'data, model build', rows=n, tmp=tmp)

def compare(a:Path, b:Path)->dict:
    "Largest differences between two finished runs: history, test/val probabilities; metrics equal (wall times excepted)"
    import numpy as np, pandas as pd
    from radtl.core import read_csv
    ha, hb = pd.read_csv(a / 'history.csv'), pd.read_csv(b / 'history.csv')
    cols = [c for c in ha if c not in ('epoch_time_s', 'phase_name')]
    same_shape = list(ha.columns) == list(hb.columns) and len(ha) == len(hb)
    dh = float(np.abs(ha[cols].to_numpy(float) - hb[cols].to_numpy(float)).max()) if same_shape else float('inf')
    dp = 0.0
    for s in ('val', 'test'):
        pa, pb = read_csv(a / f'predictions_{s}.csv'), read_csv(b / f'predictions_{s}.csv')
        if list(pa.path) != list(pb.path) or list(pa.pred) != list(pb.pred): dp = float('inf'); break
        dp = max(dp, float(np.abs(pa.filter(like='p_').to_numpy() - pb.filter(like='p_').to_numpy()).max()))
    ma, mb = (json.loads((d / 'metrics.json').read_text()) for d in (a, b))
    me = {k: v for k, v in ma.items() if k not in TIMING} == {k: v for k, v in mb.items() if k not in TIMING}
    return dict(history_max_diff=dh, predictions_max_diff=dp, metrics_equal=me,
                identical=dh <= 1e-6 and dp <= 1e-6 and me, bit_identical=dh == 0 and dp == 0 and me)

def instants(n:int, seed:int, wall:float, n_epochs:int)->list:
    import numpy as np
    rng = np.random.default_rng(seed)
    return [dict(kind='anywhere', t=float(rng.uniform(0, wall))) if i % 2 == 0 else
            dict(kind='epoch end', epoch=int(rng.integers(1, n_epochs + 1)), delay=float(rng.uniform(0, 0.03))) for i in range(n)]

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--kills', type=int, default=20)
    p.add_argument('--seed', type=int, default=0, help='seed of the kill instants')
    p.add_argument('--json', action='store_true', help='also print the rows as JSON')
    a = p.parse_args(argv)
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    import yaml, numpy as np, pandas as pd
    from radtl.synthetic import synthetic_brain_mri
    work = Path(tempfile.mkdtemp(prefix='radtl-bench-resume-'))
    env = dict(os.environ, RADTL_CACHE=str(work / 'cache'), TF_NUM_INTRAOP_THREADS='1', TF_NUM_INTEROP_THREADS='1', OMP_NUM_THREADS='1')
    root = synthetic_brain_mri(work / 'syn', n_train=120, n_test=40, size=48, seed=7)
    cfg = work / 'run.yaml'
    cfg.write_text(yaml.safe_dump(dict(data=dict(roots=[str(root)], image_size=32), backbone='smallcnn', weights='random',
                                       recipe=RECIPE, batch_size=16, seed=0)))
    launch(cfg, work / 'warm', env).communicate()          # fills the data cache, so that every timed run starts alike
    t0 = time.perf_counter(); ref = launch(cfg, work / 'ref', env); log = ref.communicate()[0]; wall = time.perf_counter() - t0
    if ref.returncode: sys.exit(f'the uninterrupted run failed:\n{log}')
    n_epochs = len(pd.read_csv(work / 'ref' / 'history.csv'))
    print(f'uninterrupted run: {wall:.1f} s, {n_epochs} epochs ({work / "ref"}); {a.kills} kills, seed {a.seed}', flush=True)
    out_rows, redraw = [], np.random.default_rng([a.seed, 1])
    for i, inst in enumerate(instants(a.kills, a.seed, wall, n_epochs)):
        out = work / f'run{i:02d}'; partial = out.with_name(out.name + '.partial')
        for tries in range(1, 6):
            took, killed = kill_at(launch(cfg, out, env), inst, partial)
            if killed and not out.exists(): break
            shutil.rmtree(out); inst = dict(kind='anywhere', t=float(redraw.uniform(0, took)))   # its run folder was complete first: an instant inside that run
        st = state_at_kill(out, partial)
        t1 = time.perf_counter(); r = launch(cfg, out, env); rlog = r.communicate()[0]
        row = dict(i=i, kind=inst['kind'], target=f"{inst['t']:.2f} s" if inst['kind'] == 'anywhere' else f"epoch {inst['epoch']} + {1000 * inst['delay']:.0f} ms",
                   tries=tries, killed_at_s=round(took, 2) if killed else None, state=st['where'], rows=st['rows'], tmp_files=st['tmp'],
                   resume_rc=r.returncode, resume_s=round(time.perf_counter() - t1, 1), crash='Traceback' in rlog)
        row.update(compare(out, work / 'ref') if r.returncode == 0 else dict(identical=False, bit_identical=False))
        out_rows.append(row)
        print(f"{i:2d} {row['kind']:9s} {row['target']:>16s} killed {str(row['killed_at_s']):>6s} s  {row['state']:19s} rows {str(row['rows']):>4s} "
              f"tmp {row['tmp_files']}  resume rc {row['resume_rc']} ({row['resume_s']} s)  identical {row['identical']} (bit-identical {row['bit_identical']})", flush=True)
    t = pd.DataFrame(out_rows)
    print('\n' + t[['i', 'kind', 'target', 'tries', 'killed_at_s', 'state', 'rows', 'tmp_files', 'resume_rc', 'identical', 'bit_identical']].to_string(index=False))
    killed = t[t.killed_at_s.notna()]
    print(f"\nsummary: {int(t.identical.sum())} of {len(t)} runs killed at random instants ({len(killed)} killed before their run folder was complete; "
          f"{int((t.kind == 'epoch end').sum())} right after an epoch end, {int((killed.tmp_files > 0).sum())} leaving a temporary file of an interrupted write) "
          f"resumed to a run identical to the uninterrupted one ({int(t.bit_identical.sum())} bit for bit); "
          f"{int((t.resume_rc != 0).sum())} resumes failed, {int(t.crash.sum())} with a traceback")
    if a.json: print(json.dumps(out_rows, default=str))
    shutil.rmtree(work, ignore_errors=True)

if __name__ == '__main__': main()
