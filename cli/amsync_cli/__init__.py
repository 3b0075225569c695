"""amsync: the operator's command line for the connector (local stack or a deployed one)."""
