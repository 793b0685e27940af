"""Money at stake, as /ops, the platform API (`GET /api/v1/revenue`) and /metrics/ show it:
SQL over `case_money` (written by worker/money) and `payment_recovery` (worker/recovery).

Every figure is per currency, in the currency's minor unit (Stripe's amounts), never summed
across currencies. Revenue at risk is over the cases still broken (open, no contact,
unrepairable); recovered is the amount due of the invoices relink paid again and that were
paid. The recovery rate over N days (7, 30): of the cases opened by a deactivation whose
first N days are over, or that were repaired sooner, the share repaired within N days of
opening, with the monthly revenue those cases had at risk and what was recovered on them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from shared.db import utcnow
from shared.models import REPAIRED_RESOLUTIONS, CaseState, RelinkCase
from shared.payments.money_models import CaseMoney
from shared.payments.recovery_models import PaymentRecovery, RecoveryStatus

AT_RISK_STATES = (CaseState.OPEN, CaseState.NO_CONTACT, CaseState.UNREPAIRABLE)
RATE_WINDOWS = (7, 30)
# https://docs.stripe.com/currencies#zero-decimal and #three-decimal: how many decimals a
# currency's minor unit has (display only: amounts stay in minor units).
ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
Amounts = dict[str, int]


def decimals(currency: str) -> int:
    currency = currency.lower()
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


def major_units(amount: int, currency: str) -> Decimal:
    """An amount in minor units as a decimal in the currency's major unit."""
    return Decimal(amount).scaleb(-decimals(currency))


def format_amount(amount: int, currency: str) -> str:
    """`1,234.56 USD` (`1,200 JPY`): the major unit with the currency's decimals."""
    return f"{major_units(amount, currency):,.{decimals(currency)}f} {currency.upper()}"


@dataclass(frozen=True)
class AtRisk:
    currency: str
    monthly: int
    failed_due: int
    cases: int


@dataclass(frozen=True)
class Rate:
    days: int
    eligible: int
    repaired: int
    at_risk: Amounts  # the monthly revenue the cases repaired in time had at risk
    recovered: Amounts  # recovered on those cases

    @property
    def percent(self) -> float | None:
        return None if not self.eligible else 100.0 * self.repaired / self.eligible


@dataclass(frozen=True)
class Revenue:
    at_risk: list[AtRisk]
    recovered: Amounts
    recovered_invoices: int
    rates: list[Rate]
    daily: dict[str, dict[str, list[int]]] = field(default_factory=dict[str, dict[str, list[int]]])
    """Per currency: the monthly revenue of the cases opened each day and the amount
    recovered each day, over `days` (for the chart)."""
    days: list[str] = field(default_factory=list[str])

    @property
    def decimals(self) -> dict[str, int]:
        """The decimals of each charted currency (the chart draws major units)."""
        return {currency: decimals(currency) for currency in self.daily}


def at_risk(db: Session, stripe_account: str | None = None) -> list[AtRisk]:
    query = (
        select(
            col(CaseMoney.currency),
            func.sum(col(CaseMoney.monthly_at_risk)),
            func.sum(col(CaseMoney.failed_due)),
            func.count(func.distinct(CaseMoney.case_id)),
        )
        .join(RelinkCase, col(RelinkCase.id) == col(CaseMoney.case_id))
        .where(col(RelinkCase.state).in_(AT_RISK_STATES))
        .group_by(col(CaseMoney.currency))
        .order_by(col(CaseMoney.currency))
    )
    if stripe_account is not None:
        query = query.where(col(RelinkCase.stripe_account) == stripe_account)
    return [
        AtRisk(str(currency), int(monthly or 0), int(due or 0), int(cases))
        for currency, monthly, due, cases in db.exec(query)
    ]


def _recovered_rows(
    db: Session, stripe_account: str | None
) -> list[tuple[int, str, int, datetime | None]]:
    query = (
        select(
            col(PaymentRecovery.case_id),
            col(PaymentRecovery.currency),
            col(PaymentRecovery.amount_due),
            col(PaymentRecovery.finished_at),
        )
        .join(RelinkCase, col(RelinkCase.id) == col(PaymentRecovery.case_id))
        .where(col(PaymentRecovery.status) == RecoveryStatus.RECOVERED)
    )
    if stripe_account is not None:
        query = query.where(col(RelinkCase.stripe_account) == stripe_account)
    return [(int(c), str(cur), int(a), f) for c, cur, a, f in db.exec(query)]


def _cases(
    db: Session, stripe_account: str | None
) -> list[tuple[int, datetime, datetime | None, bool]]:
    """Cases opened by a deactivation: id, opened, resolved, and whether repaired (the
    accounts back, or a new PaymentMethod saved)."""
    # SQLModel's select() is typed up to four columns; the Select it builds, for six:
    query: Select[int, datetime, datetime | None, str, str | None, str | None] = Select(
        col(RelinkCase.id),
        col(RelinkCase.opened_at),
        col(RelinkCase.resolved_at),
        col(RelinkCase.state),
        col(RelinkCase.resolution),
        col(RelinkCase.payment_method_id),
    )
    query = query.where(
        col(RelinkCase.state) != CaseState.PROACTIVE,
        or_(col(RelinkCase.resolution).is_(None), col(RelinkCase.resolution) != "warning_cleared"),
    )
    if stripe_account is not None:
        query = query.where(col(RelinkCase.stripe_account) == stripe_account)
    rows: list[tuple[int, datetime, datetime | None, bool]] = []
    for case_id, opened, resolved, state, resolution, pm in db.exec(query):
        repaired = state == CaseState.RESOLVED and (
            pm is not None or resolution in REPAIRED_RESOLUTIONS
        )
        rows.append(
            (int(case_id), _aware(opened), _aware(resolved) if resolved else None, repaired)
        )
    return rows


