"""What every handler needs, handed to them by kopf as ``memo``.

kopf gives each object a shallow copy of the memo, so everything here is either immutable or
shared on purpose (the API client, the census of states).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .kubeapi import KubeApi
from .metrics import Census
from .settings import OperatorSettings


@dataclass
class Context:
    settings: OperatorSettings
    api: KubeApi
    census: Census = field(default_factory=Census)
