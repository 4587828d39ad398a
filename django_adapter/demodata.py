"""Deterministic demo attendance: same arguments, same records, anywhere.

Each company draws from its own ``random.Random`` seeded with text
(``"<seed>:<company index>"``), which Python hashes the same way on every
run and machine.  Records come out company by company in snapshot order
(date, ep_no), which is also the fastest order to insert them in.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Iterator

COMPANY_STEMS = (
    "Acme", "Northwind", "Globex", "Initech", "Contoso", "Fabrikam", "Tailspin",
    "Wingtip", "Litware", "Lakeshore", "Summit", "Pioneer", "Evergreen", "Bluebird",
    "Sterling", "Meridian", "Crescent", "Redwood", "Harbor", "Silverline",
)
COMPANY_TRADES = (
    "Textiles", "Logistics", "Foods", "Engineering", "Pharma", "Motors", "Steel",
    "Packaging", "Electronics", "Plastics",
)
COMPANY_FORMS = ("Pvt Ltd", "Ltd", "Industries", "& Co", "LLP")
FIRST_NAMES = (
    "Aarav", "Priya", "Rahul", "Ananya", "Vikram", "Sneha", "Arjun", "Kavya", "Rohan",
    "Meera", "Sanjay", "Divya", "Karan", "Pooja", "Amit", "Neha", "Suresh", "Lakshmi",
    "John", "Maria", "Ahmed", "Fatima", "Chen", "Olga", "David", "Grace",
)
LAST_NAMES = (
    "Sharma", "Patel", "Iyer", "Reddy", "Nair", "Gupta", "Singh", "Kumar", "Das", "Menon",
    "Joshi", "Rao", "Khan", "Fernandes", "Smith", "Garcia", "Wang", "Ivanova",
)
SHIFTS = {"Day": 9 * 60, "General": 10 * 60, "Night": 22 * 60}  # start, minutes after midnight
SHIFT_WEIGHTS = {"Day": 60, "General": 25, "Night": 15}
STATUS_WEIGHTS = {"P": 84, "A": 5, "L": 4, "HD": 3, "OD": 2, "H": 2}  # Sundays are WO
WORKING = {"P": 8 * 60, "HD": 4 * 60, "OD": 8 * 60}  # scheduled minutes of a working status
OVERSTAYS = ("0", "0", "0", "0", "0.5", "1", "1.5", "2")
_CLOCK = [f"{m // 60:02d}:{m % 60:02d}" for m in range(24 * 60)]


def company_names(count: int) -> list[str]:
    """``count`` distinct, realistic and stable company names."""
    names = []
    for i in range(count):
        stem = COMPANY_STEMS[i % len(COMPANY_STEMS)]
        trade = COMPANY_TRADES[(i // len(COMPANY_STEMS)) % len(COMPANY_TRADES)]
        form = COMPANY_FORMS[i % len(COMPANY_FORMS)]
        lap = i // (len(COMPANY_STEMS) * len(COMPANY_TRADES))
        names.append(f"{stem} {trade} {form}" + (f" {lap + 1}" if lap else ""))
    return names


def share(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal whole shares, larger first."""
    base, extra = divmod(total, parts)
    return [base + (i < extra) for i in range(parts)]


def demo_records(records: int, companies: int = 5, seed: int = 1,
                 start: dt.date = dt.date(2024, 1, 1)) -> Iterator[dict]:
    """``records`` canonical records spread over ``companies`` companies."""
    for index, (name, count) in enumerate(zip(company_names(companies), share(records, companies))):
        yield from company_records(name, count, random.Random(f"{seed}:{index}"), start)


def company_records(company: str, count: int, rng: random.Random,
                    start: dt.date) -> Iterator[dict]:
    """One company's records: its staff, day after day, until ``count``."""
    staff = employees(rng, max(1, min(250, -(-count // 30))))
    day = start
    while count > 0:
        todays = staff[:count]
        sunday = day.weekday() == 6
        statuses = ["WO"] * len(todays) if sunday else rng.choices(
            list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()), k=len(todays))
        iso = day.isoformat()
        for (ep_no, ep_name, shift), status in zip(todays, statuses):
            yield record(rng, company, ep_no, ep_name, shift, iso, status)
        count -= len(todays)
        day += dt.timedelta(days=1)


def employees(rng: random.Random, count: int) -> list[tuple[str, str, str]]:
    """(ep_no, name, shift) of a company's staff, sorted by ep_no."""
    shifts = rng.choices(list(SHIFT_WEIGHTS), weights=list(SHIFT_WEIGHTS.values()), k=count)
    return [
        (f"EMP{n:05d}", f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", shifts[n - 1])
        for n in range(1, count + 1)
    ]


def record(rng: random.Random, company: str, ep_no: str, ep_name: str, shift: str,
           date: str, status: str) -> dict:
    """One day of one employee; times and overstay only on working days."""
    in_time = out_time = None
    overstay = "0"
    if status in WORKING:
        overstay = rng.choice(OVERSTAYS)
        arrive = SHIFTS[shift] + rng.randrange(-15, 20)
        leave = arrive + WORKING[status] + int(float(overstay) * 60) + rng.randrange(0, 10)
        in_time, out_time = _CLOCK[arrive % 1440], _CLOCK[leave % 1440]
    return {
        "ep_no": ep_no, "ep_name": ep_name, "company": company, "date": date, "shift": shift,
        "status": status, "in_time": in_time, "out_time": out_time, "overstay": overstay,
    }
