"""``python -m lirank_tf ...`` is the ``lirank-tf`` command."""

from lirank_tf.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
