"""Option values of modules that import torch (:mod:`rbt.infer`, :mod:`rbt.train`), held here
so that building the command line's parser (``rbt features --help`` included) imports no torch."""

PRECISIONS = ("float32", "bfloat16")  # compute precisions of rbt.infer

SPLITS = ("window-kfold", "trial-kfold", "subject-out")  # cross-validation splits of rbt.train
# the paper ran 300; at 40 a paper-sized model on 1440 windows (the demo's count) trains in
# about 2 minutes on one CPU core, so 5 folds and the final model take about 12
DEFAULT_EPOCHS = 40
