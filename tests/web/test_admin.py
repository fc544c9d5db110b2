"""Administration of console users and API keys, over the API and the CLI: disabled users and
changed passwords or roles lose their sessions at once, revoked keys are refused at once, the
last enabled admin stays, non-admins are refused, and every change is audited without secrets.

Each test has its own empty workspace (these tests touch only the operational store)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.ops.audit import entries
from tests.web.conftest import PASSWORD, Client

NEW_PASSWORD = "battery-staple-7"


@pytest.fixture
def site(ws):
    """The app over an empty workspace with ada (admin), otto (operator), gus (guide G1), and
    the admin API key ``root``: ``{"app", "ws", "key", "client"}``."""
    from siyu.web import create_app
    from siyu.web.auth import add_user, create_api_key

    ws.ensure()
    add_user(ws.ops, "ada", "admin", PASSWORD)
    add_user(ws.ops, "otto", "operator", PASSWORD)
    add_user(ws.ops, "gus", "guide", PASSWORD, "G1")
    key = create_api_key(ws.ops, "root", "admin")
    app = create_app(ws)

    def client(user: str | None = None, key: str | None = None) -> Client:
        c = Client(app, headers={"X-API-Key": key} if key else None)
        return c.login(user) if user else c

    return {"app": app, "ws": ws, "key": key, "client": client}


def _admin(site) -> Client:
    return site["client"](key=site["key"])


def _patch(c: Client, name: str, **body):
    return c.request("PATCH", f"/api/v1/users/{name}", json=body)


def _error(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code and set(body["message"]) == {"zh", "en"}, body
    return body["message"]


# -- who may ---------------------------------------------------------------------------------

CALLS = [("GET", "/api/v1/users", None),
         ("POST", "/api/v1/users", {"name": "eve", "role": "admin", "password": "x" * 12}),
         ("PATCH", "/api/v1/users/ada", {"disabled": True}),
         ("GET", "/api/v1/api-keys", None),
         ("POST", "/api/v1/api-keys", {"name": "k", "role": "admin"}),
         ("DELETE", "/api/v1/api-keys/root", None)]


def test_only_the_admin_role_may_administer(site):
    operator_key = _admin(site).post("/api/v1/api-keys", json={"name": "etl",
                                                                "role": "operator"}).json()["key"]
    callers = [site["client"]("otto"), site["client"]("gus"), site["client"](key=operator_key)]
    for method, url, body in CALLS:
        for c in callers:
            msg = _error(c.request(method, url, json=body), 403, "forbidden")
            assert "may not" in msg["en"] and "无权" in msg["zh"]
        _error(site["client"]().request(method, url, json=body), 401, "unauthenticated")
    # nothing changed
    names = [u["name"] for u in _admin(site).get("/api/v1/users").json()]
    assert names == ["ada", "gus", "otto"]
    keys = {k["name"]: k["revoked"] for k in _admin(site).get("/api/v1/api-keys").json()}
    assert keys == {"etl": False, "root": False}


# -- users -----------------------------------------------------------------------------------

def test_user_list_shows_roles_states_and_sign_ins_never_hashes(site):
    site["client"]("otto")
    site["client"]("otto")
    r = _admin(site).get("/api/v1/users")
    assert r.status_code == 200
    rows = {u["name"]: u for u in r.json()}
    assert [(n, u["role"], u["guide_id"], u["disabled"], u["sessions"])
            for n, u in rows.items()] == [("ada", "admin", None, False, 0),
                                          ("gus", "guide", "G1", False, 0),
                                          ("otto", "operator", None, False, 2)]
    assert rows["otto"]["last_login_at"] is not None and rows["ada"]["last_login_at"] is None
    assert "scrypt" not in r.text and "hash" not in r.text and PASSWORD not in r.text
    assert set(rows["ada"]) == {"name", "role", "guide_id", "disabled", "created_at",
                                "last_login_at", "sessions"}


def test_a_disabled_user_cannot_sign_in_and_its_session_is_refused_at_once(site):
    otto = site["client"]("otto")
    assert otto.get("/api/v1/auth/me").status_code == 200
    r = _patch(_admin(site), "otto", disabled=True)
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["disabled"], got["changed"], got["sessions_ended"], got["sessions"]) == (
        True, ["user_disable"], 1, 0)
    _error(otto.get("/api/v1/auth/me"), 401, "unauthenticated")
    _error(site["client"]().post("/api/v1/auth/login", json={"name": "otto",
                                                              "password": PASSWORD}),
           401, "bad_login")
    # the console login page refuses it too
    page = site["client"]().post("/login", data={"name": "otto", "password": PASSWORD})
    assert page.status_code == 401
    # disabling again changes nothing; enabling lets it in again
    assert _patch(_admin(site), "otto", disabled=True).json()["changed"] == []
    assert _patch(_admin(site), "otto", disabled=False).json()["changed"] == ["user_enable"]
    assert site["client"]("otto").get("/api/v1/auth/me").json()["name"] == "otto"


def test_a_new_password_ends_the_sessions_and_replaces_the_old_one(site):
    otto = site["client"]("otto")
    got = _patch(_admin(site), "otto", password=NEW_PASSWORD).json()
    assert (got["changed"], got["sessions_ended"]) == (["user_password"], 1)
    _error(otto.get("/api/v1/auth/me"), 401, "unauthenticated")
    _error(site["client"]().post("/api/v1/auth/login", json={"name": "otto",
                                                              "password": PASSWORD}),
           401, "bad_login")
    r = site["client"]().post("/api/v1/auth/login", json={"name": "otto",
                                                          "password": NEW_PASSWORD})
    assert r.status_code == 200
    _error(_patch(_admin(site), "otto", password="short"), 422, "invalid")


def test_a_role_change_takes_effect_at_once(site):
    otto = site["client"]("otto")
    _error(otto.get("/api/v1/users"), 403, "forbidden")
    got = _patch(_admin(site), "otto", role="admin").json()
    assert (got["role"], got["changed"], got["sessions_ended"]) == ("admin", ["user_role"], 1)
    _error(otto.get("/api/v1/users"), 401, "unauthenticated")  # the old session is gone
    otto = site["client"]("otto")
    assert otto.get("/api/v1/users").status_code == 200
    # to guide: needs a guide id; from guide: the guide id goes
    msg = _error(_patch(_admin(site), "otto", role="guide"), 400, "bad_request")
    assert "guide id" in msg["en"] and "导购编号" in msg["zh"]
    got = _patch(_admin(site), "otto", role="guide", guide_id="G7").json()
    assert (got["role"], got["guide_id"]) == ("guide", "G7")
    me = site["client"]("otto").get("/api/v1/auth/me").json()
    assert (me["role"], me["guide_id"]) == ("guide", "G7")
    got = _patch(_admin(site), "otto", role="analyst").json()
    assert (got["role"], got["guide_id"]) == ("analyst", None)
    got = _patch(_admin(site), "gus", guide_id="G2").json()  # the role stays guide
    assert (got["role"], got["guide_id"], got["changed"]) == ("guide", "G2", ["user_role"])


def test_the_last_enabled_admin_can_be_neither_disabled_nor_demoted(site, cli):
    admin = _admin(site)
    for body in ({"disabled": True}, {"role": "operator"}):
        msg = _error(_patch(admin, "ada", **body), 409, "last_admin")
        assert "last enabled admin" in msg["en"] and "最后一个启用的管理员" in msg["zh"]
    r = cli("user", "disable", "ada", "--home", site["ws"].home, ok=False)
    assert r.exit_code == 2 and "ada is the last enabled admin" in r.stderr
    r = cli("user", "role", "ada", "analyst", "--home", site["ws"].home, ok=False)
    assert r.exit_code == 2 and "last enabled admin" in r.stderr
    # with a second admin, ada may go; then bob is the last one
    assert _patch(admin, "otto", role="admin").status_code == 200
    assert _patch(admin, "ada", disabled=True).json()["disabled"] is True
    _error(_patch(admin, "otto", role="analyst"), 409, "last_admin")
    # a disabled admin does not count, and may be demoted
    assert _patch(admin, "ada", role="operator").json()["role"] == "operator"
    roles = {u["name"]: (u["role"], u["disabled"]) for u in admin.get("/api/v1/users").json()}
    assert roles == {"ada": ("operator", True), "gus": ("guide", False),
                     "otto": ("admin", False)}


def test_user_input_is_checked_with_bilingual_errors(site):
    admin = _admin(site)
    r = admin.post("/api/v1/users", json={"name": "mei", "role": "analyst",
                                          "password": NEW_PASSWORD})
    assert r.status_code == 201
    assert (r.json()["name"], r.json()["role"], r.json()["sessions"]) == ("mei", "analyst", 0)
    _error(admin.post("/api/v1/users", json={"name": "mei", "role": "analyst",
                                             "password": NEW_PASSWORD}), 409, "exists")
    _error(admin.post("/api/v1/users", json={"name": "g", "role": "guide",
                                             "password": NEW_PASSWORD}), 400, "bad_request")
    for bad in ({"name": "a b", "role": "analyst", "password": NEW_PASSWORD},
                {"name": "b", "role": "boss", "password": NEW_PASSWORD},
                {"name": "c", "role": "analyst", "password": "short"},
                {"name": "d", "role": "analyst", "password": NEW_PASSWORD, "x": 1}):
        msg = _error(admin.post("/api/v1/users", json=bad), 422, "invalid")
        assert "does not match" in msg["en"]
    _error(_patch(admin, "nobody", disabled=True), 404, "not_found")
    r = site["client"]().post("/api/v1/auth/login", json={"name": "mei",
                                                          "password": NEW_PASSWORD})
    assert (r.status_code, r.json()["role"]) == (200, "analyst")


# -- API keys --------------------------------------------------------------------------------

def test_a_revoked_key_is_refused_at_once(site):
    admin = _admin(site)
    r = admin.post("/api/v1/api-keys", json={"name": "etl", "role": "operator"})
    assert r.status_code == 201
    made = r.json()
    key = made["key"]
    assert key.startswith("sk_") and made["prefix"] == key[:10] and made["revoked"] is False
    listed = admin.get("/api/v1/api-keys")
    assert key not in listed.text and "hash" not in listed.text
    etl = site["client"](key=key)
    assert etl.get("/api/v1/auth/me").json()["name"] == "etl"
    used = {k["name"]: k for k in admin.get("/api/v1/api-keys").json()}
    assert used["etl"]["last_used_at"] is not None and used["etl"]["revoked_at"] is None
    r = admin.request("DELETE", "/api/v1/api-keys/etl")
    assert r.status_code == 200 and r.json()["revoked"] is True
    _error(etl.get("/api/v1/auth/me"), 401, "bad_api_key")
    # again: nothing changes; unknown: 404; the key making the request: refused
    assert admin.request("DELETE", "/api/v1/api-keys/etl").json()["revoked"] is True
    _error(admin.request("DELETE", "/api/v1/api-keys/nope"), 404, "not_found")
    msg = _error(admin.request("DELETE", "/api/v1/api-keys/root"), 409, "own_key")
    assert "making this request" in msg["en"]
    _error(admin.post("/api/v1/api-keys", json={"name": "etl", "role": "analyst"}),
           409, "exists")
    _error(admin.post("/api/v1/api-keys", json={"name": "g", "role": "guide"}),
           400, "bad_request")
    # an admin session may revoke the admin key
    r = site["client"]("ada").request("DELETE", "/api/v1/api-keys/root")
    assert r.status_code == 200
    _error(admin.get("/api/v1/users"), 401, "bad_api_key")


# -- the CLI ---------------------------------------------------------------------------------

def test_the_cli_lists_and_changes_users_and_keys_on_a_running_app(site, cli):
    home = site["ws"].home
    otto = site["client"]("otto")
    got = cli.json("user", "list", "--home", home)
    assert [(u["name"], u["role"], u["guide_id"], u["disabled"], u["sessions"])
            for u in got["users"]] == [("ada", "admin", None, False, 0),
                                       ("gus", "guide", "G1", False, 0),
                                       ("otto", "operator", None, False, 1)]
    assert "password_hash" not in json.dumps(got)
    got = cli.json("user", "disable", "otto", "--home", home)
    assert (got["disabled"], got["sessions_ended"]) == (True, 1)
    _error(otto.get("/api/v1/auth/me"), 401, "unauthenticated")
    r = cli("user", "enable", "otto", "--home", home)
    assert "user otto enabled" in r.stdout
    r = cli.runner.invoke(_app(), ["user", "passwd", "otto", "--password-stdin", "--home",
                                   str(home)], input=NEW_PASSWORD + "\n")
    assert r.exit_code == 0 and "password of otto set" in r.stdout
    r = Client(site["app"]).post("/api/v1/auth/login", json={"name": "otto",
                                                              "password": NEW_PASSWORD})
    assert r.status_code == 200
    r = cli.runner.invoke(_app(), ["user", "passwd", "otto", "--home", str(home)],
                          input=f"{NEW_PASSWORD}x\n{NEW_PASSWORD}y\n{NEW_PASSWORD}\n"
                                f"{NEW_PASSWORD}\n")
    assert r.exit_code == 0 and "do not match" in r.output  # typer asked again
    got = cli.json("user", "role", "otto", "guide", "--guide", "G9", "--home", home)
    assert (got["role"], got["guide_id"], got["changed"]) == ("guide", "G9", ["user_role"])
    r = cli("user", "disable", "nobody", "--home", home, ok=False)
    assert r.exit_code == 1 and "no user 'nobody'" in r.stderr
    # keys
    key = cli.json("apikey", "create", "etl", "--role", "analyst", "--home", home)["key"]
    keys = cli.json("apikey", "list", "--home", home)["api_keys"]
    assert [(k["name"], k["role"], k["revoked"]) for k in keys] == [
        ("etl", "analyst", False), ("root", "admin", False)]
    assert key not in json.dumps(keys)
    etl = site["client"](key=key)
    assert etl.get("/api/v1/auth/me").status_code == 200
    got = cli.json("apikey", "revoke", key[:10], "--home", home)  # by its prefix
    assert (got["name"], got["revoked"]) == ("etl", True)
    _error(etl.get("/api/v1/auth/me"), 401, "bad_api_key")
    r = cli("apikey", "revoke", "etl", "--home", home)
    assert "was revoked already" in r.stdout
    text = cli("apikey", "list", "--home", home).stdout
    assert "etl" in text and key not in text


def _app():
    from siyu.cli import app

    return app


# -- the audit log ---------------------------------------------------------------------------

def test_every_change_is_audited_without_secrets(site, cli):
    admin = _admin(site)
    admin.post("/api/v1/users", json={"name": "mei", "role": "analyst",
                                      "password": NEW_PASSWORD})
    _patch(admin, "mei", role="operator", disabled=True, password=NEW_PASSWORD + "!")
    _patch(admin, "ada", disabled=True)  # refused: not audited
    key = admin.post("/api/v1/api-keys", json={"name": "etl", "role": "operator"}).json()["key"]
    admin.request("DELETE", "/api/v1/api-keys/etl")
    admin.request("DELETE", "/api/v1/api-keys/etl")  # no change: not audited
    cli("user", "enable", "mei", "--home", site["ws"].home)
    got = [(e["actor"], e["action"], e["target"], e["detail"])
           for e in reversed(entries(site["ws"].ops))]
    cli_actor = got[-1][0]
    assert cli_actor.startswith("cli:")
    assert got == [
        ("apikey:root", "user_add", "mei", {"role": "analyst", "guide_id": None}),
        ("apikey:root", "user_role", "mei", {"from": "analyst", "to": "operator",
                                             "guide_id": None, "sessions_ended": 0}),
        ("apikey:root", "user_disable", "mei", {"sessions_ended": 0}),
        ("apikey:root", "user_password", "mei", {"sessions_ended": 0}),
        ("apikey:root", "apikey_create", "etl", {"role": "operator", "guide_id": None}),
        ("apikey:root", "apikey_revoke", "etl", {"role": "operator"}),
        (cli_actor, "user_enable", "mei", {"sessions_ended": 0}),
    ]
    dump = json.dumps([dict(e) for e in entries(site["ws"].ops)], default=str)
    for secret in (NEW_PASSWORD, key, key[:10], "scrypt"):
        assert secret not in dump


# -- the invariant ---------------------------------------------------------------------------

OPS = st.lists(st.tuples(st.sampled_from(["ada", "bob", "cy"]),
                         st.sampled_from(["disable", "enable", "admin", "operator"])),
               max_size=12)


def test_no_sequence_of_changes_leaves_no_enabled_admin(ws):
    from sqlalchemy import update

    from siyu.ops.tables import console_users
    from siyu.web.accounts import AccountError, list_users, update_user
    from siyu.web.auth import add_user

    ws.ops.upgrade()
    for name in ("ada", "bob", "cy"):
        add_user(ws.ops, name, "operator", PASSWORD)

    def admins() -> int:
        return sum(u["role"] == "admin" and not u["disabled"] for u in list_users(ws.ops))

    refused = []

    @given(steps=OPS)
    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(steps):
        with ws.ops.engine.begin() as c:  # start: ada the only admin, everyone enabled
            c.execute(update(console_users).values(role="operator", disabled=False))
            c.execute(update(console_users).where(console_users.c.name == "ada")
                      .values(role="admin"))
        for name, op in steps:
            before = list_users(ws.ops)
            kw = ({"disabled": op == "disable"} if op in ("disable", "enable")
                  else {"role": op})
            try:
                update_user(ws.ops, "test", name, **kw)
            except AccountError as e:
                assert e.code == "last_admin"
                refused.append((name, op))
                assert list_users(ws.ops) == before  # a refusal changes nothing
            assert admins() >= 1

    run()
    assert refused  # the guard was exercised, not only the invariant


# -- the admin page --------------------------------------------------------------------------

def test_the_admin_page_lists_disables_and_revokes_for_admins_only(site):
    otto = site["client"]("otto")
    r = otto.get("/admin/users")
    assert r.status_code == 403 and 'data-code="forbidden"' in r.text
    assert 'href="/admin/users"' not in otto.get("/tasks").text  # not in an operator's menu
    ada = site["client"]("ada")
    r = ada.get("/admin/users")
    assert r.status_code == 200
    assert 'href="/admin/users"' in r.text and "用户与密钥" in r.text
    for name in ("ada", "gus", "otto"):
        assert f'data-user="{name}" data-disabled="false"' in r.text
    assert 'data-key="root" data-revoked="false"' in r.text and site["key"] not in r.text
    r = ada.post("/admin/users/otto/disable")
    assert (r.status_code, r.headers["location"]) == (303, "/admin/users?done=disable%3Aotto")
    _error(otto.get("/api/v1/auth/me"), 401, "unauthenticated")
    assert 'data-user="otto" data-disabled="true"' in ada.get("/admin/users").text
    r = ada.post("/admin/users/ada/disable", params={"lang": "en"})
    assert r.status_code == 409 and 'data-code="last_admin"' in r.text
    assert "ada is the last enabled admin" in r.text
    assert ada.post("/admin/api-keys/root/revoke").status_code == 303
    _error(_admin(site).get("/api/v1/users"), 401, "bad_api_key")
    r = ada.get("/admin/users?done=revoke:root&lang=en")
    assert 'data-key="root" data-revoked="true"' in r.text and "revoked root" in r.text
    assert "users and API keys" in r.text
