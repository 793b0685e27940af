"""The Celery app per broker (RabbitMQ: quorum queues on a topic exchange, countdowns by native
delayed delivery; Redis plain queues), the email queue beside the default one, and
publish-after-commit across savepoints."""

from __future__ import annotations

import subprocess
import sys
from contextlib import suppress

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from shared.events import catalog
from shared.queue import DEFAULT_QUEUE, EMAIL_QUEUE, make_celery, publish_after_commit, savepoint
from shared.settings import get_settings
from tests.conftest import Published


@pytest.mark.parametrize("url", ["amqp://guest:guest@rabbit:5672//", "amqps://u:p@rabbit//"])
def test_rabbitmq_gets_quorum_queues_on_a_topic_exchange(url: str) -> None:
    app = make_celery(get_settings().model_copy(update={"celery_broker_url": url}))
    for name in (DEFAULT_QUEUE, EMAIL_QUEUE):
        queue = app.amqp.queues[name]
        assert queue.queue_arguments == {"x-queue-type": "quorum"}
        assert queue.durable
        assert queue.exchange.type == "topic"


def test_redis_keeps_plain_queues() -> None:
    app = make_celery(get_settings().model_copy(update={"celery_broker_url": "redis://r:6379/0"}))
    assert not app.amqp.queues[DEFAULT_QUEUE].queue_arguments
    assert not app.amqp.queues[EMAIL_QUEUE].queue_arguments
    assert app.conf.broker_transport_options == {"visibility_timeout": 600}


@pytest.mark.parametrize("url", ["redis://r:6379/0", "amqp://guest:guest@rabbit:5672//"])
def test_emails_go_to_their_own_queue_which_a_worker_consumes_beside_the_default(
    url: str,
) -> None:
    """An email must not wait behind a burst's event tasks (docs/performance.md)."""
    app = make_celery(get_settings().model_copy(update={"celery_broker_url": url}))
    router = app.amqp.router

    def queue_of(task: str) -> str:
        return router.route({}, task)["queue"].name

    assert queue_of(catalog.SEND_EMAIL) == EMAIL_QUEUE
    assert queue_of(catalog.PROCESS_EVENTS) == queue_of(catalog.SWEEP_OUTBOX) == DEFAULT_QUEUE
    assert set(app.amqp.queues.consume_from) == {DEFAULT_QUEUE, EMAIL_QUEUE}


def test_publish_after_commit_waits_for_the_real_commit_across_savepoints(
    published: Published,
) -> None:
    with Session(create_engine("sqlite://")) as session:
        session.execute(text("SELECT 1"))
        publish_after_commit(session, "relink.first", [1])
        with session.begin_nested():  # SQLAlchemy calls its release a commit
            publish_after_commit(session, "relink.second", [2])
        assert published == []  # nothing before the transaction commits
        with suppress(ValueError), savepoint(session):
            publish_after_commit(session, "relink.rolled_back", [3])
            raise ValueError
        with suppress(ValueError), session.begin_nested():
            raise ValueError  # a plain savepoint's rollback keeps what came before it
        session.commit()
    assert published == [("relink.first", [1]), ("relink.second", [2])]


def test_a_rolled_back_transaction_publishes_nothing(published: Published) -> None:
    with Session(create_engine("sqlite://")) as session:
        session.execute(text("SELECT 1"))
        publish_after_commit(session, "relink.first", [1])
        session.rollback()
        session.execute(text("SELECT 1"))
        session.commit()
    assert published == []


def test_after_commit_listeners_are_registered_at_import_not_on_first_use() -> None:
    """A listener added on first use, while another thread commits, mutates the deque
    SQLAlchemy iterates ("deque mutated during iteration"): both modules register at import.
    A fresh interpreter, so no earlier test has registered them."""
    check = (
        "from sqlalchemy import event; import shared.metrics as m, shared.queue as q; "
        "assert event.contains(q.Session, 'after_commit', q._publish_pending); "
        "assert event.contains(m.Session, 'after_commit', m._record_pending)"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
