"""How a new commit reaches the database and main: the write order.

The order of writes is what makes a crash harmless:

1. every object of the new commit (blobs, trees, the commit) is written;
2. the database changes in ONE transaction that also records the new
   commit id as the one it matches;
3. the branch moves.

A crash before 2 leaves unreferenced objects (harmless); a crash between 2
and 3 leaves a database ahead of its branch, which :func:`reconcile` (run
by every writing command) notices and finishes by moving the branch.
"""


from __future__ import annotations

from typing import Optional

import pygit2

from attgit.merge.plan import Plan
from attgit.repo.repository import Repository
from attgit.workingcopy import Progress, WorkingCopy


def apply_and_move(repo: Repository, db: WorkingCopy, head, commit: pygit2.Oid, plan: Plan,
                   reason: str, progress: Optional[Progress] = None, expect: Optional[int] = None) -> None:
    """Steps 2 and 3 of the write order: the database, then the branch.

    ``expect`` defaults to the change log's position the database recorded
    with its state (at the commit the plan starts from): any edit since
    makes the apply refuse."""
    expect = db.state().watermark if expect is None else expect
    db.apply(plan.changes(), str(commit), progress, plan.counts.total, expect=expect)
    repo.move_head(head, commit, reason)
