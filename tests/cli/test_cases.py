"""`relink cases list|show`."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import (
    ADDRESS,
    relink,
)


def test_cases_list_shows_a_table(cases: None) -> None:
    result = relink("cases", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["ID", "STATE", "INSTITUTION", "AUTHORIZATION"]
    assert [line.split()[0] for line in lines[2:]] == ["3", "2", "1"]  # last heard first


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--state", "open"], [2, 1]),
        (["--state", "resolved"], [3]),
        (["--institution", "other bank"], [2]),
        (["--institution", "StripeBank", "--state", "open"], [1]),
        (["--limit", "1"], [3]),
        (["--institution", "Nowhere"], []),
    ],
)
def test_cases_list_filters_as_json(cases: None, args: list[str], expected: list[int]) -> None:
    result = relink("cases", "list", *args, "--json")
    assert result.exit_code == 0, result.output
    assert [row["id"] for row in json.loads(result.output)] == expected


def test_cases_list_refuses_an_unknown_state(cases: None) -> None:
    assert relink("cases", "list", "--state", "sleepy").exit_code == 2


def test_cases_list_says_so_when_nothing_matches(db: None) -> None:
    result = relink("cases", "list")
    assert result.exit_code == 0
    assert result.output.strip() == "no cases"


def test_cases_show_merges_a_timeline_in_time_order(cases: None) -> None:
    result = relink("cases", "show", "1", "--json")
    assert result.exit_code == 0, result.output
    detail = json.loads(result.output)
    assert detail["case"]["institution"] == "StripeBank"
    assert [a["id"] for a in detail["accounts"]] == ["fca_fcauth_a_1", "fca_fcauth_a_2"]
    timeline = [(e["kind"], e["id"]) for e in detail["timeline"]]
    assert timeline == [
        ("case", 1),
        ("event", "evt_a_deactivated"),  # only the events naming this case's accounts
        ("email", 1),
        ("attempt", "fcsess_first"),
        ("email", 2),  # the reminder, due in three days
    ]
    times = [e["at"] for e in detail["timeline"]]
    assert times == sorted(times)
    sent = detail["timeline"][2]
    assert (sent["what"], sent["status"], sent["attempts"]) == ("relink", "sent", 1)
    assert sent["recipient"] == "a***@example.com"
    assert detail["timeline"][3]["mode"] == "account"
    assert detail["timeline"][3]["result"] == "no_account"


def test_cases_show_table_never_prints_the_address(cases: None) -> None:
    result = relink("cases", "show", "1")
    assert result.exit_code == 0, result.output
    assert "timeline:" in result.output
    assert "evt_a_deactivated" in result.output
    assert "fcsess_first" in result.output
    assert ADDRESS not in result.output
    assert ADDRESS not in relink("cases", "show", "1", "--json").output


def test_cases_show_a_resolved_case_ends_with_its_resolution(cases: None) -> None:
    detail = json.loads(relink("cases", "show", "3", "--json").output)
    assert detail["timeline"][-1] | {"at": None} == {
        "at": None,
        "kind": "case",
        "id": 3,
        "what": "resolved",
        "detail": "reactivated",
    }


def test_cases_show_unknown_case_exits_1(db: None) -> None:
    result = relink("cases", "show", "404")
    assert result.exit_code == 1
    assert "no case 404" in result.output
