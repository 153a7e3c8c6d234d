"""hazardnet: the engine of the electricity-safety "1+1+1" hazard pipeline (knows nothing of Prefect)."""

__version__ = "0.1.0"
