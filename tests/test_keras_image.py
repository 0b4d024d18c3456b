"""keras.preprocessing.image on real images: folders of PNG/JPEG, grayscale/RGB, mixed sizes."""
import io
import os

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from fastnn import keras
from fastnn.keras.preprocessing import image
from fastnn.keras.preprocessing.image import ImageDataGenerator

from image_folders import real_images, write_folder


@pytest.fixture(scope="module")
def fashion():
    return real_images(40, classes=(7, 9))          # sneakers, ankle boots (or MNIST 7/9)


@pytest.fixture
def png_folder(tmp_path, fashion):
    x, y = fashion
    root = tmp_path / "train"
    paths = write_folder(root, x, y, ["sneaker", "boot"])
    return root, x, y, paths


# --------------------------------------------------------------- folders
def test_class_indices_filenames_and_found_message(tmp_path, fashion, capsys):
    x, y = fashion
    root = tmp_path / "data"
    write_folder(root, x[:6], np.array([0, 0, 0, 1, 1, 1]), ["sneaker", "ankle_boot"])
    (root / "sneaker" / "notes.txt").write_text("not an image")
    (root / "sneaker" / "deeper").mkdir()
    Image.fromarray(x[0]).save(root / "sneaker" / "deeper" / "a.PNG")
    Image.fromarray(x[1]).save(root / "ankle_boot" / "z.jpg")
    it = ImageDataGenerator().flow_from_directory(str(root), target_size=(28, 28), batch_size=4, shuffle=False)
    assert "Found 8 images belonging to 2 classes." in capsys.readouterr().out
    assert it.class_indices == {"ankle_boot": 0, "sneaker": 1}
    assert it.filenames == [os.path.join("ankle_boot", f) for f in ("00003.png", "00004.png", "00005.png", "z.jpg")] \
        + [os.path.join("sneaker", f) for f in ("00000.png", "00001.png", "00002.png")] \
        + [os.path.join("sneaker", "deeper", "a.PNG")]
    assert it.classes.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert it.samples == it.n == 8 and len(it) == 2 and it.batch_size == 4
    bx, by = it[0]
    assert bx.shape == (4, 28, 28, 3) and bx.dtype == np.float32
    assert by.tolist() == [[1, 0]] * 4
    # grayscale PNG read as RGB: three equal channels, the original pixels
    np.testing.assert_array_equal(bx[0, :, :, 0], x[3])
    np.testing.assert_array_equal(bx[0, :, :, 2], x[3])


def test_color_modes_sizes_and_class_modes(tmp_path, fashion):
    x, y = fashion
    x, y = x[::4], y[::4]
    sizes = [(20 + 3 * i, 31 + i) for i in range(len(x))]
    root = tmp_path / "rgb"
    write_folder(root, x, y, ["a", "b"], fmt="jpg", mode="RGB", sizes=sizes)
    gen = ImageDataGenerator(rescale=1 / 255)
    for mode, c in (("grayscale", 1), ("rgb", 3), ("rgba", 4)):
        bx, by = gen.flow_from_directory(root, target_size=(24, 30), color_mode=mode, batch_size=5,
                                         class_mode="sparse", shuffle=False)[0]
        assert bx.shape == (5, 24, 30, c) and 0 <= bx.min() and bx.max() <= 1.0
        assert by.dtype == np.float32 and by.tolist() == [0.0] * 5
    if True:
        bx = gen.flow_from_directory(root, target_size=(24, 30), color_mode="rgba", batch_size=5,
                                     shuffle=False)[0][0]
        assert np.all(bx[..., 3] == 1.0)                  # opaque alpha
    it = gen.flow_from_directory(root, target_size=(16, 16), batch_size=len(x), class_mode="binary", shuffle=False)
    assert it[0][1].tolist() == it.classes.astype(float).tolist()
    it = gen.flow_from_directory(root, target_size=(16, 16), batch_size=3, class_mode="input", shuffle=False)
    bx, by = it[0]
    np.testing.assert_array_equal(bx, by)
    assert gen.flow_from_directory(root, target_size=(16, 16), batch_size=3, class_mode=None)[0].shape == (3, 16, 16, 3)
    # resizing is Pillow's: the first file through PIL directly
    first = os.path.join(root, it.filenames[0])
    ref = np.asarray(Image.open(first).convert("RGB").resize((16, 16), Image.Resampling.NEAREST), np.float32) / 255
    np.testing.assert_allclose(bx[0], ref, atol=1e-6)
    # nearest upscale by 2 of a lossless PNG repeats each pixel
    root2 = tmp_path / "png"
    write_folder(root2, x[:2], np.zeros(2), ["only"])
    bx = ImageDataGenerator().flow_from_directory(root2, target_size=(56, 56), color_mode="grayscale",
                                                  batch_size=2, shuffle=False)[0][0]
    np.testing.assert_array_equal(bx[0, :, :, 0], np.repeat(np.repeat(x[0], 2, 0), 2, 1))


