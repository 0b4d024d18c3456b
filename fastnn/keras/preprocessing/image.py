"""``keras.preprocessing.image`` (tf.keras 2's names, still what the tutorials import).

    from fastnn.keras.preprocessing import image
    gen = image.ImageDataGenerator(rescale=1/255, horizontal_flip=True)
    flow = gen.flow_from_directory("data/train", target_size=(224, 224), batch_size=100)
    img = image.load_img("cat.jpg", target_size=(224, 224)); x = image.img_to_array(img)
"""
from ._files import array_to_img, img_to_array, load_img, save_img
from ._generator import ImageDataGenerator
from ._iterators import DirectoryIterator, Iterator, NumpyArrayIterator

__all__ = ["DirectoryIterator", "ImageDataGenerator", "Iterator", "NumpyArrayIterator", "array_to_img",
           "img_to_array", "load_img", "save_img"]
