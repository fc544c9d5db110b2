"""Manual tags: set and unset through any key of a person (OneID), CSV import with per-row
rejects (line, column, reason) while good rows load, the audit log, and the CLI."""

from __future__ import annotations

import csv

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.errors import SiyuError, UsageError
from siyu.ops.audit import entries
from siyu.tags.compute import compute
from siyu.tags.manual import NotManual, import_csv, resolved, set_tag, unset_tag
from tests.tags.brand import AS_OF, carriers, people, tws  # noqa: F401


def manual_people(ws) -> dict[tuple[str, str], str | None]:
    who = people(ws)
    t, _ = resolved(ws)
    return {(who[r["consumer_id"]], r["tag"]): r["value"] for r in t.to_pylist()}


def test_set_through_one_key_unset_through_another(tws):  # noqa: F811
    # u9 has two keys (member:u9 and wecom:u9, linked): one consumer
    got = set_tag(tws, "wecom:u9", "回访", "电话", actor="cli:a")
    assert got["group"] == "manual" and got["replaced"] is False
    assert manual_people(tws)[("u9", "回访")] == "电话"
    again = set_tag(tws, " WECOM:u9 ", "回访", "短信", actor="cli:b")
    assert again["replaced"] is True
    assert manual_people(tws)[("u9", "回访")] == "短信"
    assert unset_tag(tws, "member:u9", "回访", actor="cli:a")["removed"] == 1
    assert ("u9", "回访") not in manual_people(tws)
    with pytest.raises(SiyuError, match="has no manual tag"):
        unset_tag(tws, "member:u9", "回访", actor="cli:a")
    acts = [(e["action"], e["detail"]) for e in entries(tws.ops)[:3]]
    assert acts == [("tag_unset", {"tag": "回访"}), ("tag_set", {"tag": "回访", "group": "manual"}),
                    ("tag_set", {"tag": "回访", "group": "manual"})]
    assert all("u9" not in (e["target"] or "") for e in entries(tws.ops))  # ids, not keys


def test_computed_tags_cannot_be_set_by_hand(tws):  # noqa: F811
    with pytest.raises(NotManual, match="is a model tag"):
        set_tag(tws, "member:u2", "关系层级", actor="cli:a")
    with pytest.raises(SiyuError, match="unknown consumer key"):
        set_tag(tws, "member:nobody", "x", actor="cli:a")


def test_a_tag_stays_in_one_group(tws):  # noqa: F811
    set_tag(tws, "member:u2", "团购", group="活动", actor="cli:a")
    with pytest.raises(UsageError, match="already used in group '活动'"):
        set_tag(tws, "member:u3", "团购", group="别的", actor="cli:a")
    assert set_tag(tws, "member:u3", "团购", actor="cli:a")["group"] == "活动"


def test_csv_import_rejects_bad_rows_and_loads_good_ones(tws, tmp_path):  # noqa: F811
    f = tmp_path / "vip.csv"
    f.write_text(
        "key,tag,value,group\n"        # 1 header
        "wecom:u1,VIP,gold\n"           # 2 good
        "bogus,VIP\n"                   # 3 key without type
        "member:u404,VIP\n"             # 4 unknown consumer
        "member:u2,,x\n"                # 5 no tag
        "member:u2,关系层级\n"            # 6 a model tag
        "member:u3,VIP,,其他组\n"         # 7 VIP is in group manual
        "member:u4,a,b,c,d\n"           # 8 five columns
        "\n"                            # 9 blank: skipped
        "member:u5,新客,,活动2\n"          # 10 good
        "member:u6,VIP,silver\n"        # 11 good
        "member:u6,VIP,platinum\n",     # 12 good: the later line wins
        encoding="utf-8")
    res = import_csv(tws, f, actor="cli:imp").as_dict()
    assert (res["read"], res["loaded"], res["rejected"]) == (10, 4, 6)
    assert [(r["line"], r["column"]) for r in res["rejects"]] == [
        (3, "key"), (4, "key"), (5, "tag"), (6, "tag"), (7, "group"), (8, "group")]
    reasons = [r["reason"] for r in res["rejects"]]
    assert "not of the form type:value" in reasons[0]
    assert "not in the OneID map" in reasons[1]
    assert "is a model tag" in reasons[3]
    assert "belongs to group 'manual', not '其他组'" in reasons[4]
    assert "too many columns" in reasons[5]
    with open(res["rejects_file"], encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["file"], r["line"], r["column"]) for r in rows] == [
        ("vip.csv", "3", "key"), ("vip.csv", "4", "key"), ("vip.csv", "5", "tag"),
        ("vip.csv", "6", "tag"), ("vip.csv", "7", "group"), ("vip.csv", "8", "group")]
    m = manual_people(tws)
    assert m[("u1", "VIP")] == "gold" and m[("u6", "VIP")] == "platinum"
    assert m[("u5", "新客")] is None and ("u3", "VIP") not in m
    assert entries(tws.ops, "tag_import")[0]["detail"] == {"read": 10, "loaded": 4,
                                                           "rejected": 6}
    compute(tws, as_of=AS_OF, only="manual")
    assert carriers(tws, "VIP") == {"u1": "gold", "u6": "platinum"}
    t = tws.warehouse.table("tag_values")
    src = t.filter(t.tag == "VIP").select("source").distinct().execute().source.tolist()
    assert src == ["manual:cli:imp"]


