"""keras.utils.get_file, get_source_inputs and Config beside Keras's. get_file fetches from
file:// origins in a temporary folder (never the network): both must put the same bytes at
the same place below their cache_dir, unpack archives into the same folders, re-fetch a
cached copy whose hash is wrong, and fail with the same messages. No numbers: no tolerance."""
import hashlib
import inspect
import io
import os
import tarfile
import zipfile

import pytest

import keras
import minidl


def make_origins(folder):
    """A plain file, a .tar.gz and a .zip holding two files, as file:// URLs."""
    folder.mkdir()
    (folder / "data.txt").write_bytes(b"minidl and keras\n" * 50)
    with tarfile.open(folder / "photos.tar.gz", "w:gz") as archive:
        for name, data in (("photos/a.txt", b"a"), ("photos/b/c.txt", b"c")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    with zipfile.ZipFile(folder / "words.zip", "w") as archive:
        archive.writestr("words/one.txt", "one")
    return {name: (folder / name).as_uri() for name in ("data.txt", "photos.tar.gz",
                                                       "words.zip")}


def tree_of(path):
    """Every file below path (or the file itself) with its bytes, relative paths as keys."""
    if os.path.isfile(path):
        return open(path, "rb").read()
    return {os.path.relpath(os.path.join(d, f), path): open(os.path.join(d, f), "rb").read()
            for d, _, files in os.walk(path) for f in files}


def both(tmp_path, **kwargs):
    """get_file in minidl and in Keras, each with a cache of its own: (relative path, content)."""
    results = []
    for framework in (minidl, keras):
        cache = tmp_path / framework.__name__
        cache.mkdir(exist_ok=True)  # an unwritable or missing cache_dir means /tmp/.keras
        path = framework.utils.get_file(cache_dir=str(cache), **kwargs)
        results.append((os.path.relpath(path, cache), tree_of(path)))
    return results


def test_get_file_has_keras_s_signature():
    assert inspect.signature(minidl.utils.get_file) == inspect.signature(keras.utils.get_file)


def test_get_file_caches_checks_and_unpacks_as_keras(tmp_path, capsys):
    origins = make_origins(tmp_path / "origin")
    sha256 = hashlib.sha256(open(tmp_path / "origin" / "data.txt", "rb").read()).hexdigest()
    md5 = hashlib.md5(open(tmp_path / "origin" / "data.txt", "rb").read()).hexdigest()
    calls = [dict(origin=origins["data.txt"]),  # the name from the URL
             dict(fname="renamed.txt", origin=origins["data.txt"], file_hash=sha256),
             dict(fname="m.txt", origin=origins["data.txt"], md5_hash=md5, cache_subdir="x"),
             dict(fname="photos.tar.gz", origin=origins["photos.tar.gz"], extract=True),
             dict(fname="pics", origin=origins["photos.tar.gz"], untar=True),
             dict(origin=origins["words.zip"], extract=True)]
    for kwargs in calls:
        ours, theirs = both(tmp_path, **kwargs)
        assert ours == theirs, kwargs
    capsys.readouterr()
    for framework in (minidl, keras):  # a cached copy with a wrong hash is fetched again
        cache = tmp_path / framework.__name__
        (cache / "datasets" / "renamed.txt").write_bytes(b"truncated")
        path = framework.utils.get_file("renamed.txt", origins["data.txt"], file_hash=sha256,
                                        cache_dir=str(cache))
        assert tree_of(path) == tree_of(tmp_path / "origin" / "data.txt")
    printed = capsys.readouterr().out
    message = "A local file was found, but it seems to be incomplete or outdated"
    assert printed.count(message) == 2  # once each


def test_get_file_errors_are_keras_s(tmp_path):
    origins = make_origins(tmp_path / "origin")
    calls = [dict(fname="x"), dict(fname=os.path.join("a", "b"), origin=origins["data.txt"]),
             dict(fname="bad.txt", origin=origins["data.txt"], file_hash="0" * 64),
             dict(fname="bad.txt", origin=origins["data.txt"], md5_hash="0" * 32)]
    for kwargs in calls:
        messages = []
        for framework in (minidl, keras):
            cache = tmp_path / framework.__name__
            cache.mkdir(exist_ok=True)
            with pytest.raises(ValueError) as error:
                framework.utils.get_file(cache_dir=str(cache), **kwargs)
            messages.append(str(error.value))
        assert messages[0] == messages[1], kwargs
        assert not (tmp_path / "minidl" / "datasets" / "bad.txt").exists()  # Keras keeps it
    with pytest.raises(Exception, match="URL fetch failure on file:"):  # minidl's cache made above
        minidl.utils.get_file("none.txt", (tmp_path / "missing.txt").as_uri(),
                              cache_dir=str(tmp_path / "minidl"))


def test_get_source_inputs_as_keras():
    for framework in (minidl, keras):
        a, b = framework.Input((3,), name="a"), framework.Input((3,), name="b")
        summed = framework.layers.Add()([a, framework.layers.Dense(3)(b)])
        out = framework.layers.Dense(2)(framework.layers.Concatenate()([summed, a]))
        sources = framework.utils.get_source_inputs(out)
        assert [s is t for s, t in zip(sources, [a, b])] == [True, True] and len(sources) == 2
        assert framework.utils.get_source_inputs(a)[0] is a
        assert framework.utils.get_source_inputs(3) == 3


def test_config_as_keras():
    results = []
    for framework in (minidl, keras):
        config = framework.utils.Config(b=2, a=1)
        config.c = 3
        config["d"] = 4
        seen = [repr(config), list(config), config.a, config.get("z", 0), config.as_dict(),
                config.to_json(), "c" in config, len(config), config.pop("d")]
        config.freeze()
        for change in (lambda: setattr(config, "e", 1), lambda: config.update(e=1)):
            with pytest.raises(ValueError) as error:
                change()
            seen.append(str(error.value))
        with pytest.raises(AttributeError) as error:
            config.bb
        seen += [str(error.value), config.frozen]
        results.append(seen)
    assert results[0] == results[1]
