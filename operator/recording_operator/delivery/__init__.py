"""Delivery: what happens to a recording's files after they close (issue 13).

A process of its own (``recording-operator deliver``; a Deployment in a cluster) that outlives
recorder pods: stopping a recording stays as fast as it is, while its last upload may take
minutes. It works from what the recorders leave on the recordings volume -- the finished files
and the info XML that lists them -- and keeps its own durable journal (SQLite, on that volume),
so the recorder needs no change and no component's crash loses a file or an event.

Modules, one concern each: ``targets`` (which apps, where their files are), ``scan`` (finished
files from the info XML), ``journal`` (the durable queue and outbox), ``objectstore`` (verified
upload to S3), ``uploader`` (oldest first, confirm, then delete), ``cloudevents`` (the event
bodies), ``signing`` (Standard Webhooks), ``webhooks`` (at-least-once, in-order sending),
``retention`` (age and bytes, never unconfirmed), ``recordings`` (Kubernetes Events, status and
the Recording's own transitions), ``metrics`` and ``service`` (the loop that ties them).
"""
