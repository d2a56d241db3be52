"Figures of radtl.figures: each returns a Figure and saves a non-trivial PNG, also for awkward inputs"
import pandas as pd, pytest
from matplotlib.figure import Figure
from radtl.evaluate import load_run, probs_of
from fake_runs import fake_run
from radtl.figures import plot_confusion, plot_roc, plot_pr, plot_history, plot_reliability, plot_forest, save_figure, run_figures

@pytest.fixture
def run(tmp_path): return load_run(fake_run(tmp_path / 'r', n=80))

def _png_ok(path):
    b = path.read_bytes(); assert b[:8] == b'\x89PNG\r\n\x1a\n' and len(b) > 5000

def test_each_figure_saves_png(run, tmp_path):
    y, p = probs_of(run['test'], run['classes'])
    long = pd.DataFrame(dict(run_id=['a', 'b'], metric='accuracy', value=[.8, .7], lo=[.75, .6], hi=[.85, .78]))
    figs = dict(conf=plot_confusion(y, p.argmax(1), run['classes']), roc=plot_roc(y, p, run['classes']), pr=plot_pr(y, p, run['classes']),
                hist=plot_history(run['history']), rel=plot_reliability(y, p), forest=plot_forest(long, 'accuracy'))
    for k, f in figs.items():
        assert isinstance(f, Figure); _png_ok(save_figure(f, tmp_path / 'figs' / f'{k}.png'))
    assert [t.get_text() for t in figs['forest'].axes[0].get_yticklabels()] == ['b', 'a']   # best on top
    assert 'AUC' in figs['roc'].axes[0].get_legend().get_texts()[0].get_text()
    assert 'AP' in figs['pr'].axes[0].get_legend().get_texts()[0].get_text()

def test_phase_boundary_marked(run):
    fig = plot_history(run['history'])
    assert any('phase 2' in t.get_text() for t in fig.axes[0].texts)
    one_phase = run['history'][run['history'].phase == 1]
    assert not plot_history(one_phase).axes[0].texts

def test_absent_class_and_missing_history(run, tmp_path):
    t = run['test'][run['test'].label != 'glioma']
    y, p = probs_of(t, run['classes'])
    assert len(plot_roc(y, p, run['classes']).axes[0].get_legend().get_texts()) == 3
    files = run_figures({**run, 'test': t, 'history': None}, tmp_path / 'f')
    assert sorted(files) == ['confusion', 'pr', 'reliability', 'roc']
    for f in files.values(): _png_ok(f)
