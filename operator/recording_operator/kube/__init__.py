"""Kubernetes access shared by the API, the operator's helpers and the recorder."""
