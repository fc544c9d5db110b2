"""The ten journey templates of DOMAIN.md §13, as YAML ready to deploy (format:
docs/journeys.md; what each does: docs/journeys.md "Templates").

>>> names()[:3]
['birthday_care', 'buying_for_others', 'churn_escalation']
>>> path("dormant_wakeup").name
'dormant_wakeup.yaml'
"""

from __future__ import annotations

from pathlib import Path

from siyu.errors import UsageError
from siyu.i18n import tr

__all__ = ["names", "path", "HERE"]

HERE = Path(__file__).parent


def names() -> list[str]:
    """The template names, sorted."""
    return sorted(p.stem for p in HERE.glob("*.yaml"))


def path(name: str) -> Path:
    """The file of template ``name`` (a UsageError naming the known ones otherwise)."""
    p = HERE / f"{name}.yaml"
    if not name.replace("_", "").isalnum() or not p.is_file():
        raise UsageError(tr("没有旅程模板 {n}；可用：{k}", "no journey template {n!r}; known: {k}",
                            n=name, k=", ".join(names())))
    return p
