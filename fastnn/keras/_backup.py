"""``BackupAndRestore``: resume an interrupted ``fit`` where it stopped.

At the end of every epoch (or every ``save_freq`` batches) the training state
goes to one file, ``backup_dir/backup.npz``, written atomically (temporary
file + rename: a crash mid-write leaves the previous backup whole):

* every weight of the model, in layer order;
* the optimizer's state: step count, learning rate and its slots
  (momentum, Adam's moments, ...) by trainable weight position;
* the random generators of the model (shuffling) and of its layers (dropout);
* the number of finished epochs.

When ``fit`` starts and a backup exists, all of that is put back and ``fit``
continues from the first unfinished epoch, so the run ends with the same
weights as one that was never interrupted. A backup saved mid-epoch
(``save_freq=N``) resumes at the start of that epoch with the mid-epoch
weights, as in Keras. When ``fit`` ends normally the backup is deleted
(``delete_checkpoint=True``). The file is NumPy's ``.npz``; reading it, each
member's name, dtype and shape are checked against the model from its header
before its data is read (never with pickle), and everything is checked before
the model is touched. Weights that are not finite are never backed up.
"""
import io
import json
import os
import zipfile

import numpy as np

from . import _atomic
from .callbacks import Callback, weights_finite

_META = "__backup__"
_FORMAT = "fastnn.keras.backup"
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_MAX_META_CHARS = 1 << 22           # the JSON metadata: step counts, generator states, slot names


class BackupAndRestore(Callback):
    """Back up the training state in ``backup_dir`` and restore it when ``fit`` is run again.

    Args:
        backup_dir: a directory used only by this callback.
        save_freq: ``'epoch'`` or a number of batches.
        double_checkpoint: also keep the previous backup, used if the latest one cannot be read.
        delete_checkpoint: delete the backup when ``fit`` finishes.
    """

    FILE = "backup.npz"
    PREVIOUS = "backup.prev.npz"

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: backup_dir must be a directory path, got an empty value")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, (int, np.integer))
                                     or save_freq < 1):
            raise ValueError(f"BackupAndRestore: save_freq must be 'epoch' or a positive int, got {save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._path = os.path.join(self.backup_dir, self.FILE)
        self._prev_path = os.path.join(self.backup_dir, self.PREVIOUS)
        self._current_epoch = 0
        self._batches = 0

    # ------------------------------------------------------------ restore
    def on_train_begin(self, logs=None):
        self._batches = 0
        self._current_epoch = 0
        paths = [self._path] + ([self._prev_path] if self.double_checkpoint else [])
        errors = []
        for path in paths:
            if not os.path.exists(path):
                continue
            try:
                state = self._read(path)
            except ValueError as exc:
                errors.append(str(exc))
                continue
            self._apply(state)
            return
        if errors:
            raise ValueError("; ".join(errors))

    def _read(self, path):
        """Read and check a backup file: everything is validated before the model is touched."""
        model = self.model
        where = f"BackupAndRestore: {path}"
        weights = model.weights
        trainable = model._trainable()[1]

        def expected(name):
            """(shape, dtype kinds) a member may have, or None when the name is not one of ours."""
            parts = name.split(":")
            if name == _META:
                return None, "U"
            if len(parts) == 2 and parts[0] == "w" and parts[1].isdigit() and int(parts[1]) < len(weights):
                return weights[int(parts[1])].shape, "f"
            if len(parts) == 3 and parts[0] == "opt" and parts[1].isdigit() and int(parts[1]) < len(trainable):
                return trainable[int(parts[1])].shape, "f"
            return None

        arrays = _read_checked(path, expected, where)
        if _META not in arrays or arrays[_META].dtype.kind != "U" or arrays[_META].ndim != 0:
            raise ValueError(f"{where} has no backup metadata")
        try:
            meta = json.loads(str(arrays.pop(_META)))
        except ValueError:
            raise ValueError(f"{where}: the backup metadata is not valid JSON") from None
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise ValueError(f"{where} is not a fastnn.keras backup")
        epoch = meta.get("epoch")
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"{where}: bad epoch number {epoch!r}")

        n = meta.get("n_weights")
        if n != len(weights):
            raise ValueError(f"{where} holds {n} weight arrays, the model '{model.name}' has {len(weights)}; "
                             f"was it written for another model?")
        new_weights = []
        for i, w in enumerate(weights):
            a = arrays.get(f"w:{i}")
            if a is None or a.shape != w.shape or a.dtype.kind not in "f":
                raise ValueError(f"{where}: weight {i} should be a float array of shape {w.shape}, "
                                 f"the file has {None if a is None else (a.shape, str(a.dtype))}")
            new_weights.append(a.astype(w.dtype, copy=False))

        opt_state = None
        opt = model.optimizer
        saved_opt = meta.get("optimizer")
        if opt is not None and isinstance(saved_opt, dict):
            keys, params = model._trainable()
            slots = {}
            for index, names in (saved_opt.get("slots") or {}).items():
                i = int(index) if str(index).isdigit() else -1
                if not 0 <= i < len(keys) or not isinstance(names, list):
                    raise ValueError(f"{where}: optimizer state for trainable weight {index!r}, "
                                     f"the model has {len(keys)}")
                key, shape = keys[i], params[i].shape
                slots[key] = {}
                for sname in names:
                    a = arrays.get(f"opt:{i}:{sname}")
                    if not isinstance(sname, str) or a is None or a.shape != shape or a.dtype.kind != "f":
                        raise ValueError(f"{where}: optimizer slot {sname!r} of {key!r} should have shape "
                                         f"{shape}, the file has {None if a is None else a.shape}")
                    slots[key][sname] = np.array(a)
            iterations, lr = saved_opt.get("iterations"), saved_opt.get("learning_rate")
            if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
                raise ValueError(f"{where}: bad optimizer step count {iterations!r}")
            if not isinstance(lr, (int, float)) or not np.isfinite(lr) or lr < 0:
                raise ValueError(f"{where}: bad learning rate {lr!r}")
            opt_state = {"slots": slots, "iterations": iterations, "learning_rate": float(lr)}

        rngs = meta.get("rng") or {}
        gens = _generators(model)
        for name, state in rngs.items():
            gen = gens.get(name)
            if gen is None or not isinstance(state, dict) or state.get("bit_generator") not in _BIT_GENERATORS \
                    or state.get("bit_generator") != type(gen.bit_generator).__name__:
                raise ValueError(f"{where}: random generator state for {name!r} does not fit the model")
        return {"epoch": epoch, "weights": new_weights, "optimizer": opt_state, "rng": rngs}

    def _apply(self, state):
        model = self.model
        model.set_weights(state["weights"])
        if state["optimizer"] is not None:
            opt = model.optimizer
            opt.slots = state["optimizer"]["slots"]
            opt.iterations = state["optimizer"]["iterations"]
            opt.learning_rate = state["optimizer"]["learning_rate"]
        gens = _generators(model)
        for name, s in state["rng"].items():
            try:
                gens[name].bit_generator.state = s
            except (TypeError, ValueError, KeyError) as exc:
                raise ValueError(f"BackupAndRestore: {self._path}: bad random generator state for {name!r} "
                                 f"({exc})") from None
        self._current_epoch = state["epoch"]
        model._initial_epoch = state["epoch"]

    # --------------------------------------------------------------- save
    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        if self.save_freq == "epoch":
            self._save()

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches += 1
        if self._batches % self.save_freq == 0:          # counted across epochs, as Keras does
            self._save()

    def _save(self):
        model = self.model
        if not weights_finite(model):
            return                              # keep the last good backup
        arrays = {f"w:{i}": w for i, w in enumerate(model.weights)}
        meta = {"format": _FORMAT, "version": 1, "epoch": self._current_epoch, "n_weights": len(arrays),
                "rng": {name: g.bit_generator.state for name, g in _generators(model).items()}}
        opt = model.optimizer
        if opt is not None:
            # Slots by the weight's position (names such as 'dense_3/kernel' change between runs).
            index = {key: i for i, key in enumerate(model._trainable()[0])}
            meta["optimizer"] = {"iterations": int(opt.iterations), "learning_rate": float(opt.learning_rate),
                                 "slots": {str(index[k]): list(v) for k, v in opt.slots.items() if k in index}}
            for key, slots in opt.slots.items():
                for sname, value in slots.items():
                    if key in index:
                        arrays[f"opt:{index[key]}:{sname}"] = value
        arrays[_META] = np.array(json.dumps(meta))
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        if self.double_checkpoint and os.path.exists(self._path):
            os.replace(self._path, self._prev_path)
        _atomic.write_bytes(self._path, buf.getvalue())

    def on_train_end(self, logs=None):
        if not self.delete_checkpoint:
            return
        for path in (self._path, self._prev_path):
            if os.path.exists(path):
                os.remove(path)
        try:
            os.rmdir(self.backup_dir)           # only if nothing else is in it
        except OSError:
            pass


