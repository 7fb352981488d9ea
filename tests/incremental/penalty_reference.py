"""NumPy reference of the regulariser at the start of an incremental run (LiRank eq. 3)."""

from pathlib import Path

import numpy as np

from lirank_tf.incremental import FISHER_FILE, FisherInformation, model_weights
from lirank_tf.workflow import load_run


def initial_penalty(cold_dir: Path, previous_dir: Path, alpha: float, forgetting_factor: float) -> float:
    """At w = a w0 + (1-a) w1 the penalty is lambda/2 [a (1-a)^2 d'H0 d + (1-a) a^2 d'H1 d]
    with d = w1 - w0, from the runs' saved weights and Fisher files."""
    cold, previous = (model_weights(load_run(run)[2]) for run in (cold_dir, previous_dir))
    h0, h1 = (FisherInformation.load(Path(run) / FISHER_FILE) for run in (cold_dir, previous_dir))
    expected = 0.0
    for path in h0.paths():
        d = previous[path].astype(np.float64) - cold[path]
        expected += alpha * (1 - alpha) ** 2 * np.sum(h0.full(path, d.shape) * d ** 2)
        expected += (1 - alpha) * alpha ** 2 * np.sum(h1.full(path, d.shape) * d ** 2)
    assert expected > 0
    return forgetting_factor / 2 * expected
