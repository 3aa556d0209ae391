"""`warroom incidents update` with the impact found (issue 15; docs/upgrades.md): the flags raise
the incident to P0 and the command says so; words alone are a suggestion it prints, not applies;
`show` lists the impact."""

from __future__ import annotations

from tests.warroom.cli.test_cli_client import served


async def test_update_flags_raise_and_words_only_suggest(env, engine, task_queue, tmp_path):
    async with served(env, engine, task_queue, tmp_path) as api:
        iid = await api.declare(title="Ledger replica lagging", priority="P1")
        r = await api.run("update", iid, "failover done, possible data loss on the ledger")
        assert r.exit_code == 0, r.output
        assert f"update posted to {iid}: P1," in r.stdout
        assert "suggested, not applied: raise to P0: data loss ('data loss') in alice's update" in r.stdout
        assert "--data-loss" in r.stdout
        r = await api.run("update", iid, "restore from backup", "--data-loss", "--expected-recovery", "300")
        assert r.exit_code == 0, r.output
        assert f"update posted to {iid}: P0," in r.stdout
        assert ("raised to P0 automatically: data loss reported; expected recovery 5 h is beyond 4 h "
                "(update, alice)") in r.stdout
        bad = await api.run("update", iid, "eta", "--expected-recovery", "-1")
        assert bad.exit_code == 2 and "Traceback" not in bad.output
        shown = await api.run("show", iid)
    assert shown.exit_code == 0, shown.output
    assert "data loss, expected recovery 300 min" in shown.stdout
