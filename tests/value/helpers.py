"""Numerical helpers of the value tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def central_gradient(f: Callable[[np.ndarray], float], theta: np.ndarray,
                     h: float = 1e-6) -> np.ndarray:
    """Central finite-difference gradient of a scalar function."""
    g = np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        g[i] = (f(theta + e) - f(theta - e)) / (2 * h)
    return g


def hessian(grad: Callable[[np.ndarray], np.ndarray], theta: np.ndarray,
            h: float = 1e-5) -> np.ndarray:
    """Symmetric finite-difference Hessian from an analytic gradient."""
    k = theta.size
    out = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h
        out[i] = (grad(theta + e) - grad(theta - e)) / (2 * h)
    return (out + out.T) / 2


def z_scores(estimate: np.ndarray, truth: np.ndarray, mean_hessian: np.ndarray,
             n: int) -> np.ndarray:
    """(estimate − truth) / standard error, the covariance being the inverse observed
    information: inverse of n × the Hessian of the mean negative log-likelihood."""
    se = np.sqrt(np.diag(np.linalg.inv(mean_hessian * n)))
    return (estimate - truth) / se
