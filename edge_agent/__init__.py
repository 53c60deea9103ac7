"""The Stockflow edge agent: reads a QR scanner on a Raspberry Pi and sends each scan as a
`baixa.registrar` Celery task, through a durable on-disk spool. Run: python -m edge_agent."""
