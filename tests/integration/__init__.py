"""End-to-end tests: real processes, real databases, real git servers."""
