"""``keras.config``: the same settings as ``keras.backend`` under Keras 3's name."""
from .backend import epsilon, floatx, set_floatx  # noqa: F401
