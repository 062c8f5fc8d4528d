"""`keras.preprocessing.image`: the image helpers of keras.utils, and smart_resize."""
from minidl.image_utils import array_to_img, img_to_array, load_img, save_img, smart_resize

__all__ = ["array_to_img", "img_to_array", "load_img", "save_img", "smart_resize"]
