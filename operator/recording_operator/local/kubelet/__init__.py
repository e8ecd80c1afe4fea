"""A virtual kubelet for the embedded mode: runs the Pods of one Node as local processes.

There is no scheduler in the local control plane, so the runner also binds pending pods that
name no node (and a scheduler it serves) to its node, as kube-scheduler would: only while their
requests fit in the node's allocatable CPU, memory and 110 pods (see :mod:`.capacity`); the
others stay Pending with the scheduler's reason until a pod ends. The operator and the
recorder see only Pods and a normal Kubernetes API; nothing outside ``local/`` imports this
package.

What a pod gets, and how that differs from a real node:

- Containers run as processes of the runner's user, each in its own process group, with
  ``command + args`` (there are no images: a container without ``command`` fails to start with
  reason StartError). ``image``, ``securityContext`` (runAsUser, readOnlyRootFilesystem,
  capabilities), ``resources`` (no cgroups; but requests are counted when binding, see below)
  and ports (everything shares the host's network;
  the pod IP is reported as 127.0.0.1) are not enforced.
- Init containers run in order before the containers; several containers run side by side.
  Sidecar init containers (``restartPolicy: Always`` on an init container) run as plain init
  containers and so must exit.
- Environment: ``value`` (with ``$(VAR)`` expansion), ``fieldRef`` (metadata.name, namespace,
  uid, labels, annotations, spec.nodeName, spec.serviceAccountName, status.podIP/hostIP =
  127.0.0.1), ``resourceFieldRef``, ``configMapKeyRef``/``secretKeyRef`` and ``envFrom``, plus
  the runner's PATH (its own interpreter's directory first, so the virtualenv's
  ``recording-operator`` is found), ``HOSTNAME``, ``HOME`` (the pod's directory), ``KUBECONFIG``
  and anything in ``KubeletSettings.base_env``. No ``KUBERNETES_SERVICE_*`` variables: an
  in-cluster loader cannot work here, ``$KUBECONFIG`` does.
- Volumes become directories under the data directory (see :mod:`.volumes`). **A local process
  has no mount namespace**, so a volume cannot appear at its ``mountPath``: instead every
  occurrence of a mount path (as a whole path prefix, ``subPath`` honoured) in ``command``
  (but not the program, ``command[0]``, which is a host program), ``args``, literal env values
  and ``workingDir`` is rewritten to the host directory (see
  :mod:`.paths`). A program that uses a mount path it was not given through those (a constant
  compiled in, a path inside a ConfigMap file) writes to the real host path instead.
  ``workingDir`` outside every mount, or unset, becomes the pod's directory. ``readOnly`` is not
  enforced.
- Service-account token: unless ``automountServiceAccountToken: false``, a TokenRequest token
  bound to the pod is written with ``ca.crt`` and ``namespace`` to
  ``<data>/pods/<uid>/serviceaccount/`` together with a ``kubeconfig`` holding it, which the
  process gets as ``$KUBECONFIG``; tokens are re-requested at 80% of their lifetime. Projected
  ``serviceAccountToken`` volume sources get their own (audience-specific) tokens.
- Status: Pending → Running (containerStatuses, podIP/hostIP 127.0.0.1, conditions
  PodScheduled, PodReadyToStartContainers, Initialized, ContainersReady, Ready) → Succeeded or
  Failed with ``state.terminated`` (exitCode, reason Completed/Error/StartError, signal; a
  signal N is exit code 128+N), restartCount, CrashLoopBackOff between restarts.
- restartPolicy Always/OnFailure restart with exponential backoff; Never leaves the container
  terminated.
- Probes: readiness and liveness with httpGet, tcpSocket and exec (see :mod:`.probes`); without
  a readiness probe a container is ready once running. startupProbe and grpc are not run.
- Deletion: SIGTERM to the process group, the grace period (deletionGracePeriodSeconds, else
  terminationGracePeriodSeconds; at least 2 s, as a kubelet, so even a force deletion lets the
  process hear SIGTERM), SIGKILL, the final status, then the Pod is deleted with
  gracePeriodSeconds=0 and a uid precondition. emptyDir and token files go with the pod; logs
  stay in ``<data>/pods/<namespace>_<name>_<uid>/<container>.log`` (stdout and stderr, appended
  across restarts).
- ``stop()`` ends every pod the same way (the grace optionally capped), reports the pods Failed
  (reason Terminated) or Succeeded, and marks the node NotReady. A runner starting on a node
  whose pods ran before has no processes to adopt: their containers count as ended
  (ContainerStatusUnknown) and the restart policy decides (Never: Failed; else restart).
- ConfigMap and Secret volumes are written once per pod start, not updated. No Events are
  posted, and there is no exec/attach/logs endpoint (read the log files instead).

Use: ``async with LocalKubelet(kubeconfig, data_dir): ...`` inside an asyncio program, or
``KubeletThread(kubeconfig, data_dir).start()`` / ``.stop()`` from plain code. The kubeconfig
should be a ServiceAccount's bound to the ``kubelet`` rules of
charts/recording-operator/files/rbac.yaml (cluster-wide).
"""

from .runner import LocalKubelet
from .settings import KubeletSettings
from .thread import KubeletThread

__all__ = ["KubeletSettings", "KubeletThread", "LocalKubelet"]
