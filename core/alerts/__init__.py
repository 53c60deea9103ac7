"""Alerts: rules evaluated every minute (rules.py, evaluator.py), delivered by e-mail and
webhook (delivery.py), set from the web by administrators (config.py), kept as a history
(history.py). docs/alerts.md is this in words."""
