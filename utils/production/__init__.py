"""From notebook to production.

transformers serve on loopback, measured like a service (a load test, malformed requests, which API
parameters it honours); a local MLflow store the trainers log to while they train; and the export of
a fine-tuned model to GGUF with llama.cpp's own converter, loaded back outside PyTorch.
"""
