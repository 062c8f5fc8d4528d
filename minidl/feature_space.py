"""FeatureSpace: a table of raw columns (numbers, integer codes, strings) as one float32 vector.

    fs = FeatureSpace({"age": "float_discretized", "sex": "integer_categorical",
                       "thal": "string_categorical", "chol": "float_normalized"},
                      crosses=[("sex", "age")], output_mode="concat")
    fs.adapt(table)          learn each column's vocabulary, bins, mean and variance
    fs(table)                -> (N, D) float32: the encoded columns side by side, by name
    fs.get_inputs(), fs.get_encoded_features()   the same as a functional model's graph

Keras's keras/src/layers/preprocessing/feature_space.py, step for step, built from minidl's
preprocessing layers: each column goes through its preprocessor (Normalization, Rescaling,
Discretization, IntegerLookup, StringLookup, Hashing, or a layer of your own), pairs of
preprocessed columns through a HashedCrossing, and every "one_hot" column through a
CategoryEncoding(multi_hot) of the preprocessor's cardinality; then the columns are joined
in sorted name order (features first, then crosses) by a Concatenate.

Formula, for one row with columns sorted by name c_1 .. c_k and crosses x_1 .. x_m:
    y = [enc(c_1), .., enc(c_k), enc(x_1), .., enc(x_m)]
    enc(c) = one_hot(preprocess(c), cardinality)    output_mode "one_hot"
           = preprocess(c)                           "float" ((v - mean) / sqrt(var), ...)
           = preprocess(c) as an integer index       "int" (output_mode="dict" only)
Shapes: N rows; each column (N,) or (N,1), a one-row dict of scalars too; D the total width.

Keras runs this inside tf.data (`ds.map(lambda x, y: (feature_space(x), y))`); minidl's
layers are NumPy, which TensorFlow's graph cannot run: call the FeatureSpace on the dict of
arrays, then fit on its output.
"""
import numpy as np

from minidl import config, naming
from minidl.data_adapters import as_numpy
from minidl.layers import (CategoryEncoding, Concatenate, Discretization, HashedCrossing,
                           Hashing, Identity, Input, IntegerLookup, Normalization, Rescaling,
                           StringLookup, TextVectorization)
from minidl.layers.lookup import IndexLookup
from minidl.layers.symbolic import KerasTensor
from minidl.py_dataset import PyDataset

ADAPT_BATCH = 32  # Keras batches a dataset of single rows by 32 before adapting


