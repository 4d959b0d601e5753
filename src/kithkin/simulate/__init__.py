"""Synthetic business generator with hidden ground truth (``kithkin simulate``)."""

from kithkin.simulate.schemas import SimulationParams, SimulationSummary
from kithkin.simulate.service import simulate_business

__all__ = ["SimulationParams", "SimulationSummary", "simulate_business"]
