"""The operator: kopf handlers that turn each Recording into exactly one recorder pod.

One module per concern. Pure (no kopf, no Kubernetes client; an import-linter contract says
so): ``settings`` (typed settings), ``resolve`` (Recording +
config -> ResolvedRecording or a clear refusal), ``podspec`` (the pod manifest),
``podstatus`` (what a pod's status says, in words), ``status`` (operator-owned status patches,
who wins ``state``), ``failures`` (replacement backoff and give-up rule). Handlers:
``lifecycle`` (create/resume), ``pods`` (the pod watch), ``starting`` (pods that do not
start), ``mirror`` (recorder state -> ``status.state``), ``stopping`` (the finalizer);
``actions`` and ``events`` are what they share. ``metrics`` are the Prometheus figures, and
``running`` wires and runs it all (the memo, kopf's settings, login and logs, the
registry).
Kubernetes calls go through ``recording_operator.kube``.
"""
