"""A runnable attendance site that shows attgit's Django app at work."""
