"""From notebook to production.

transformers serve on loopback and a local MLflow tracking store.
"""
