"""`siyu init`, settings sources, workspace discovery, the schema command and its document."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from sqlalchemy import inspect

from siyu.config import Settings, load_settings
from siyu.errors import SiyuError, WorkspaceNotFound
from siyu.schema import TABLES, import_order
from siyu.schema.docs import schema_markdown
from siyu.warehouse import STORAGE_VERSION, Warehouse
from siyu.workspace import Workspace, find_home

ROOT = Path(__file__).resolve().parents[1]


def test_init_creates_settings_warehouse_and_ops_store(tmp_path, cli):
    r = cli("init", tmp_path / "b", "--brand", "小林咖啡", "--timezone", "Asia/Shanghai")
    assert "小林咖啡" in r.stdout
    home = tmp_path / "b"
    assert {p.name for p in home.iterdir()} >= {"siyu.toml", "warehouse.duckdb", "ops.sqlite",
                                                "rejects", "tmp"}
    ws = Workspace.open(home)
    assert ws.settings.brand_name == "小林咖啡"
    tables = set(ws.warehouse.ibis.list_tables())
    assert set(TABLES) | {"key_seen"} <= tables
    ops_tables = set(inspect(ws.ops.engine).get_table_names())
    assert {"import_runs", "identity_runs", "alembic_version"} <= ops_tables
    ws.close()


def test_a_new_warehouse_uses_the_chosen_storage_format_and_old_files_still_open(tmp_path):
    """New files get STORAGE_VERSION (faster string writes than DuckDB's default v1.0.0
    format); a file made in the default format opens and keeps its format."""
    def version(con) -> str:
        return con.execute("SELECT tags['storage_version'] FROM duckdb_databases() "
                           "WHERE database_name = current_database()").fetchall()[0][0]

    ws = Workspace.init(tmp_path / "new")
    assert version(ws.warehouse.raw) == STORAGE_VERSION + "+"
    ws.close()
    old = tmp_path / "old"
    old.mkdir()
    duckdb.connect(str(old / "w.duckdb")).execute("CREATE TABLE t AS SELECT 1 AS x").close()
    w = Warehouse(old / "w.duckdb", Settings())
    assert w.raw.execute("SELECT x FROM t").fetchall() == [(1,)]
    assert version(w.raw) == "v1.0.0+"
    w.close()


def test_init_refuses_an_existing_workspace_and_bad_zone(tmp_path, cli):
    cli("init", tmp_path / "b")
    r = cli("init", tmp_path / "b", ok=False)
    assert r.exit_code == 1 and "already a siyu workspace" in r.stderr
    r = cli("init", tmp_path / "c", "--timezone", "Mars/Olympus", ok=False)
    assert r.exit_code == 1 and "unknown time zone" in r.stderr
    assert not (tmp_path / "c" / "siyu.toml").exists()


def test_environment_overrides_file_overrides_defaults(tmp_path, monkeypatch):
    p = tmp_path / "siyu.toml"
    p.write_text('brand_name = "文件"\ntimezone = "Asia/Tokyo"\n', encoding="utf-8")
    s = load_settings(p)
    assert (s.brand_name, s.timezone, s.memory_limit) == ("文件", "Asia/Tokyo", "")
    monkeypatch.setenv("SIYU_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("SIYU_ONEID_GUARD_TYPES", '["phone"]')
    s = load_settings(p)
    assert (s.brand_name, s.timezone, s.oneid_guard_types) == ("文件", "Europe/Berlin", ["phone"])
    monkeypatch.setenv("SIYU_ONEID_GUARD_TYPES", '["fax"]')
    with pytest.raises(SiyuError, match="unknown key type"):
        load_settings(p)


def test_broken_settings_file_is_a_clear_error(tmp_path):
    p = tmp_path / "siyu.toml"
    p.write_text("brand_name = \n", encoding="utf-8")
    with pytest.raises(SiyuError, match="not valid TOML"):
        load_settings(p)


def test_home_is_found_from_option_env_and_current_folder(tmp_path, monkeypatch, cli):
    ws = Workspace.init(tmp_path / "a")
    ws.close()
    sub = tmp_path / "a" / "exports" / "march"
    sub.mkdir(parents=True)
    assert find_home(start=sub) == (tmp_path / "a").resolve()
    monkeypatch.chdir(sub)
    assert cli.json("settings")["timezone"] == "Asia/Shanghai"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkspaceNotFound):
        find_home()
    r = cli("settings", ok=False)
    assert r.exit_code == 1 and "siyu init" in r.stderr
    monkeypatch.setenv("SIYU_HOME", str(tmp_path / "a"))
    assert cli.json("settings")["brand_name"] == "My Brand"
    assert cli.json("settings", "--home", tmp_path / "a")["brand_name"] == "My Brand"
    r = cli("settings", "--home", tmp_path, ok=False)
    assert "not a siyu workspace" in r.stderr


def test_schema_command(cli):
    got = cli.json("schema", "orders")
    [orders] = got["tables"]
    assert orders["id_columns"] == ["order_id"]
    assert [c["name"] for c in orders["columns"] if c["required"]] == [
        "order_id", "consumer_key", "paid_at", "amount"]
    assert len(cli.json("schema")["tables"]) == 14
    r = cli("schema", "nope", ok=False)
    assert r.exit_code == 2
    assert "order_id" in cli("schema", "orders").stdout


def test_import_order_puts_dependencies_first():
    names = [t.name for t in import_order()]
    assert len(names) == len(TABLES) == 14
    for t in TABLES.values():
        for d in t.depends_on:
            assert names.index(d) < names.index(t.name)


def test_data_model_doc_is_generated_from_the_schema():
    doc = (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    assert doc.strip() == schema_markdown().strip(), "run `make docs` to regenerate"


def test_every_setting_is_documented():
    from siyu.config import Settings

    for name, f in Settings.model_fields.items():
        assert f.description, f"setting {name} has no docstring"
    doc = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    from siyu.config import settings_markdown

    assert doc == settings_markdown(), "run `make docs` to regenerate"


def test_cli_reference_is_generated_from_the_commands():
    from siyu.cli import app
    from siyu.cli.reference import cli_markdown

    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert doc.strip() == cli_markdown(app).strip(), "run `make docs` to regenerate"


def test_version(cli):
    from siyu import __version__

    assert cli("--version").stdout.strip() == f"siyu {__version__}"


def test_engine_memory_default_is_half_the_machine(tmp_path, monkeypatch):
    import os

    s = load_settings(None)
    half_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2 // 2**20
    assert s.memory_limit == "" and s.engine_memory == f"{half_mb}MB"
    monkeypatch.setenv("SIYU_MEMORY_LIMIT", "300MB")
    w = Workspace.init(tmp_path / "w")
    assert w.settings.engine_memory == "300MB"
    got = w.warehouse.raw.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert got == "286.1 MiB"  # 300 MB as DuckDB reports it
    w.close()
