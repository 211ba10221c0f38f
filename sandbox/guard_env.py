"""What the tests see, and the means to put it back after a program had its turn.

Standard library only: the runner is this file, then ``guard.py``, then ``child.py``
(``container.RUNNER_SOURCE``), so the names bound here exist before any program does. Code
that runs after a program (``Environment.clean``, ``Environment.restore``) calls only these
bound names, never a builtin looked up at call time, and touches the program's objects only
by identity, iteration of exact built-in containers and descriptors of ``type`` itself, so
that none of the program's code can run inside it.
"""
import builtins
import os
import sys
from _operator import is_ as _is
from itertools import chain as _chain

_ModuleType = type(sys)
_MappingProxy = type(type.__dict__)
_type, _len, _map, _all, _list, _tuple, _zip, _str = type, len, map, all, list, tuple, zip, str
_from_iterable = _chain.from_iterable
_dict_values, _dict_items, _proxy_values = dict.values, dict.items, _MappingProxy.values
# Descriptors of ``type`` itself, called directly: no metaclass of the program's can intercept them.
_class_dict = type.__dict__["__dict__"].__get__
_class_bases = type.__dict__["__bases__"].__get__
_set_class_bases = type.__dict__["__bases__"].__set__
_class_name = type.__dict__["__name__"].__get__
_class_flags = type.__dict__["__flags__"].__get__
_class_setattr, _class_delattr, _object_setattr = type.__setattr__, type.__delattr__, object.__setattr__
_module_dict = _ModuleType.__dict__["__dict__"].__get__
_IMMUTABLE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE: a type written in C, which no program can patch
_getcwd, _chdir = os.getcwd, os.chdir
_modules = sys.modules  # the interpreter's own dict: rebinding ``sys.modules`` does not replace it
_builtins_dict = builtins.__dict__


