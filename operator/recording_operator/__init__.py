"""recording-operator: live-stream recording run by Kubernetes.

An OvenMediaEngine-compatible recording API in front, a ``Recording`` custom resource per task,
a kopf operator that runs one recorder pod per Recording, and a recorder that remuxes the live
stream into split, playable files.
"""

__version__ = "0.1.0"
