from siyu.ops import OpsStore
from siyu.ops.audit import entries, record


def test_record_and_read_back(tmp_path):
    store = OpsStore(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    store.upgrade()
    record(store, "cli:ana", "export", "audience:vip", {"rows": 3, "masked": True})
    with store.engine.begin() as conn:
        record(store, "cli:ana", "unmasked_view", "c123", conn=conn)
    got = entries(store)
    assert [(e["actor"], e["action"], e["target"], e["detail"]) for e in got] == [
        ("cli:ana", "unmasked_view", "c123", {}),
        ("cli:ana", "export", "audience:vip", {"rows": 3, "masked": True})]
    assert [e["action"] for e in entries(store, action="export")] == ["export"]
    store.close()
