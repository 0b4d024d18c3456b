"""Read the book's ``.pkl`` parameter files without unpickling them.

The book saves ``pickle.dump(params, f)`` with ``params`` a dict of NumPy
arrays. ``pickle.load`` would call whatever the file names, and even a
``find_class`` allow-list of NumPy's own constructors is not safe: the state
a file hands to ``numpy.dtype.__setstate__`` can turn a float dtype into an
object dtype, and the array's raw bytes then become object pointers.

So this module never unpickles. It walks the opcode stream with
:func:`pickletools.genops` (a parser that only decodes opcodes and their
arguments) and runs a small stack machine of its own over it, in which the
few NumPy callables a pickled array refers to are inert tokens. No NumPy or
Python object is ever built from file-supplied state: each array is made
here, by ``np.frombuffer(data, dtype).reshape(shape)``, after checking that

* the dtype is a plain bool, integer or float type from :data:`PLAIN_CODES`,
  with a byte order, and the rest of its pickled state is the default one;
* the shape is a tuple of at most 32 non-negative ints;
* the data is a bytes string of exactly ``prod(shape) * itemsize`` bytes;
* all arrays together hold no more bytes than the file (so memory is
  bounded by the file's size, whatever the memo references);

and the result is one dict of such arrays under string keys. Anything else
(another global, an opcode outside the short list, a malformed or
truncated stream, an object dtype, a shape that does not match its data)
raises :class:`UnsafePickleError`, a ``ValueError`` naming the file.
"""
import math
import pickle
import pickletools

import numpy as np

__all__ = ["UnsafePickleError", "read_book_pickle", "PLAIN_CODES", "plain_dtype"]

#: dtype codes a parameter array may have: bool, signed and unsigned ints, floats.
PLAIN_CODES = frozenset(
    ["b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"]
)
_BYTE_ORDERS = frozenset("<>|=")
#: Most dimensions an array may have (NumPy allows 64).
MAX_NDIM = 32
#: Most opcodes one file may hold: the book's files use a few hundred; this
#: bounds the Python objects the stack machine keeps (tuples, ints) to a
#: few tens of MB whatever the file does.
MAX_OPS = 1_000_000


class UnsafePickleError(ValueError, pickle.UnpicklingError):
    """A ``.pkl`` file holds something other than a dict of plain numeric arrays."""


def plain_dtype(code, byte_order):
    """The NumPy dtype for an allow-listed ``code`` ('f8', ...) and byte order, else None."""
    if not (isinstance(code, str) and isinstance(byte_order, str)):
        return None
    if code not in PLAIN_CODES or byte_order not in _BYTE_ORDERS:
        return None
    if code[1] == "1":  # one-byte types have no byte order
        byte_order = "|"
    elif byte_order == "|":
        return None
    return np.dtype(byte_order + code)


# -- inert tokens standing for the globals a pickled array refers to -------------
class _Global:
    __slots__ = ("kind", "label")

    def __init__(self, kind, label):
        self.kind, self.label = kind, label


# NumPy 1.x writes numpy.core.*, NumPy 2 numpy._core.*; both name the same functions.
_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy._core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy", "ndarray"): "ndarray",
    ("numpy", "dtype"): "dtype",
    ("numpy.core.multiarray", "scalar"): "scalar",
    ("numpy._core.multiarray", "scalar"): "scalar",
    ("numpy.core.numeric", "_frombuffer"): "frombuffer",
    ("numpy._core.numeric", "_frombuffer"): "frombuffer",
    ("_codecs", "encode"): "encode",  # protocol 2 writes bytes as encode(str, 'latin1')
    ("__builtin__", "bytes"): "bytes",  # ... and b'' as bytes()
    ("builtins", "bytes"): "bytes",
}


class _DtypeStub:
    """``numpy.dtype(code, False, True)`` before (dtype is None) and after its BUILD."""
    __slots__ = ("code", "dtype")

    def __init__(self, code):
        self.code, self.dtype = code, None


class _ArrayStub:
    """``_reconstruct(ndarray, (0,), b'b')`` before (array is None) and after its BUILD."""
    __slots__ = ("array", "used")

    def __init__(self, array=None):
        self.array, self.used = array, False


