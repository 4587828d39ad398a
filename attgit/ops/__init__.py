"""The operations: commit, reconcile, pull, manual merge, restore, compare, verify."""
