"""``keras.__version__``: the version of the Keras API that fastnn.keras follows.

fastnn.keras is written and tested against Keras 3.15 (names, defaults, logs,
file formats); code that checks ``keras.__version__`` (e.g. ``>= "2.0"``, or
``packaging.version.parse``) sees a Keras 3 version. fastnn's own version is
``fastnn.__version__``.
"""
__version__ = "3.15.0"
