"""fastnn.plot: every function renders a non-blank PNG of the expected size (Agg backend)."""
import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from fastnn import plot  # noqa: E402


def _check_png(path, fig, dpi=100):
    """The file is a PNG of the figure's pixel size with more than one colour."""
    assert path.exists() and path.stat().st_size > 1000
    img = mpimg.imread(str(path))
    width, height = fig.get_size_inches() * dpi
    assert img.shape[0] == pytest.approx(height, abs=2)
    assert img.shape[1] == pytest.approx(width, abs=2)
    assert img[..., :3].var() > 1e-4, "the picture is blank"
    # No temporary file is left beside the picture.
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


class _FakeTrainer:
    """The attributes plot_learning_curves reads from a fastnn Trainer."""

    def __init__(self, rng):
        self.train_loss_list = list(2.3 * np.exp(-np.arange(120) / 40) + 0.1 * rng.random(120))
        self.train_acc_list = [0.1, 0.7, 0.85, 0.9]
        self.test_acc_list = [0.1, 0.68, 0.82, 0.88]


class _FakeHistory:
    def __init__(self):
        self.history = {"loss": [0.9, 0.5, 0.3], "accuracy": [0.7, 0.85, 0.9],
                        "val_loss": [0.8, 0.55, 0.4], "val_accuracy": [0.72, 0.83, 0.87]}


def test_learning_curves_from_trainer(tmp_path, rng):
    path = tmp_path / "curves.png"
    fig = plot.plot_learning_curves(_FakeTrainer(rng), path, title="trainer")
    assert isinstance(fig, Figure)
    _check_png(path, fig)
    loss_ax, acc_ax = fig.axes[:2]
    assert len(loss_ax.lines) == 2  # raw loss and its moving average
    assert [line.get_label() for line in acc_ax.lines] == ["train", "test"]
    np.testing.assert_allclose(acc_ax.lines[1].get_ydata(), [0.1, 0.68, 0.82, 0.88])


def test_learning_curves_accuracy_labels(rng):
    fig = plot.plot_learning_curves(_FakeTrainer(rng), accuracy_labels=("train (1k)", "test (1k)"),
                                    first_epoch=1)
    acc_ax = fig.axes[1]
    assert [line.get_label() for line in acc_ax.lines] == ["train (1k)", "test (1k)"]
    np.testing.assert_array_equal(acc_ax.lines[0].get_xdata(), [1, 2, 3, 4])


def test_learning_curves_from_keras_history(tmp_path):
    path = tmp_path / "history.png"
    fig = plot.plot_learning_curves(_FakeHistory(), path)
    _check_png(path, fig)
    loss_ax, acc_ax = fig.axes[:2]
    assert sorted(line.get_label() for line in loss_ax.lines) == ["loss", "val_loss"]
    assert sorted(line.get_label() for line in acc_ax.lines) == ["accuracy", "val_accuracy"]


def test_learning_curves_rejects_empty_and_wrong_type():
    with pytest.raises(ValueError, match="empty"):
        plot.plot_learning_curves({"loss": []})
    with pytest.raises(TypeError, match="Trainer.*History"):
        plot.plot_learning_curves([1, 2, 3])


def test_images_mark_wrong_predictions_in_red(tmp_path, rng):
    images = rng.random((12, 1, 28, 28))
    labels = np.arange(12) % 10
    preds = labels.copy()
    preds[[2, 7]] = 0
    path = tmp_path / "digits.png"
    fig = plot.plot_images(images, labels, preds, path, ncols=6)
    _check_png(path, fig)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert len(titled) == 12
    red = [i for i, ax in enumerate(titled)
           if matplotlib.colors.same_color(ax.title.get_color(), "tab:red")]
    assert red == [2, 7]
    assert titled[2].get_title() == "0 (2)"


@pytest.mark.parametrize("shape", [(6, 784), (6, 28, 28), (6, 28, 28, 1)])
def test_images_accept_flat_and_channel_last(tmp_path, rng, shape):
    path = tmp_path / "x.png"
    fig = plot.plot_images(rng.random(shape), np.arange(6), path=path)
    _check_png(path, fig)


def test_images_reject_mismatched_labels(rng):
    with pytest.raises(ValueError, match="plot_images: 4 images but 3 labels"):
        plot.plot_images(rng.random((4, 784)), [1, 2, 3])
    with pytest.raises(ValueError, match="square number of pixels"):
        plot.plot_images(rng.random((4, 700)), [1, 2, 3, 4])


def test_filters(tmp_path, rng):
    path = tmp_path / "filters.png"
    W = rng.standard_normal((30, 1, 5, 5))
    fig = plot.plot_filters(W, path)
    _check_png(path, fig)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 30
    np.testing.assert_array_equal(images[4].get_array(), W[4, 0])
    with pytest.raises(ValueError, match=r"\(FN, C, FH, FW\)"):
        plot.plot_filters(W[0])


def test_confusion_matrix_counts():
    labels = np.array([0, 1, 2, 2, 1, 0])
    preds = np.array([0, 2, 2, 2, 1, 1])
    cm = plot.confusion_matrix(labels, preds, num_classes=3)
    expected = np.array([[1, 1, 0], [0, 1, 1], [0, 0, 2]])
    np.testing.assert_array_equal(cm, expected)
    # One-hot labels give the same matrix.
    np.testing.assert_array_equal(plot.confusion_matrix(np.eye(3)[labels], preds), expected)
    with pytest.raises(ValueError, match="num_classes=2"):
        plot.confusion_matrix(labels, preds, num_classes=2)
    with pytest.raises(ValueError, match="6 labels but 5 predictions"):
        plot.confusion_matrix(labels, preds[:5])


def test_confusion_matrix_picture(tmp_path):
    path = tmp_path / "cm.png"
    cm = np.diag([50, 40, 45]) + 2
    fig = plot.plot_confusion_matrix(cm, path, class_names=["cat", "dog", "owl"])
    _check_png(path, fig)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts[:3] == ["52", "2", "2"]
    with pytest.raises(ValueError, match="square"):
        plot.plot_confusion_matrix(np.zeros((2, 3)))


def test_activation_histograms(tmp_path, rng):
    path = tmp_path / "act.png"
    acts = {i: 1 / (1 + np.exp(-rng.standard_normal((100, 50)))) for i in range(5)}
    fig = plot.plot_activation_histograms(acts, path)
    _check_png(path, fig)
    assert [ax.get_title() for ax in fig.axes] == [f"layer {i}" for i in range(1, 6)]
    # Bar heights add up to the number of values in each layer.
    assert sum(p.get_height() for p in fig.axes[0].patches) == 100 * 50


def test_save_keeps_old_file_when_saving_fails(tmp_path, rng):
    path = tmp_path / "keep.xyz"  # matplotlib has no 'xyz' format: savefig raises
    path.write_bytes(b"old")
    with pytest.raises(ValueError, match="xyz"):
        plot.plot_filters(rng.random((4, 1, 3, 3)), path)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.xyz"]
