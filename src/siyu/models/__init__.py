"""Models: pure functions from warehouse tables (Ibis) and a period / ``as_of`` to results.

Only :mod:`siyu.models.periods` exists so far; the metric families of DOMAIN.md §4–§11 build on
it (issue 3).
"""
