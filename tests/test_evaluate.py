"Metrics, bootstrap CIs and tests of radtl.evaluate against scikit-learn, scipy, statsmodels and slow reference formulas"
import time
import numpy as np, pandas as pd, pytest
from scipy import stats
from sklearn import metrics as skm
from radtl.core import RadtlError
from radtl.evaluate import (metrics_from_probs, metrics_from_predictions, weighted_metrics, bootstrap_ci, stratified_weights, metric_names,
                            expected_calibration_error, mcnemar_exact, delong_test, delong_ovr, holm, welch_test, agreement,
                            load_run, evaluate_runs, probs_of)
from fake_runs import fake_run

def _random(n=500, K=4, signal=1.2, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n); y[:K] = np.arange(K)
    l = rng.normal(size=(n, K)); l[np.arange(n), y] += signal
    p = np.exp(l) / np.exp(l).sum(1, keepdims=True)
    if ties: p = np.round(p, 1) + 1e-9 * np.arange(K); p /= p.sum(1, keepdims=True)  # many tied scores per class
    return y, p

@pytest.mark.parametrize('seed,K,ties', [(0, 4, False), (1, 3, False), (2, 2, False), (3, 4, True)])
def test_metrics_agree_with_sklearn(seed, K, ties):
    y, p = _random(400, K, seed=seed, ties=ties); pred = p.argmax(1); L = list(range(K))
    m = metrics_from_probs(y, p)
    assert list(m) == metric_names([str(c) for c in L])
    close = lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    close(m['accuracy'], skm.accuracy_score(y, pred)); close(m['balanced_accuracy'], skm.balanced_accuracy_score(y, pred))
    prec, rec, f1, _ = skm.precision_recall_fscore_support(y, pred, labels=L)
    cm = skm.confusion_matrix(y, pred, labels=L)
    for c in L:
        close(m[f'precision_{c}'], prec[c]); close(m[f'recall_{c}'], rec[c]); close(m[f'f1_{c}'], f1[c])
        tn = cm.sum() - cm[c].sum() - cm[:, c].sum() + cm[c, c]
        close(m[f'specificity_{c}'], tn / (cm.sum() - cm[c].sum()))
        close(m[f'specificity_{c}'], skm.recall_score(y != c, pred != c))   # specificity = recall of "not c"
        close(m[f'auc_{c}'], skm.roc_auc_score(y == c, p[:, c])); close(m[f'ap_{c}'], skm.average_precision_score(y == c, p[:, c]))
    for avg in ('macro', 'weighted'):
        close(m[f'precision_{avg}'], skm.precision_score(y, pred, average=avg)); close(m[f'recall_{avg}'], skm.recall_score(y, pred, average=avg))
        close(m[f'f1_{avg}'], skm.f1_score(y, pred, average=avg))
        onehot = np.eye(K)[y]
        close(m[f'auc_{avg}'], skm.roc_auc_score(onehot, p, average=avg)); close(m[f'ap_{avg}'], skm.average_precision_score(onehot, p, average=avg))
    if K > 2: close(m['auc_macro'], skm.roc_auc_score(y, p, multi_class='ovr'))
    close(m['kappa'], skm.cohen_kappa_score(y, pred)); close(m['log_loss'], skm.log_loss(y, p))

def test_ece_matches_loop_reference():
    y, p = _random(300, 3, seed=4)
    conf, ok, ece = p.max(1), p.argmax(1) == y, 0.
    for m in range(1, 16):   # Guo et al.: bins ((m-1)/M, m/M]
        inb = (conf > (m - 1) / 15) & (conf <= m / 15)
        if inb.any(): ece += inb.mean() * abs(ok[inb].mean() - conf[inb].mean())
    np.testing.assert_allclose(expected_calibration_error(y, p), ece, rtol=1e-12)
    assert metrics_from_probs(y, p)['ece'] == pytest.approx(ece)

@pytest.mark.parametrize('ties', [False, True])
def test_weighted_metrics_equal_metrics_of_repeated_data(ties):
    "Integer weights = each image repeated that often: the vectorised bootstrap metrics are exactly the sklearn ones"
    y, p = _random(150, 4, seed=5, ties=ties)
    W = np.random.default_rng(6).integers(0, 4, (3, len(y))); W[:, :4] = 1   # every class kept
    vec = weighted_metrics(W, y, p)
    for b in range(len(W)):
        ref = metrics_from_probs(np.repeat(y, W[b]), np.repeat(p, W[b], axis=0))
        for k, v in ref.items(): np.testing.assert_allclose(vec[k][b], v, rtol=1e-9, atol=1e-12, err_msg=k)