class Environment:
    """The tests' view of the interpreter, frozen, and restored after every turn of the program.

    Watched: every module in ``sys.modules`` (its dict and ``__class__``); the Python classes
    in them (dict, bases, metaclass); the lists, dicts and sets they hold; the ``__dict__`` of
    the objects they hold. Modules the program imported stay the program's: lent back to it
    for each turn (``lend``), never shown to the tests, which import their own copy.
    """

    def __init__(self) -> None:
        self.grave = []  # what restoring removes stays referenced: no finaliser of the program's runs here
        self.program_modules = {}
        self.known = set()
        self.dicts, self.lists, self.sets, self.classes, self.proxies, self.mods = [], [], [], [], [], []
        self.cwd = os.getcwd()
        self.adopt()

    # -- what is watched (runs before the program, or with the tests' view in place)
    def adopt(self) -> None:
        """Watch every module now loaded, and freeze the current state as the tests' view."""
        for first in (_modules, _builtins_dict, sys.__dict__):  # the three ``track`` compares, first in line
            self._watch(first, self.dicts)
        for name, module in list(_modules.items()):
            if name != "__main__" and type(module) is _ModuleType and self._watch(module, self.mods):
                self._watch_namespace(_module_dict(module))
        self._freeze()

    def _watch(self, obj, into: list) -> bool:
        if id(obj) in self.known:
            return False
        self.known.add(id(obj))
        into.append(obj)
        return True

    def _watch_namespace(self, namespace: dict) -> None:
        self._watch(namespace, self.dicts)
        for name, value in list(namespace.items()):
            t = type(value)
            if t is dict:
                self._watch(value, self.dicts)
            elif t is list and name != "__all__":  # names for star-imports: the values they name are watched
                self._watch(value, self.lists)
            elif t is set:
                self._watch(value, self.sets)
            elif isinstance(value, type):
                if not _class_flags(value) & _IMMUTABLE and self._watch(value, self.classes):
                    self.proxies.append(_class_dict(value))
            elif not _class_flags(t) & _IMMUTABLE and t is not _ModuleType:
                state = getattr(value, "__dict__", None)  # an object of a Python class
                if type(state) is dict:
                    self._watch(state, self.dicts)

    def _freeze(self) -> None:
        self.saved_dicts = [(d, tuple(d), tuple(d.values())) for d in self.dicts]
        self.saved_classes = [(c, p, dict(p), _class_bases(c), type(c)) for c, p in zip(self.classes, self.proxies)]
        self.saved_lists = [(s, tuple(s)) for s in self.lists]
        self.saved_sets = [(s, tuple(s)) for s in self.sets]
        self.mod_types = tuple(map(type, self.mods))
        self.tests_modules = frozenset(_modules)
        self.dict_state = ([len(d) for d in self.dicts], tuple(_from_iterable(self.dicts)),
                           tuple(_from_iterable(map(_dict_values, self.dicts))))
        self.seqs = self.lists + self.sets
        self._freeze_seqs()
        self._freeze_classes()

    # ``restore`` may rebuild a set or a class dict: same contents, maybe another order; these
    # record the order anew, with bound names only.
    def _freeze_seqs(self) -> None:
        self.seq_state = (_list(_map(_len, self.seqs)), _tuple(_from_iterable(self.seqs)))

    def _freeze_classes(self) -> None:
        self.class_state = (_list(_map(_len, self.proxies)), _tuple(_from_iterable(self.proxies)),
                            _tuple(_from_iterable(_map(_proxy_values, self.proxies))))

    # -- comparing: identities at C speed, nothing of the program's runs
    def _dicts_clean(self) -> bool:
        lens, keys, values = self.dict_state
        return (_list(_map(_len, self.dicts)) == lens and _all(_map(_is, _from_iterable(self.dicts), keys))
                and _all(_map(_is, _from_iterable(_map(_dict_values, self.dicts)), values)))

    def _seqs_clean(self) -> bool:
        lens, items = self.seq_state
        return _list(_map(_len, self.seqs)) == lens and _all(_map(_is, _from_iterable(self.seqs), items))

    def _classes_clean(self) -> bool:
        lens, keys, values = self.class_state
        return (_list(_map(_len, self.proxies)) == lens and _all(_map(_is, _from_iterable(self.proxies), keys))
                and _all(_map(_is, _from_iterable(_map(_proxy_values, self.proxies)), values))
                and _all(_map(_is, _map(_class_bases, self.classes), (c[3] for c in self.saved_classes)))
                and _all(_map(_is, _map(_type, self.classes), (c[4] for c in self.saved_classes))))

    def _modules_clean(self) -> bool:
        return _all(_map(_is, _map(_type, self.mods), self.mod_types))

    def clean(self) -> bool:
        return self._dicts_clean() and self._seqs_clean() and self._classes_clean() and self._modules_clean()

    # -- the two directions
    def track(self) -> None:
        """Before a turn of the program: what differs now in ``sys.modules``, ``builtins`` or ``sys``,
        the tests did (imports, a patched ``input``); it becomes their view. Only those three are
        compared, for speed: a change the tests make elsewhere lasts until the program's next turn."""
        for d, keys, values in self.saved_dicts[:3]:
            if _len(d) != _len(keys) or not _all(_map(_is, d, keys)) or not _all(_map(_is, _dict_values(d), values)):
                self.adopt()  # modules the tests imported join what is watched
                break
        for name, module in self.program_modules.items():
            if name not in self.tests_modules:  # a module the tests have too: the program uses theirs, restored after
                _modules[name] = module

    def restore(self) -> None:
        """After a turn of the program: put the tests' view back. Raises RuntimeError if it cannot."""
        self._take_program_modules()
        if _getcwd() != self.cwd:
            _chdir(self.cwd)
        repaired = []
        if not self._modules_clean():
            for module, t in _zip(self.mods, self.mod_types):
                if _type(module) is not t:
                    self.grave.append(_type(module))
                    _object_setattr(module, "__class__", t)
            repaired.append(self._modules_clean)
        if not self._dicts_clean():
            for d, keys, values in self.saved_dicts:
                self._restore_dict(d, keys, values)
            repaired.append(self._dicts_clean)
        if not self._seqs_clean():
            for s, contents in self.saved_lists + self.saved_sets:
                if _len(s) != _len(contents) or not _all(_map(_is, s, contents)):
                    self.grave.append(_list(s))
                    s.clear()
                    if _type(s) is _list:
                        s.extend(contents)
                    else:
                        s.update(contents)
            self._freeze_seqs()
            repaired.append(self._seqs_clean)
        if not self._classes_clean():
            # Metaclasses before their classes, so that no descriptor the program left on a
            # metaclass takes part in restoring a class (``type`` itself cannot be patched).
            for metaclass_is_type in (True, False):
                for saved in self.saved_classes:
                    if (saved[4] is type) is metaclass_is_type:
                        self._restore_class(*saved)
            self._freeze_classes()
            repaired.append(self._classes_clean)
        for check in repaired:
            if not check():
                raise RuntimeError("the program changed the environment in a way that could not be undone")

    def _take_program_modules(self) -> None:
        items = _list(_dict_items(_modules))
        for name, module in items:
            if _type(name) is _str and name not in self.tests_modules:
                old = self.program_modules.get(name)
                if old is not None and old is not module:
                    self.grave.append(old)
                self.program_modules[name] = module
        modules, keys, values = self.saved_dicts[0]
        self._restore_dict(modules, keys, values)

    def _restore_dict(self, d: dict, keys: tuple, values: tuple) -> None:
        if _len(d) == _len(keys) and _all(_map(_is, d, keys)) and _all(_map(_is, _dict_values(d), values)):
            return
        self.grave.append(_list(_dict_items(d)))  # copied by iteration: no key of the program's is hashed
        d.clear()
        d.update(_zip(keys, values))

    def _restore_class(self, cls, proxy, contents: dict, bases: tuple, meta) -> None:
        if _type(cls) is not meta:
            self.grave.append(_type(cls))
            _object_setattr(cls, "__class__", meta)
        if _class_bases(cls) is not bases:
            self.grave.append(_class_bases(cls))
            _set_class_bases(cls, bases)
        if _len(proxy) == _len(contents) and _all(_map(_is, _proxy_values(proxy), _dict_values(contents))) \
                and _all(_map(_is, proxy, contents)):
            return
        self.grave.append(_list(_zip(proxy, _proxy_values(proxy))))
        for name in _list(proxy):  # class dict keys are always exact str: type.__setattr__ makes them so
            if name not in contents:
                _class_delattr(cls, name)
        for name, value in _dict_items(contents):
            if proxy.get(name) is not value:
                _class_setattr(cls, name, value)
