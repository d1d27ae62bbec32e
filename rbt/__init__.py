"""rbt: an RBTransformer toolkit for EEG emotion recognition, with an interpretability dashboard."""

__version__ = "0.2.0"
