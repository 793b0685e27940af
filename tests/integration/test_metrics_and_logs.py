"""Metrics and logs after a scripted flow over the real api and a prefork worker (two
children) sharing PROMETHEUS_MULTIPROC_DIR: each funnel step counted once, both latencies
observed, the sums served by the api's /metrics/ and the worker's WORKER_METRICS_PORT alike;
and one case id found in the api's and the worker's lines of that case's whole story."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import psycopg
import requests
from prometheus_client.parser import text_string_to_metric_families

from sim.testing import SimServer
from tests.integration.smtp import SmtpSink
from tests.integration.stack import Stack, celery_worker_command, free_port, wait_until
from tests.integration.test_reactivation import authorization, link_in, relink_through_the_page

STEPS = {
    "deactivated": 2, "emailed": 2, "link_opened": 1, "session_started": 1,
    "relinked": 1, "new_account_saved": 0, "gave_up": 0, "unrepairable": 1,
}  # fmt: skip


def scrape(url: str, headers: dict[str, str] | None = None) -> dict[str, float]:
    text = requests.get(url, headers=headers, timeout=10).text
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def funnel(samples: dict[str, float]) -> dict[str, int]:
    return {step: int(samples.get(f"relink_funnel_total{{step={step}}}", 0)) for step in STEPS}


def case_state(pg: psycopg.Connection, case_id: int) -> str | None:
    row = pg.execute("SELECT state FROM relink_case WHERE id = %s", (case_id,)).fetchone()
    return row[0] if row else None


def test_a_scripted_flow_counts_each_step_once_and_one_case_id_greps_its_story(
    stack: Stack, sim: SimServer, pg: psycopg.Connection, smtp: SmtpSink, tmp_path: Path
) -> None:
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    worker_port = free_port()
    stack.env.update(
        PROMETHEUS_MULTIPROC_DIR=str(multiproc), METRICS_ENABLED="true", METRICS_TOKEN="m-token",
        WORKER_METRICS_PORT=str(worker_port), QUIET_PERIOD_SECONDS="1",
        EMAIL_SWEEP_EVERY_SECONDS="1", LOG_FORMAT="console",
    )  # fmt: skip
    assert stack.api is not None
    os.killpg(stack.api.pid, signal.SIGTERM)  # again, with the multiprocess directory
    stack.api.wait(timeout=15)
    stack.start_api()
    prefork = celery_worker_command("--pool", "prefork", "--concurrency", "2", "--loglevel", "INFO")
    prefork += ["--beat", "--schedule", str(tmp_path / "beat")]
    stack.workers.append(stack._spawn("worker-prefork", prefork))

    ada = authorization(sim)
    sim.client.deactivate_authorization(ada["id"])
    [relink_email] = smtp.wait_for(1, timeout=60)
    link = link_in(stack, relink_email)
    for _ in range(2):  # the start page's script, on two loads of the page: one opening
        assert requests.post(f"{link}/opened", timeout=30).status_code == 200
    relink_through_the_page(stack, sim, link)
    wait_until(lambda: case_state(pg, 1) == "resolved", 60, "the case to resolve")
    grace = sim.client.create_customer("grace@example.com")["id"]
    closed = sim.client.create_authorization(
        {"type": "customer", "customer": grace}, institution="Gringotts", n_accounts=1
    )
    sim.client.deactivate_account(closed["accounts"][0], cause="account_closed", action="none")
    smtp.wait_for(2, timeout=60)
    wait_until(lambda: case_state(pg, 2) == "unrepairable", 60, "the unrepairable case")
    events = pg.execute("SELECT count(*) FROM webhook_event WHERE status <> 'received'")
    (handled,) = events.fetchone() or (0,)

    def counted() -> bool:
        samples = scrape(f"{stack.base_url}/metrics/", {"Authorization": "Bearer m-token"})
        return (
            funnel(samples) == STEPS
            and samples.get("relink_webhook_to_processed_seconds_count{}") == handled
            and samples.get("relink_webhook_to_email_sent_seconds_count{}") == 2
        )

    wait_until(counted, 30, "the metrics")  # the last commits may trail the emails a little
    api_samples = scrape(f"{stack.base_url}/metrics/", {"Authorization": "Bearer m-token"})
    worker_samples = scrape(f"http://127.0.0.1:{worker_port}/")
    assert funnel(worker_samples) == STEPS
    assert worker_samples["relink_webhook_to_email_sent_seconds_count{}"] == 2
    # the quiet period (1 s) lies between a deactivation's webhook and its email
    assert api_samples["relink_webhook_to_email_sent_seconds_bucket{le=1.0}"] == 0
    assert list(multiproc.glob("*.db"))  # the processes wrote their own files

    logs = "\n".join(p.read_text(errors="replace") for p in sorted(tmp_path.glob("*.log")))
    story = [line for line in logs.splitlines() if re.search(r"\bcase_id=1\b", line)]
    told = " ".join(story)
    for step in ("case_opened", "email_sent", "relink_session_opened", "case_resolved"):
        assert step in told, (step, story)
    assert "event_processed" in told  # the events that moved the case carry its id too
