"""amsync: the Acumatica ERP -> Magento 2 connector package (deployed as the ConnectorLayer).

Layers: handlers (functions/*) -> services (plain Python) -> data access (boto3, in ``amsync.data``) and API
adapters (httpx, in ``amsync.adapters``). Models per boundary live in ``amsync.models``.
"""

__version__ = "0.1.0"