class _Dict:
    __slots__ = ("items",)

    def __init__(self):
        self.items = {}


_PRIMITIVES = (int, str, bytes, bytearray, type(None), tuple)

# Opcodes that only push a decoded argument (ints, strings, bytes).
_PUSH_ARG = frozenset([
    "BININT", "BININT1", "BININT2", "LONG1",
    "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
    "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8",
])
_PUT = frozenset(["BINPUT", "LONG_BINPUT", "MEMOIZE"])
_GET = frozenset(["BINGET", "LONG_BINGET"])
_TUPLE_N = {"EMPTY_TUPLE": 0, "TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}


class _Reader:
    def __init__(self, data, name, where):
        self.data, self.name, self.where = data, name, where
        self.stack, self.marks, self.memo = [], [], {}
        self.the_dict = None
        self.array_bytes = 0  # bytes of all arrays made so far

    def fail(self, what):
        raise UnsafePickleError(
            f"{self.where}: {self.name} is not a book parameter file (a pickled dict of plain "
            f"numeric NumPy arrays): {what}"
        )

    def pop(self, op):
        if len(self.stack) <= (self.marks[-1] if self.marks else 0):
            self.fail(f"{op} finds an empty stack")
        return self.stack.pop()

    def pop_mark(self, op):
        if not self.marks:
            self.fail(f"{op} without a MARK")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    # -- the whole stream ---------------------------------------------------
    def run(self):
        count = 0
        stopped_at = None
        for opcode, arg, pos in pickletools.genops(self.data):
            count += 1
            if count > MAX_OPS:
                self.fail(f"more than {MAX_OPS:,} opcodes")
            op = opcode.name
            if op == "STOP":
                stopped_at = pos
                break
            self.step(op, arg)
        if stopped_at is None:
            self.fail("the pickle has no STOP opcode")
        if stopped_at + 1 != len(self.data):
            self.fail(f"{len(self.data) - stopped_at - 1} bytes after the pickle's end")
        if self.marks or len(self.stack) != 1 or not isinstance(self.stack[0], _Dict):
            self.fail("the pickle does not hold one dict")
        return self.finish(self.stack[0])

    def step(self, op, arg):
        stack = self.stack
        if op in _PUSH_ARG:
            if op == "LONG1" and abs(arg) >= 2**63:
                self.fail("an integer beyond 64 bits")
            stack.append(bytes(arg) if op == "BYTEARRAY8" else arg)
        elif op in ("PROTO", "FRAME"):
            if op == "PROTO" and not 2 <= arg <= 5:
                self.fail(f"pickle protocol {arg} (2 to 5 are read)")
        elif op == "NONE":
            stack.append(None)
        elif op in ("NEWTRUE", "NEWFALSE"):
            stack.append(op == "NEWTRUE")
        elif op == "MARK":
            self.marks.append(len(stack))
        elif op in _PUT:
            if not stack:
                self.fail(f"{op} on an empty stack")
            key = len(self.memo) if op == "MEMOIZE" else arg
            self.memo[key] = stack[-1]
        elif op in _GET:
            if arg not in self.memo:
                self.fail(f"{op} of memo entry {arg}, which was never stored")
            stack.append(self.memo[arg])
        elif op == "TUPLE":
            stack.append(tuple(self.pop_mark(op)))
        elif op in _TUPLE_N:
            n = _TUPLE_N[op]
            items = [self.pop(op) for _ in range(n)][::-1]
            stack.append(tuple(items))
        elif op == "EMPTY_DICT":
            if self.the_dict is not None:
                self.fail("more than one dict")
            self.the_dict = _Dict()
            stack.append(self.the_dict)
        elif op == "GLOBAL":
            module, _, name = arg.partition(" ")
            stack.append(self.global_(module, name))
        elif op == "STACK_GLOBAL":
            name = self.pop(op)
            module = self.pop(op)
            if not (isinstance(module, str) and isinstance(name, str)):
                self.fail("STACK_GLOBAL with a module or name that is not a string")
            stack.append(self.global_(module, name))
        elif op == "REDUCE":
            args = self.pop(op)
            func = self.pop(op)
            stack.append(self.reduce(func, args))
        elif op == "BUILD":
            state = self.pop(op)
            target = self.pop(op)
            self.build(target, state)
            stack.append(target)
        elif op == "SETITEM":
            value = self.pop(op)
            key = self.pop(op)
            self.setitems(self.pop_target(op), [key, value])
            stack.append(self.the_dict)
        elif op == "SETITEMS":
            items = self.pop_mark(op)
            self.setitems(self.pop_target(op), items)
            stack.append(self.the_dict)
        else:
            self.fail(f"opcode {op}, which a dict of arrays does not need")

    def pop_target(self, op):
        target = self.pop(op)
        if not isinstance(target, _Dict):
            self.fail(f"{op} on something that is not the dict")
        return target

    # -- globals, calls, states -------------------------------------------------
    def global_(self, module, name):
        kind = _GLOBALS.get((module, name))
        if kind is None:
            shown = f"{module}.{name}"
            self.fail(f"refusing to load {shown[:200]} (only NumPy's array and dtype "
                      "constructors are named in a parameter file)")
        return _Global(kind, f"{module}.{name}")

    def reduce(self, func, args):
        if not isinstance(func, _Global):
            self.fail("a call of something that is not an admitted NumPy constructor")
        if not isinstance(args, tuple):
            self.fail(f"arguments of {func.label} that are not a tuple")
        kind = func.kind
        if kind == "reconstruct":
            if (len(args) != 3 or not isinstance(args[0], _Global) or args[0].kind != "ndarray"
                    or not isinstance(args[2], bytes)):
                self.fail(f"{func.label} with arguments other than (numpy.ndarray, shape, bytes)")
            return _ArrayStub()
        if kind == "dtype":
            if (len(args) != 3 or not isinstance(args[0], str) or args[0] not in PLAIN_CODES
                    or args[1] not in (False, 0) or args[2] not in (True, 1)):
                code = args[0] if args and isinstance(args[0], str) else None
                self.fail(f"a dtype other than bool, int or float ({code!r:.40})")
            return _DtypeStub(args[0])
        if kind == "scalar":
            if len(args) != 2 or not isinstance(args[1], bytes):
                self.fail(f"{func.label} with arguments other than (dtype, bytes)")
            dtype = self.built_dtype(args[0])
            return _ArrayStub(self.make_array(dtype, (), args[1], False))
        if kind == "frombuffer":
            if len(args) != 4 or not isinstance(args[0], bytes) or args[3] not in ("C", "F"):
                self.fail(f"{func.label} with arguments other than (bytes, dtype, shape, order)")
            dtype = self.built_dtype(args[1])
            return _ArrayStub(self.make_array(dtype, args[2], args[0], args[3] == "F"))
        if kind == "bytes":
            if args != ():
                self.fail(f"{func.label} with arguments")
            return b""
        if kind == "encode":
            if (len(args) != 2 or not isinstance(args[0], str)
                    or args[1] not in ("latin1", "latin-1")):
                self.fail(f"{func.label} with arguments other than (str, 'latin1')")
            try:
                return args[0].encode("latin-1")
            except UnicodeEncodeError:
                self.fail("a latin1 string that latin1 cannot encode")
        self.fail(f"a call of {func.label}")

    def build_dtype(self, stub, state):
        # (version 3, byte order, subarray, names, fields, elsize, alignment, flags)
        # version 4 adds metadata; a plain dtype has the defaults everywhere but byte order.
        if not isinstance(state, tuple) or len(state) not in (8, 9):
            self.fail("a dtype whose state is not the one of a plain dtype")
        version, order, subarray, names, fields, elsize, alignment, flags = state[:8]
        metadata = state[8] if len(state) == 9 else None
        if (version not in (3, 4) or subarray is not None or names is not None
                or fields is not None or metadata is not None or elsize != -1
                or alignment != -1 or flags != 0
                or isinstance(elsize, bool) or isinstance(flags, bool)):
            self.fail(f"a dtype {stub.code!r} with a state other than a plain dtype's "
                      "(fields, subarrays, flags or metadata)")
        dtype = plain_dtype(stub.code, order)
        if dtype is None:
            self.fail(f"a dtype {stub.code!r} with byte order {order!r:.10}")
        stub.dtype = dtype

    def built_dtype(self, value):
        if not isinstance(value, _DtypeStub) or value.dtype is None:
            self.fail("an array whose dtype is not a plain, complete numpy.dtype")
        return value.dtype

    def build(self, target, state):
        if isinstance(target, _DtypeStub) and target.dtype is None:
            self.build_dtype(target, state)
        elif isinstance(target, _ArrayStub) and target.array is None:
            # (version 1, shape, dtype, is_fortran, data); old NumPy omits the version
            if isinstance(state, tuple) and len(state) == 5 and state[0] == 1:
                state = state[1:]
            if not isinstance(state, tuple) or len(state) != 4:
                self.fail("an array whose state is not (shape, dtype, fortran, data)")
            shape, dtype, fortran, data = state
            if fortran not in (True, False) or not isinstance(fortran, (bool, int)):
                self.fail("an array whose order flag is not a bool")
            if not isinstance(data, bytes):
                self.fail("an array whose data is not a bytes string (object arrays are refused)")
            target.array = self.make_array(self.built_dtype(dtype), shape, data, bool(fortran))
        else:
            self.fail("a BUILD of something that is not a new array or dtype")

    def make_array(self, dtype, shape, data, fortran):
        if not isinstance(shape, tuple) or len(shape) > MAX_NDIM:
            self.fail(f"an array shape that is not a tuple of at most {MAX_NDIM} ints")
        for d in shape:
            if isinstance(d, bool) or not isinstance(d, int) or d < 0:
                self.fail("an array shape with an entry that is not an int >= 0")
        if math.prod(max(d, 1) for d in shape) > 2**48:
            self.fail(f"an array shape {shape} beyond any memory")
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes != len(data):
            self.fail(f"an array of shape {shape} and dtype {dtype} needs {nbytes} bytes, "
                      f"its data has {len(data)}")
        self.array_bytes += nbytes
        if self.array_bytes > len(self.data):
            self.fail("arrays holding more bytes than the file (shared data)")
        flat = np.frombuffer(data, dtype=dtype)
        array = flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)
        # A C-ordered, native-endian, writable copy that owns its memory.
        return np.array(array, dtype=dtype.newbyteorder("="), order="C", copy=True)

    def setitems(self, target, items):
        if len(items) % 2:
            self.fail("SETITEMS with an odd number of items")
        for key, value in zip(items[0::2], items[1::2]):
            if not isinstance(key, str):
                self.fail("a dict key that is not a string")
            if len(key) > 1000:
                self.fail("a dict key longer than 1000 characters")
            if key in target.items:
                self.fail(f"dict key {key!r} twice")
            if not isinstance(value, _ArrayStub) or value.array is None:
                self.fail(f"dict value {key!r} that is not a complete numeric array")
            array = value.array
            if value.used:  # the same array under a second key: a copy of its own
                self.array_bytes += array.nbytes
                if self.array_bytes > len(self.data):
                    self.fail("arrays holding more bytes than the file (shared data)")
                array = array.copy()
            value.used = True
            target.items[key] = array

    def finish(self, the_dict):
        return dict(the_dict.items)


def read_book_pickle(data, name, where="load_params"):
    """The dict of arrays in pickle bytes ``data`` (from file ``name``), or UnsafePickleError.

    ``where`` (the function reading) and ``name`` start the error messages.

    Every array is C-contiguous, native-endian, writable and owns its memory.
    """
    reader = _Reader(bytes(data), name, where)
    try:
        return reader.run()
    except UnsafePickleError:
        raise
    except RecursionError:
        reader.fail("nesting too deep")
    except MemoryError:
        reader.fail("not enough memory")
    except Exception as exc:  # genops on a malformed stream: ValueError, struct.error, ...
        reader.fail(f"a malformed pickle stream ({type(exc).__name__}: {str(exc)[:200]})")
