"""Services: the connector's logic in plain Python; I/O reaches them through the adapters and data modules."""
