"""The root-only web pages: backup, restore, history, conflicts.

Each module holds one page family and the background job it starts:

- :mod:`.backup`    -- make a backup file (and a snapshot), download it;
- :mod:`.restore`   -- upload a file or pick a snapshot, apply it;
- :mod:`.preview`   -- what a restore would do, before it is applied;
- :mod:`.history`   -- the log of snapshots with a chart, compare two;
- :mod:`.conflicts` -- resolve a manual merge's conflicts, conclude or abort;
- :mod:`.jobs`      -- run a long operation outside the request, report progress;
- :mod:`.uploads`   -- keep an uploaded file under an opaque id, within the limit;
- :mod:`.access`    -- root users only; :mod:`.display` -- records as table rows.

Like the CLI, the pages only call the library (attgit.*) and the Django
adapter; every write goes through :func:`attgit.ops.reconcile.exclusive`.
"""
