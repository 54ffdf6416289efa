"""Training wing: the evaluation protocol (fresh networks trained on a condensed set, tested on real data).

>>> from condensed_data.evaluate import EvalConfig, evaluate, evaluate_random_real
"""

from condensed_data.evaluate.protocol import EvalConfig, evaluate, evaluate_random_real, test_accuracy, train_network

__all__ = ["EvalConfig", "evaluate", "evaluate_random_real", "test_accuracy", "train_network"]