def test_csv_without_header(tws, tmp_path):  # noqa: F811
    f = tmp_path / "plain.csv"
    f.write_text("wecom:u7,试用\nmember:u8,试用,,活动\n", encoding="utf-8")
    res = import_csv(tws, f, actor="cli:a").as_dict()
    assert (res["read"], res["loaded"], res["rejected"]) == (2, 1, 1)
    assert res["rejects"][0]["line"] == 2 and res["rejects"][0]["column"] == "group"


def test_cli_set_unset_import(tws, cli, tmp_path):  # noqa: F811
    home = str(tws.home)
    tws.close()
    got = cli.json("tag", "set", "member:u10", "大客户", "--value", "A", "--group", "销售",
                   "--home", home)
    assert got["group"] == "销售" and got["value"] == "A"
    assert "removed tag" in cli("tag", "unset", "member:u10", "大客户", "--home", home).stdout
    r = cli("tag", "set", "member:u10", "关系层级", "--home", home, ok=False)
    assert r.exit_code == 2 and "is a model tag" in r.stderr
    f = tmp_path / "t.csv"
    f.write_text("member:u10,大客户,B\nnope,大客户\n", encoding="utf-8")
    got = cli.json("tag", "import", str(f), "--home", home)
    assert (got["loaded"], got["rejected"], got["rejects"][0]["line"]) == (1, 1, 2)
    text = cli("tag", "import", str(f), "--home", home).stdout
    assert "line 2, key:" in text


GOOD_KEYS = ["wecom:u1", "member:u2", "member:u3", "member:u4", "wecom:u9", "member:u9"]
BAD_ROWS = [("bogus", "key"), ("member:ghost", "key"), ("phone:12", "key")]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5), st.sampled_from(["甲", "乙"]),
                          st.sampled_from(["", "v1", "v2"])), min_size=1, max_size=12))
def test_import_accounts_for_every_row(tws, tmp_path, rows):  # noqa: F811
    """Every row is loaded or rejected (never both, never lost); the stored value of a key
    and tag is the one on its last good line."""
    f = tmp_path / "p.csv"
    lines, expected, bad = [], {}, set()
    for i, (good, k, tag, value) in enumerate(rows):
        line = i + 1
        if good:
            key = GOOD_KEYS[k]
            lines.append(f"{key},随机{tag},{value}")
            expected[(key, "随机" + tag)] = value or None
        else:
            key, _ = BAD_ROWS[k % len(BAD_ROWS)]
            lines.append(f"{key},随机{tag},{value}")
            bad.add(line)
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = import_csv(tws, f, actor="cli:prop")
    assert res.read == len(rows) and res.loaded + len(res.rejects) == res.read
    assert {r["line"] for r in res.rejects} == bad
    assert all(r["column"] == "key" for r in res.rejects)
    from sqlalchemy import select

    from siyu.ops.tables import manual_tags

    with tws.ops.engine.connect() as c:
        stored = {(r.key, r.tag): r.value for r in c.execute(
            select(manual_tags).where(manual_tags.c.tag.like("随机%")))}
    for k, v in expected.items():
        assert stored[k] == v
