"""rbt: an RBTransformer toolkit for EEG emotion recognition, with an interpretability dashboard."""

__version__ = "0.1.0"
