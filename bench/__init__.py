"""Benchmarks: a large-company data generator and timings of pages, HTTP, imports, reports and maps.

``python -m bench.run`` runs them and writes bench/RESULTS.md.  Tests never assert times.
"""
