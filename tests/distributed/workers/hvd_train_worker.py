"""Worker of the distributed tests: trains the toy model and writes what it got to ``--out``.

    python hvd_train_worker.py --mode plain ...           Keras only, global batches (reference)
    horovodrun -np N python hvd_train_worker.py --mode dp  data-parallel, local batch B / N
    horovodrun -np N python hvd_train_worker.py --mode mp  model-parallel tables
    python hvd_train_worker.py --mode export --restore C   single-process plain model from C

Results in ``--out``: ``plain-stepK.npz`` (weights by path), ``checkpoints/step-K`` (sharded
checkpoints of dp / mp runs), ``predictions-<mode>-N<size>.npy`` (rank 0),
``outputs-rank<r>.json`` (plain vs sharded outputs before training, ``--check-outputs``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

import keras  # noqa: E402

from hvd_toy_model import batches, build_plain_model, make_examples, make_optimizer  # noqa: E402

MODEL_SEED, DATA_SEED, EVAL_SEED = 11, 5, 7


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("plain", "dp", "mp", "export"), required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--global-batch", type=int, default=12)
    parser.add_argument("--examples", type=int, default=96)
    parser.add_argument("--save-after", default="", help="comma-separated steps")
    parser.add_argument("--restore", default=None)
    parser.add_argument("--row-wise", default="", help="comma-separated table keys")
    parser.add_argument("--sparse-as-dense", action="store_true")
    parser.add_argument("--compression", default="none")
    parser.add_argument("--check-outputs", action="store_true")
    parser.add_argument("--checkpoint-every", type=int, default=None)
    parser.add_argument("--watchdog", type=float, default=None)
    parser.add_argument("--fault", choices=("die", "hang"), default=None)
    parser.add_argument("--fault-rank", type=int, default=1)
    parser.add_argument("--fault-step", type=int, default=None)
    return parser.parse_args(argv)


def eval_inputs() -> tf.data.Dataset:
    features, _ = make_examples(16, EVAL_SEED)
    return tf.data.Dataset.from_tensor_slices(features).batch(8)


def save_steps(args) -> list[int]:
    return [int(s) for s in args.save_after.split(",") if s]


def run_plain(args, out: Path) -> None:
    """The reference: plain Keras, one process, global batches; no lirank_tf.distributed."""
    features, labels = make_examples(args.examples, DATA_SEED)
    model = build_plain_model(MODEL_SEED)
    model.compile(optimizer=make_optimizer(), loss="binary_crossentropy")
    data, done = batches(features, labels, args.global_batch), 0
    for target in save_steps(args):
        model.fit(data.skip(done).take(target - done), verbose=0, shuffle=False)
        done = target
        np.savez(out / f"plain-step{target}.npz", **{v.path: v.numpy() for v in model.weights})
    np.save(out / "predictions-plain-N1.npy", model.predict(eval_inputs(), verbose=0))


class FaultInjection(keras.callbacks.Callback):
    """Kills (``die``) or freezes (``hang``) one worker before optimizer step ``step + 1``."""

    def __init__(self, kind: str, rank: int, step: int, context) -> None:
        super().__init__()
        self.kind, self.rank, self.step, self.context = kind, rank, step, context

    def on_train_batch_begin(self, batch, logs=None) -> None:
        if self.context.rank == self.rank and int(self.model.optimizer.iterations) == self.step:
            print(f"fault injection: rank {self.rank} {self.kind}s at step {self.step}", flush=True)
            if self.kind == "die":
                os._exit(17)
            time.sleep(600)


def run_distributed(args, out: Path) -> None:
    from lirank_tf import distributed

    context = distributed.init()  # Horovod: initialise
    features, labels = make_examples(args.examples, DATA_SEED)
    # Rank 0 draws the reference weights; the others must receive them by broadcast.
    plain = build_plain_model(MODEL_SEED + context.rank)
    model = distributed.wrap_model(
        plain, shard_embeddings=args.mode == "mp",
        row_wise=[k for k in args.row_wise.split(",") if k],
        sparse_as_dense=args.sparse_as_dense, compression=args.compression)
    local_batch = args.global_batch // context.size
    if args.check_outputs:
        local_x = {k: v[context.rank * local_batch:(context.rank + 1) * local_batch]
                   for k, v in features.items()}
        difference = float(np.max(np.abs(plain(local_x).numpy() - model(local_x).numpy())))
        (out / f"outputs-rank{context.rank}.json").write_text(json.dumps(
            {"max_abs_difference": difference, "world_size": context.size}))
    model.compile(optimizer=make_optimizer(), loss="binary_crossentropy")
    done = distributed.restore_checkpoint(model, args.restore) if args.restore else 0
    callbacks = distributed.callbacks(checkpoint_dir=out / "checkpoints" if args.checkpoint_every
                                      else None, checkpoint_every_steps=args.checkpoint_every,
                                      step_timeout_seconds=args.watchdog)
    if args.fault:
        callbacks.append(FaultInjection(args.fault, args.fault_rank, args.fault_step, context))
    # Horovod: each worker reads its block of every global batch.
    data = distributed.shard_dataset(batches(features, labels, local_batch))
    for target in save_steps(args):
        if target > done:
            model.fit(data.skip(done).take(target - done), verbose=context.verbose(0),
                      shuffle=False, callbacks=callbacks)
            done = target
            distributed.save_checkpoint(model, out / "checkpoints")
    if not save_steps(args):
        distributed.save_checkpoint(model, out / "checkpoints")
    predictions = model.predict(eval_inputs(), verbose=0)  # collective in mp
    if context.is_chief:
        np.save(out / f"predictions-{args.mode}-N{context.size}.npy", predictions)


def run_export(args, out: Path) -> None:
    """Single process: plain model restored from a (sharded) checkpoint, then exported."""
    from lirank_tf import distributed

    model = build_plain_model(MODEL_SEED + 1000)  # values must come from the checkpoint
    step = distributed.restore_checkpoint(model, args.restore)
    np.save(out / "predictions-export-N1.npy", model.predict(eval_inputs(), verbose=0))
    model.export(str(out / "saved_model"), verbose=False)
    eval_features, _ = make_examples(16, EVAL_SEED)
    reloaded = tf.saved_model.load(str(out / "saved_model"))
    served = reloaded.serve({k: tf.constant(v) for k, v in eval_features.items()})
    np.save(out / "predictions-served-N1.npy", served.numpy())
    (out / "export.json").write_text(json.dumps({"restored_step": step}))


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    {"plain": run_plain, "dp": run_distributed, "mp": run_distributed,
     "export": run_export}[args.mode](args, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
