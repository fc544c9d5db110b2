"""Private-domain GMV, its decomposition and the LMDI attribution of its change (DOMAIN.md §7).

- **GMV(P)** = Σ amount of the paid orders placed in P by Capital(P) consumers (tier ≥ 1 at
  end(P)); refunded orders count nowhere.
- **Field GMV** = Σ amount of the paid orders in P whose ``field`` is that field, whoever
  placed them (orders without a field under ``"none"``).
- **Decomposition** GMV = U × c × f × a with U = Capital(P) (``users``), c = buyers / U
  (``conversion``; buyers = Capital consumers with a paid order in P), f = orders / buyers
  (``frequency``), a = GMV / orders (``aov``).
- **LMDI** (additive logarithmic mean Divisia index): Δᵢ = L(G_P, G_{P−1}) · ln(xᵢ,P / xᵢ,P−1)
  with L(a, b) = (a − b) / (ln a − ln b), L(a, a) = a; Σ Δᵢ = G_P − G_{P−1}. It needs every
  factor positive in both periods; otherwise the attribution is null and a note says why.

>>> parts = lmdi({"users": 100, "conversion": 0.2, "frequency": 1.5, "aov": 100},
...              {"users": 120, "conversion": 0.25, "frequency": 1.5, "aov": 110})
>>> {k: round(v, 2) for k, v in parts.items()}
{'users': 709.95, 'conversion': 868.91, 'frequency': 0.0, 'aov': 371.13}
>>> round(sum(parts.values()), 6)  # 4950 − 3000
1950.0
"""

from __future__ import annotations

import math
from decimal import Decimal

import ibis

from siyu.i18n import tr
from siyu.models.daily import buyers
from siyu.models.fast import capital
from siyu.models.periods import Period
from siyu.models.sources import Sources, periods_table
from siyu.schema import FIELDS

__all__ = ["FACTORS", "gmv_factors", "gmv_by_field", "factors_of", "logmean", "lmdi", "gmv",
           "gmv_json"]

FACTORS = ("users", "conversion", "frequency", "aov")
"""The factors of GMV = U × c × f × a, in order."""

NO_FIELD = "none"
"""Key of orders without a ``field`` in the by-field GMV."""


def gmv_factors(src: Sources, periods: list[Period], *, cap: ibis.Table | None = None,
                bought: ibis.Table | None = None) -> ibis.Table:
    """``(period, users, buyers, orders, gmv)``: Capital(P), its buyers in P, their paid
    orders in P and the GMV of those orders. A period without Capital is absent (all 0).
    ``cap`` (:func:`~siyu.models.fast.capital` of ``periods``) and ``bought``
    (:func:`~siyu.models.daily.buyers` of ``periods``, maybe more) are passed when already
    at hand."""
    p = periods_table(src, periods)
    cap = capital(src, periods) if cap is None else cap
    users = cap.group_by("period").aggregate(users=cap.count())
    b = buyers(src, p) if bought is None else bought
    spent = b.group_by("period").aggregate(
        buyers=b.count(), orders=b.orders.sum(), gmv=b.gmv.sum())
    j = users.left_join(spent, "period")
    j = j.drop(*[c for c in j.columns if c.endswith("_right")])
    return j.select("period", "users", buyers=j.buyers.fill_null(0),
                    orders=j.orders.fill_null(0), gmv=j.gmv.fill_null(0))


def gmv_by_field(src: Sources, periods: list[Period]) -> ibis.Table:
    """``(period, field, gmv)``: Σ amount of the paid orders in P per order ``field``
    (``"none"`` for orders without one), whoever placed them."""
    p = periods_table(src, periods)
    o = src.paid_orders.cross_join(p)
    o = o.filter((o.paid_at >= o.p_start) & (o.paid_at < o.p_end))
    o = o.mutate(field=o.field.fill_null(NO_FIELD))
    return o.group_by(["period", "field"]).aggregate(gmv=o.amount.sum())


def factors_of(users: int, buyers: int, orders: int, gmv: float) -> dict[str, float | None]:
    """U, c, f, a from the counts (a factor whose denominator is 0 is None)."""
    return {
        "users": users,
        "conversion": buyers / users if users else None,
        "frequency": orders / buyers if buyers else None,
        "aov": gmv / orders if orders else None,
    }


