"""A Hypothesis state machine: three environments (in-memory databases,
real repositories) and a shared bare hub, driven by random edits, adds,
deletes, commits, pushes (which may be rejected) and pulls with a random
strategy (theirs, ours, or manual with every conflict resolved one way).

Invariant after every step: no edit is lost without a recorded conflict.
Each edit is tracked with what its environment knew when it was made; an
environment must hold every edit it knows of, except where a later edit
made with knowledge of it overrode it, or where a conflict on that record
was reported.  At the end a sync in both directions makes every
environment hold the same tree, and C git's ``fsck --strict`` accepts
every repository.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from attgit.errors import Rejected
from attgit.format import records as rec
from attgit.merge.plan import plan_between
from attgit.ops.commit import snapshot_database
from attgit.ops.manual import conclude
from attgit.ops.mergestate import MergeState
from attgit.ops.pull import pull_commit
from attgit.ops.reconcile import exclusive
from attgit.repo import transport
from attgit.repo.repository import Repository
from attgit.workingcopy import MemoryWorkingCopy

from ..helpers import AUTHOR, fsck, record
from .envs import new_hub, postgres_url

pytestmark = pytest.mark.skipif(bool(postgres_url()), reason="no database involved: the SQLite run covers it")

ENVS = 3
#: Hundreds of small repositories are made and removed: in memory when we can.
SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
COMPANIES = ("Acme", "Zeta Works")
KEYS = [(e, c, d) for c in COMPANIES for e in ("E1", "E2", "E3") for d in ("2024-01-01", "2024-01-02")]
#: An edit's value for each field it may change: new for every edit (its
#: id in it), so no edit is a no-op and no value comes back (A -> B -> A),
#: cases where a three-way merge rightly sees no change to keep.
VALUES = {"ep_name": lambda n: f"n{n}", "shift": lambda n: f"s{n}", "overstay": str,
          "in_time": lambda n: f"{n // 60 % 24:02d}:{n % 60:02d}"}


@dataclass
class Edit:
    """One change a person made: ``fields`` set (all of them for an add),
    or the record deleted (``fields`` None).  ``knew``: the edits of this
    record its environment held when it was made (those it may override)."""

    id: int
    key: tuple
    fields: Optional[dict]
    add: bool = False
    knew: frozenset = frozenset()
    #: a delete of a record its environment added itself, before any other
    #: environment or the hub saw it: its net change is nothing, so another
    #: environment's add of the same key rightly stands (base and ours both
    #: lack the record) and is no conflict
    cancels: bool = False

    def overrides(self, other: "Edit", field_name: Optional[str]) -> bool:
        """Whether this edit, made knowing ``other``, replaces ``other``'s
        ``field_name`` (None: its existence or absence)."""
        if other.id not in self.knew:
            return False
        return self.fields is None or self.add or field_name is None or field_name in self.fields


@dataclass
class Env:
    name: str
    repo: Repository
    db: MemoryWorkingCopy
    knows: set = field(default_factory=set)  # edit ids the database holds
    committed: set = field(default_factory=set)  # edit ids main holds


class SyncMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="attgit-stateful-", dir=SCRATCH))
        self.hub = new_hub(self.tmp)
        self.hub_knows: set = set()
        self.edits: dict[int, Edit] = {}
        self.conflicted: set = set()
        self.ids = itertools.count()
        self.envs = [self._first()] + [self._clone(n) for n in range(1, ENVS)]

    # --- set-up ------------------------------------------------------------------

    def _first(self) -> Env:
        env = Env("env0", Repository.init(self.tmp / "env0.git"), MemoryWorkingCopy())
        for key in KEYS[::2]:
            self._record_edit(env, Edit(next(self.ids), key, record(*key), add=True))
        snapshot_database(env.repo, env.db, AUTHOR)
        transport.add_remote(env.repo, "hub", str(self.hub))
        transport.push(env.repo, "hub")
        env.committed = set(env.knows)
        self.hub_knows = set(env.knows)
        return env

    def _clone(self, n: int) -> Env:
        repo = transport.clone(str(self.hub), self.tmp / f"env{n}.git", "hub")
        db = MemoryWorkingCopy()
        db.apply(plan_between(repo.snapshot(None), repo.snapshot(repo.head())).changes(), str(repo.head()))
        return Env(f"env{n}", repo, db, set(self.hub_knows), set(self.hub_knows))

    def _record_edit(self, env: Env, edit: Edit) -> None:
        ep_no, company, date = edit.key
        rows = env.db.data.setdefault(company, {})
        if edit.fields is None:
            del rows[edit.key]
        else:
            base = rows.get(edit.key, {})
            rows[edit.key] = rec.normalise({**base, **edit.fields, "ep_no": ep_no, "company": company, "date": date})
        self.edits[edit.id] = edit
        env.knows.add(edit.id)

    def _new_edit(self, env: Env, key: tuple, fields: Optional[dict], add: bool = False) -> None:
        n = next(self.ids)
        values = None if fields is None else {**fields, **{f: VALUES[f](n) for f in fields if f in VALUES}}
        knew = frozenset(i for i in env.knows if self.edits[i].key == key)
        cancels = fields is None and self._only_here(env, knew) and any(self.edits[i].add for i in knew)
        self._record_edit(env, Edit(n, key, values, add, knew, cancels))

    def _only_here(self, env: Env, ids: frozenset) -> bool:
        """Whether no other environment, nor the hub, holds any of ``ids``."""
        elsewhere = self.hub_knows.union(*(other.knows for other in self.envs if other is not env))
        return not ids & elsewhere

    # --- rules -------------------------------------------------------------------

    @rule(e=st.integers(0, ENVS - 1), key=st.sampled_from(KEYS), names=st.sets(st.sampled_from(sorted(VALUES)),
                                                                               min_size=1))
    def edit_or_add(self, e, key, names):
        env = self.envs[e]
        if key in env.db.data.get(key[1], {}):
            self._new_edit(env, key, dict.fromkeys(names))
        else:
            self._new_edit(env, key, record(*key), add=True)

    @rule(e=st.integers(0, ENVS - 1), key=st.sampled_from(KEYS))
    def delete(self, e, key):
        env = self.envs[e]
        if key in env.db.data.get(key[1], {}):
            self._new_edit(env, key, None)

    @rule(e=st.integers(0, ENVS - 1))
    def commit(self, e):
        env = self.envs[e]
        snapshot_database(env.repo, env.db, AUTHOR)
        env.committed = set(env.knows)

    @rule(e=st.integers(0, ENVS - 1))
    def push(self, e):
        env = self.envs[e]
        try:
            transport.push(env.repo, "hub")
        except Rejected:
            return  # the hub has commits env lacks: pull first
        self.hub_knows = set(env.committed)

    @rule(e=st.integers(0, ENVS - 1), strategy=st.sampled_from(["theirs", "ours", "manual-theirs", "manual-ours"]))
    def pull(self, e, strategy):
        self._pull(self.envs[e], strategy)

    def _pull(self, env: Env, strategy: str) -> None:
        with exclusive(env.repo, env.db):
            transport.fetch(env.repo, "hub")
            theirs = set(self.hub_knows)
            result = pull_commit(env.repo, env.db, AUTHOR, transport.remote_tip(env.repo, "hub"), "hub",
                                 strategy=strategy.split("-")[0])
            self.conflicted |= {tuple(c.key) for c in result.conflicts}
            if result.status == "conflicts":
                state = MergeState.load(env.repo)
                for conflict in state.pending():
                    state.resolve(conflict.id, strategy.split("-")[1])
                state.save(env.repo)
                conclude(env.repo, env.db, AUTHOR)
        env.knows |= theirs
        env.committed = set(env.knows)

    # --- invariants ----------------------------------------------------------------

    @invariant()
    def no_edit_lost_without_a_conflict(self):
        for env in self.envs:
            self._check(env)

    def _check(self, env: Env) -> None:
        known = [self.edits[i] for i in env.knows]
        for edit in known:
            if edit.key in self.conflicted:
                continue
            later = [g for g in known if g.id != edit.id and g.key == edit.key]
            current = env.db.data.get(edit.key[1], {}).get(edit.key)
            undone = edit.cancels and any(g.add for g in later)  # another's add of a key this one never shared
            if not any(g.overrides(edit, None) for g in later) and not undone:
                assert (current is None) == (edit.fields is None), (env.name, "existence", edit)
            for name, value in (edit.fields or {}).items():
                if current is not None and not any(g.overrides(edit, name) for g in later):
                    assert current[name] == value, (env.name, name, edit, current)

    def teardown(self):
        try:
            self._final_sync()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _final_sync(self) -> None:
        """Everybody commits, pulls and pushes, twice round: all equal."""
        for _ in range(2):
            for env in self.envs:
                self._pull(env, "theirs")
                self.push(self.envs.index(env))
        trees = {env.repo.info(env.repo.head()).tree for env in self.envs}
        assert len(trees) == 1, "a final sync left environments apart"
        for env in self.envs:
            assert env.db.state().commit == str(env.repo.head())
            assert env.knows == set(self.edits), "an environment missed edits"
            self._check(env)
        for path in [self.hub] + [env.repo.path for env in self.envs]:
            fsck(path)


# max_examples comes from the profile loaded in tests/conftest.py (100, or more when deep)
SyncMachine.TestCase.settings = settings(stateful_step_count=15, deadline=None)
test_sync_machine = SyncMachine.TestCase
