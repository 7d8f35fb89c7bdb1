"""Record: the base of nbgpu's setup records (the parsed flags and what each setup stage returns).

A record declares its fields as class annotations, with defaults where it has them; they become
its __slots__, so no other attribute can be set, and once built it is read-only.  (Like a frozen
dataclass with slots, without generating code at import: a dataclass of the flags' hundred
fields costs more than a small render's whole start-up.)
"""


def annotated_names(namespace) -> tuple:
    """The names a class body annotates, in order.  From Python 3.14 (PEP 649) a body without
    `from __future__ import annotations` keeps them behind an annotate function instead of
    __annotations__."""
    if "__annotations__" in namespace:
        return tuple(namespace["__annotations__"])
    try:
        import annotationlib
    except ImportError:                 # before 3.14: no annotations at all
        return ()
    annotate = annotationlib.get_annotate_from_class_namespace(namespace)
    if annotate is None:
        return ()
    return tuple(annotationlib.call_annotate_function(annotate, annotationlib.Format.FORWARDREF))


class _RecordType(type):
    def __new__(mcs, name, bases, namespace):
        own = annotated_names(namespace)
        defaults = {}
        for base in bases:
            defaults.update(getattr(base, "_defaults", {}))
        defaults.update({field: namespace.pop(field) for field in own if field in namespace})
        namespace["__slots__"] = own
        namespace["_fields"] = tuple(f for base in bases for f in getattr(base, "_fields", ())) + own
        namespace["_defaults"] = defaults
        return super().__new__(mcs, name, bases, namespace)


class Record(metaclass=_RecordType):
    """Fields given as keywords (missing ones take their defaults); read-only afterwards."""

    def __init__(self, **values):
        unknown = [name for name in values if name not in self._fields]
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(unknown)}")
        for name in self._fields:
            if name in values:
                value = values[name]
            elif name in self._defaults:
                value = self._defaults[name]
            else:
                raise TypeError(f"{type(self).__name__} needs {name}")
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is read-only: make a new one with replace()")

    @classmethod
    def fields(cls) -> tuple:
        return cls._fields

    @classmethod
    def defaults(cls) -> dict:
        return dict(cls._defaults)

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self._fields}

    def replace(self, **changes):
        """A copy with some fields changed."""
        return type(self)(**{**self.as_dict(), **changes})

    def __reduce__(self):
        """Pickled by its fields (records travel to and from Dask workers)."""
        return _rebuild, (type(self), self.as_dict())

    def __eq__(self, other):
        return type(other) is type(self) and self.as_dict() == other.as_dict()

    def __hash__(self):
        return hash(tuple(repr(v) for v in self.as_dict().values()))

    def __repr__(self):
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items()) + ")"


def _rebuild(cls, values):
    return cls(**values)
