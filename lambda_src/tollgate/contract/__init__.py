"""Facts shared by the stack, the Lambda code and the local dev harness.

One source of truth: the stack (infra/) writes these names into the deployed resources, the
runtime (tollgate/) reads them back, and localdev/ reproduces them. Plain data, no imports, so
every side can use it without pulling in CDK or an SDK.

Each name is defined in the module of what it names: `routes` (routes, headers, the session
cookie), `environment` (the functions' environment variables), `functions` (entry points, time
budgets, schedules), `tables` (DynamoDB keys, indexes, attributes), `secret_fields`, `keys` (API
Gateway keys), `billing` (Stripe), `metering` (access log, ledger, usage queue) and `metrics`
(metric and alarm names). This package re-exports them all, so `contract.ROUTE_REGISTER` reads the
same wherever it is used: one import for the callers, one place per fact for the reader.
"""

from tollgate.contract.billing import *  # noqa: F403 (the package is the index of its modules' names)
from tollgate.contract.environment import *  # noqa: F403
from tollgate.contract.functions import *  # noqa: F403
from tollgate.contract.keys import *  # noqa: F403
from tollgate.contract.metering import *  # noqa: F403
from tollgate.contract.metrics import *  # noqa: F403
from tollgate.contract.routes import *  # noqa: F403
from tollgate.contract.secret_fields import *  # noqa: F403
from tollgate.contract.tables import *  # noqa: F403
