"""Providers: an enrolment records its provider; a provider user sees and delivers only for its own
participants and sees its own results; results and payments are shown per provider and add up."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from scipy import stats

from api.access import UserError, add_user
from api.http import create_app
from api.providers import provider_view
from contracts.registry import get_contract
from evaluation.providers import outcomes_by_provider, providers_of
from evaluation.run import evaluate
from outcomes.batches import list_batches, verify_batch
from outcomes.ingest import IngestRefused, ingest_file
from outcomes.pseudonym import init_key, load_key
from payments.calculate import calculate
from payments.providers import pro_rata
from store.db import init_store, open_store
from store.tables import EnrolmentRow
from tests.helpers import row_counts, stored_minimal, write
from tests.test_api import TWO_PAYERS, measurements, people
from tests.test_pages import client as _client
from tests.test_pages import session_csrf, text_of

TWO_PROVIDERS = TWO_PAYERS.replace("  - {id: provider, name: Provider, role: provider}",
                                   "  - {id: provider, name: Provider, role: provider}\n"
                                   "  - {id: other, name: Other provider, role: provider}")
CONTRACT = "test-contract"


def with_provider(text: str, provider: str) -> str:
    lines = text.strip().split("\n")
    return "\n".join([lines[0] + ",provider"] + [line + f",{provider}" for line in lines[1:]]) + "\n"


@pytest.fixture(scope="module")
def world(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Forty people with "provider", twenty with "other", their measurements, a run and a ledger."""
    folder = tmp_path_factory.mktemp("providers")
    patch = pytest.MonkeyPatch()
    key_path = init_key(folder / "sib.key")
    patch.setenv("SIB_KEY_FILE", str(key_path))
    patch.setenv("SIB_UPLOAD_WORKER", "inline")
    init_store(module_url)
    engine = open_store(module_url)
    stored = stored_minimal(engine, TWO_PROVIDERS)
    key = load_key(key_path)
    contract = stored.latest.terms
    files = (("participants", "pa.csv", with_provider(people("A", 40), "provider")),
             ("participants", "pb.csv", with_provider(people("B", 20), "other")),
             ("measurements", "ma.csv", measurements("A", 40)), ("measurements", "mb.csv", measurements("B", 20)))
    for kind, name, text in files:
        verify_batch(engine, ingest_file(engine, contract, write(folder, name, text), kind, key).batch_id)
    run = evaluate(engine, stored, date(2022, 6, 30))
    calculate(engine, stored, run)
    tokens = {"provider": add_user(engine, "Provider's user", "provider", [CONTRACT], party="provider"),
              "other": add_user(engine, "Other's user", "provider", [CONTRACT], party="other"),
              "intermediary": add_user(engine, "intermediary-1", "intermediary", [CONTRACT])}
    yield {"engine": engine, "app": create_app(engine), "tokens": tokens, "folder": folder, "key": key,
           "contract": contract, "run": run}
    engine.dispose()
    patch.undo()




def test_an_enrolment_records_its_provider_and_a_wrong_one_is_refused(world) -> None:
    engine, contract, key, folder = world["engine"], world["contract"], world["key"], world["folder"]
    owners = providers_of(engine, CONTRACT)
    assert owners.value_counts().to_dict() == {"provider": 40, "other": 20}
    before = row_counts(engine)
    with pytest.raises(IngestRefused) as refused:
        ingest_file(engine, contract, write(folder, "x.csv", with_provider(people("X", 2), "nobody")), "participants",
                    key)
    assert [e.message.code for e in refused.value.report.errors] == ["outcomes.not_a_provider"] * 2
    with pytest.raises(IngestRefused) as as_other:  # a provider cannot enrol people with another provider
        ingest_file(engine, contract, write(folder, "y.csv", with_provider(people("Y", 2), "other")), "participants",
                    key, provider="provider")
    assert {e.message.code for e in as_other.value.report.errors} == {"outcomes.another_provider"}
    assert row_counts(engine) == dict(before, audit_events=before["audit_events"] + 2)  # two refusals, audited


