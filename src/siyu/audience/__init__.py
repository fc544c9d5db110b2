"""Audiences (人群圈选, PRODUCT C6): a boolean language over tiers, RFM segments, deciles,
attributes, tags, fields and event windows, with a text form, a JSON form and a compiler to
Ibis.

Text → :func:`parse` → tree (:mod:`siyu.audience.ast`) → :func:`to_text` / :func:`to_json`,
and :func:`compile_audience` → an Ibis table of ``consumer_id``; :func:`count` is the service.
"""

from siyu.audience.ast import And, Compare, EventAgg, InAudience, InField, Node, Not, Or, TagTerm
from siyu.audience.compile import AudienceNotReady, compile_audience
from siyu.audience.jsonform import AudienceJSONError, from_json, to_json
from siyu.audience.parse import AudienceSyntaxError, parse
from siyu.audience.service import count, members
from siyu.audience.text import to_text

__all__ = ["And", "Or", "Not", "Compare", "TagTerm", "InField", "InAudience", "EventAgg", "Node",
           "parse", "to_text", "to_json", "from_json", "compile_audience", "count", "members",
           "AudienceSyntaxError", "AudienceJSONError", "AudienceNotReady"]
