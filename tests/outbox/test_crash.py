"""The acceptance test: `kithkin deliver` killed (SIGKILL) at random points mid-batch and
restarted until the queue is empty; every message reaches the real local SMTP server and
HTTP receiver, and is *accepted* exactly once after the receivers' deduplication on its
idempotency key; every webhook signature verifies. Raw repeats (sends in flight when a
process died, re-sent after the lease) are counted and reported, not hidden."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from kithkin.config import Settings
from kithkin.database.core import session_scope
from kithkin.outbox import service as outbox_service
from kithkin.outbox.models import Message, MessageStatus
from tests.outbox.conftest import SECRET, AddCustomer
from tests.outbox.receivers import smtp_server, webhook_server

SRC = Path(__file__).resolve().parents[2] / "src"
PER_CHANNEL = 120
MAX_ROUNDS = 60
TARGET_KILLS = 8
LEASE_SECONDS = 1.0


def _env(workspace: Path, smtp_port: int, webhook_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KITHKIN_")}
    env.update({
        "PYTHONPATH": str(SRC), "KITHKIN_HOME": str(workspace),
        "KITHKIN_SMTP_HOST": "127.0.0.1", "KITHKIN_SMTP_PORT": str(smtp_port),
        "KITHKIN_SMTP_TLS": "none", "KITHKIN_SMTP_FROM": "shop@example.com",
        "KITHKIN_WEBHOOK_URL": webhook_url, "KITHKIN_WEBHOOK_SECRET": SECRET,
        "KITHKIN_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
        "KITHKIN_OUTBOX_BATCH_SIZE": "20", "KITHKIN_OUTBOX_CAP_MESSAGES": "0",
        "KITHKIN_OUTBOX_BACKOFF_SECONDS": "0.2"})
    return env


def _in_flight(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(Message).where(
            Message.status == MessageStatus.SENDING)) or 0


@pytest.mark.parametrize("seed", [7])
def test_sigkill_mid_batch_still_delivers_each_message_once(
        sqlite_engine: Engine, workspace: Path, add_customer: AddCustomer,
        seed: int) -> None:
    rng = random.Random(seed)
    settings = Settings(home=workspace, outbox_cap_messages=0)
    keys: dict[str, set[str]] = {"email": set(), "webhook": set()}
    with session_scope(sqlite_engine) as session:
        customers = [add_customer(email=f"p{i}@example.com") for i in range(PER_CHANNEL)]
        for channel in keys:
            for customer in customers:
                message = outbox_service.queue_message(
                    session=session, customer_id=customer, template="winback",
                    channel=channel, settings=settings)
                assert message.status == MessageStatus.QUEUED
                keys[channel].add(message.idempotency_key)

    with smtp_server(delay=0.004) as (port, mail), \
            webhook_server(SECRET, delay=0.004) as (url, hooks):
        env = _env(workspace, port, url)
        command = [sys.executable, "-m", "kithkin", "deliver"]
        kills_mid_batch = rounds = 0
        finished = False
        while rounds < MAX_ROUNDS and not finished:
            rounds += 1
            process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT)
            # Kill somewhere between start-up and the end of the queue, until enough
            # kills landed mid-batch; then let the runs finish.
            killing = kills_mid_batch < TARGET_KILLS and rounds < MAX_ROUNDS - 5
            if killing:
                time.sleep(rng.uniform(1.0, 3.0))
            if killing and process.poll() is None:
                in_flight_before = _in_flight(sqlite_engine)
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills_mid_batch += (in_flight_before > 0 or _in_flight(sqlite_engine) > 0)
                time.sleep(LEASE_SECONDS * 1.2)  # the dead run's claims expire
                continue
            output = process.communicate(timeout=120)[0].decode()
            assert process.returncode == 0, output
            with session_scope(sqlite_engine) as session:
                left = session.scalar(select(func.count()).select_from(Message).where(
                    Message.status != MessageStatus.SENT)) or 0
            finished = left == 0
            if not finished:
                time.sleep(LEASE_SECONDS * 1.2)

        print(f"\nseed {seed}: {rounds} runs, {kills_mid_batch} killed mid-batch; raw "
              f"duplicates dropped by receivers: SMTP {mail.duplicates}, webhook "
              f"{hooks.duplicates}")
        assert finished, f"messages still unsent after {rounds} runs"
        assert kills_mid_batch >= TARGET_KILLS, "the kills never landed mid-batch"
        email_ids = {f"<{key}@example.com>" for key in keys["email"]}
        assert set(mail.accepted) == email_ids  # each accepted once: a dict per key
        assert set(hooks.accepted) == keys["webhook"]
        assert hooks.bad_signatures == 0
        # A run marks each message SENT right after its send, so a kill leaves at most
        # one message sent-but-unmarked: never more repeats than kills mid-batch.
        assert mail.duplicates + hooks.duplicates <= kills_mid_batch
    with session_scope(sqlite_engine) as session:
        statuses = session.execute(select(Message.status, func.count())
                                   .group_by(Message.status)).all()
    assert dict(statuses) == {MessageStatus.SENT: 2 * PER_CHANNEL}
