"""No request of any shape answers 500 (security probe, issue 14): dates out of range, deep
JSON, random values in every sync mutation's arguments and in every GET route's parameters.

A bad request gets a 4xx naming what is wrong, and stores nothing: the regression cases
below are the probe's own requests; the Hypothesis cases look for the ones it missed.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from ccm_pwa.models import AppliedMutation, Note, PatientMonth, TimeEntry
from ccm_pwa.services.sync_mutations import MUTATIONS
from tests.api.conftest import REPORT_TOKEN, ApiServer
from tests.api.test_sync_push import World, batch, record, send

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def world(session: Session) -> World:
    return World(session)


def stored(world: World) -> tuple[int, int, int, int]:
    return (world.count(TimeEntry), world.count(Note), world.count(AppliedMutation),
            world.count(PatientMonth))


# --- the probe's requests ------------------------------------------------------------------

@pytest.mark.parametrize("started_at", ["1900-01-01T10:00:00Z", "0001-01-01T00:00:00Z",
                                        "9999-12-31T23:00:00Z"])
def test_an_entry_in_an_impossible_year_is_refused_whole(
        api_server: ApiServer, world: World, started_at: str) -> None:
    entry = record(world, world.rosa, started_at)
    response = send(api_server, batch(str(uuid.uuid4()), (1, "time_entry.record", entry)),
                    world.cookies)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("mutations[0].args.started_at: ")
    assert "outside 2000..2100" in response.json()["detail"]
    assert stored(world) == (0, 0, 0, 0)


def test_an_entry_older_than_timely_filing_is_rejected_and_makes_no_month(
        api_server: ApiServer, world: World) -> None:
    old = (datetime.now(UTC) - timedelta(days=500)).replace(microsecond=0)
    entry = record(world, world.rosa, old.isoformat())
    results = send(api_server, batch(str(uuid.uuid4()), (1, "time_entry.record", entry)),
                   world.cookies).json()["results"]
    assert results[0]["status"] == "rejected"
    assert re.match(r"started_at: before \d{4}-\d{2}-01, more than 12 months ago",
                    results[0]["reason"])
    assert world.count(TimeEntry) == 0
    assert world.count(PatientMonth, PatientMonth.month == f"{old:%Y-%m}") == 0


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "1999-12", "2101-01"])
@pytest.mark.parametrize("path", ["/api/v1/worklist?month={}", "/api/v1/patients/{rosa}?month={}",
                                  "/api/v1/months/{}/billing.csv"])
def test_a_month_outside_the_calendar_answers_422(api_server: ApiServer, world: World,
                                                  path: str, month: str) -> None:
    """The care manager's own routes, and the billing export with the reports token."""
    url = api_server.url + path.replace("{rosa}", str(world.rosa.id)).format(month)
    response = httpx.get(url, cookies=world.cookies,
                         headers={"Authorization": f"Bearer {REPORT_TOKEN}"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("month: ")


@pytest.mark.parametrize("path", ["/api/v1/sync/push", "/api/v1/sync/discard",
                                  "/api/v1/push/subscriptions", "/api/v1/sync/wiped"])
def test_a_50000_deep_body_answers_422(api_server: ApiServer, world: World, path: str) -> None:
    body = "[" * 50_000 + "]" * 50_000
    response = httpx.post(api_server.url + path, content=body, cookies=world.cookies,
                          headers={"content-type": "application/json"})
    assert response.status_code in (413, 422), response.text
    assert response.json()["detail"].startswith("body: ")


def test_nan_and_infinity_are_not_json(api_server: ApiServer, world: World) -> None:
    body = f'{{"client_id": "{uuid.uuid4()}", "schema_version": 1, "mutations": [], "x": NaN}}'
    response = httpx.post(f"{api_server.url}/api/v1/sync/push", content=body,
                          cookies=world.cookies, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"] == "body: not valid JSON"


# --- what the probe did not try ------------------------------------------------------------

def json_values(depth: int = 3) -> st.SearchStrategy[Any]:
    scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
               | st.floats(allow_nan=False, allow_infinity=False)
               | st.text(max_size=40)
               | st.sampled_from(["", "0001-01-01", "9999-12-31T23:59:59Z", "2026-02-30",
                                  "2026-11-23T14:00:00", "2026-11-23T14:00:00+25:00",
                                  str(uuid.UUID(int=0)), "-1", "1e309", "\x00", "🙂" * 3]))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=12), inner, max_size=3),
                        max_leaves=depth * 3)


def arguments(world: World) -> st.SearchStrategy[dict[str, Any]]:
    """Plausible keys (each mutation's own field names) with random values, mixed with
    real ids so validation reaches the handlers, not only the parser."""
    names = sorted({name for model, _ in MUTATIONS.values() for name in model.model_fields})
    real = st.sampled_from([str(world.rosa.id), str(world.lee.id), str(world.ana.id),
                            str(uuid.uuid4())])
    return st.dictionaries(st.sampled_from(names), real | json_values(), max_size=8)


def test_random_mutation_arguments_never_answer_500(api_server: ApiServer,
                                                    world: World) -> None:
    client_id = str(uuid.uuid4())
    last_applied = [0]

    @FUZZ
    @given(name=st.sampled_from(sorted(MUTATIONS)), args=arguments(world))
    def one(name: str, args: dict[str, Any]) -> None:
        mutation_id = last_applied[0] + 1
        body = batch(client_id, (mutation_id, name, args))
        before = stored(world)
        response = send(api_server, body, world.cookies)
        assert response.status_code < 500, (name, args, response.text)
        if response.status_code == 200:
            last_applied[0] = mutation_id
        else:
            assert response.json()["detail"], response.text
            assert stored(world) == before, (name, args)

    one()


def get_routes(server: ApiServer) -> list[tuple[str, list[str]]]:
    """Every GET route the API declares, with its query parameter names."""
    spec = httpx.get(f"{server.url}/api/v1/openapi.json").json()
    routes = []
    for path, operations in spec["paths"].items():
        if "get" in operations:
            params = [p["name"] for p in operations["get"].get("parameters", [])
                      if p["in"] == "query"]
            routes.append((path, params))
    return routes


def test_random_query_values_on_every_get_route_never_answer_500(api_server: ApiServer,
                                                                 world: World) -> None:
    routes = get_routes(api_server)
    assert len(routes) >= 10, routes
    values = st.text(max_size=30) | st.sampled_from(
        ["9999-12", "0000-00", "2026-13", "-1", "1" * 40, str(world.rosa.id),
         str(world.lee.id), "%00", "../../etc/passwd", "2026-11-31"])

    @FUZZ
    @given(route=st.sampled_from(routes), value=values, other=values)
    def one(route: tuple[str, list[str]], value: str, other: str) -> None:
        path, params = route
        segment = quote(value, safe="") or "x"
        path = re.sub(r"\{[^}]+\}", lambda _: segment, path)
        query = dict.fromkeys(params, other)
        response = httpx.get(api_server.url + path, params=query, cookies=world.cookies,
                             timeout=30)
        assert response.status_code < 500, (path, query, response.text)

    one()
