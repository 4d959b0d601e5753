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
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from kithkin.config import Settings
from kithkin.customers.models import Consent, Customer
from kithkin.database.core import session_scope
from kithkin.outbox import service as outbox_service
from kithkin.outbox.models import Message, MessageStatus
from tests.outbox.conftest import SECRET
from tests.outbox.receivers import smtp_server, webhook_server

SRC = Path(__file__).resolve().parents[2] / "src"
PER_CHANNEL = 120
MAX_ROUNDS = 60
TARGET_KILLS = 8
LEASE_SECONDS = 1.0


def _env(workspace: Path, engine: Engine, smtp_port: int, webhook_url: str
         ) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KITHKIN_")}
    env.update({
        "KITHKIN_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "PYTHONPATH": str(SRC), "KITHKIN_HOME": str(workspace),
        "KITHKIN_SMTP_HOST": "127.0.0.1", "KITHKIN_SMTP_PORT": str(smtp_port),
        "KITHKIN_SMTP_TLS": "none", "KITHKIN_SMTP_FROM": "shop@example.com",
        "KITHKIN_WEBHOOK_URL": webhook_url, "KITHKIN_WEBHOOK_SECRET": SECRET,
        "KITHKIN_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
        "KITHKIN_OUTBOX_BATCH_SIZE": "20", "KITHKIN_OUTBOX_CAP_MESSAGES": "0",
        "KITHKIN_OUTBOX_BACKOFF_SECONDS": "0.2"})
    return env


def _in_flight(engine: Engine, since: datetime) -> int:
    """Messages claimed (and not yet marked) by a run started at ``since``: the dead
    runs' stale claims do not count."""
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(Message).where(
            Message.status == MessageStatus.SENDING, Message.claimed_at >= since)) or 0


def _wait_for_delivery(engine: Engine, process: subprocess.Popen[bytes], *,
                       since: datetime, timeout: float = 60) -> None:
    """Until the run started at ``since`` has claimed something, or ended."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        with session_scope(engine) as session:
            if session.scalar(select(func.count()).select_from(Message).where(
                    Message.claimed_at >= since)):
                return
        time.sleep(0.02)


@pytest.mark.slow
def test_sigkill_mid_batch_still_delivers_each_message_once(
        store_engine: Engine, workspace: Path) -> None:
    sqlite_engine = store_engine  # the name the helpers below use; PostgreSQL too
    seed = 7
    rng = random.Random(seed)
    settings = Settings(home=workspace, outbox_cap_messages=0)
    keys: dict[str, set[str]] = {"email": set(), "webhook": set()}
    with session_scope(sqlite_engine) as session:
        people = [Customer(first_name=f"P{i}", email=f"p{i}@example.com",
                           consents=[Consent(channel="email", status="granted")])
                  for i in range(PER_CHANNEL)]
        session.add_all(people)
        session.flush()
        customers = [person.id for person in people]
        for customer in customers:  # channels interleaved: kills hit both
            for channel in keys:
                message = outbox_service.queue_message(
                    session=session, customer_id=customer, template="winback",
                    channel=channel, settings=settings)
                assert message.status == MessageStatus.QUEUED
                keys[channel].add(message.idempotency_key)

    # Slow receivers (15 ms a message, recorded before the answer goes back) make the
    # sent-but-unmarked window wide, so kills do land in it and the repeats and their
    # deduplication are exercised, not just possible.
    with smtp_server(delay=0.015) as (port, mail), \
            webhook_server(SECRET, delay=0.015) as (url, hooks):
        env = _env(workspace, store_engine, port, url)
        command = [sys.executable, "-m", "kithkin", "deliver"]
        kills_mid_batch = rounds = 0
        finished = False
        while rounds < MAX_ROUNDS and not finished:
            rounds += 1
            launched = datetime.now(UTC)
            process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT)
            # Wait until the run is delivering (start-up time varies with the machine's
            # load), then kill it at a random point of its work; once enough kills have
            # landed mid-batch, let the runs finish.
            # on a loaded machine a kill more often lands outside a send, so the kills
            # go on until one has hit a send in flight (a repeat a receiver dropped)
            repeats = mail.duplicates + hooks.duplicates
            killing = ((kills_mid_batch < TARGET_KILLS or repeats == 0)
                       and rounds < MAX_ROUNDS - 5)
            if killing:
                _wait_for_delivery(sqlite_engine, process, since=launched)
                time.sleep(rng.uniform(0.0, 0.6))
            if killing and process.poll() is None:
                in_flight_before = _in_flight(sqlite_engine, launched)
                process.send_signal(signal.SIGKILL)

                process.wait()
                kills_mid_batch += (in_flight_before > 0
                                    or _in_flight(sqlite_engine, launched) > 0)
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

        print(f"\n{store_engine.dialect.name}, seed {seed}: {rounds} runs, "
              f"{kills_mid_batch} killed mid-batch; raw "
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
        # Most of a run's time is spent waiting for the receivers, and the kills went on
        # until one hit a send in flight.
        assert mail.duplicates + hooks.duplicates >= 1, "no kill hit a send in flight"
    with session_scope(sqlite_engine) as session:
        statuses = session.execute(select(Message.status, func.count())
                                   .group_by(Message.status)).all()
    assert dict(statuses) == {MessageStatus.SENT: 2 * PER_CHANNEL}
