"""With REDIS_URL: commands are queued in Redis, a separate worker diagnoses, the bot reports, and
report state lives in Redis (so buttons work from any bot process)."""

from __future__ import annotations

import asyncio

from bot.actions import ActionId, ButtonValue
from cf502.pool.queue.config import QueueConfig
from cf502.pool.queue.consumer import QueueConsumer
from cf502.pool.worker import Worker, WorkerSettings
from tests.handlers.harness import CHANNEL, harness
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld
from tests.servers.dns import dns_world_fixture as dns_world_fixture
from tests.servers.redis import RedisServer
from tests.servers.redis import redis_server_fixture as redis_server_fixture
from tests.servers.slack_api import FakeSlack, text_of
from tests.servers.slack_api import fake_slack_fixture as fake_slack_fixture
from tests.servers.tcp import closed_port


async def test_report_through_redis_and_a_worker_with_state_in_redis(
    fake_slack: FakeSlack, dns_world: DnsWorld, redis_server: RedisServer
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    # Given a worker process's Worker (in this loop) on the same Redis as the bot
    worker = Worker(
        QueueConsumer(redis_server.url, QueueConfig()), dns_world.engine(), WorkerSettings()
    )
    running = asyncio.create_task(worker.run())
    try:
        async with harness(fake_slack, dns_world, redis_url=redis_server.url) as h:
            # When /cf502 is used
            sent = await h.command(f"www.example.test:{port}")
            assert sent.status == 200 and sent.body == ""
            roots = await fake_slack.wait_for(
                lambda f: [m for m in f.roots(CHANNEL) if "*✖ FAIL*" in text_of(m.blocks)],
                what="complete report",
            )
            await h.bot.services.background.drain()
            # Then the worker's results are reported, and the state is in Redis
            assert "tcp.https" in "\n".join(
                text_of(m.blocks) for m in fake_slack.thread(roots[0].ts)
            )
            report_id = ButtonValue.loads(
                next(
                    e["value"]
                    for b in roots[0].blocks
                    if b.get("block_id") == "root"
                    for e in b["elements"]
                )
            ).report_id
            assert await h.bot.store.get(report_id) is not None
            # And a button works through the queue as well
            value = ButtonValue(report_id, "tcp.https").dumps()
            await h.click(ActionId.RERUN_CHECK, value, message_ts=roots[0].ts)
            await fake_slack.wait_for(
                lambda f: "rerun by" in text_of(f.messages[roots[0].ts].blocks), what="rerun"
            )
    finally:
        worker.stop()
        await asyncio.wait_for(running, 15)
        await worker.queue.close()