class Cross:
    """Columns to cross: their names, the number of hash bins, and "one_hot" or "int"."""

    def __init__(self, feature_names, crossing_dim, output_mode="one_hot"):
        if output_mode not in {"int", "one_hot"}:
            raise ValueError("Invalid value for argument `output_mode`. Expected one of "
                             f"{{'int', 'one_hot'}}. Received: output_mode={output_mode}")
        self.feature_names = tuple(feature_names)
        self.crossing_dim, self.output_mode = crossing_dim, output_mode

    @property
    def name(self):
        return "_X_".join(self.feature_names)

    def get_config(self):
        return {"feature_names": self.feature_names, "crossing_dim": self.crossing_dim,
                "output_mode": self.output_mode}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Feature:
    """One column: its input dtype, the layer that preprocesses it, and how it is encoded
    ("one_hot", "int" or "float")."""

    def __init__(self, dtype, preprocessor, output_mode):
        if output_mode not in {"int", "one_hot", "float"}:
            raise ValueError("Invalid value for argument `output_mode`. Expected one of "
                             f"{{'int', 'one_hot', 'float'}}. Received: output_mode={output_mode}")
        if isinstance(preprocessor, dict):
            preprocessor = _deserialize(preprocessor)
        self.dtype, self.preprocessor, self.output_mode = dtype, preprocessor, output_mode

    def get_config(self):
        from minidl.saving.serialization import serialize_keras_object

        return {"dtype": self.dtype, "preprocessor": serialize_keras_object(self.preprocessor),
                "output_mode": self.output_mode}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class FeatureSpace:
    """Preprocesses and encodes a dict of columns, as Keras's keras.utils.FeatureSpace.

    Args:
        features: {name: a type name ("float", "float_rescaled", "float_normalized",
            "float_discretized", "integer_categorical", "string_categorical",
            "integer_hashed", "string_hashed") or a Feature from the helpers below}.
        output_mode: "concat" (one float32 array) or "dict" (a dict of encoded columns).
        crosses: pairs (or tuples) of feature names to cross, or FeatureSpace.cross(...).
        crossing_dim: bins of a cross given as a tuple (default 32).
        hashing_dim: bins of "integer_hashed" / "string_hashed" (default 32).
        num_discretization_bins: bins of "float_discretized" (default 32).
    """

    # -- the feature types (Keras's helpers) ---------------------------------------------------
    @classmethod
    def cross(cls, feature_names, crossing_dim, output_mode="one_hot"):
        return Cross(feature_names, crossing_dim, output_mode=output_mode)

    @classmethod
    def feature(cls, dtype, preprocessor, output_mode):
        return Feature(dtype, preprocessor, output_mode)

    @classmethod
    def float(cls, name=None):
        name = name or naming.auto_name("float")
        return Feature("float32", Identity(name=f"{name}_preprocessor"), "float")

    @classmethod
    def float_rescaled(cls, scale=1.0, offset=0.0, name=None):
        name = name or naming.auto_name("float_rescaled")
        layer = Rescaling(scale=scale, offset=offset, name=f"{name}_preprocessor")
        return Feature("float32", layer, "float")

    @classmethod
    def float_normalized(cls, name=None):
        name = name or naming.auto_name("float_normalized")
        return Feature("float32", Normalization(axis=-1, name=f"{name}_preprocessor"), "float")

    @classmethod
    def float_discretized(cls, num_bins, bin_boundaries=None, output_mode="one_hot", name=None):
        name = name or naming.auto_name("float_discretized")
        layer = Discretization(num_bins=num_bins, bin_boundaries=bin_boundaries,
                               name=f"{name}_preprocessor")
        return Feature("float32", layer, output_mode)

    @classmethod
    def integer_categorical(cls, max_tokens=None, num_oov_indices=1, output_mode="one_hot",
                            name=None):
        name = name or naming.auto_name("integer_categorical")
        layer = IntegerLookup(name=f"{name}_preprocessor", max_tokens=max_tokens,
                              num_oov_indices=num_oov_indices)
        return Feature("int32", layer, output_mode)

    @classmethod
    def string_categorical(cls, max_tokens=None, num_oov_indices=1, output_mode="one_hot",
                           name=None):
        name = name or naming.auto_name("string_categorical")
        layer = StringLookup(name=f"{name}_preprocessor", max_tokens=max_tokens,
                             num_oov_indices=num_oov_indices)
        return Feature("string", layer, output_mode)

    @classmethod
    def string_hashed(cls, num_bins, output_mode="one_hot", name=None):
        name = name or naming.auto_name("string_hashed")
        return Feature("string", Hashing(name=f"{name}_preprocessor", num_bins=num_bins),
                       output_mode)

    @classmethod
    def integer_hashed(cls, num_bins, output_mode="one_hot", name=None):
        name = name or naming.auto_name("integer_hashed")
        return Feature("int32", Hashing(name=f"{name}_preprocessor", num_bins=num_bins),
                       output_mode)

    # -- construction --------------------------------------------------------------------------
    def __init__(self, features, output_mode="concat", crosses=None, crossing_dim=32,
                 hashing_dim=32, num_discretization_bins=32, name=None):
        if not features:
            raise ValueError("The `features` argument cannot be None or empty.")
        self.name = name or naming.auto_name("feature_space")
        self.crossing_dim, self.hashing_dim = crossing_dim, hashing_dim
        self.num_discretization_bins = num_discretization_bins
        self.features = {key: self._standardize_feature(key, value)
                         for key, value in features.items()}
        self.crosses = [self._standardize_cross(cross, features) for cross in crosses or []]
        self.crosses_by_name = {cross.name: cross for cross in self.crosses}
        if output_mode not in {"dict", "concat"}:
            raise ValueError("Invalid value for argument `output_mode`. Expected one of "
                             f"{{'dict', 'concat'}}. Received: output_mode={output_mode}")
        self.output_mode = output_mode
        self.inputs = {key: Input(shape=(1,), dtype=feature.dtype, name=key)
                       for key, feature in self.features.items()}
        self.preprocessors = {key: feature.preprocessor for key, feature in self.features.items()}
        self.crossers = {cross.name: HashedCrossing(cross.crossing_dim, name=cross.name)
                         for cross in self.crosses}
        self.one_hot_encoders, self.concat, self.encoded_features = {}, None, None
        self._preprocessed_names = self._crossed_names = None  # sorted, on the first merge
        self._is_adapted = self._sublayers_built = False

    def _standardize_feature(self, name, feature):
        if isinstance(feature, Feature):
            return feature
        if isinstance(feature, dict):
            return _deserialize(feature)
        makers = {"float": lambda: self.float(name=name),
                  "float_normalized": lambda: self.float_normalized(name=name),
                  "float_rescaled": lambda: self.float_rescaled(name=name),
                  "float_discretized": lambda: self.float_discretized(
                      name=name, num_bins=self.num_discretization_bins),
                  "integer_categorical": lambda: self.integer_categorical(name=name),
                  "string_categorical": lambda: self.string_categorical(name=name),
                  "integer_hashed": lambda: self.integer_hashed(self.hashing_dim, name=name),
                  "string_hashed": lambda: self.string_hashed(self.hashing_dim, name=name)}
        if not isinstance(feature, str) or feature not in makers:
            raise ValueError(f"Invalid feature type: {feature}")
        return makers[feature]()

    def _standardize_cross(self, cross, features):
        if isinstance(cross, dict):
            cross = _deserialize(cross)
        if isinstance(cross, Cross):
            return cross
        if not self.crossing_dim:
            raise ValueError("When specifying `crosses`, the argument `crossing_dim` "
                             "(dimensionality of the crossing space) should be specified as "
                             "well.")
        if any(key not in features for key in cross):
            raise ValueError("All features referenced in the `crosses` argument should be "
                             "present in the `features` dict. Received unknown features: "
                             f"{cross}")
        return Cross(cross, crossing_dim=self.crossing_dim)

    # -- adapt ---------------------------------------------------------------------------------
    def _list_adaptable_preprocessors(self):
        """The features whose preprocessor learns from data (not one given its statistics)."""
        names = []
        for key in self.features:
            layer = self.preprocessors[key]
            if isinstance(layer, Normalization) and layer.input_mean is not None:
                continue
            if isinstance(layer, TextVectorization) and \
                    getattr(layer, "_has_input_vocabulary", False):
                continue
            if hasattr(layer, "adapt"):
                names.append(key)
        return names

    def adapt(self, dataset):
        """Adapt each preprocessor on its column of `dataset`: a dict of arrays (or lists), a
        tf.data.Dataset of dicts, or a minidl dataset (a PyDataset, any iterable) of dicts.

        Batches as Keras's: a dataset of single rows is adapted on batches of 32, each column
        as (n, 1).
        """
        if isinstance(dataset, dict):
            elements = _rows_of(dataset)
        elif isinstance(dataset, PyDataset):
            elements = lambda: (dataset[i] for i in range(len(dataset)))  # noqa: E731
        elif hasattr(dataset, "__iter__") and not isinstance(dataset, (str, bytes, list,
                                                                       tuple, np.ndarray)):
            elements = lambda: iter(dataset)  # noqa: E731
        else:
            raise ValueError("`adapt()` can only be called on a tf.data.Dataset or a dict of "
                             f"arrays/lists. Received instead: {dataset} (of type "
                             f"{type(dataset)})")
        for key in self._list_adaptable_preprocessors():
            self.preprocessors[key].adapt(_column_batches(elements, key))  # an iterator: batches
        self._is_adapted = True
        self.get_encoded_features()  # finish building: the encoders and the concatenation
        self._sublayers_built = True

    # -- the functional graph ------------------------------------------------------------------
    def get_inputs(self):
        """{name: Input((1,), dtype)}: a functional model's inputs."""
        self._check_if_built()
        return self.inputs

    def get_encoded_features(self):
        """The encoded features of get_inputs(), as a functional model's tensor (or dict)."""
        self._check_if_adapted()
        if self.encoded_features is None:
            preprocessed = self._preprocess_features(self.inputs)
            crossed = self._cross_features(preprocessed)
            self.encoded_features = self._merge_features(preprocessed, crossed)
        return self.encoded_features

    def _preprocess_features(self, features):
        return {key: self.preprocessors[key](features[key]) for key in features}

    def _cross_features(self, features):
        return {cross.name: self.crossers[cross.name](
                    [features[key] for key in cross.feature_names])
                for cross in self.crosses}

    def _merge_features(self, preprocessed, crossed):
        """The encoded columns, features then crosses, each group sorted by name; the first
        call (on get_inputs()) makes the one-hot encoders and checks the dtypes, as Keras's."""
        if self._preprocessed_names is None:
            self._preprocessed_names = sorted(preprocessed)
            self._crossed_names = sorted(crossed)
        names = self._preprocessed_names + self._crossed_names
        columns = [preprocessed[key] for key in self._preprocessed_names] + \
                  [crossed[key] for key in self._crossed_names]
        if not self._sublayers_built:
            columns = [self._build_encoder(key, column) for key, column in zip(names, columns)]
        else:
            columns = [self.one_hot_encoders[key](column) if key in self.one_hot_encoders
                       else column for key, column in zip(names, columns)]
        if self.output_mode == "dict":
            return dict(zip(names, columns))
        if self.concat is None:
            self.concat = Concatenate(axis=-1)
        return self.concat(columns)  # (N,D)

    def _build_encoder(self, key, column):
        """The column one-hot encoded when its spec says so; Keras's errors otherwise."""
        spec = self.features.get(key) or self.crosses_by_name[key]
        layer = self.preprocessors.get(key) or self.crossers.get(key)
        dtype = _output_dtype(layer)
        if spec.output_mode == "one_hot":
            if not dtype.startswith("int"):
                raise ValueError(f"Feature '{key}' has `output_mode='one_hot'`. Thus its "
                                 "preprocessor should return an integer dtype. Instead it "
                                 f"returns a {dtype} dtype.")
            if isinstance(layer, IndexLookup):
                cardinality = layer.vocabulary_size()
            elif isinstance(layer, CategoryEncoding):
                cardinality = layer.num_tokens
            elif isinstance(layer, (Discretization, HashedCrossing, Hashing)):
                cardinality = layer.num_bins
            else:
                raise ValueError(
                    f"Feature '{key}' has `output_mode='one_hot'`. However it isn't a standard "
                    "feature and the dimensionality of its output space is not known, thus it "
                    "cannot be one-hot encoded. Try using `output_mode='int'`.")
            self.one_hot_encoders[key] = CategoryEncoding(num_tokens=cardinality,
                                                          output_mode="multi_hot")
            column, dtype = self.one_hot_encoders[key](column), config.floatx()
        if self.output_mode == "concat" and (dtype.startswith("int") or dtype == "string"):
            raise ValueError(f"Cannot concatenate features because feature '{key}' has not "
                             f"been encoded (it has dtype {dtype}). Consider using "
                             "`output_mode='dict'`.")
        return column

    def _check_if_adapted(self):
        if not self._is_adapted:
            if self._list_adaptable_preprocessors():
                raise ValueError("You need to call `.adapt(dataset)` on the FeatureSpace "
                                 "before you can start using it.")
            self._is_adapted = True

    def _check_if_built(self):
        if not self._sublayers_built:
            self._check_if_adapted()
            self.get_encoded_features()
            self._sublayers_built = True

    # -- calling on data -----------------------------------------------------------------------
    def __call__(self, data):
        """The encoded data: (N, D) float32 ("concat") or a dict of columns; a dict of one
        row's scalars gives (D,) (or the dict's columns without their batch axis)."""
        self._check_if_built()
        if not isinstance(data, dict):
            raise ValueError("A FeatureSpace can only be called with a dict. "
                             f"Received: data={data} (of type {type(data)}")
        for key, value in data.items():
            if isinstance(value, KerasTensor):
                raise ValueError(
                    "minidl's FeatureSpace is not a layer of a model: build the model from "
                    "`feature_space.get_inputs()` and `feature_space.get_encoded_features()`, "
                    f"as keras.io does. Received: data['{key}']={value!r}")
            if _is_symbolic_tf(value):
                raise ValueError(
                    "minidl's FeatureSpace computes with NumPy, which cannot run inside a "
                    "TensorFlow graph (tf.data's `map`, a tf.function). Instead of "
                    "`ds.map(lambda x, y: (feature_space(x), y))`, call it on the dict of "
                    "arrays and fit on its output: `model.fit(feature_space(x), y)`. "
                    f"Received: data['{key}']={value!r}")
        data, rebatched = {key: np.asarray(value) for key, value in data.items()}, False
        for key, x in data.items():
            if x.ndim == 0:
                data[key], rebatched = x.reshape(1, 1), True  # () -> (1,1)
            elif x.ndim == 1:
                data[key] = x[:, None]  # (N,) -> (N,1)
        missing = [key for key in self.features if key not in data]
        if missing:  # Keras: a KeyError from deep inside (tree.map_structure / a dict lookup)
            raise KeyError(f"The data given to the FeatureSpace has no feature '{missing[0]}'. "
                           f"Expected the keys {list(self.features)}; received the keys "
                           f"{list(data)}.")
        preprocessed = self._preprocess_features(data)
        merged = self._merge_features(preprocessed, self._cross_features(preprocessed))
        if rebatched:
            if self.output_mode == "concat":
                return merged[0]  # (1,D) -> (D,)
            return {key: x[0] if x.ndim == 2 and x.shape[0] == 1 else x
                    for key, x in merged.items()}
        return merged

    # -- configuration and saving --------------------------------------------------------------
    def get_config(self):
        """Keras's keys, each feature and cross serialized as Keras serializes them."""
        return {"features": {key: _serialize(feature) for key, feature in self.features.items()},
                "output_mode": self.output_mode,
                "crosses": [_serialize(cross) for cross in self.crosses],
                "crossing_dim": self.crossing_dim, "hashing_dim": self.hashing_dim,
                "num_discretization_bins": self.num_discretization_bins}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def save(self, filepath):
        """Refused: Keras's file keeps the adapted state (vocabularies in its assets, means and
        variances in its variables) which minidl's saving does not write."""
        raise NotImplementedError(
            "minidl cannot save a FeatureSpace: Keras's .keras file of one holds its adapted "
            "vocabularies as assets and its Normalization statistics as variables, which "
            "minidl's saving does not write. Keep `feature_space.get_config()` and adapt again, "
            f"or save the model that follows it. Received: filepath={filepath!r}")


