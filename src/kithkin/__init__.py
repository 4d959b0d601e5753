"""kithkin: a relationship-marketing CRM.

Ingests customers, orders and interactions; computes value (RFM, CLV), relationship
stage and health; runs follow-up playbooks per relationship level; measures retention.
"""

__version__ = "0.1.0"
