"""``siyu`` command line. Each area's commands live in their own module here and are thin
adapters over the service functions of the layer they drive."""

from __future__ import annotations

import sys

# command modules register themselves on ``app``
from siyu.cli import (
    access_cmds,  # noqa: E402,F401
    audience_cmds,  # noqa: E402,F401
    channel_cmds,  # noqa: E402,F401
    clv_cmds,  # noqa: E402,F401
    demo_cmds,  # noqa: E402,F401
    generate_cmds,  # noqa: E402,F401
    identity_cmds,  # noqa: E402,F401
    import_cmds,  # noqa: E402,F401
    journey_cmds,  # noqa: E402,F401
    metrics_cmds,  # noqa: E402,F401
    points_cmds,  # noqa: E402,F401
    report_cmds,  # noqa: E402,F401
    serve_cmds,  # noqa: E402,F401
    tag_cmds,  # noqa: E402,F401
    task_cmds,  # noqa: E402,F401
    workspace_cmds,  # noqa: E402,F401
)
from siyu.cli.app import app, err
from siyu.i18n import tr

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print(tr("已中断", "interrupted"))
        sys.exit(130)
