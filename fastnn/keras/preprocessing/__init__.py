"""``keras.preprocessing``: ``image`` (ImageDataGenerator, load_img, ...)."""
from . import image  # noqa: F401
from ._dataset_from_directory import image_dataset_from_directory  # noqa: F401
