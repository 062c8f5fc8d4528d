"""`keras.preprocessing` names older programs import: `sequence.pad_sequences`, and `image`'s
load_img, img_to_array, array_to_img, save_img and smart_resize."""
from minidl.preprocessing import image, sequence

__all__ = ["image", "sequence"]
