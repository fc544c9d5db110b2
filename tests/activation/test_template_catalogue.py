"""The ten §13 templates ship with siyu: each validates, is named after its file, speaks
Chinese and stays within the wording rules of DOMAIN §12."""

from __future__ import annotations

import pytest

from siyu.activation import templates
from siyu.activation.definition import load_definition
from siyu.errors import UsageError

TEN = ["birthday_care", "buying_for_others", "churn_escalation", "cross_sell",
       "dormant_wakeup", "expiry_reminder", "group_three_step", "post_purchase_invite",
       "purchase_cycle", "welcome_guide_friend"]
PRESSURE = ("再不买", "就没了", "最后机会", "马上抢", "错过", "赶紧", "立即购买")


def test_the_ten_templates_are_there():
    assert templates.names() == TEN


@pytest.mark.parametrize("name", TEN)
def test_each_template_validates(name, cli):
    got = cli.json("journey", "validate", templates.path(name))
    assert got["valid"] and got["problems"] == []
    j = load_definition(templates.path(name))
    assert j.name == name
    assert any("\u4e00" <= ch <= "\u9fff" for ch in j.title)
    text = templates.path(name).read_text(encoding="utf-8")
    assert not [w for w in PRESSURE if w in text]


def test_an_unknown_template_names_the_known_ones():
    with pytest.raises(UsageError, match="no journey template 'welcome'; known: birthday_care"):
        templates.path("welcome")
    with pytest.raises(UsageError):
        templates.path("../task_rules")


def test_listed_and_deployed_from_the_cli(cli, ws):
    listed = cli.json("journey", "templates")["templates"]
    assert [t["name"] for t in listed] == TEN
    assert listed[0]["title"] == "生日关怀" and listed[0]["trigger"] == "date"
    path = cli("journey", "templates", "dormant_wakeup").stdout.strip()
    assert path == str(templates.path("dormant_wakeup"))
    got = cli.json("journey", "deploy", path, "--home", ws.home)
    assert (got["name"], got["version"], got["changed"]) == ("dormant_wakeup", 1, True)
    r = cli("journey", "templates", "nope", ok=False)
    assert r.exit_code == 2 and "no journey template 'nope'" in r.output
