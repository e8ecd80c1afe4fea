"""The operator: kopf handlers that turn each Recording into exactly one recorder pod.

One module per concern. Pure: ``settings`` (typed settings, kopf start-up configuration),
``resolve`` (Recording + config -> ResolvedRecording or a clear refusal), ``podspec`` (the pod
template), ``status`` (operator-owned status patches, who wins ``state``), ``failures``
(replacement backoff and give-up rule). Handlers: ``lifecycle`` (create/resume), ``pods``
(the pod watch), ``mirror`` (recorder state -> ``status.state``), ``stopping`` (the
finalizer); ``actions`` and ``events`` are what they share. Plumbing: ``kubeapi`` (our own API
calls), ``login`` (kopf's credentials), ``metrics``, ``logs``, ``context`` (kopf's memo),
``registry`` (the wiring) and ``operator`` (running it).
"""
