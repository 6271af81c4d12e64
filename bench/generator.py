"""A seeded generator of realistic leadledger traffic, streamed in global time order.

Production systems do not send a lead's history in one piece: the ad platforms, the web
analytics, the marketing automation and the CRM each send facts as they happen, so a
lead's events are interleaved with thousands of other leads'. This generator does the
same. Each journey (a visitor, perhaps identified as a lead, perhaps becoming a
customer) is a Python generator that yields its facts in time order; a heap merges all
running journeys, the daily spend reports and the plan targets into one stream ordered by
arrival. Only running journeys are held in memory (the arrival rate times a journey's
lifetime), so 10^7 events stream in bounded memory.

Rates and shares are the B2B practice's (see ``RATES``): MQL -> SQL about 45%, SQL -> won
deal about 25%, lost deals with reasons, hand-over facts with reason tags (a few
missing), purchases, contraction and churn after the win. One ``random.Random(seed)``
drives everything, and the merge order is a function of earlier draws only, so the same
seed always gives the same stream.

    from bench.generator import generate, write_jsonl
    write_jsonl(generate(journeys=10_000, seed=1), path)

Facts are all legal under the funnel rules when ingested in stream order (a test ingests a
sample and expects no dead letters); a small share of touches arrive late (``LATE_SHARE``),
as ad platforms report clicks in batches, which the engine places by event time.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
from collections.abc import Generator, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

Record = dict[str, Any]
Cycle = Generator[Record, None, "datetime | None"]
"""Facts of a hand-over cycle; returns when the lead came back to marketing, if it did."""

START = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)

# Channel: (share of touches, source, medium, touch kind, paid: spend is reported daily).
CHANNELS: dict[str, tuple[int, str, str, str, bool]] = {
    "paid_search": (24, "google", "cpc", "online", True),
    "organic_search": (20, "google", "organic", "online", False),
    "direct": (12, "(direct)", "(none)", "online", False),
    "paid_social": (12, "linkedin", "paid_social", "online", True),
    "email": (11, "hubspot", "email", "online", False),
    "referral": (7, "partner_site", "referral", "online", False),
    "display": (6, "dv360", "display", "online", True),
    "webinar": (4, "zoom", "webinar", "webinar", False),
    "events": (4, "trade_show", "offline", "trade_show", True),
}
PAID = tuple(name for name, spec in CHANNELS.items() if spec[4])
_NAMES = list(CHANNELS)
_WEIGHTS = [spec[0] for spec in CHANNELS.values()]
# Touches after identification come mostly from nurture: email and webinars.
_NURTURE = ["email", "webinar", "direct", "paid_social", "organic_search"]
_NURTURE_WEIGHTS = [45, 15, 20, 10, 10]

RATES = {
    "identified": 0.35,  # visitors that fill a form and become leads
    "outbound": 0.04,  # journeys that start as sales-sourced leads entering at SQL
    "mql": 0.40,  # lead -> MQL
    "mql_rejected": 0.20,  # sales rejects the MQL
    "reason_missing": 0.05,  # a rejection or disqualification without a reason tag
    "sql": 0.55,  # accepted MQL -> SQL (so MQL -> SQL about 45%)
    "opportunity": 0.75,  # SQL -> opportunity with a deal opened
    "won": 0.34,  # opened deal -> won (so SQL -> won about 25%)
    "lost": 0.50,  # opened deal -> lost (the rest stay open)
    "renewal": 0.80,  # customers that renew after a year
    "upsell": 0.30,
    "cross_sell": 0.15,
    "repeat": 0.25,
    "contraction": 0.10,
    "churn": 0.12,
    "recycled": 0.15,  # leads that never reach MQL go back to nurture
    "requalified": 0.20,  # a rejected or disqualified lead comes back as an MQL
}
REASONS = ("no_budget", "not_icp", "too_early", "competitor_won", "no_response", "other")
REASON_WEIGHTS = (25, 20, 25, 10, 12, 8)
TEAMS = {"emea": ("ana", "ben", "cleo"), "na": ("dan", "eve", "finn"), "apac": ("gia", "hal")}
SEGMENTS = {"smb": 50, "mid_market": 35, "enterprise": 15}  # share of inbound leads
LATE_SHARE = 0.02  # touches an ad platform reports up to six hours late


def generate(
    journeys: int, seed: int = 1, days: int | None = None, late_share: float = LATE_SHARE
) -> Iterator[Record]:
    """``journeys`` visitor journeys arriving over ``days`` (default: a year, or longer at
    a thousand a day), with the daily spend and the targets, merged by arrival time."""
    rng = random.Random(seed)
    days = days or max(365, journeys // 1000)
    gap = timedelta(days=days) / max(journeys, 1)
    arrivals = _arrivals(rng, journeys, gap)
    order = itertools.count()  # ties in time go to the first pushed: deterministic
    heap: list[tuple[datetime, int, Record, Iterator[Record] | None]] = []

    def pull(source: Iterator[Record]) -> None:
        for record in source:
            at = datetime.fromisoformat(record["occurred_at"])
            if record["type"] == "touch" and rng.random() < late_share:
                late = at + timedelta(minutes=rng.randint(5, 360))
                heapq.heappush(heap, (late, next(order), record, None))
                continue  # a late touch does not hold the journey's later facts back
            heapq.heappush(heap, (at, next(order), record, source))
            return

    pull(_calendar(rng, START, START + timedelta(days=days + 30)))
    upcoming = next(arrivals, None)
    while heap or upcoming:
        if upcoming is not None and (not heap or upcoming[1] <= heap[0][0]):
            number, at = upcoming
            pull(_journey(rng, number, at))
            upcoming = next(arrivals, None)
            continue
        _, _, record, source = heapq.heappop(heap)
        yield record
        if source is not None:
            pull(source)


def _arrivals(rng: random.Random, count: int, gap: timedelta) -> Iterator[tuple[int, datetime]]:
    """Journey starts: a Poisson process with ``gap`` between starts on average."""
    at = START
    mean = gap.total_seconds()
    for number in range(1, count + 1):
        at += timedelta(seconds=rng.expovariate(1 / mean))
        yield number, at


class _Journey:
    """The facts of one visitor's journey, stamped with one lead's identifiers."""

    def __init__(self, rng: random.Random, number: int) -> None:
        self.rng = rng
        self.visitor = f"v-{number:08d}"
        self.lead = f"lead-{number:08d}"
        self.counter = itertools.count()

    def fact(self, kind: str, at: datetime, system: str, /, **fields: Any) -> Record:
        return {"type": kind, "event_id": f"{self.lead}-{kind}-{next(self.counter)}",
                "lead_id": self.lead, "occurred_at": at.isoformat(), "source_system": system,
                **fields}  # fmt: skip

    def touch(self, at: datetime, channel: str, *, anonymous: bool) -> Record:
        _, source, medium, kind, paid = CHANNELS[channel]
        record: Record = {
            "type": "touch",
            "event_id": f"{self.visitor}-touch-{next(self.counter)}",
            "occurred_at": at.isoformat(),
            "source_system": "ads" if paid else "web_analytics",
            "channel": channel, "source": source, "medium": medium,
            "campaign": f"{channel}-{at.year}-q{(at.month - 1) // 3 + 1}", "kind": kind,
        }  # fmt: skip
        if anonymous:
            record["anonymous_id"] = self.visitor
        else:
            record["lead_id"] = self.lead
        if paid and channel != "events":
            record["cost"] = f"{self.rng.uniform(0.4, 9):.2f}"
        return record

    def reason(self) -> str | None:
        if self.rng.random() < RATES["reason_missing"]:
            return None  # a hand-over breach: stored, judged by the SLA report
        return self.rng.choices(REASONS, REASON_WEIGHTS)[0]


def _journey(rng: random.Random, number: int, start: datetime) -> Iterator[Record]:
    """One journey, in time order: anonymous touches; for some, identification as a lead,
    scoring and assignment; for some of those the hand-over, deals and the customer years."""
    j = _Journey(rng, number)
    at = start
    if rng.random() < RATES["outbound"]:
        yield from _outbound(j, at)
        return
    for _ in range(_count(rng, 2.5)):
        yield j.touch(at, rng.choices(_NAMES, _WEIGHTS)[0], anonymous=True)
        at += _hours(rng, 40)
    if rng.random() >= RATES["identified"]:
        return  # a visitor never identified: a journey that did not convert
    segment = rng.choices(list(SEGMENTS), list(SEGMENTS.values()))[0]
    yield j.fact("lead_created", at, "crm", origin="inbound", segment=segment,
                 company_size=rng.randint(5, 5000), country=rng.choice(["DE", "US", "GB", "FR",
                 "AU", "NL"]), icp_fit=rng.random() < 0.6)  # fmt: skip
    yield j.fact("identify", at + timedelta(seconds=1), "web_analytics", anonymous_id=j.visitor)
    team = rng.choice(sorted(TEAMS))
    rep = rng.choice(TEAMS[team])
    at += timedelta(minutes=rng.randint(2, 30))
    yield j.fact("assigned", at, "crm", rep=rep, team=team)
    yield j.fact("score_changed", at, "marketing_automation", score=rng.randint(5, 40),
                 model="fit_v3")  # fmt: skip
    for _cycle in range(3):  # a rejected or disqualified lead may come back as an MQL
        for _ in range(_count(rng, 2)):
            at += _hours(rng, 60)
            yield j.touch(at, rng.choices(_NURTURE, _NURTURE_WEIGHTS)[0], anonymous=False)
        if rng.random() >= RATES["mql"]:
            if rng.random() < RATES["recycled"]:
                at += _hours(rng, 24 * 10)
                yield j.fact("recycled", at, "crm", reason="too_early")
            return
        at += _hours(rng, 48)
        yield j.fact("score_changed", at, "marketing_automation", score=rng.randint(60, 95),
                     model="fit_v3")  # fmt: skip
        yield j.fact("stage_changed", at, "marketing_automation", stage="mql")
        came_back = yield from _handover(j, at, rep)
        if came_back is None:
            return
        at = came_back


def _handover(j: _Journey, mql: datetime, rep: str) -> Cycle:
    """Sales' answer to an MQL and what follows; returns when the lead came back to
    marketing (a new cycle), or None when its journey is over."""
    rng = j.rng
    # Most answers come within the 8-hour SLA; some are late (breaches).
    at = mql + _hours(rng, 4 if rng.random() < 0.85 else 20)
    if rng.random() < RATES["mql_rejected"]:
        yield j.fact("mql_rejected", at, "crm", reason=j.reason())
        return _requalified(rng, at)
    yield j.fact("mql_accepted", at, "crm", rep=rep)
    attempts = rng.choice((1, 2, 2, 3, 3, 3, 4, 5))
    for _ in range(attempts):
        at += _hours(rng, 14)
        yield j.fact("contact_attempted", at, "crm", method=rng.choice(("call", "email",
                     "messenger")), outcome=rng.choice(("connected", "no_answer", "voicemail",
                     "replied")))  # fmt: skip
    if rng.random() >= RATES["sql"]:
        if rng.random() < 0.5:
            at += _hours(rng, 24 * 5)
            # Disqualifying an MQL that never became an SQL is a policy breach, recorded.
            yield j.fact("disqualified", at, "crm", reason=j.reason())
            return _requalified(rng, at)
        return None
    at += _hours(rng, 30)
    yield j.fact("stage_changed", at, "crm", stage="sql")
    at += _hours(rng, 1.5 if rng.random() < 0.9 else 8)
    yield j.fact("sql_confirmed", at, "crm", rep=rep)
    return (yield from _sales(j, at))


def _sales(j: _Journey, at: datetime) -> Cycle:
    """From SQL: an opportunity and its deal, won or lost, or a disqualification."""
    rng = j.rng
    deal = f"deal-{j.lead[5:]}-{next(j.counter)}"  # a later cycle opens a deal of its own
    if rng.random() >= RATES["opportunity"]:
        at += _hours(rng, 24 * 12)
        yield j.fact("disqualified", at, "crm", reason=j.reason())
        return _requalified(rng, at)
    at += _hours(rng, 24 * 6)
    yield j.fact("stage_changed", at, "crm", stage="opportunity")
    amount = f"{rng.randrange(3_000, 60_000, 50)}.00"
    currency = "EUR" if rng.random() < 0.95 else "USD"
    at += timedelta(minutes=rng.randint(1, 90))
    yield j.fact("deal_opened", at, "crm", deal_id=deal, amount=amount, currency=currency)
    close = at + _hours(rng, 24 * 60)  # B2B deal cycles: about three months from SQL
    for _ in range(rng.randint(0, 3)):  # nurture while the deal is open
        at += (close - at) * rng.uniform(0.1, 0.5)
        yield j.touch(at, rng.choice(("webinar", "email", "events")), anonymous=False)
    at = close
    roll = rng.random()
    if roll < RATES["won"]:
        yield j.fact("deal_won", at, "crm", deal_id=deal, amount=amount, currency=currency)
        yield from _customer(j, at, amount, currency)
        return None
    if roll < RATES["won"] + RATES["lost"]:
        yield j.fact("deal_lost", at, "crm", deal_id=deal,
                     reason=rng.choices(REASONS, REASON_WEIGHTS)[0])  # fmt: skip
        if rng.random() < RATES["recycled"]:
            at += _hours(rng, 24 * 30)
            yield j.fact("recycled", at, "crm", reason=j.reason())
            return _requalified(rng, at)
    return None  # the deal stays open


def _customer(j: _Journey, won: datetime, amount: str, currency: str) -> Iterator[Record]:
    """A customer's year: purchases, perhaps a contraction, a renewal or a churn."""
    rng = j.rng
    value = float(amount)
    later: list[tuple[datetime, str, dict[str, Any]]] = []
    for kind, share in (("upsell", 0.3), ("cross_sell", 0.2), ("repeat", 0.1)):
        if rng.random() < RATES[kind]:
            later.append((won + timedelta(days=rng.randint(30, 330)), "purchase",
                          {"kind": kind, "order_id": f"{j.lead}-{kind}",
                           "amount": f"{value * share:.2f}", "currency": currency}))  # fmt: skip
    if rng.random() < RATES["contraction"]:
        later.append((won + timedelta(days=rng.randint(60, 300)), "contraction",
                      {"amount": f"{value * 0.2:.2f}", "currency": currency}))  # fmt: skip
    for at, kind, fields in sorted(later, key=lambda item: item[0]):
        yield j.fact(kind, at, "billing", **fields)
    year = won + timedelta(days=365)
    if rng.random() < RATES["churn"]:
        yield j.fact("churned", year - timedelta(days=rng.randint(1, 30)), "billing",
                     reason=rng.choice(("price", "product_fit", "acquired", None)))  # fmt: skip
    elif rng.random() < RATES["renewal"]:
        yield j.fact("purchase", year, "billing", kind="renewal", order_id=f"{j.lead}-renewal",
                     amount=amount, currency=currency)  # fmt: skip


