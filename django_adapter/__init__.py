"""attgit's Django app (label ``attendance``).

It only reads and writes rows: the models, a working copy over the
database (:mod:`django_adapter.workingcopy`), the attendance pages, the
admin and the management commands.  Every merge decision lives in
:mod:`attgit`.
"""