def test_flow_and_flow_from_directory_give_the_same_batches(png_folder):
    root, x, y, paths = png_folder
    gen = ImageDataGenerator(rotation_range=20, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2,
                             zoom_range=0.3, horizontal_flip=True, rescale=1 / 255)
    d = gen.flow_from_directory(root, target_size=(28, 28), color_mode="grayscale", batch_size=16,
                                class_mode="sparse", seed=42)
    assert d.class_indices == {"boot": 0, "sneaker": 1}
    xs = np.stack([np.asarray(Image.open(root / name)) for name in d.filenames])[..., None].astype(np.float32)
    ys = d.classes.copy()
    f = gen.flow(xs, ys, batch_size=16, seed=42)
    assert len(d) == len(f) == 5
    for epoch in range(2):
        for i in range(len(d)):
            (dx, dy), (fx, fy) = d[i], f[i]
            np.testing.assert_allclose(dx, fx, atol=1e-6)
            np.testing.assert_array_equal(dy, fy)
        d.on_epoch_end()
        f.on_epoch_end()
    again = gen.flow(xs, ys, batch_size=16, seed=42)
    first = again[0][0]
    np.testing.assert_array_equal(again[0][0], first)       # the stored images are never rescaled in place
    assert xs.max() == 255 and 0.9 < first.max() <= 1.0
    np.testing.assert_array_equal(again[2][0], gen.flow(xs, ys, batch_size=16, seed=42)[2][0])
    assert not np.array_equal(again[0][0], gen.flow(xs, ys, batch_size=16, seed=43)[0][0])


def test_next_walks_passes_like_keras(png_folder):
    root, *_ = png_folder
    it = ImageDataGenerator().flow_from_directory(root, target_size=(8, 8), batch_size=30, seed=1)
    sizes = [len(next(it)[0]) for _ in range(6)]
    assert sizes == [30, 30, 20, 30, 30, 20]
    it.reset()
    assert it.batch_index == 0


def test_validation_split_subsets(png_folder, fashion):
    root, x, y, _ = png_folder
    gen = ImageDataGenerator(validation_split=0.25)
    tr = gen.flow_from_directory(root, target_size=(8, 8), subset="training", shuffle=False)
    va = gen.flow_from_directory(root, target_size=(8, 8), subset="validation", shuffle=False)
    assert tr.samples == 60 and va.samples == 20
    assert not set(tr.filenames) & set(va.filenames)
    assert va.filenames[:10] == sorted(f for f in va.filenames if f.startswith("boot"))[:10]
    assert sorted(va.classes.tolist()) == [0] * 10 + [1] * 10
    xf = x[..., None].astype(np.float32)
    ftr = gen.flow(xf, y, batch_size=100, shuffle=False, subset="training")
    fva = gen.flow(xf, y, batch_size=100, shuffle=False, subset="validation")
    np.testing.assert_array_equal(fva[0][0], xf[:20])
    np.testing.assert_array_equal(ftr[0][0], xf[20:])
    with pytest.raises(ValueError, match="validation_split"):
        ImageDataGenerator().flow(xf, y, subset="validation")


