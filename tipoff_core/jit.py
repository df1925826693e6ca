"""numba kernels that cost nothing until they run.

Loading the code location must stay cheap (issue 13 item 4: `dagster dev`, every CLI call and every
run process import the definitions), and `import numba` alone costs ~0.4 s.  So numba follows the
rule for every heavy library (numba, scipy, sklearn, LightGBM, XGBoost, MLflow, matplotlib, redis,
requests, SQLAlchemy): it is imported where it is used, never at a module's top.  For numba the
place of use is the first call of a kernel, hence this decorator:

    @njit(cache=True, nogil=True)
    def _kernel(...): ...

is `numba.njit(cache=True, nogil=True)` applied on the kernel's first call (numba imported then;
with `cache=True` the machine code comes from numba's disk cache, `__pycache__` beside the source or
`NUMBA_CACHE_DIR`, so only the very first process compiles).  A kernel may call other `njit`
kernels of its module: they are compiled first and numba sees them as compiled functions.
`tests/test_lazy_imports.py` keeps the definitions free of these libraries.
"""
from __future__ import annotations

import functools
import threading
import types
from collections.abc import Callable
from typing import Any

_LOCK = threading.RLock()  # one compilation at a time (kernels are called from worker threads)


class LazyKernel:
    """A numba kernel compiled on first use; calling it calls the compiled function."""

    def __init__(self, func: Callable, options: dict[str, Any]):
        functools.update_wrapper(self, func)
        self.py_func = func
        self._options = options
        self._compiled: Callable | None = None

    def compiled(self) -> Callable:
        """The numba dispatcher (imports numba and compiles or loads from cache the first time)."""
        if self._compiled is None:
            with _LOCK:
                if self._compiled is None:
                    self._compiled = self._compile()
        return self._compiled

    def _compile(self) -> Callable:
        import numba

        func = self.py_func
        calls = {name: dep.compiled() for name in func.__code__.co_names
                 if isinstance(dep := func.__globals__.get(name), LazyKernel) and dep is not self}
        if calls:  # numba reads globals when it types the kernel: give it the compiled callees
            func = types.FunctionType(func.__code__, {**func.__globals__, **calls}, func.__name__,
                                      func.__defaults__, func.__closure__)
            func.__qualname__ = self.py_func.__qualname__
        return numba.njit(**self._options)(func)

    def __call__(self, *args, **kwargs):
        return self.compiled()(*args, **kwargs)


def njit(**options: Any) -> Callable[[Callable], LazyKernel]:
    """`numba.njit(**options)`, deferred to the kernel's first call."""
    return lambda func: LazyKernel(func, options)
