#!/usr/bin/env python
"""The example attendance site's manage.py (run it from anywhere)."""

import os
import sys
from pathlib import Path


def main() -> None:
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))  # attendance_site
    sys.path.insert(1, str(here.parent))  # attgit, django_adapter from a checkout
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "attendance_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
