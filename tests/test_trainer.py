"""fastnn.trainer.Trainer: the book's training loop, optimizer names, per-epoch evaluation."""
import numpy as np
import pytest

from fastnn import optimizer as optim
from fastnn.nets import TwoLayerNet
from fastnn.trainer import Trainer


def blobs(rng, n, features=8, classes=3):
    t = rng.integers(0, classes, n)
    centres = 2.0 * rng.standard_normal((classes, features))
    return centres[t] + 0.5 * rng.standard_normal((n, features)), t


@pytest.fixture
def data(rng):
    x, t = blobs(rng, 80)
    return x[:60], t[:60], x[60:], t[60:]


def make_trainer(data, net=None, **kwargs):
    kwargs.setdefault("verbose", False)
    net = net or TwoLayerNet(8, 10, 3, rng=np.random.default_rng(7))
    return Trainer(net, *data, **kwargs)


def test_learns_and_records_like_the_book(backend, data):
    trainer = make_trainer(data, epochs=15, mini_batch_size=20, optimizer="Adam",
                           optimizer_param={"lr": 0.05}, seed=0)
    # 60 samples / batch 20 = 3 steps per epoch; accuracy after steps 0, 3, 6, ...
    assert trainer.iter_per_epoch == 3.0 and trainer.max_iter == 45
    final = trainer.train()
    assert len(trainer.train_loss_list) == 45
    assert len(trainer.train_acc_list) == len(trainer.test_acc_list) == 15
    assert trainer.current_epoch == 15
    assert np.mean(trainer.train_loss_list[-5:]) < 0.5 * np.mean(trainer.train_loss_list[:3])
    assert trainer.test_acc_list[-1] >= 0.9 and final >= 0.9
    assert trainer.train_acc_list[-1] > trainer.train_acc_list[0]


def test_step_is_gradient_update_then_loss(data):
    """train_step == draw a batch with replacement, net.gradient, optimizer.update, net.loss."""
    trainer = make_trainer(data, epochs=1, mini_batch_size=10, optimizer="sgd",
                           optimizer_param={"lr": 0.3}, rng=np.random.default_rng(42))
    manual = TwoLayerNet(8, 10, 3, rng=np.random.default_rng(7))
    batches = np.random.default_rng(42)
    x_train, t_train = data[0], data[1]
    for _ in range(4):
        trainer.train_step()
        mask = batches.choice(60, 10)
        grads = manual.gradient(x_train[mask], t_train[mask])
        for key in manual.params:
            manual.params[key] -= 0.3 * grads[key]
        expected_loss = manual.loss(x_train[mask], t_train[mask])
        assert trainer.train_loss_list[-1] == pytest.approx(expected_loss, rel=1e-12)
    for key, value in manual.params.items():
        np.testing.assert_allclose(trainer.network.params[key], value, rtol=1e-12)


def test_seed_makes_batches_reproducible_without_global_state(data):
    state = np.random.get_state()
    losses = []
    for _ in range(2):
        trainer = make_trainer(data, epochs=2, mini_batch_size=20, seed=123)
        trainer.train()
        losses.append(trainer.train_loss_list)
    assert losses[0] == losses[1]
    after = np.random.get_state()
    assert after[0] == state[0] and np.array_equal(after[1], state[1])


def test_default_batches_come_from_np_random_like_the_book(data):
    losses = []
    for _ in range(2):
        np.random.seed(5)
        trainer = make_trainer(data, epochs=2, mini_batch_size=20)
        trainer.train()
        losses.append(trainer.train_loss_list)
    assert losses[0] == losses[1]


@pytest.mark.parametrize("name, cls", [
    ("SGD", optim.SGD), ("momentum", optim.Momentum), ("Nesterov", optim.Nesterov),
    ("AdaGrad", optim.AdaGrad), ("rmsprpo", optim.RMSprop), ("RMSprop", optim.RMSprop),
    ("rmsprprop", optim.RMSprop), ("Adam", optim.Adam),
])
def test_optimizer_names(data, name, cls):
    trainer = make_trainer(data, optimizer=name, optimizer_param={"lr": 0.123})
    assert type(trainer.optimizer) is cls
    assert trainer.optimizer.lr == 0.123
    trainer.train_step()  # each optimizer can update the net
    assert np.isfinite(trainer.train_loss_list[-1])


def test_optimizer_object_and_bad_names(data):
    opt = optim.Momentum(lr=0.01)
    assert make_trainer(data, optimizer=opt).optimizer is opt
    with pytest.raises(ValueError, match="Trainer: unknown optimizer 'adamw'"):
        make_trainer(data, optimizer="adamw")
    with pytest.raises(TypeError, match="Trainer: optimizer must be a name"):
        make_trainer(data, optimizer=3)
    x, t, xt, tt = data
    with pytest.raises(ValueError, match="x_train has 60 samples but t_train has 59"):
        make_trainer((x, t[:-1], xt, tt))
    with pytest.raises(ValueError, match="mini_batch_size must be an int >= 1"):
        make_trainer(data, mini_batch_size=0)
    with pytest.raises(ValueError, match="give rng or seed, not both"):
        make_trainer(data, rng=np.random.default_rng(), seed=1)


class CountingNet(TwoLayerNet):
    """Records the sizes of the data the Trainer evaluates accuracy on."""

    def __init__(self):
        super().__init__(8, 4, 3, rng=np.random.default_rng(0))
        self.evaluated = []

    def accuracy(self, x, t):
        self.evaluated.append(len(x))
        return super().accuracy(x, t)


def test_evaluate_sample_num_per_epoch(data):
    net = CountingNet()
    trainer = make_trainer(data, net=net, epochs=2, mini_batch_size=30, evaluate_sample_num_per_epoch=7)
    trainer.train()
    # epochs: (train 7, test 7) twice; then the final test accuracy on all 20
    assert net.evaluated == [7, 7, 7, 7, 20]


def test_batch_larger_than_data_means_one_step_per_epoch(data):
    trainer = make_trainer(data, epochs=3, mini_batch_size=100)
    assert trainer.iter_per_epoch == 1
    trainer.train()
    assert len(trainer.train_loss_list) == 3 and len(trainer.test_acc_list) == 3


def test_verbose_output(data, capsys):
    trainer = make_trainer(data, epochs=1, mini_batch_size=30, verbose=True, seed=0)
    trainer.train()
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("train loss:")
    assert out[1].startswith("=== epoch:1, train acc:") and ", test acc:" in out[1]
    assert out[-2] == "=============== Final Test Accuracy ==============="
    assert out[-1] == "test acc:" + str(trainer.network.accuracy(data[2], data[3]))
