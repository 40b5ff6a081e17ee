"""Datasets: configs and splits as `datasets` reads them, the parquet export, and the viewer's queries."""
