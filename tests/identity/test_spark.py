"""The same resolution on Splink's Spark backend (analytics_engine = "pyspark").

Runs `kithkin identify` in a subprocess: Splink's similarity functions need their jar on
the classpath when the JVM starts, so the Spark session must be this run's own. Training
is most of the time (EM is many small Spark jobs); as in the analytics tests' session,
whole-stage code generation is off (its compile time dominates queries over a few
hundred rows) and the JVM compiles with its quick tier only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from kithkin.database.core import session_scope
from kithkin.identity import synthetic
from kithkin.identity.models import DuplicateCandidate, IdentityRun
from tests.conftest import missing_service, services_required

# As kithkin.analytics.engine.spark_session(small_data=True): no code generation, and
# the JVM's quick JIT tier only.
SMALL_DATA_SPARK = ("--conf spark.sql.codegen.wholeStage=false "
                    "--conf spark.sql.codegen.factoryMode=NO_CODEGEN "
                    "--driver-java-options '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC' "
                    "pyspark-shell")


@pytest.mark.spark
@pytest.mark.slow
def test_identify_on_spark(sqlite_engine: Engine, workspace: Path) -> None:
    if not services_required():
        pytest.skip("starts a JVM (about a minute); runs when KITHKIN_REQUIRE_SERVICES=1")
    if shutil.which("java") is None:
        missing_service("no Java runtime for PySpark (apt-get install openjdk-17-jre)")
    customers, _ = synthetic.generate(persons=300, duplicates_rate=0.3, seed=4)
    synthetic.load_customers(sqlite_engine, customers)
    env = {**os.environ, "KITHKIN_HOME": str(workspace), "KITHKIN_ANALYTICS_ENGINE": "pyspark",
           "PYSPARK_SUBMIT_ARGS": SMALL_DATA_SPARK}
    env.pop("KITHKIN_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "kithkin.cli.main", "identify", "--no-auto-merge"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with session_scope(sqlite_engine) as session:
        run = session.scalars(select(IdentityRun)).one()
        assert run.engine == "pyspark" and run.candidates > 20
        assert (run.report or {}).get("model") == "trained"
        assert all(c.match_probability >= 0.8 for c in session.scalars(select(DuplicateCandidate)))
