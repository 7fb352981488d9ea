"""NumPy logit and sigmoid for the root-object tests (imported by name, see tests/conftest.py)."""

import numpy as np


def logit(p):
    return np.log(p) - np.log1p(-p)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
