"""The Celery app per broker: RabbitMQ gets a quorum queue on a topic exchange (countdowns by
native delayed delivery); Redis and the filesystem broker keep Celery's defaults."""

from __future__ import annotations

import pytest

from shared.queue import make_celery
from shared.settings import get_settings


@pytest.mark.parametrize("url", ["amqp://guest:guest@rabbit:5672//", "amqps://u:p@rabbit//"])
def test_rabbitmq_gets_a_quorum_queue_on_a_topic_exchange(url: str) -> None:
    app = make_celery(get_settings().model_copy(update={"celery_broker_url": url}))
    queue = app.amqp.queues["relink"]
    assert queue.queue_arguments == {"x-queue-type": "quorum"}
    assert queue.durable
    assert queue.exchange.type == "topic"


def test_redis_keeps_a_plain_queue() -> None:
    app = make_celery(get_settings().model_copy(update={"celery_broker_url": "redis://r:6379/0"}))
    assert not app.amqp.queues["relink"].queue_arguments
    assert app.conf.broker_transport_options == {"visibility_timeout": 600}