# ---------------------------------------------------------- augmentation
def pattern(h=9, w=9, c=3):
    rng = np.random.default_rng(5)
    return rng.uniform(0, 255, (h, w, c)).astype(np.float32)


def test_flips_are_exact():
    x = pattern(7, 10)
    gen = ImageDataGenerator()
    np.testing.assert_array_equal(gen.apply_transform(x, {"flip_horizontal": True}), x[:, ::-1])
    np.testing.assert_array_equal(gen.apply_transform(x, {"flip_vertical": True}), x[::-1])
    g = ImageDataGenerator(horizontal_flip=True)
    outs = {bool(np.array_equal(g.random_transform(x, seed=s), x[:, ::-1])) for s in range(20)}
    assert outs == {True, False}


def test_rotation_by_90_of_a_centred_square():
    x = pattern(9, 9)
    out = ImageDataGenerator().apply_transform(x, {"theta": 90})
    np.testing.assert_allclose(out, np.rot90(x, -1), atol=1e-3)
    out = ImageDataGenerator().apply_transform(x, {"theta": -90})
    np.testing.assert_allclose(out, np.rot90(x, 1), atol=1e-3)


def test_shift_with_every_fill_mode():
    x = np.arange(8, dtype=np.float32).reshape(1, 8, 1).repeat(3, axis=0)      # one ramp per row
    def shifted(mode, ty, cval=0.0):
        return ImageDataGenerator(fill_mode=mode, cval=cval).apply_transform(x, {"ty": ty})[0, :, 0].tolist()
    assert shifted("constant", 3, cval=-1) == [3, 4, 5, 6, 7, -1, -1, -1]
    assert shifted("nearest", 3) == [3, 4, 5, 6, 7, 7, 7, 7]
    assert shifted("reflect", 3) == [3, 4, 5, 6, 7, 7, 6, 5]
    assert shifted("wrap", 3) == [3, 4, 5, 6, 7, 0, 1, 2]
    assert shifted("nearest", -2) == [0, 0, 0, 1, 2, 3, 4, 5]
    col = ImageDataGenerator().apply_transform(x.transpose(1, 0, 2).repeat(3, 1), {"tx": 2})[:, 0, 0].tolist()
    assert col == [2, 3, 4, 5, 6, 7, 7, 7]                                    # tx moves along rows


def test_zoom_and_shear_against_explicit_coordinates():
    x = pattern(11, 13)
    h, w = 11, 13
    r, c = np.mgrid[0:h, 0:w].astype(float)
    cr, cc = h / 2 - 0.5, w / 2 - 0.5
    gen = ImageDataGenerator(fill_mode="constant")
    zx, zy = 0.7, 1.3                           # input = centre + zoom * (output - centre)
    coords = [cr + zx * (r - cr), cc + zy * (c - cc)]
    ref = np.stack([ndimage.map_coordinates(x[..., k], coords, order=1, mode="constant") for k in range(3)], -1)
    np.testing.assert_allclose(gen.apply_transform(x, {"zx": zx, "zy": zy}), ref, atol=1e-3)
    s = np.deg2rad(20)                          # shear: input row = r - sin(s) * c, input col = cos(s) * c
    coords = [cr + (r - cr) - np.sin(s) * (c - cc), cc + np.cos(s) * (c - cc)]
    ref = np.stack([ndimage.map_coordinates(x[..., k], coords, order=1, mode="constant") for k in range(3)], -1)
    np.testing.assert_allclose(gen.apply_transform(x, {"shear": 20}), ref, atol=1e-3)