@pytest.mark.filterwarnings('ignore:y_pred contains classes not in y_true')   # the class is absent on purpose
def test_absent_class_is_nan_and_skipped():
    y, p = _random(300, 4, seed=7); keep = y != 2
    m = metrics_from_probs(y[keep], p[keep], classes=list('abcd'))
    assert np.isnan(m['auc_c']) and np.isnan(m['ap_c']) and np.isnan(m['recall_c'])
    assert m['auc_macro'] == pytest.approx(np.mean([m['auc_a'], m['auc_b'], m['auc_d']]))
    assert m['balanced_accuracy'] == pytest.approx(skm.balanced_accuracy_score(y[keep], p[keep].argmax(1)))
    ci = bootstrap_ci(y[keep], p[keep], n_boot=50, classes=list('abcd')).set_index('metric')
    assert np.isnan(ci.loc['auc_c', 'lo']) and np.isfinite(ci.loc['auc_macro', 'lo'])

def test_stratified_weights_keep_class_counts():
    y = np.r_[np.zeros(30, int), np.ones(70, int)]
    W = stratified_weights(y, 200, seed=1)
    assert (W[:, y == 0].sum(1) == 30).all() and (W[:, y == 1].sum(1) == 70).all()
    assert np.array_equal(W, stratified_weights(y, 200, seed=1)) and not np.array_equal(W, stratified_weights(y, 200, seed=2))

def test_bootstrap_is_fast_and_brackets_the_estimate():
    y, p = _random(2000, 4, seed=8)
    bootstrap_ci(y[:100], p[:100], n_boot=10)   # warm up
    t0 = time.perf_counter(); ci = bootstrap_ci(y, p, n_boot=1000, seed=0); dt = time.perf_counter() - t0
    print(f'bootstrap 1000 x 2000: {dt:.2f} s')
    assert dt < 6, f'{dt:.1f} s'   # ~0.7 s on an idle core; generous for a shared CI machine
    assert (ci.lo <= ci.value + 1e-12).all() and (ci.value <= ci.hi + 1e-12).all()
    assert ci.set_index('metric').loc['accuracy'].pipe(lambda r: 0.01 < r.hi - r.lo < 0.08)

def test_bootstrap_ci_of_accuracy_covers_truth():
    """Simulation: 200 test sets of 300 images with per-class accuracies known; the 95 % CI (300 resamples)
    should cover the true accuracy in ~95 % of them. Tolerance 0.90-0.99: ±3 binomial SE (0.015) around 0.95, allowing the
    percentile bootstrap's known slight under-coverage."""
    rng, K, n = np.random.default_rng(0), 3, np.array([120, 100, 80])
    acc_c = np.array([.9, .75, .6]); y = np.repeat(np.arange(K), n)
    truth = (n * acc_c).sum() / n.sum()
    hits = []
    for r in range(200):
        ok = rng.random(len(y)) < acc_c[y]
        lo, hi = np.percentile(stratified_weights(y, 300, seed=r) @ ok / len(y), [2.5, 97.5])   # bootstrap_ci's accuracy interval
        if r < 3:   # ... as bootstrap_ci computes it (all metrics: slower, so only a few repetitions)
            wrong = (y + 1 + rng.integers(0, K - 1, len(y))) % K
            p = np.full((len(y), K), .1); p[np.arange(len(y)), np.where(ok, y, wrong)] = .8
            ci = bootstrap_ci(y, p, n_boot=300, seed=r).set_index('metric').loc['accuracy']
            assert (ci.lo, ci.hi) == pytest.approx((lo, hi))
        hits.append(lo <= truth <= hi)
    cov = np.mean(hits); print(f'coverage {cov:.3f}')
    assert 0.90 <= cov <= 0.99, cov

def test_welch_against_scipy_and_statsmodels():
    sm = pytest.importorskip('statsmodels.stats.weightstats')
    rng = np.random.default_rng(1)
    for _ in range(5):
        a, b = rng.normal(.9, .02, rng.integers(3, 8)), rng.normal(.88, .04, rng.integers(3, 8))
        w, r = welch_test(a, b), stats.ttest_ind(a, b, equal_var=False)
        assert w['pvalue'] == pytest.approx(r.pvalue) and w['t'] == pytest.approx(r.statistic)
        t, pv, df = sm.ttest_ind(a, b, usevar='unequal')
        assert w['pvalue'] == pytest.approx(pv) and w['df'] == pytest.approx(df)
    assert np.isnan(welch_test([.9], [.8, .85])['pvalue'])

