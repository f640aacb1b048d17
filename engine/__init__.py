"""The engine: everything that decides about a draft or a model, with no web framework.

Text normalisation, detectors, the policy pack, the classifier, the corpus reader and the model
registry. `server/` (the Flask app) and `train/` (training and evaluation) both build on it; it
imports neither of them (import-linter holds that: see .importlinter).
"""