def test_one_combined_matrix_equals_the_sequence_of_transforms():
    x = pattern(15, 15)
    gen = ImageDataGenerator(fill_mode="constant", interpolation_order=1)
    p = {"theta": 30, "tx": 1.5, "ty": -2.0, "shear": 10, "zx": 0.9, "zy": 1.1}
    out = gen.apply_transform(x, p)
    h, w = 15, 15
    r, c = np.mgrid[0:h, 0:w].astype(float)
    cr, cc = h / 2 - 0.5, w / 2 - 0.5
    u, v = r - cr, c - cc                       # zoom, then shear, shift, rotation (output -> input)
    u, v = 0.9 * u, 1.1 * v
    s = np.deg2rad(10)
    u, v = u - np.sin(s) * v, np.cos(s) * v
    u, v = u + 1.5, v - 2.0
    t = np.deg2rad(30)
    u, v = np.cos(t) * u - np.sin(t) * v, np.sin(t) * u + np.cos(t) * v
    ref = np.stack([ndimage.map_coordinates(x[..., k], [u + cr, v + cc], order=1, mode="constant")
                    for k in range(3)], -1)
    np.testing.assert_allclose(out, ref, atol=1e-3)


def test_channel_shift_brightness_and_random_ranges():
    x = pattern(6, 6)
    gen = ImageDataGenerator()
    np.testing.assert_allclose(gen.apply_transform(x, {"channel_shift_intensity": 40.0}),
                               np.clip(x + 40, x.min(), x.max()), rtol=1e-6)
    np.testing.assert_allclose(gen.apply_transform(x, {"brightness": 1.5}), np.clip(x * 1.5, 0, 255), rtol=1e-6)
    g = ImageDataGenerator(rotation_range=20, width_shift_range=0.2, height_shift_range=3, shear_range=5,
                           zoom_range=0.5, channel_shift_range=10, brightness_range=[0.5, 1.5], vertical_flip=True)
    assert g.zoom_range == [0.5, 1.5]
    ps = [g.get_random_transform((10, 20, 3), seed=s) for s in range(200)]
    assert all(abs(p["theta"]) <= 20 and abs(p["ty"]) <= 0.2 * 20 and abs(p["shear"]) <= 5 for p in ps)
    assert all(float(p["tx"]).is_integer() and abs(p["tx"]) <= 2 for p in ps)
    assert all(0.5 <= p["zx"] <= 1.5 and 0.5 <= p["brightness"] <= 1.5 and abs(p["channel_shift_intensity"]) <= 10
               for p in ps)
    assert g.get_random_transform((10, 20, 3), seed=3) == g.get_random_transform((10, 20, 3), seed=3)
    assert {p["flip_vertical"] for p in ps} == {True, False}
    np.testing.assert_array_equal(g.random_transform(x, seed=9), g.random_transform(x, seed=9))


def test_standardize_rescale_samplewise_featurewise_and_preprocessing_order(fashion):
    x = fashion[0][..., None].astype(np.float32)
    calls = []

    def pre(img):
        calls.append(float(img.max()))
        return img + 1.0
    g = ImageDataGenerator(rescale=0.5, preprocessing_function=pre)
    out = g.standardize(x[0].copy())
    np.testing.assert_allclose(out, (x[0] + 1) * 0.5)
    assert calls == [float(x[0].max())]          # preprocessing sees the image before rescale
    s = ImageDataGenerator(samplewise_center=True, samplewise_std_normalization=True).standardize(x[3].copy())
    assert abs(s.mean()) < 1e-4 and abs(s.std() - 1) < 1e-3
    f = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True)
    f.fit(x)
    assert f.mean.shape == (1, 1, 1)
    np.testing.assert_allclose(f.mean.ravel(), [x.mean()], rtol=1e-4)
    batch = f.flow(x, batch_size=len(x), shuffle=False)[0]
    assert abs(batch.mean()) < 1e-3 and abs(batch.std() - 1) < 1e-3
    z = ImageDataGenerator(zca_whitening=True, featurewise_center=True)
    rng = np.random.default_rng(0)
    mixed = (rng.normal(size=(2000, 16)) @ rng.normal(size=(16, 16))).reshape(2000, 4, 4, 1) + 5
    z.fit(mixed)
    white = z.flow(mixed, batch_size=2000, shuffle=False)[0].reshape(2000, -1)
    np.testing.assert_allclose(white.T @ white / 2000, np.eye(16), atol=1e-2)     # whitened: identity covariance