# -- helpers -------------------------------------------------------------------------------------
def _output_dtype(layer):
    """The dtype a preprocessor returns: the integer index layers int64 (Discretization int32)
    in "int" mode, everything else floatx (Keras's layers' compute dtypes)."""
    if getattr(layer, "output_mode", None) == "int":
        if isinstance(layer, Discretization):
            return "int32"
        if isinstance(layer, (IndexLookup, Hashing, HashedCrossing, TextVectorization)):
            return "int64"
    return config.floatx()


def _is_symbolic_tf(value):
    """A TensorFlow graph tensor (tf.data's map, tf.function): it has no value to read."""
    return type(value).__module__.startswith("tensorflow") and not hasattr(value, "numpy")


def _rows_of(table):
    """A dict of columns as Keras's tf.data.Dataset.from_tensor_slices sees it: a function
    giving the rows, each a dict of one value per column."""
    table = {key: np.asarray(value) for key, value in table.items()}
    sizes = {len(value) for value in table.values()}
    if len(sizes) != 1:
        raise ValueError("Dimensions of the columns of `adapt()`'s dict must match. Received "
                         f"columns of lengths {sorted(sizes)}")
    n = sizes.pop()
    return lambda: ({key: value[i] for key, value in table.items()} for i in range(n))


def _column_batches(elements, key):
    """One column's batches for adapt, as Keras maps them (feature_space.py::adapt): elements
    that are scalars are batched by 32; scalars or vectors get a last axis: (n,) -> (n,1)."""
    first = next(elements(), None)
    if first is None:
        raise ValueError("`adapt()` received a dataset with no elements.")

    def column(element):
        element = as_numpy(element)
        if not isinstance(element, dict):
            raise ValueError("`adapt()` needs a dataset of dicts of features (no labels: "
                             "`ds.map(lambda x, y: x)`). Received an element of type "
                             f"{type(element).__name__}")
        return np.asarray(element[key])

    rank = column(first).ndim
    if rank == 0:
        values = [column(element) for element in elements()]
        for start in range(0, len(values), ADAPT_BATCH):
            yield np.stack(values[start:start + ADAPT_BATCH])[:, None]  # (32,1)
        return
    for element in elements():
        x = column(element)
        yield x[..., None] if rank == 1 else x  # (n,) -> (n,1)


def _serialize(obj):
    """A Feature or Cross as Keras writes it (serialization_lib.serialize_keras_object)."""
    return {"module": "keras.src.layers.preprocessing.feature_space",
            "class_name": type(obj).__name__, "config": obj.get_config(),
            "registered_name": type(obj).__name__}


def _deserialize(config):
    """A Feature, a Cross or a layer from the dict Keras writes for it."""
    from minidl.saving.serialization import deserialize_keras_object

    kinds = {"Feature": Feature, "Cross": Cross}
    if config.get("class_name") in kinds:
        return kinds[config["class_name"]].from_config(config["config"])
    options = config.get("config", {})
    if config.get("class_name") == "Discretization" and options.get("num_bins") is not None:
        # an adapted one has both: its boundaries are set after, as Discretization.from_config
        layer = deserialize_keras_object({**config, "config": {**options,
                                                               "bin_boundaries": None}})
        layer.bin_boundaries = options.get("bin_boundaries")
        return layer
    return deserialize_keras_object(config)