def test_mcnemar_against_statsmodels():
    ct = pytest.importorskip('statsmodels.stats.contingency_tables')
    rng = np.random.default_rng(2)
    for n10, n01 in [(150, 86), (3, 9), (0, 5), (7, 7), (0, 0)]:
        a = np.r_[np.ones(n10, bool), np.zeros(n01, bool), np.ones(40, bool), np.zeros(20, bool)]
        b = np.r_[np.zeros(n10, bool), np.ones(n01, bool), np.ones(40, bool), np.zeros(20, bool)]
        idx = rng.permutation(len(a)); r = mcnemar_exact(a[idx], b[idx])
        ref = ct.mcnemar([[40, n10], [n01, 20]], exact=True)
        assert (r['n10'], r['n01']) == (n10, n01) and r['pvalue'] == pytest.approx(ref.pvalue, rel=1e-10) and r['statistic'] == ref.statistic

def _delong_slow(is_pos, sa, sb):
    "O(m·n) DeLong (1988) from the Mann-Whitney kernel, as in the paper"
    psi = lambda x, y: (x > y) + .5 * (x == y)
    V10, V01 = [], []
    for s in (sa, sb):
        X, Y = s[is_pos], s[~is_pos]; P = psi(X[:, None], Y[None])
        V10.append(P.mean(1)); V01.append(P.mean(0))
    auc = [v.mean() for v in V10]
    S = np.cov(np.array(V10)) / len(V10[0]) + np.cov(np.array(V01)) / len(V01[0])
    se = np.sqrt(S[0, 0] + S[1, 1] - 2 * S[0, 1]); z = (auc[0] - auc[1]) / se
    return auc, se, 2 * stats.norm.sf(abs(z))

@pytest.mark.parametrize('ties', [False, True])
def test_delong_against_slow_reference_and_sklearn(ties):
    rng = np.random.default_rng(3); n = 300
    is_pos = rng.random(n) < .35
    sa, sb = is_pos * 1.0 + rng.normal(0, 1, n), is_pos * 0.7 + rng.normal(0, 1, n)
    if ties: sa, sb = np.round(sa), np.round(sb, 1)
    r = delong_test(is_pos, sa, sb); auc, se, p = _delong_slow(is_pos, sa, sb)
    assert r['auc_a'] == pytest.approx(skm.roc_auc_score(is_pos, sa), abs=1e-12) and r['auc_b'] == pytest.approx(skm.roc_auc_score(is_pos, sb), abs=1e-12)
    assert r['auc_a'] == pytest.approx(auc[0]) and r['se'] == pytest.approx(se, rel=1e-9) and r['pvalue'] == pytest.approx(p, rel=1e-9)

def test_delong_ovr_per_class_and_macro():
    y, pa = _random(300, 4, seed=9); _, pb = _random(300, 4, seed=10)
    d = delong_ovr(y, pa, pb, list('abcd')).set_index('metric')
    assert list(d.index) == ['auc_a', 'auc_b', 'auc_c', 'auc_d', 'auc_macro']
    for i, c in enumerate('abcd'): assert d.loc[f'auc_{c}', 'pvalue'] == pytest.approx(_delong_slow(y == i, pa[:, i], pb[:, i])[2])
    assert d.loc['auc_macro', 'auc_a'] == pytest.approx(skm.roc_auc_score(y, pa, multi_class='ovr'))
    # two classes: the macro test is exactly DeLong on class 1
    y2 = (y == 0).astype(int); p2a, p2b = np.c_[1 - pa[:, 0], pa[:, 0]], np.c_[1 - pb[:, 0], pb[:, 0]]
    assert delong_ovr(y2, p2a, p2b).pvalue.iloc[-1] == pytest.approx(delong_test(y2 == 1, pa[:, 0], pb[:, 0])['pvalue'], rel=1e-9)

def test_delong_macro_se_matches_paired_bootstrap():
    "The macro-AUC standard error of the influence-function generalisation agrees with a paired stratified bootstrap (±15 %)"
    y, pa = _random(600, 4, seed=11, signal=1.0)
    pb = np.clip(pa + np.random.default_rng(12).normal(0, .1, pa.shape), 1e-6, None); pb /= pb.sum(1, keepdims=True)
    se = delong_ovr(y, pa, pb).se.iloc[-1]
    W = stratified_weights(y, 1000, seed=0)
    diff = weighted_metrics(W, y, pa)['auc_macro'] - weighted_metrics(W, y, pb)['auc_macro']
    assert se == pytest.approx(diff.std(), rel=0.15)