def test_a_provider_delivers_only_for_its_own_participants(world) -> None:
    engine, contract, key, folder = world["engine"], world["contract"], world["key"], world["folder"]
    before = row_counts(engine)
    with pytest.raises(IngestRefused) as refused:  # B's people are the other provider's: unknown to "provider"
        ingest_file(engine, contract, write(folder, "mb2.csv", measurements("B", 3).replace("-20,", "-21,")),
                    "measurements", key, provider="provider")
    errors = refused.value.report.errors
    assert {e.message.code for e in errors} == {"outcomes.unknown_participant"}  # the same words as for strangers
    assert row_counts(engine)["measurements"] == before["measurements"]
    report = ingest_file(engine, contract, write(folder, "new.csv", people("N", 3)), "participants", key,
                         provider="provider")  # no provider column: enrolled with the delivering provider
    with engine.connect() as conn:
        enrolled = conn.execute(sa.select(EnrolmentRow.provider).where(EnrolmentRow.batch_id == report.batch_id)).all()
    assert [e.provider for e in enrolled] == ["provider"] * 3
    assert list_batches(engine, CONTRACT, "provider")[-1]["id"] == report.batch_id
    assert all(b["id"] != report.batch_id for b in list_batches(engine, CONTRACT, "other"))


def test_a_provider_user_is_bound_to_a_provider_of_the_contract(world) -> None:
    engine = world["engine"]
    with pytest.raises(UserError, match="a provider user acts for one provider"):
        add_user(engine, "nobody", "provider", [CONTRACT])
    with pytest.raises(UserError, match="'city' is not a provider of 'test-contract'; its providers: provider, other"):
        add_user(engine, "wrong", "provider", [CONTRACT], party="city", providers={CONTRACT: ["provider", "other"]})


def test_the_api_shows_a_provider_its_own_participants_and_batches_only(world) -> None:
    for who, expected in (("provider", 40), ("other", 20)):
        headers = {"Authorization": f"Bearer {world['tokens'][who]}"}
        c = TestClient(world["app"])
        page = c.get(f"/api/v1/contracts/{CONTRACT}/participants?limit=100", headers=headers).json()
        providers = {p["provider"] for p in page["items"]}
        assert providers == {who} and page["total"] >= expected
        batches = c.get(f"/api/v1/contracts/{CONTRACT}/batches?limit=100", headers=headers).json()["items"]
        assert all(b["provider"] == who for b in batches)
    everything = TestClient(world["app"]).get(f"/api/v1/contracts/{CONTRACT}/participants?limit=1", headers={
        "Authorization": f"Bearer {world['tokens']['intermediary']}"}).json()
    assert everything["total"] >= 60  # the intermediary sees every provider's


