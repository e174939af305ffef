"""Export: what leaves the database for Prometheus, Grafana and Alertmanager.

``exporter`` (the collector Prometheus scrapes), ``pushgateway`` (run metrics pushed by
each flow run), ``alerts`` (the alert rules as Python reads them), ``dashboards_sync``
(dashboards pushed to an existing Grafana).
"""
