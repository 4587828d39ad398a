"""The repository: the one pygit2 door (objects, refs, locks) and the wire to remotes."""

import pygit2

# libgit2 maps pack files in windows of up to 1 GB and keeps up to 8 GB
# mapped: every page of a pack it has read stays in the process's resident
# memory.  A 1M-record pull reads a few hundred MB of packed company files
# once each; one small window kept holds its peak at 159 MB instead of 212
# for the same CPU time (64 MB kept: 207; bench/pull_diff.py).
pygit2.settings.mwindow_size = 16 * 1024 * 1024
pygit2.settings.mwindow_mapped_limit = 16 * 1024 * 1024
