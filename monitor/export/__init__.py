"""Export: what leaves the database for Prometheus, Grafana and Alertmanager.

``exporter`` (the collector Prometheus scrapes), ``families`` (a day's figures as the
samples it serves), ``baseline`` (the one baseline: each segment's in-control days),
``rules`` and ``promql`` (the alert rules YAML, read and evaluated in Python), ``alerts``
(which alerts would fire on a stored day), ``pushgateway`` (run metrics pushed by each
flow run), ``dashboards_sync`` (dashboards pushed to an existing Grafana).
"""
