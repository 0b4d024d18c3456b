"""``fastnn.data``: input pipelines with tf.data's names, on NumPy.

    from fastnn.data import Dataset, AUTOTUNE
    train = Dataset.from_tensor_slices((x, y)).cache().shuffle(5000).repeat().batch(128).prefetch(AUTOTUNE)
    model.fit(train, steps_per_epoch=len(x) // 128, epochs=10)
"""
from .dataset import AUTOTUNE, INFINITE, UNKNOWN, Dataset

experimental = type("experimental", (), {"AUTOTUNE": AUTOTUNE, "INFINITE_CARDINALITY": INFINITE,
                                          "UNKNOWN_CARDINALITY": UNKNOWN})

__all__ = ["AUTOTUNE", "Dataset", "INFINITE", "UNKNOWN"]
