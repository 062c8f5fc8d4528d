"""`keras.preprocessing` names older programs import: `sequence.pad_sequences`, `image`'s
load_img, img_to_array, array_to_img, save_img and smart_resize, and the dataset makers
(`keras.preprocessing.image_dataset_from_directory`, as TensorFlow's older tutorials call
it: the same functions as keras.utils's)."""
from minidl.image_dataset import image_dataset_from_directory
from minidl.preprocessing import image, sequence
from minidl.text_dataset import text_dataset_from_directory
from minidl.timeseries_dataset import timeseries_dataset_from_array

__all__ = ["image", "image_dataset_from_directory", "sequence", "text_dataset_from_directory",
           "timeseries_dataset_from_array"]