def logmean(a: float, b: float) -> float:
    """The logarithmic mean L(a, b) = (a − b) / (ln a − ln b), L(a, a) = a (a, b > 0)."""
    if abs(a - b) <= 1e-9 * max(a, b):
        # equal, or so close that ln a − ln b loses its digits (even to 0): L(a, b) is
        # (a + b) / 2 up to a relative error of about ((a − b) / a)² / 12
        return (a + b) / 2
    return (a - b) / (math.log(a) - math.log(b))


def lmdi(before: dict, after: dict) -> dict[str, float]:
    """Additive LMDI parts of the change of Π factors from ``before`` to ``after``.

    Every factor of :data:`FACTORS` must be positive in both; the parts sum to
    Π after − Π before (up to floating-point rounding)."""
    for name in FACTORS:
        for x in (before.get(name), after.get(name)):
            if x is None or not math.isfinite(x) or x <= 0:
                raise ValueError(f"LMDI needs positive factors; {name} = {x!r}")
    g0 = math.prod(before[k] for k in FACTORS)
    g1 = math.prod(after[k] for k in FACTORS)
    w = logmean(g1, g0)
    return {k: w * math.log(after[k] / before[k]) for k in FACTORS}


def _cents(parts: dict[str, float], change: float) -> dict[str, float]:
    """``parts`` rounded to cents so that they still add up to ``change`` (itself in cents):
    the cents lost to rounding go to the parts that rounding moved most."""
    cents = {k: round(v * 100) for k, v in parts.items()}
    left = round(change * 100) - sum(cents.values())
    step = 1 if left > 0 else -1
    order = sorted(parts, key=lambda k: -(parts[k] * 100 - cents[k]) * step)
    for k in order[:abs(left)]:
        cents[k] += step
    return {k: cents[k] / 100 for k in parts}


def _json_factors(f: dict) -> dict:
    def r(x, d):
        return None if x is None else round(x, d)

    return {"users": f["users"], "conversion": r(f["conversion"], 6),
            "frequency": r(f["frequency"], 6), "aov": r(f["aov"], 2)}


def gmv(src: Sources, period: Period) -> dict:
    """GMV of ``period``, by field, its factors and the LMDI attribution of the change from
    P−1, as the JSON object of ``siyu metrics gmv --json``."""
    prev = period.previous()
    fac = src.labelled(gmv_factors(src, [period, prev]), [period, prev])
    fac = fac.to_pyarrow().to_pylist()
    by = gmv_by_field(src, [period]).to_pyarrow().to_pylist()
    return gmv_json(str(period), str(prev), fac, by)


def gmv_json(period: str, prev: str, fac: list[dict], by: list[dict]) -> dict:
    """The JSON object of ``siyu metrics gmv`` from factor rows ``(period, users, buyers,
    orders, gmv)`` of the period and the previous one and GMV rows ``(field, gmv)`` of the
    period — computed now or read from the stored results."""
    counts = {p: (0, 0, 0, Decimal(0)) for p in (period, prev)}
    for r in fac:
        if r["period"] in counts:
            counts[r["period"]] = (int(r["users"]), int(r["buyers"]), int(r["orders"]),
                                   Decimal(str(r["gmv"])))
    g1, g0 = counts[period][3], counts[prev][3]
    f1 = factors_of(*counts[period][:3], float(g1))
    f0 = factors_of(*counts[prev][:3], float(g0))

    by_field = {f: 0.0 for f in (*FIELDS, NO_FIELD)}
    for r in by:
        by_field[r["field"]] = round(float(r["gmv"]), 2)

    change = float(g1 - g0)
    out = {
        "period": period,
        "previous": prev,
        "gmv": round(float(g1), 2),
        "previous_gmv": round(float(g0), 2),
        "change": round(change, 2),
        "by_field": by_field,
        "factors": _json_factors(f1),
        "previous_factors": _json_factors(f0),
        "attribution": None,
    }
    bad = [(prev, k) for k in FACTORS if not f0[k]] + \
          [(period, k) for k in FACTORS if not f1[k]]
    if bad:
        which = "; ".join(f"{k} @ {p}" for p, k in bad)
        out["note"] = tr(
            "LMDI 归因无定义：以下因子为 0 或无定义（分母为 0）：{w}",
            "LMDI attribution undefined: these factors are 0 or undefined (zero "
            "denominator): {w}", w=which)
        return out
    out["attribution"] = _cents(lmdi(f0, f1), round(change, 2))
    return out