def _outbound(j: _Journey, at: datetime) -> Iterator[Record]:
    """A sales-sourced lead: it enters at SQL, and its touches are sales calls and meetings."""
    rng = j.rng
    team = rng.choice(sorted(TEAMS))
    rep = rng.choice(TEAMS[team])
    yield j.fact("lead_created", at, "crm", origin="outbound", entry_stage="sql",
                 segment=rng.choice(["mid_market", "enterprise"]), icp_fit=True)  # fmt: skip
    yield j.fact("assigned", at + timedelta(minutes=1), "crm", rep=rep, team=team)
    at += _hours(rng, 1.5)
    yield j.fact("sql_confirmed", at, "crm", rep=rep)
    for _ in range(rng.randint(1, 4)):
        at += _hours(rng, 20)
        yield j.fact("contact_attempted", at, "crm", method="call",
                     outcome=rng.choice(("connected", "no_answer", "voicemail")))  # fmt: skip
    touch = j.touch(at + timedelta(minutes=5), "events", anonymous=False)
    touch.update(channel="outbound", source="sales", medium="call", kind="meeting",
                 campaign="outbound")  # fmt: skip
    yield touch
    yield from _sales(j, at + timedelta(minutes=30))


def _requalified(rng: random.Random, at: datetime) -> datetime | None:
    """When a lead handed back to nurture comes back (a later cycle), if it does."""
    if rng.random() < RATES["requalified"]:
        return at + timedelta(days=rng.randint(20, 90))
    return None


