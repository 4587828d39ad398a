"""The repository: the one pygit2 door (objects, refs, locks) and the wire to remotes."""
