"""Benchmarks behind `cairn bench ...`: each reads public data by path and reports figures."""
