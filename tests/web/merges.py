"""A merge at the scale of a real one, made fast through the library: an
upstream environment (a real repository whose database is an in-memory
working copy) publishes to a hub; the site (its ATTGIT_REPO and the test
database) pulls it, both sides edit the same records, and a manual pull
stops on thousands of conflicts of every kind.

Of each ten conflicting records: seven have overstay changed on both sides,
one shift, one is changed here and deleted there, one deleted here and
changed there.
"""

from __future__ import annotations

from pathlib import Path

from django.utils import timezone

from attgit.ops.commit import snapshot_database
from attgit.ops.mergestate import MergeState
from attgit.ops.pull import pull_commit
from attgit.ops.reconcile import exclusive
from attgit.repo import transport
from attgit.repo.repository import Repository
from attgit.workingcopy import MemoryWorkingCopy

from ..helpers import AUTHOR
from ..integration.envs import new_hub

REMOTE = "prod"


class Upstream:
    """Another environment publishing to a hub."""

    def __init__(self, root: Path, records: list):
        self.hub = new_hub(root)
        self.repo = Repository.init(root / "upstream.git")
        self.db = MemoryWorkingCopy.from_records(records)
        transport.add_remote(self.repo, "hub", str(self.hub))

    def publish(self, message: str = "Upstream snapshot") -> None:
        snapshot_database(self.repo, self.db, AUTHOR, message=message)
        transport.push(self.repo, "hub")


def pull(strategy: str, who=None):
    """The site pulls the upstream hub (as ``attgit pull prod`` would), as
    the root user ``who`` through the site's door (default: the tests' author)."""
    from django_adapter.repository import open_as, open_repository
    from django_adapter.workingcopy import connect

    repo, db = open_repository(), connect()
    author = AUTHOR if who is None else open_as(who).author
    with exclusive(repo, db):
        transport.fetch(repo, REMOTE)
        return pull_commit(repo, db, author, transport.remote_tip(repo, REMOTE), REMOTE, strategy=strategy)


def seed_conflicts(root: Path, conflicts: int = 5000, records: int = 6000, companies: int = 8) -> Upstream:
    """The site in the middle of a manual merge with ``conflicts`` conflicts."""
    from django_adapter.demodata import demo_records
    from django_adapter.models import AttendanceRecord
    from django_adapter.repository import open_repository

    rows = list(demo_records(records, companies))
    upstream = Upstream(root, rows)
    upstream.publish()
    transport.add_remote(open_repository(), REMOTE, str(upstream.hub))
    assert pull("theirs").status == "fast-forward"

    chosen = rows[:: max(1, len(rows) // conflicts)][:conflicts]
    assert len(chosen) == conflicts
    pks = {(ep, company, date.isoformat()): pk for pk, ep, company, date in
           AttendanceRecord.objects.values_list("pk", "ep_no", "company__name", "date")}
    groups = {"overstay": [], "shift": [], "changed-here": [], "deleted-here": []}
    for n, row in enumerate(chosen):
        group = "overstay" if n % 10 < 7 else ("shift", "changed-here", "deleted-here")[n % 10 - 7]
        groups[group].append(row)

    def here(group, **values):
        ids = [pks[(r["ep_no"], r["company"], r["date"])] for r in groups[group]]
        for start in range(0, len(ids), 500):
            batch = AttendanceRecord.objects.filter(pk__in=ids[start:start + 500])
            if values:
                batch.update(updated_at=timezone.now(), **values)
            else:
                batch.delete()

    def there(group, **values):
        for r in groups[group]:
            data = upstream.db.data[r["company"]]
            key = (r["ep_no"], r["company"], r["date"])
            if values:
                data[key] = {**data[key], **values}
            else:
                del data[key]

    here("overstay", overstay="11.5")
    there("overstay", overstay="12.5")
    here("shift", shift="QA")
    there("shift", shift="QB")
    here("changed-here", overstay="13.5")
    there("changed-here")
    here("deleted-here")
    there("deleted-here", overstay="14.5")
    upstream.publish("Upstream corrections")
    result = pull("manual")
    assert result.status == "conflicts", result.status
    state = MergeState.load(open_repository())
    assert len(state.pending()) == conflicts, len(state.pending())
    return upstream
