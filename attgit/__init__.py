"""attgit: git for attendance data.

The library never imports Django: a database takes part through the
:class:`attgit.workingcopy.WorkingCopy` protocol.
"""

__version__ = "0.1.0"
