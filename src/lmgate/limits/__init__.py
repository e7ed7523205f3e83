"""Rate counters for upstream quotas (a deployment's rpm/tpm/rpd); key budgets build on the same seam.

`QuotaStore` is the interface; `MemoryQuotas` keeps counters in this process; `RedisQuotas`
(limits/redis.py, imported only when router_settings names a Redis) shares them between workers and
replicas.
"""

from lmgate.limits.base import Quota, QuotaDenial, QuotaStore, QuotaUsage
from lmgate.limits.memory import MemoryQuotas

__all__ = ["MemoryQuotas", "Quota", "QuotaDenial", "QuotaStore", "QuotaUsage"]
