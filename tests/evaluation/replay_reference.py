"""An independent, session-by-session NumPy reference of the replay metric (LiRank §5.2), shared
by the tests of lirank_tf.evaluation (tests/conftest.py puts this folder on sys.path)."""

import numpy as np


def reference(session_ids, positions, scores, contributions, top_n=None):
    """Session by session, with ties split evenly: (sessions, matched, rewarded)."""
    sessions = matched = rewarded = 0.0
    for session in np.unique(session_ids):
        rows = np.flatnonzero(session_ids == session)
        first = [r for r in rows if positions[r] == 0]
        if not first:
            continue
        sessions += 1
        candidates = [r for r in rows if top_n is None or positions[r] < top_n]
        best = max(scores[r] for r in candidates)
        tied = [r for r in candidates if scores[r] == best]
        if first[0] in tied:
            matched += 1 / len(tied)
            rewarded += contributions[first[0]] / len(tied)
    return sessions, matched, rewarded