def _generators(model):
    """The model's random generators: 'model' (shuffling) and 'layer:<index>' for each layer that has one."""
    gens = {}
    if isinstance(getattr(model, "_rng", None), np.random.Generator):
        gens["model"] = model._rng
    for i, layer in enumerate(model.layers):        # by position: auto names change between runs
        if isinstance(getattr(layer, "_rng", None), np.random.Generator):
            gens[f"layer:{i}"] = layer._rng
    return gens


def _read_checked(path, expected, where):
    """The arrays of an .npz, each member's header (name, dtype, shape) checked before its data is read.

    ``expected(name)`` gives ``(shape, dtype kinds)`` for a member we wrote (shape None: a string
    scalar of bounded size) or None for a name that has no place in a backup.
    """
    arrays = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                name = info.filename[:-4] if info.filename.endswith(".npy") else None
                want = expected(name) if name is not None else None
                if want is None:
                    raise ValueError(f"unexpected member {info.filename!r}")
                shape, kinds = want
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0)
                    got_shape, _, dtype = read_header(fh)
                if dtype.kind not in kinds or dtype.hasobject:
                    raise ValueError(f"member {name!r} has dtype {dtype}, expected kind {kinds!r}")
                if shape is None:
                    if got_shape != () or dtype.itemsize > 4 * _MAX_META_CHARS:
                        raise ValueError(f"member {name!r} is not a string of at most {_MAX_META_CHARS} characters")
                elif tuple(got_shape) != tuple(shape):
                    raise ValueError(f"member {name!r} has shape {tuple(got_shape)}, the model needs {tuple(shape)}")
                with zf.open(info) as fh:
                    arrays[name] = np.lib.format.read_array(fh, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"{where} is not a backup of this model ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise ValueError(f"{where} is not a readable backup ({type(exc).__name__}: {exc})") from None
    return arrays
