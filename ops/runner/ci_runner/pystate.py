"""The Python state file (/run/ci/state.in, /run/ci/state.out), written and
read only inside the container; the host never unpickles it.  The child
(already the sandbox user) writes it through a descriptor the runner opened
(STATE_TMP); the runner renames it to state.out after the run:

    cloudpickle.dumps({
        "format": "ci-state", "version": 1,
        "vars":    {name: value, ...},       # picklable user globals
        "modules": {name: "module.name"},    # globals bound to modules,
    })                                       # re-imported by name on load

Dunder names are never saved; variables that fail to pickle are skipped with
a warning "state: skipped variable 'f' (cannot pickle TextIOWrapper)".
Functions defined by the user keep sharing one globals dict across restores
(the restored functions' globals dict becomes the new run's globals).
"""

import importlib
import os
import types

from .config import MAX_WARNINGS, STATE_IN


def pickler():
    try:
        import cloudpickle
        return cloudpickle
    except ImportError:
        import pickle
        return pickle


def load_state(warnings):
    """Returns the globals dict to run in, or None (with a warning)."""
    import importlib
    import types
    try:
        with open(STATE_IN, "rb") as f:
            blob = f.read()
    except OSError as e:
        warnings.append("state: cannot read state (%s)" % e.strerror)
        return None
    try:
        payload = pickler().loads(blob)
        if not isinstance(payload, dict) or payload.get("format") != "ci-state":
            raise ValueError("not a ci-state file")
        values = dict(payload.get("vars") or {})
        modules = dict(payload.get("modules") or {})
    except BaseException as e:
        warnings.append("state: cannot load state (%s)" % type(e).__name__)
        return None
    g = None
    for v in values.values():
        cand = getattr(v, "__globals__", None)
        if isinstance(v, types.FunctionType) and \
                cand.get("__name__") == "__main__":
            g = cand
            break
    if g is None:
        g = {}
    g.update(values)
    for name, modname in modules.items():
        try:
            g[name] = importlib.import_module(modname)
        except BaseException as e:
            warnings.append("state: cannot re-import module '%s' (%s)"
                            % (modname, type(e).__name__))
    return g


def save_state(g, info, fd):
    import types
    pk = pickler()
    values, modules = {}, {}
    for name, v in list(g.items()):
        if name.startswith("__") and name.endswith("__"):
            continue
        if isinstance(v, types.ModuleType):
            modules[name] = v.__name__
        else:
            values[name] = v

    def dump(vals):
        return pk.dumps({"format": "ci-state", "version": 1,
                         "vars": vals, "modules": modules})
    try:
        blob = dump(values)
    except BaseException:
        good = {}
        for name, v in values.items():
            try:
                pk.dumps(v)
                good[name] = v
            except BaseException as e:
                add_warning(info, "state: skipped variable '%s' (cannot "
                            "pickle %s)" % (name, type(v).__name__))
        try:
            blob = dump(good)
        except BaseException as e:
            add_warning(info, "state: cannot save state (%s)"
                        % type(e).__name__)
            return
    try:   # the fd the runner opened (STATE_TMP): whatever the program
        os.ftruncate(fd, 0)            # wrote there before is dropped
        view = memoryview(blob)
        off = 0
        while off < len(view):
            off += os.pwrite(fd, view[off:off + (1 << 20)], off)
        info["state_saved"] = True
    except OSError as e:
        add_warning(info, "state: cannot write state (%s)" % e.strerror)


def add_warning(info, msg):
    if len(info["warnings"]) < MAX_WARNINGS:
        info["warnings"].append(msg)
