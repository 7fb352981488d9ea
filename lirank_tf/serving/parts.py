"""The parts other packages plug into an export: score adjusters and extra signatures.

`lirank_tf.serving.ServingModule` always holds ``serving_default`` and ``serve_examples`` (and
``serve_candidates`` for a model with an amortized history encoder, see `base_signatures`);
whatever else an export holds is a list of parts given to it:

* a `ScoreAdjuster` changes the outputs of every signature after the ranking model, e.g. the
  root-object effects of `lirank_tf.wide` (LiRank §3.9);
* an `ExtraSignature` adds a signature of its own, e.g. ``serve_explore`` of
  `lirank_tf.explore` (Thompson sampling, LiRank §3.8), which scores through the module's
  request checks, transformation model and adjusters.

Which parts an export gets is decided in one place, `lirank_tf.workflow.export_parts`, from
the run's config and files; this package imports neither `explore` nor `wide`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import tensorflow as tf

BASE_SIGNATURES = ("serving_default", "serve_examples")
CANDIDATES_SIGNATURE = "serve_candidates"


class ScoreAdjuster(Protocol):
    """Changes the served outputs ``{task: probability [n], "score": [n]}`` of a request's
    raw features ``raw``; ``seed`` (an int64 scalar) is given by signatures that sample."""

    def adjust(self, results: dict[str, tf.Tensor], raw: dict,
               seed: tf.Tensor | None = None) -> dict[str, tf.Tensor]: ...

    def write_assets(self, export_dir: Path) -> None:
        """Writes files the part needs beside the saved SavedModel (may do nothing)."""


class ExtraSignature(Protocol):
    """A signature named ``name`` whose inputs are ``input_signature(specs)`` (``specs``: the
    raw-feature specs of ``serving_default``) and whose outputs ``serve(module, request)``
    computes with the `ServingModule` ``module``."""

    name: str

    def input_signature(self, specs: dict[str, tf.TensorSpec]) -> dict[str, tf.TensorSpec]: ...

    def serve(self, module, request: dict) -> dict[str, tf.Tensor]: ...

    def write_assets(self, export_dir: Path) -> None:
        """Writes files the part needs beside the saved SavedModel (may do nothing)."""


def base_signatures(has_candidates: bool) -> tuple[str, ...]:
    """The signatures every export holds, plus ``serve_candidates`` when ``has_candidates``
    (a model with an amortized history encoder)."""
    return BASE_SIGNATURES + ((CANDIDATES_SIGNATURE,) if has_candidates else ())


def check_part_names(base: tuple[str, ...], extras: list) -> None:
    """Raises ValueError when two signatures of an export would have one name."""
    names = list(base) + [extra.name for extra in extras]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"an export cannot hold two signatures named {repeated}")