def test_the_provider_page_delivers_as_the_provider_and_shows_its_own_results(world) -> None:
    engine = world["engine"]
    c = _client(world, "other")
    assert c.get("/portfolio").status_code == 200
    page = c.get(f"/contracts/{CONTRACT}/deliveries?lang=en")
    assert page.status_code == 200
    assert c.get(f"/contracts/{CONTRACT}/work").status_code == 403  # not the intermediary's page
    text = text_of(page.text)
    assert "Other provider" in text and "Outcomes per provider" in text
    table = re.search(r'<table id="provider-outcomes">(.*?)</table>', page.text, re.S)[1]
    rows = re.findall(r'<th scope="row">([^<]+)</th>', table)
    assert rows and set(rows) == {"Other provider"}  # its own rows only
    done = c.post(f"/contracts/{CONTRACT}/batches?lang=en", data={"kind": "participants", "csrf": session_csrf(c)},
                  files={"file": ("o.csv", people("O", 2).encode(), "text/csv")}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith(f"/contracts/{CONTRACT}/deliveries?")
    batch = int(re.search(r"batch=(\d+)", done.headers["location"])[1])
    assert list_batches(engine, CONTRACT, "other")[-1]["id"] == batch
    refused = c.post(f"/contracts/{CONTRACT}/batches?lang=en", data={"kind": "measurements", "csrf": session_csrf(c)},
                     files={"file": ("ma.csv", measurements("A", 2).replace("-20,", "-22,").encode(), "text/csv")})
    assert refused.status_code == 422 and "unknown participant" in text_of(refused.text)  # A's are not its own
    shown = text_of(c.get(f"/contracts/{CONTRACT}/deliveries?lang=en").text)
    assert "ma.csv" in shown and "pa.csv" not in shown  # its own refusal; the other provider's files never


def test_results_per_provider_are_each_provider_s_own_participants(world) -> None:
    engine = world["engine"]
    view = provider_view(engine, get_contract(engine, CONTRACT))
    assert view["run"] == {"id": world["run"].id, "as_of": "2022-06-30"}
    rows = {(o["provider"], o["metric"]): o for o in view["outcomes"]}
    values = {p: [0.85 + (i % 4) * 0.05 for i in range(n)] for p, n in (("provider", 40), ("other", 20))}
    for provider, expected in values.items():
        got = rows[(provider, "attendance")]
        mean = float(np.mean(expected))
        low, high = stats.t.interval(0.95, len(expected) - 1, loc=mean, scale=stats.sem(expected))
        assert got["participants"] == len(expected)
        assert got["mean"] == pytest.approx(mean) and got["ci"] == pytest.approx([low, high])
        assert got["achieved"] == sum(v >= 0.9 - 1e-9 for v in expected)
    total = sum(view["totals"].values(), Decimal(0))
    assert total == view["ledger_total"] and total > 0  # attributed parts add up to the ledger, to the öre
    shares = {p: a / total for p, a in view["totals"].items()}
    assert shares["provider"] > shares["other"]  # more people achieved the outcome with "provider"


def test_outcomes_by_provider_keeps_unrecorded_providers_apart_and_handles_one_person() -> None:
    outcomes = pd.DataFrame({"metric": ["m", "m", "m"], "participant_id": [1, 2, 3], "cohort": ["c1"] * 3,
                             "value": [1.0, 0.0, 0.5], "achieved": [True, False, False]})
    rows = outcomes_by_provider(outcomes, pd.Series(["a", "a", None], index=[1, 2, 3], dtype=object))
    by = {r["provider"]: r for r in rows}
    assert by["a"]["participants"] == 2 and by["a"]["achieved"] == 1 and by["a"]["mean"] == 0.5
    assert by[None]["participants"] == 1 and by[None]["ci"] == [None, None]  # one person: no interval


@pytest.mark.parametrize("amount,weights,parts", [
    ("100.00", [1, 1, 1], ["33.34", "33.33", "33.33"]),
    ("0.05", [2, 1], ["0.03", "0.02"]),
    ("-10.00", [1, 2], ["-3.33", "-6.67"]),
    ("999.99", [3], ["999.99"]),
    ("1.00", [1, 1, 1, 1, 1, 1, 1], ["0.15", "0.15", "0.14", "0.14", "0.14", "0.14", "0.14"]),
])
def test_pro_rata_parts_add_up_exactly(amount: str, weights: list[int], parts: list[str]) -> None:
    got = pro_rata(Decimal(amount), weights, "SEK")
    assert got == [Decimal(p) for p in parts] and sum(got) == Decimal(amount)


def test_pro_rata_refuses_what_it_cannot_split() -> None:
    with pytest.raises(ValueError, match="rounded to 0.01"):
        pro_rata(Decimal("1.005"), [1, 1], "SEK")
    with pytest.raises(ValueError, match="more than 0"):
        pro_rata(Decimal("1.00"), [0, 0], "SEK")


def test_an_effect_payment_is_attributed_by_treated_participants_and_a_rate_card_by_outcomes() -> None:
    from types import SimpleNamespace

    from payments.providers import payments_by_provider, provider_totals

    mechanisms = [SimpleNamespace(id="share", type="savings_share", metrics=["days"]),
                  SimpleNamespace(id="card", type="rate_card", metrics=["att"])]
    contract = SimpleNamespace(currency="SEK", payments=SimpleNamespace(mechanisms=mechanisms))
    people = pd.DataFrame({"participant_id": [1, 2, 3, 4, 5], "cohort": ["c1", "c1", "c1", "c2", "c1"],
                           "arm": ["treatment"] * 4 + ["control"], "provider": ["a", "a", "b", "b", "b"]})
    outcomes = pd.DataFrame({"metric": ["att"] * 4, "participant_id": [1, 2, 3, 4], "cohort": ["c1", "c1", "c1", "c2"],
                             "value": [1.0, 0.0, 1.0, 1.0], "achieved": [True, False, True, True], "run": [7] * 4})
    entries = [{"seq": 1, "period": "2021", "payer": "city", "mechanism": "share", "cohort": "c1",
                "amount": Decimal("1000.00"), "evaluation_run_id": 7},
               {"seq": 2, "period": "2021", "payer": "city", "mechanism": "card", "cohort": "all",
                "amount": Decimal("300.01"), "evaluation_run_id": 7}]
    parts = payments_by_provider(contract, entries, outcomes, people)
    share = {p["provider"]: (p["amount"], p["basis"], p["count"]) for p in parts if p["entry"] == 1}
    assert share == {"a": (Decimal("666.67"), "participants", 2), "b": (Decimal("333.33"), "participants", 1)}
    card = {p["provider"]: (p["amount"], p["basis"], p["count"]) for p in parts if p["entry"] == 2}
    assert card == {"a": (Decimal("100.00"), "outcomes", 1), "b": (Decimal("200.01"), "outcomes", 2)}  # 2/3 > 1/3
    assert sum(provider_totals(parts).values()) == Decimal("1300.01")  # the control arm never counts
