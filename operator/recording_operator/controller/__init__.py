"""The operator: kopf handlers that turn each Recording into exactly one recorder pod.

One module per concern: ``settings`` (typed settings, kopf start-up configuration), ``resolve``
(Recording + config -> ResolvedRecording), ``podspec`` (the pure pod template), ``status``
(operator-owned status patches), ``failures`` (replacement backoff), ``kubeapi`` (the few
API calls the handlers make themselves), ``lifecycle`` / ``pods`` / ``mirror`` / ``stopping``
(the handlers), ``metrics``, ``login`` and ``registry`` (the wiring), ``operator`` (running it).
"""
