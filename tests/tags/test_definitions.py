"""Tag definitions in YAML: the built-in file, and errors that name the file, line and key."""

from __future__ import annotations

import pytest

from siyu.tags.definitions import (
    TagDefinitionError,
    load_definitions,
    parse_definitions,
    starter_text,
)


def test_builtin_definitions_hold_model_and_text_tags():
    defs = parse_definitions(starter_text(), "default_tags.yaml")
    assert defs.groups == ["关系与价值", "聊天场景"]
    models = {d.name: d.params["model"] for d in defs.of_kind("model")}
    assert models == {"关系层级": "tier", "RFM分群": "rfm_segment", "CLV十分位": "clv_decile",
                      "流失风险十分位": "churn_decile", "复购到期": "purchase_cycle_due"}
    scenarios = {d.params["scenario"] for d in defs.of_kind("text")}
    assert scenarios == {"cycle_due", "buying_for_others", "complaint", "price_sensitive",
                         "ingredient_interest", "anger", "disappointment"}
    assert load_definitions(None) == defs


def test_a_rule_is_stored_as_canonical_text_and_versioned_by_it():
    a = parse_definitions("groups:\n  g:\n    t:\n      kind: rule\n"
                          "      rule: 'views(30d,dwell>=180)>=2'\n", "a.yaml").tags[0]
    b = parse_definitions("groups:\n  g:\n    t:\n      kind: rule\n"
                          "      rule: 'views(last 30d, dwell >= 180) >= 2'\n", "b.yaml").tags[0]
    c = parse_definitions("groups:\n  g:\n    t:\n      kind: rule\n"
                          "      rule: 'views(last 30d, dwell >= 181) >= 2'\n", "c.yaml").tags[0]
    assert a.params == {"rule": "views(last 30d, dwell >= 180) >= 2"}
    assert a.version == b.version != c.version
    assert (a.group, a.name, a.kind, a.line) == ("g", "t", "rule", 3)


def _error(text: str) -> str:
    with pytest.raises(TagDefinitionError) as e:
        parse_definitions(text, "tags.yaml")
    return str(e.value)


@pytest.mark.parametrize("text, where, why", [
    ("groups:\n  g:\n    t:\n      kind: rules\n", "tags.yaml, line 4, groups.g.t.kind",
     "kind is one of manual, rule, model, text"),
    ("groups:\n  g:\n    t:\n      kind: model\n      modle: tier\n",
     "tags.yaml, line 5, groups.g.t.modle", "has no key 'modle'"),
    ("groups:\n  g:\n    t:\n      kind: model\n", "tags.yaml, line 3, groups.g.t",
     "needs the key 'model'"),
    ("groups:\n  g:\n    t:\n      kind: model\n      model: ltv\n",
     "tags.yaml, line 5, groups.g.t.model", "model is one of tier"),
    ("groups:\n  g:\n    t:\n      kind: model\n      model: tier\n      values: [7]\n",
     "tags.yaml, line 6, groups.g.t.values", "from 0 to 5"),
    ("groups:\n  g:\n    t:\n      kind: rule\n      rule: 'views(30d, dwel >= 1) >= 2'\n",
     "tags.yaml, line 5, groups.g.t.rule", "has no filter 'dwel' (did you mean dwell?)"),
    ("groups:\n  g:\n    t:\n      kind: text\n      scenario: complaint\n      window: 30\n",
     "tags.yaml, line 6, groups.g.t.window", "like 30d or 4w"),
    ("groups:\n  a:\n    t: {kind: manual}\n  b:\n    t: {kind: manual}\n",
     "tags.yaml, line 5, groups.b.t", "already defined in group 'a'"),
    ("groups:\n  g:\n    t: {kind: manual}\n    t: {kind: manual}\n",
     "tags.yaml, line 4", "groups.g.t appears twice"),
    ("groups:\n  g:\n    t: {kind: manual\n", "tags.yaml, line 4", "not valid YAML"),
    ("group:\n  g: {}\n", "tags.yaml, line 1", "the top level holds only the key groups"),
    ("groups:\n  g: []\n", "tags.yaml, line 2, groups.g", "non-empty mapping of tags"),
    ("groups:\n  g:\n    a: {kind: rule, rule: 'tag(\"b\")'}\n"
     "    b: {kind: rule, rule: 'tag(\"a\") and tier >= 1'}\n",
     "tags.yaml, line 3, groups.g.a.rule", "cycle: a → b → a"),
])
def test_errors_name_file_line_and_key(text, where, why):
    msg = _error(text)
    assert msg.startswith(where), msg
    assert why in msg, msg


def test_rule_syntax_error_keeps_the_position():
    msg = _error("groups:\n  g:\n    t:\n      kind: rule\n      rule: 'tier >= 3 and'\n")
    assert msg.startswith("tags.yaml, line 5, groups.g.t.rule: at position 13: expected a term")


def test_messages_in_chinese(monkeypatch):
    monkeypatch.setenv("SIYU_LANG", "zh")
    msg = _error("groups:\n  g:\n    t:\n      kind: rules\n")
    assert msg.startswith("tags.yaml，第 4 行，groups.g.t.kind：kind 应为")


def test_workspace_file_replaces_the_builtin(tmp_path):
    p = tmp_path / "tags.yaml"
    p.write_text("groups:\n  门店:\n    VIP: {kind: manual}\n", encoding="utf-8")
    defs = load_definitions(p)
    assert [(d.group, d.name, d.kind) for d in defs.tags] == [("门店", "VIP", "manual")]
    assert defs.source == str(p)


def test_init_writes_the_starter_file(cli, tmp_path):
    cli("init", str(tmp_path / "brand"))
    p = tmp_path / "brand" / "tags.yaml"
    assert p.read_text(encoding="utf-8") == starter_text()
    assert load_definitions(p).tags == load_definitions(None).tags
