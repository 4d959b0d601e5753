"""Imports every models module so Base.metadata knows every table (Alembic, create_all)."""

from kithkin.analytics import models as metrics  # noqa: F401
from kithkin.atrisk import models as atrisk  # noqa: F401
from kithkin.audit import models as audit  # noqa: F401
from kithkin.connections import models as connections  # noqa: F401
from kithkin.customers import models as customers  # noqa: F401
from kithkin.ideas import models as ideas  # noqa: F401
from kithkin.identity import models as identity  # noqa: F401
from kithkin.imports import models as imports  # noqa: F401
from kithkin.interactions import models as interactions  # noqa: F401
from kithkin.lists import models as lists  # noqa: F401
from kithkin.loyalty import models as loyalty  # noqa: F401
from kithkin.memberships import models as memberships  # noqa: F401
from kithkin.offers import models as offers  # noqa: F401
from kithkin.outbox import models as outbox  # noqa: F401
from kithkin.playbooks import models as playbooks  # noqa: F401
from kithkin.preferences import models as preferences  # noqa: F401
from kithkin.privacy import models as privacy  # noqa: F401
from kithkin.products import models as products  # noqa: F401
from kithkin.prospects import models as prospects  # noqa: F401
from kithkin.relationships import models as relationships  # noqa: F401
from kithkin.retention import models as retention  # noqa: F401
from kithkin.tags import models as tags  # noqa: F401
from kithkin.tasks import models as tasks  # noqa: F401
from kithkin.transactions import models as transactions  # noqa: F401
from kithkin.users import models as users  # noqa: F401
