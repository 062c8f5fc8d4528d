"""Custom objects by name: how a file names a layer, loss or function of your own, and how
loading finds it again (Keras's keras/src/saving/object_registration.py).

    @minidl.saving.register_keras_serializable(package="my_package")
    class MyLayer(minidl.layers.Layer): ...       # written as "my_package>MyLayer"

    minidl.models.load_model("m.keras")           # finds MyLayer: no custom_objects needed

Three places hold {name: class or function}, looked up in this order:
    the innermost custom_object_scope({...})      (a `with` block; it replaces, not adds to,
                                                   an outer scope's dict, as Keras's does)
    get_custom_objects()                          the global dict the decorator writes to
    custom_objects={...}                          passed to load_model and friends
Nothing is imported or run from a file: a name is only ever looked up in these dicts or among
minidl's own classes and functions.
"""
import inspect
import threading

GLOBAL_CUSTOM_OBJECTS = {}  # "package>name" -> class or function (get_custom_objects())
GLOBAL_CUSTOM_NAMES = {}    # class or function -> "package>name"
_scope = threading.local()  # .objects: the innermost scope's dict (per thread, as Keras's)


def _scope_objects():
    return getattr(_scope, "objects", {})


class CustomObjectScope:
    """Exposes custom classes and functions to loading inside a `with` block.

        with custom_object_scope({"my_regularizer": my_regularizer}):
            model = minidl.models.load_model("m.keras")

    Args:
        custom_objects: dict of {name: class or function}.
    """

    def __init__(self, custom_objects):
        self.custom_objects = custom_objects or {}
        self.backup = None

    def __enter__(self):
        self.backup = _scope_objects().copy()
        _scope.objects = self.custom_objects.copy()
        return self

    def __exit__(self, *args, **kwargs):
        _scope.objects = self.backup.copy()  # also when the block raised


custom_object_scope = CustomObjectScope


def get_custom_objects():
    """The global dict of registered objects, live: adding to it registers by that key.
    A custom_object_scope's objects are not in it."""
    return GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package="Custom", name=None):
    """A decorator that registers a class or function as "package>name" (name defaults to its
    own `__name__`), so saving writes that name and loading finds it without custom_objects.

    Args:
        package: the first part of the key "package>name".
        name: the second part; None means the class's or function's name.
    """
    def decorator(arg):
        class_name = name if name is not None else arg.__name__
        registered_name = f"{package}>{class_name}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError(
                "Cannot register a class that does not have a get_config() method.")
        GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg

    return decorator


def get_registered_name(obj):
    """The name `obj` was registered under, or its plain `__name__` if it was not."""
    if obj in GLOBAL_CUSTOM_NAMES:
        return GLOBAL_CUSTOM_NAMES[obj]
    return obj.__name__


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The class or function registered as `name` (scope, then global dict, then the dicts
    given), or None."""
    scope_objects = _scope_objects()
    if name in scope_objects:
        return scope_objects[name]
    if name in GLOBAL_CUSTOM_OBJECTS:
        return GLOBAL_CUSTOM_OBJECTS[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


def all_custom_objects(custom_objects=None):
    """Every object loading may use, one dict: the ones given, then the scope's, then the
    registered ones (a later dict wins a name, as in Keras's deserialize_keras_object)."""
    return {**(custom_objects or {}), **_scope_objects(), **GLOBAL_CUSTOM_OBJECTS}


def module_name(cls):
    """A class's module as Keras writes it for a class of one's own (None for a script's)."""
    return None if cls.__module__ == "__main__" else cls.__module__


def function_config(fn):
    """A named function as Keras's serialize_keras_object writes one: its registered name
    ("my_package>my_loss"), or its plain name."""
    return {"module": "builtins", "class_name": "function",
            "config": get_registered_name(fn), "registered_name": "function"}


def find_function(name, custom_objects):
    """A function of one's own written by function_config, or None. Keras <= 3.6 wrote a
    registered function by its bare name: "my_loss" still finds "my_package>my_loss"."""
    found = get_registered_object(name, custom_objects)
    if found is None and ">" not in name:
        found = next((obj for key, obj in all_custom_objects(custom_objects).items()
                      if key.endswith(f">{name}")), None)
    return found


def class_config(obj, keras_module, public, config):
    """An object as Keras writes it: a class minidl has under Keras's name (`public`: the
    minidl module holding it) by "keras.<module>" and that name, a class of one's own by its
    module and registered name."""
    cls = type(obj)
    if vars(public).get(cls.__name__) is cls:
        return {"module": keras_module, "class_name": cls.__name__, "config": config,
                "registered_name": None}
    return {"module": module_name(cls), "class_name": cls.__name__, "config": config,
            "registered_name": get_registered_name(cls)}
