"""A fake finished run directory in the format `radtl.train.run` writes, for tests of evaluation, figures and reports
(a test helper, not part of radtl: the notebooks that need one define their own)."""
import json
from pathlib import Path
import numpy as np, pandas as pd, yaml
from radtl.evaluate import prob_columns

def fake_run(run_dir, # folder to write
             seed:int=0, # seed of the fake predictions and of the config
             n:int=300, # test images
             signal:float=1.5, # how good the fake model is
             classes=('glioma', 'meningioma', 'no_tumor', 'pituitary'), # class names
             epochs=(3, 4), # epochs of phase 1 and phase 2
             **config)->Path:
    "Write a small fake finished run directory in `radtl.train.run`'s format: random predictions, `signal` above chance"
    d = Path(run_dir); d.mkdir(parents=True, exist_ok=True); rng = np.random.default_rng(seed)
    cfg = dict(run_id=d.name, backbone='densenet121', weights='imagenet', preprocessing='torch', recipe='two-phase',
               seed=seed, classes=list(classes), data_hash='0123abcd', versions={'keras': '3'}) | config
    (d / 'config.yaml').write_text(yaml.safe_dump(cfg, sort_keys=False))
    for split in ('test', 'val'):
        yv = np.arange(n) % len(classes)  # the same images (paths, labels) in every fake run
        logits = rng.normal(size=(n, len(classes))); logits[np.arange(n), yv] += signal
        p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        t = pd.DataFrame({'path': [f'{split}/img_{i:04d}.jpg' for i in range(n)], 'label': np.array(classes)[yv], 'pred': np.array(classes)[p.argmax(1)]})
        pd.concat([t, pd.DataFrame(p, columns=prob_columns(classes))], axis=1).to_csv(d / f'predictions_{split}.csv', index=False)
    ep = np.arange(sum(epochs)); decay = np.exp(-ep / 3)
    pd.DataFrame(dict(epoch=ep, phase=np.repeat(np.arange(1, len(epochs) + 1), epochs), loss=.4 + decay, accuracy=.9 - .5 * decay,
                      val_loss=.5 + decay + rng.normal(0, .03, len(ep)), val_accuracy=.85 - .5 * decay + rng.normal(0, .02, len(ep)),
                      learning_rate=np.repeat([1e-3, 1e-5], epochs))).to_csv(d / 'history.csv', index=False)
    (d / 'metrics.json').write_text(json.dumps(dict(n=n, accuracy=float((t.label == t.pred).mean()), epochs=int(sum(epochs)))))
    return d