def _aware(value: datetime) -> datetime:
    """SQLite reads a raw (aggregated or plain `select`) timestamp back naive: it is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _monthly_by_case(db: Session, stripe_account: str | None) -> dict[int, Amounts]:
    query = select(
        col(CaseMoney.case_id), col(CaseMoney.currency), col(CaseMoney.monthly_at_risk)
    ).join(RelinkCase, col(RelinkCase.id) == col(CaseMoney.case_id))
    if stripe_account is not None:
        query = query.where(col(RelinkCase.stripe_account) == stripe_account)
    found: dict[int, Amounts] = defaultdict(dict)
    for case_id, currency, monthly in db.exec(query):
        found[int(case_id)][str(currency)] = int(monthly)
    return found


def _add(into: Amounts, currency: str, amount: int) -> None:
    into[currency] = into.get(currency, 0) + amount


def rates(
    cases: list[tuple[int, datetime, datetime | None, bool]],
    monthly: dict[int, Amounts],
    recovered: list[tuple[int, str, int, datetime | None]],
    now: datetime,
) -> list[Rate]:
    """The recovery rate over each of RATE_WINDOWS (see the module's docstring)."""
    recovered_by_case: dict[int, Amounts] = defaultdict(dict)
    for case_id, currency, amount, _ in recovered:
        _add(recovered_by_case[case_id], currency, amount)
    out: list[Rate] = []
    for days in RATE_WINDOWS:
        window = timedelta(days=days)
        in_time = {
            case_id
            for case_id, opened, resolved, repaired in cases
            if repaired and resolved is not None and resolved - opened <= window
        }
        eligible = sum(
            1 for case_id, opened, _, _ in cases if case_id in in_time or opened <= now - window
        )
        at_risk_amounts: Amounts = {}
        recovered_amounts: Amounts = {}
        for case_id in in_time:
            for currency, amount in monthly.get(case_id, {}).items():
                _add(at_risk_amounts, currency, amount)
            for currency, amount in recovered_by_case.get(case_id, {}).items():
                _add(recovered_amounts, currency, amount)
        out.append(Rate(days, eligible, len(in_time), at_risk_amounts, recovered_amounts))
    return out


def daily(
    db: Session,
    recovered: list[tuple[int, str, int, datetime | None]],
    since: datetime,
    stripe_account: str | None,
) -> tuple[list[str], dict[str, dict[str, list[int]]]]:
    """Per day since `since`: per currency, the monthly revenue at risk of the cases opened
    that day and the amount recovered that day."""
    query = (
        select(col(RelinkCase.opened_at), col(CaseMoney.currency), col(CaseMoney.monthly_at_risk))
        .join(RelinkCase, col(RelinkCase.id) == col(CaseMoney.case_id))
        .where(col(RelinkCase.opened_at) >= since)
    )
    if stripe_account is not None:
        query = query.where(col(RelinkCase.stripe_account) == stripe_account)
    opened: dict[tuple[str, str], int] = defaultdict(int)
    for at, currency, amount in db.exec(query):
        opened[(_aware(at).date().isoformat(), str(currency))] += int(amount)
    paid: dict[tuple[str, str], int] = defaultdict(int)
    for _, currency, amount, finished in recovered:
        if finished is not None and _aware(finished) >= since:
            paid[(_aware(finished).date().isoformat(), currency)] += amount
    days = sorted({day for day, _ in opened} | {day for day, _ in paid})
    currencies = sorted({c for _, c in opened} | {c for _, c in paid})
    series = {
        currency: {
            "at_risk": [opened.get((day, currency), 0) for day in days],
            "recovered": [paid.get((day, currency), 0) for day in days],
        }
        for currency in currencies
    }
    return days, series


def revenue(
    db: Session, *, stripe_account: str | None = None, days: int = 30, now: datetime | None = None
) -> Revenue:
    """Every figure, of one Stripe account ('' the platform's) or of all (None)."""
    now = now or utcnow()
    recovered_rows = _recovered_rows(db, stripe_account)
    recovered: Amounts = {}
    for _, currency, amount, _ in recovered_rows:
        _add(recovered, currency, amount)
    chart_days, series = daily(db, recovered_rows, now - timedelta(days=days), stripe_account)
    return Revenue(
        at_risk=at_risk(db, stripe_account),
        recovered=dict(sorted(recovered.items())),
        recovered_invoices=len(recovered_rows),
        rates=rates(
            _cases(db, stripe_account), _monthly_by_case(db, stripe_account), recovered_rows, now
        ),
        daily=series,
        days=chart_days,
    )
