"""Retrieval: finding the memories a question needs.

Owns the embedders (``embed``: the protocol, the hashing fallback, the query cache;
``onnx_embed``: BERT-family models on onnxruntime), the bank's vectors and their binary-code
index (``vectors``, ``vindex``), query rewriting (``rewrite``), dates named in a query
(``timeref``) and hybrid recall that fuses vectors, keywords, speakers, neighbouring turns and
time (``retrieve``).
"""
