"""The protocol a database implements to take part in attgit, the change
types that flow into it, and an in-memory implementation.

``protocol`` says what a database must do, ``changes`` what attgit asks of
it (per-company inserts, updates, deletes) and what it reports back,
``memory`` is a complete working copy in a dictionary (the library's tests
use it; an adapter author reads it as the reference).
"""

from attgit.workingcopy.changes import ApplyResult, ChangeSet, CompanyChange
from attgit.workingcopy.memory import MemoryWorkingCopy
from attgit.workingcopy.protocol import DatabaseState, Progress, WorkingCopy

__all__ = ["ApplyResult", "ChangeSet", "CompanyChange", "MemoryWorkingCopy", "DatabaseState", "Progress",
           "WorkingCopy"]
