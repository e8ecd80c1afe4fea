"""The embedded mode's parts: a real local Kubernetes control plane, a local media server, a
virtual kubelet that runs pods as local processes, and the ``dev`` command that joins them."""
