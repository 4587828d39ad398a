"""Records, their canonical lines, the snapshot tree and the design document's backup file."""
