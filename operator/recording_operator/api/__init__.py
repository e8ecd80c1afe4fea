"""The OvenMediaEngine-compatible recording REST API: a thin shim that turns startRecord,
stopRecord and records into create, delete and list of Recording resources. It holds no state
of its own, so any number of replicas can serve behind one Service."""