# ------------------------------------------------------------ image files
def test_load_save_round_trip_and_keras_utils_names(tmp_path, fashion):
    x = fashion[0][0]
    rgb = np.stack([x, 255 - x, x // 2], -1).astype(np.float32)
    p = tmp_path / "img.png"
    keras.utils.save_img(p, rgb, scale=False)
    back = keras.utils.img_to_array(keras.utils.load_img(p))
    np.testing.assert_array_equal(back, rgb)
    gray = image.img_to_array(image.load_img(p, color_mode="grayscale", target_size=(14, 14)))
    assert gray.shape == (14, 14, 1)
    img = keras.utils.array_to_img(rgb / 255.0)               # scaled to 0..255
    assert img.mode == "RGB" and np.asarray(img).max() == 255
    assert image.array_to_img(rgb[..., :1]).mode == "L"
    keras.utils.save_img(tmp_path / "img.jpg", np.concatenate([rgb, rgb[..., :1]], -1))   # RGBA -> JPEG as RGB
    assert Image.open(tmp_path / "img.jpg").mode == "RGB"
    assert image.img_to_array(image.load_img(p), data_format="channels_first").shape == (3, 28, 28)
    wide = image.load_img(p, target_size=(10, 20), keep_aspect_ratio=True)
    assert wide.size == (20, 10)
    with pytest.raises(ValueError, match="rank 3"):
        image.array_to_img(rgb[None])
    with pytest.raises(ValueError, match="file_format"):
        image.save_img(tmp_path / "img.unknownext", rgb)


# ------------------------------------------------------------- bad input
def test_bad_files_and_directories(tmp_path, fashion):
    x, y = fashion
    root = tmp_path / "bad"
    write_folder(root, x[:3], np.zeros(3), ["c"])
    (root / "c" / "broken.png").write_bytes(b"not a png at all")
    gen = ImageDataGenerator()
    it = gen.flow_from_directory(root, target_size=(28, 28), batch_size=4, shuffle=False)
    with pytest.raises(ValueError, match="broken.png"):
        it[0]
    buf = io.BytesIO()
    Image.fromarray(np.stack([x[0]] * 3, -1)).resize((200, 200)).save(buf, format="JPEG")
    trunc = tmp_path / "trunc"
    (trunc / "c").mkdir(parents=True)
    (trunc / "c" / "cut.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ValueError, match="cut.jpg"):
        gen.flow_from_directory(trunc, target_size=(28, 28), batch_size=1)[0]
    empty = tmp_path / "empty"
    (empty / "cats").mkdir(parents=True)
    (empty / "cats" / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match="Found 0 images.*empty"):
        gen.flow_from_directory(empty)
    with pytest.raises(ValueError, match="Found 0 images"):
        gen.flow_from_directory(tmp_path / "empty" / "cats")         # no class sub-folders
    with pytest.raises(FileNotFoundError, match="nowhere"):
        gen.flow_from_directory(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="dogs"):
        gen.flow_from_directory(root, classes=["c", "dogs"])
    with pytest.raises(ValueError, match="class_mode"):
        gen.flow_from_directory(root, class_mode="onehot")
    with pytest.raises(ValueError, match="target_size"):
        gen.flow_from_directory(root, target_size=(0, 5))
    with pytest.raises(ValueError, match="fill_mode"):
        ImageDataGenerator(fill_mode="mirror")
    with pytest.raises(ValueError, match="rank 4"):
        gen.flow(x, y)
    with pytest.raises(ValueError, match="same length"):
        gen.flow(x[..., None], y[:5])
    with pytest.raises(ValueError, match="has length 2"):
        gen.flow(x[..., None], y, batch_size=40)[2]
    with pytest.raises(FileNotFoundError, match="missing.png"):
        image.load_img(tmp_path / "missing.png")