def test_holm_against_statsmodels():
    mt = pytest.importorskip('statsmodels.stats.multitest')
    rng = np.random.default_rng(4)
    for n in (1, 3, 10, 25):
        p = rng.random(n) ** 3
        np.testing.assert_allclose(holm(p), mt.multipletests(p, method='holm')[1], rtol=1e-12)
    np.testing.assert_allclose(holm([.01, np.nan, .04]), [.02, np.nan, .04])

def test_agreement_lines_up_paths():
    a = pd.DataFrame(dict(path=['x', 'y', 'z', 'w'], label=['a', 'a', 'b', 'b'], pred=['a', 'b', 'b', 'a']))
    b = a.iloc[::-1].assign(pred=['b', 'b', 'b', 'a'][::-1])
    t = agreement(a, b).set_index('path')
    assert t.outcome.to_dict() == {'x': 'only_a', 'y': 'neither', 'z': 'both', 'w': 'neither'}
    with pytest.raises(RadtlError, match='different test images'): agreement(a, b.iloc[:3])

def test_evaluate_runs_writes_tables_and_figures(tmp_path):
    dirs = [fake_run(tmp_path / f'dn_s{s}', seed=s, n=120) for s in (0, 1)]
    dirs += [fake_run(tmp_path / f'cx_s{s}', seed=5 + s, n=120, signal=.8, backbone='convnext_tiny') for s in (0, 1)]
    res = evaluate_runs(dirs, tmp_path / 'out', n_boot=100)
    out = tmp_path / 'out'
    m = pd.read_csv(out / 'metrics.csv')
    assert list(m.run_id) == ['dn_s0', 'dn_s1', 'cx_s0', 'cx_s1'] and set(m.backbone) == {'densenet121', 'convnext_tiny'}
    assert res['metrics'].run_id.tolist() == m.run_id.tolist() and 'forest_accuracy' in res['files']   # what it returns is what it wrote
    for k in ('accuracy', 'auc_macro', 'kappa', 'ece', 'recall_glioma'): assert {k, f'{k}_lo', f'{k}_hi'} <= set(m.columns)
    assert (m.accuracy_lo <= m.accuracy).all() and (m.accuracy <= m.accuracy_hi).all()
    c = pd.read_csv(out / 'comparisons.csv')
    assert c.groupby('test').size().to_dict() == {'delong': 6 * 5, 'mcnemar': 6, 'welch': 4}
    assert (c.p_holm >= c.pvalue - 1e-12).all() and c.p_holm.le(1).all()
    w = c[(c.test == 'welch') & (c.metric == 'accuracy')].iloc[0]
    assert w.pvalue == pytest.approx(stats.ttest_ind(m.accuracy[:2], m.accuracy[2:], equal_var=False).pvalue)
    pngs = {p.relative_to(out).as_posix() for p in out.rglob('*.png')}
    assert {'figures/forest_accuracy.png', 'figures/forest_auc_macro.png', 'figures/dn_s0/confusion.png', 'figures/dn_s0/roc.png',
            'figures/dn_s0/pr.png', 'figures/dn_s0/training.png', 'figures/dn_s0/reliability.png'} <= pngs

def test_runs_on_different_test_sets_get_no_paired_tests(tmp_path):
    a = fake_run(tmp_path / 'a', n=60); b = fake_run(tmp_path / 'b', n=80, seed=1)
    c = evaluate_runs([a, b], tmp_path / 'out', n_boot=20, figures=False)['comparisons']
    assert c.empty and list(c.columns)[-2:] == ['p_holm', 'note']

def test_bad_run_dir_names_dir_and_file(tmp_path):
    d = fake_run(tmp_path / 'broken', n=30); (d / 'predictions_test.csv').unlink()
    with pytest.raises(RadtlError, match=r'broken.*predictions_test\.csv'): evaluate_runs([fake_run(tmp_path / 'ok', n=30), d], tmp_path / 'out')
    with pytest.raises(RadtlError, match='does not exist'): load_run(tmp_path / 'nowhere')
    with pytest.raises(RadtlError, match='no run directories'): evaluate_runs([], tmp_path / 'out')
    (d / 'config.yaml').unlink()
    with pytest.raises(RadtlError, match=r'config\.yaml'): load_run(d)

def test_predictions_table_errors(tmp_path):
    t = load_run(fake_run(tmp_path / 'r', n=20))['test']
    with pytest.raises(RadtlError, match='p_<class>'): probs_of(t.drop(columns='p_glioma'), ['glioma', 'meningioma', 'no_tumor', 'pituitary'])
    m = metrics_from_predictions(t, ['glioma', 'meningioma', 'no_tumor', 'pituitary'])
    assert 0 <= m['accuracy'] <= 1
