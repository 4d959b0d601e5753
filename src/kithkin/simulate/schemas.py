"""Parameters and summary of a simulation run.

The latent-process defaults are in days and give about ten orders per customer over
three years, with roughly half of the customers still alive at the end.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FileFormat = Literal["csv", "parquet"]


class SimulationParams(BaseModel):
    """Everything that determines the output; the same params and seed give the same files."""

    model_config = ConfigDict(frozen=True)

    customers: int = Field(ge=1, description="Persons who become customers.")
    years: float = Field(gt=0, le=50, description="Length of the simulated history.")
    seed: int = Field(ge=0)
    fmt: FileFormat = "csv"
    duplicates_rate: float = Field(
        default=0.05, ge=0, le=1, description="Share of persons with a second record (crm)."
    )
    hard: bool = Field(default=False, description="Noisier duplicates: more typos, gaps.")
    end: date = Field(default=date(2026, 1, 1), description="Exclusive end of the history.")
    prospects_rate: float = Field(default=0.3, ge=0, description="Prospects per customer.")
    conversion_rate: float = Field(
        default=0.05, ge=0, le=1, description="Share of customers who were prospects first."
    )
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    # Pareto/NBD (Schmittlein, Morrison & Colombo 1987), per day:
    # purchase rate lambda ~ Gamma(shape r, rate alpha); dropout mu ~ Gamma(shape s, rate beta).
    r: float = Field(default=0.75, gt=0)
    alpha: float = Field(default=30.0, gt=0)
    s: float = Field(default=1.2, gt=0)
    beta: float = Field(default=700.0, gt=0)
    # Gamma-Gamma spend (Fader, Hardie & Lee 2005): order value ~ Gamma(p, rate nu),
    # nu ~ Gamma(shape q, rate gamma); mean order value p * gamma / (q - 1).
    p: float = Field(default=6.0, gt=0)
    q: float = Field(default=4.0, gt=1)
    gamma: float = Field(default=30.0, gt=0)
    refund_rate: float = Field(default=0.02, ge=0, le=1, description="Orders refunded.")
    bundle_rate: float = Field(
        default=0.08, ge=0, le=1,
        description="Orders offered a bundle; taken when one fits the order value.")
    exit_interview_rate: float = Field(
        default=0.35, ge=0, le=1, description="Defectors who give an exit interview.")
    one_time_buyers: float = Field(
        default=0.0, ge=0, le=1,
        description="Share of customers who leave right after their first order (within "
                    "a day), the 'many buy once and never return' shape of real retail "
                    "logs; the others follow Pareto/NBD.")


class SimulationSummary(BaseModel):
    """What was written where, with row counts per file."""

    out_dir: Path
    params: SimulationParams
    files: dict[str, Path]
    rows: dict[str, int]
    seconds: float
