"""``manage.py seed_demo``: fill the database with deterministic demo attendance."""

from __future__ import annotations

import datetime as dt
import time

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import slugify

from attgit.errors import AttgitError
from attgit.words import plural

from ...demodata import company_names, demo_records
from ...models import AttendanceRecord, Company
from ...workingcopy import connect


class Command(BaseCommand):
    help = (
        "Load deterministic demo attendance (same arguments, same rows) and a root user. "
        "Example: manage.py seed_demo --records 100000 --companies 20 --users"
    )

    def add_arguments(self, parser):
        parser.add_argument("--records", type=int, default=1000, help="how many records (default 1000)")
        parser.add_argument("--companies", type=int, default=5, help="how many companies (default 5)")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument("--start-date", type=dt.date.fromisoformat, default=dt.date(2024, 1, 1),
                            help="first day, YYYY-MM-DD (default 2024-01-01)")
        parser.add_argument("--clear", action="store_true",
                            help="delete every company and record first")
        parser.add_argument("--root-password", default="root", help="password of user 'root'")
        parser.add_argument("--users", action="store_true",
                            help="also one company user per company (username: the company's slug)")
        parser.add_argument("--user-password", default="company",
                            help="password of the company users (default 'company')")
        parser.add_argument("--database", default="default", help="database alias")

    def handle(self, *args, **options):
        if options["records"] < 0 or options["companies"] < 1:
            raise CommandError("--records must be 0 or more and --companies 1 or more")
        wc = connect(options["database"])
        existing = wc.companies()
        if not options["clear"] and _has_records(options["database"]):
            raise CommandError("the database already holds attendance records; "
                               "pass --clear to replace them")
        started = time.perf_counter()
        try:
            result = wc.bulk_load(
                demo_records(options["records"], options["companies"], options["seed"],
                             options["start_date"]),
                progress=self._progress(options["records"], options["verbosity"]),
                total=options["records"],
                drop=existing if options["clear"] else (),
                log_rows=False,
            )
        except AttgitError as exc:
            raise CommandError(str(exc)) from None
        seconds = time.perf_counter() - started
        self._users(options)
        self.stdout.write(
            f"seeded {plural(result.inserted, 'record')} of {plural(options['companies'], 'company')} "
            f"in {seconds:.1f} s ({result.inserted / max(seconds, 1e-9):,.0f} records/s)"
        )

    def _progress(self, total: int, verbosity: int):
        """Every tenth of the way, at verbosity 2 and up."""
        step = max(total // 10, 1)
        last = [0]

        def report(done: int, _total: int) -> None:
            if done - last[0] >= step and verbosity >= 2:
                last[0] = done
                self.stderr.write(f"  {done:,} / {total:,}")

        return report

    def _users(self, options) -> None:
        """Root (always) and, with --users, one company user per company.

        Hashing a password takes a good fraction of a second, so every
        company user shares one hash.
        """
        alias = options["database"]
        User = get_user_model()
        with_roles = _has_field(User, "role") and _has_field(User, "company")
        with transaction.atomic(using=alias):
            root, _ = User._default_manager.db_manager(alias).get_or_create(username="root")
            root.is_staff, root.is_superuser = True, True
            if with_roles:
                root.role, root.company = "root", None
            root.set_password(options["root_password"])
            root.save(using=alias)
            if not options["users"] or not with_roles:
                return  # company users need the example's User (role, company)
            password = make_password(options["user_password"])
            companies = Company.objects.using(alias).filter(
                name__in=company_names(options["companies"]))
            for company in companies:
                User._default_manager.db_manager(alias).update_or_create(
                    username=slugify(company.name)[:150],
                    defaults={"role": "company", "company": company, "password": password},
                )


def _has_field(model, name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())


def _has_records(alias: str) -> bool:
    return AttendanceRecord.objects.using(alias).exists()
