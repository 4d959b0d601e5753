"""Customer-lifetime-value models in NumPy/SciPy.

Transaction models (repeat purchases and dropout): :class:`BetaGeo` (BG/NBD),
:class:`ParetoNBD`, :class:`ModifiedBetaGeo` (MBG/NBD); spend model: :class:`GammaGamma`,
which also combines a transaction model into discounted CLV.  See docs/clv.md.
"""

from kithkin.clv.base import CLVModel, TransactionModel
from kithkin.clv.beta_geo import BetaGeo
from kithkin.clv.gamma_gamma import GammaGamma
from kithkin.clv.modified_beta_geo import ModifiedBetaGeo
from kithkin.clv.pareto_nbd import ParetoNBD

__all__ = [
    "BetaGeo",
    "CLVModel",
    "GammaGamma",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "TransactionModel",
]
