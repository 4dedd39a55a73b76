"""The synthetic data generation service: candidates from a model, scored, filtered, optionally into a dataset."""
