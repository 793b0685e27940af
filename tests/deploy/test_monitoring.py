"""Prometheus and Grafana in compose's `ops` profile (no Docker engine here): provisioned from
deploy/, on this host's loopback only, behind a required password, scraping what relink
serves, and the dashboard's queries name only metrics relink defines."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

from shared import metrics

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
PROMETHEUS: dict[str, Any] = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
DASHBOARD: dict[str, Any] = json.loads((ROOT / "deploy/grafana/dashboards/relink.json").read_text())


def mounts(service: str) -> dict[str, str]:
    """Container path → host path (relative to the repository) of a service's bind mounts."""
    found = {}
    for volume in SERVICES[service].get("volumes", []):
        host, container = volume.split(":")[:2]
        if host.startswith("./"):
            found[container] = host.removeprefix("./")
    return found


def test_prometheus_and_grafana_run_in_the_ops_profile_on_loopback_only() -> None:
    for name in ("prometheus", "grafana"):
        assert SERVICES[name]["profiles"] == ["ops"]
        ports = SERVICES[name]["ports"]
        assert ports
        assert all(str(port).startswith("127.0.0.1:") for port in ports), name


def test_grafana_asks_for_a_required_password_and_lets_nobody_in_anonymously() -> None:
    env = SERVICES["grafana"]["environment"]
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"


def test_grafana_is_provisioned_with_the_prometheus_datasource_and_the_dashboard() -> None:
    mounted = mounts("grafana")
    provisioning = ROOT / mounted["/etc/grafana/provisioning"]
    [source] = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in SERVICES
    [provider] = yaml.safe_load((provisioning / "dashboards/relink.yml").read_text())["providers"]
    dashboards_dir = provider["options"]["path"]
    assert (ROOT / mounted[dashboards_dir] / "relink.json").exists()
    uids = {t["datasource"]["uid"] for p in DASHBOARD["panels"] for t in p["targets"]}
    assert uids == {source["uid"]}


def test_prometheus_scrapes_the_api_with_the_metrics_token_and_the_worker_port() -> None:
    assert (
        mounts("prometheus")["/etc/prometheus/prometheus.yml"] == "deploy/prometheus/prometheus.yml"
    )
    jobs = {job["job_name"]: job for job in PROMETHEUS["scrape_configs"]}
    api = jobs["relink-api"]
    assert api["metrics_path"] == "/metrics/"
    assert api["static_configs"][0]["targets"] == ["api:8000"]
    secret = api["authorization"]["credentials_file"].removeprefix("/run/secrets/")
    assert secret in SERVICES["prometheus"]["secrets"]
    assert COMPOSE["secrets"][secret] == {"environment": "METRICS_TOKEN"}
    env = SERVICES["api"]["environment"]
    assert env["METRICS_ENABLED"] == "true"
    assert env["METRICS_TOKEN"].startswith("${METRICS_TOKEN:?")  # the api's port is public
    port = SERVICES["worker"]["environment"]["WORKER_METRICS_PORT"]
    assert jobs["relink-worker"]["static_configs"][0]["targets"] == [f"worker:{port}"]
    assert "ports" not in SERVICES["worker"]  # its metrics stay on the compose network


def test_every_process_writes_its_metrics_to_a_fresh_tmpfs() -> None:
    directory = SERVICES["worker"]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    for name in ("api", "worker", "beat", "migrate"):
        assert directory in SERVICES[name]["tmpfs"], name


def test_the_dashboard_queries_only_metrics_and_steps_relink_defines() -> None:
    defined = {
        sample.name
        for family in REGISTRY.collect()
        if family.name.startswith("relink_")
        for sample in family.samples
    } | {"relink_funnel_total"}
    exprs = [t["expr"] for p in DASHBOARD["panels"] for t in p["targets"]]
    used = {name for expr in exprs for name in re.findall(r"\brelink_[a-z_]+", expr)}
    assert used
    assert used <= defined, used - defined
    steps = {step for expr in exprs for step in re.findall(r'step="([a-z_]+)"', expr)}
    assert steps == set(metrics.FUNNEL_STEPS)
