"""Training wing: the evaluation protocol (fresh networks trained on a condensed set, tested on real data), and
DD-Ranking's metrics over it (improvement over random real images, hard-label recovery).

>>> from condensed_data.evaluate import EvalConfig, evaluate, evaluate_random_real, rank
"""

from condensed_data.evaluate.protocol import EvalConfig, evaluate, evaluate_random_real, test_accuracy, train_network
from condensed_data.evaluate.ranking import Ranking, RankingError, evaluate_full_real, rank, recipe_labels

__all__ = [
    "EvalConfig",
    "Ranking",
    "RankingError",
    "evaluate",
    "evaluate_full_real",
    "evaluate_random_real",
    "rank",
    "recipe_labels",
    "test_accuracy",
    "train_network",
]
