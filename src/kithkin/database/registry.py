"""Imports every models module so Base.metadata knows every table (Alembic, create_all)."""

from kithkin.analytics import models as metrics  # noqa: F401
from kithkin.audit import models as audit  # noqa: F401
from kithkin.customers import models as customers  # noqa: F401
from kithkin.identity import models as identity  # noqa: F401
from kithkin.imports import models as imports  # noqa: F401
from kithkin.interactions import models as interactions  # noqa: F401
from kithkin.memberships import models as memberships  # noqa: F401
from kithkin.outbox import models as outbox  # noqa: F401
from kithkin.products import models as products  # noqa: F401
from kithkin.prospects import models as prospects  # noqa: F401
from kithkin.relationships import models as relationships  # noqa: F401
from kithkin.tasks import models as tasks  # noqa: F401
from kithkin.transactions import models as transactions  # noqa: F401
from kithkin.users import models as users  # noqa: F401
