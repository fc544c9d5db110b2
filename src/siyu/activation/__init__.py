"""Activation (PRODUCT C7, C9, consent part of C12): durable journeys (SOPs) on the
operational store, their guardrails (consent, caps, quiet hours) and measurement.

A journey is a YAML definition (:mod:`.definition`, format in docs/journeys.md) deployed as a
version (:mod:`.store`); :mod:`.engine` enrols consumers (:mod:`.triggers`) and runs their
steps (:mod:`.steps`, :mod:`.actions`), writing every send to the outbox in the same
transaction as the step change; :mod:`.runner` drives it on the real or a simulated clock.
"""