def _calendar(rng: random.Random, first: datetime, last: datetime) -> Iterator[Record]:
    """Each paid channel's spend for each day, reported the next night; monthly targets per
    team and quarterly targets overall, set on the first day of the period."""
    day = first.date()
    while day <= last.date():
        if day.day == 1:
            yield from _targets(rng, day)
        report = datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC) + timedelta(days=1)
        for channel in PAID:
            base = {"paid_search": 900, "paid_social": 600, "display": 300, "events": 150}
            yield {"type": "spend", "event_id": f"spend-{channel}-{day.isoformat()}",
                   "occurred_at": report.isoformat(), "source_system": "ads", "channel": channel,
                   "campaign": f"{channel}-{day.year}-q{(day.month - 1) // 3 + 1}",
                   "day": day.isoformat(), "amount": f"{base[channel] * rng.uniform(0.6, 1.4):.2f}",
                   "currency": "EUR"}  # fmt: skip
        day += timedelta(days=1)


def _targets(rng: random.Random, day: date) -> Iterator[Record]:
    at = datetime(day.year, day.month, 1, 9, 0, tzinfo=UTC).isoformat()  # after the night's spend
    month = f"{day.year}-{day.month:02d}"
    for team in sorted(TEAMS):
        yield {"type": "plan_target", "event_id": f"target-{month}-{team}", "occurred_at": at,
               "source_system": "finance", "period": month, "team": team,
               "amount": f"{rng.randrange(80, 160) * 1000}", "currency": "EUR"}  # fmt: skip
    if day.month in (1, 4, 7, 10):
        quarter = f"{day.year}-Q{(day.month - 1) // 3 + 1}"
        yield {"type": "plan_target", "event_id": f"target-{quarter}", "occurred_at": at,
               "source_system": "finance", "period": quarter,
               "amount": f"{rng.randrange(700, 1200) * 1000}", "currency": "EUR"}  # fmt: skip


def _count(rng: random.Random, mean: float) -> int:
    """At least one; geometric, with the given mean."""
    n = 1
    while rng.random() < 1 - 1 / mean:
        n += 1
    return n


def _hours(rng: random.Random, mean: float) -> timedelta:
    """A waiting time with the given mean in hours, exponential, at least a minute."""
    return timedelta(hours=rng.expovariate(1 / mean)) + timedelta(minutes=1)


EVENTS_PER_JOURNEY = 6.1
"""About how many events one journey yields, for sizing by events (measured, seed 1)."""


def journeys_for(events: int) -> int:
    """How many journeys give about ``events`` events."""
    return max(1, round(events / EVENTS_PER_JOURNEY))


def write_jsonl(records: Iterable[Record], path: Path) -> tuple[int, int]:
    """Write ``records`` to ``path`` one line at a time; return (records, bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, separators=(",", ":")) + "\n")
            count += 1
    return count, path.stat().st_size
