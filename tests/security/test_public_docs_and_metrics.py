"""/docs, /redoc and /openapi.json map every route, and /metrics/ shows traffic and failure
counts: none is served unless the settings say so, and metrics with METRICS_TOKEN only to
`Authorization: Bearer <token>`."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from shared.settings import get_settings
from worker import celery_app

AppUnder = Callable[..., TestClient]
DOCS = ("/docs", "/redoc", "/openapi.json")
TOKEN = "metrics-token-for-the-scraper"


@pytest.fixture
def app_under(db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppUnder]:
    """`app_under(VARIABLE=value, ...)`: the app built under those settings."""
    clients: list[TestClient] = []

    def build(**env: str) -> TestClient:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        clients.append(TestClient(create_app()))
        return clients[-1]

    yield build
    for built in clients:
        built.close()


def test_nothing_is_shown_by_default(app_under: AppUnder) -> None:
    app = app_under()
    for path in (*DOCS, "/metrics/"):
        assert app.get(path).status_code == 404, path
    assert app.get("/healthz").status_code == 200


def test_docs_when_exposed(app_under: AppUnder) -> None:
    app = app_under(EXPOSE_DOCS="true")
    for path in DOCS:
        assert app.get(path).status_code == 200, path
    assert "/webhooks/stripe" in app.get("/openapi.json").json()["paths"]
    assert app.get("/metrics/").status_code == 404


def test_metrics_when_enabled(app_under: AppUnder) -> None:
    response = app_under(METRICS_ENABLED="true").get("/metrics/")
    assert response.status_code == 200
    assert "relink_webhook_rejections_total" in response.text


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong-token", TOKEN, f"Basic {TOKEN}", f"Bearer {TOKEN}x"],
)
def test_metrics_with_a_token_refuse_anything_else(
    app_under: AppUnder, authorization: str | None
) -> None:
    app = app_under(METRICS_ENABLED="true", METRICS_TOKEN=TOKEN)
    headers = {} if authorization is None else {"Authorization": authorization}
    response = app.get("/metrics/", headers=headers)
    assert response.status_code == 401
    assert "relink_" not in response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {
        "error": {
            "type": "authentication_error",
            "code": "unauthorized",
            "message": "Authorization: Bearer <METRICS_TOKEN> is required",
            "param": None,
        }
    }


def test_metrics_with_a_token_answer_the_bearer(app_under: AppUnder) -> None:
    app = app_under(METRICS_ENABLED="true", METRICS_TOKEN=TOKEN)
    response = app.get("/metrics/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert "relink_webhook_rejections_total" in response.text


def test_a_token_alone_does_not_serve_metrics(app_under: AppUnder) -> None:
    app = app_under(METRICS_TOKEN=TOKEN)
    assert app.get("/metrics/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_the_workers_metrics_port_listens_on_this_host_unless_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """I6: it listened on 0.0.0.0, without auth."""
    served: list[tuple[int, str]] = []
    monkeypatch.setattr(
        celery_app, "start_http_server", lambda port, addr, registry: served.append((port, addr))
    )
    monkeypatch.setenv("WORKER_METRICS_PORT", "9808")
    celery_app._serve_metrics()
    monkeypatch.setenv("WORKER_METRICS_HOST", "0.0.0.0")
    celery_app._serve_metrics()
    assert served == [(9808, "127.0.0.1"), (9808, "0.0.0.0")]
