"""Names of the Recording custom resource, its labels and its states.

Kept in one place because the API, the operator, the recorder, the CRD file and the chart must
agree on them byte for byte.
"""

from __future__ import annotations

import re
from enum import StrEnum

GROUP = "recording-operator.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "Recording"
PLURAL = "recordings"
SINGULAR = "recording"
SHORT_NAME = "rec"
#: The CRD's printer column of ``metadata.resourceVersion`` (priority 1: ``kubectl get -o
#: wide``): a Table LIST of it tells an API replica, in a few bytes per Recording, which version
#: of each Recording the API server has (see ``api.cache``).
VERSION_COLUMN = "ResourceVersion"

#: Labels the API (and the operator, for kubectl-made Recordings) sets so that kubectl users can
#: select a vhost/app's Recordings (the API itself finds them by field selectors on the spec).
LABEL_VHOST = f"{GROUP}/vhost"
LABEL_APP = f"{GROUP}/app"
#: On recorder pods: the name of the Recording they record for.
LABEL_RECORDING = f"{GROUP}/recording"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "recording-operator"
#: What Kubernetes accepts as a label value (63 characters at most).
LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")

#: On Recordings the API creates: the moment startRecord accepted the task, in the OME
#: timestamp format (milliseconds). ``metadata.creationTimestamp`` has whole seconds only; the
#: operator copies this into ``status.createdTime`` (see ``model.task.created_time``) so the
#: createdTime a client saw in startRecord's answer never changes afterwards.
ANNOTATION_CREATED_TIME = f"{GROUP}/created-time"

#: On Recordings a StreamMap rule made (OME's ``isConfig`` tasks): the rule's key
#: (``model.streammap.StreamMapRule.key``). The API ends them when their stream ends.
LABEL_RULE = f"{GROUP}/stream-map-rule"

#: Set by the API when the media server says the Recording's stream was published (a
#: timestamp, new at every publish): a recorder waiting for its stream tries again at once.
ANNOTATION_PUBLISHED = f"{GROUP}/published"

#: Holds a deleted Recording until its recorder has finished the last file.
FINALIZER = f"{GROUP}/finalizer"

#: Where the app's storage is mounted inside recorder pods.
STORAGE_ROOT = "/recordings"

#: How many finished files the status keeps (newest last).
STATUS_FILES_KEPT = 5


class State(StrEnum):
    """A recording task's state, exactly as OvenMediaEngine names them."""

    READY = "ready"
    RECORDING = "recording"
    STOPPING = "stopping"
    STOPPED = "stopped"
    ERROR = "error"


class SegmentationRule(StrEnum):
    CONTINUITY = "continuity"
    DISCONTINUITY = "discontinuity"
