"""The machinery of a C program's argument scan, as nanoBragg and its companions (nonBragg,
noisify) write it: every word that starts with '-' is tested against a fixed list of branches,
in source order, by substring (a few by exact match or exact length); every branch that matches
fires, unless one ends the word ("stop", the C `continue`).  Values are never consumed, so a
value that starts with '-' is tested too.  A program's table of rules (a FlagTable) reproduces
its quirks without a special case for any of them.

What we add, and the C programs do not do: a flag the user typed with a missing, non-numeric,
NaN/inf or impossible value is an error naming the flag; unknown flags and stray words get a
warning on stderr.  Values reached only through a substring collision are converted silently
with C's atof/atoi, as the C does.
"""
from __future__ import annotations

import threading

from types import SimpleNamespace

from nbgpu.base.cnumbers import RTD, atof, atoi, checked, is_number
from nbgpu.base.errors import InputError

# ---------------------------------------------------------------------------------------
# value conversions: each takes the list of value words and whether to validate

class Value:
    """One value of a flag: word index, C conversion, then scaling, then a check.  (Plain
    classes here: typing's NamedTuple is a noticeable share of a small render's start-up.)"""
    __slots__ = ("index", "kind", "op", "check")

    def __init__(self, index=0, kind="f", op=None, check=""):
        self.index = index
        self.kind = kind                  # "f" atof, "i" atoi, "s" the word itself
        self.op = op                      # applied to the converted number, or None
        self.check = check                # "", "positive"


def per(divisor):
    return lambda x: x / divisor


def times(factor):
    return lambda x: x * factor


MM = per(1000.0)          # mm -> m, as nanoBragg divides
DEG = per(RTD)            # degrees -> rad


def convert(flag: str, words: list[str], spec: Value, strict: bool):
    word = words[spec.index]
    if spec.kind == "s":
        return word
    if strict:
        if not is_number(word):
            raise InputError(f"{flag}: expected a number, got {word!r}")
        checked(flag, float(word), spec.check, word)
    if spec.kind == "i":
        value = atoi(word)
        if strict and value != float(word):
            warn(f"{flag} {word} is read as {value} (an integer), as {getattr(_parsing, 'program', 'nanoBragg')} does")
        return value
    value = atof(word)
    return spec.op(value) if spec.op else value


def num(index=0, op=None, check=""):
    return Value(index, "f", op, check)


def integer(index=0, check="", op=None):
    return Value(index, "i", op, check)


def word(index=0):
    return Value(index, "s")


def vec3():
    return [num(0), num(1), num(2)]


class Rule:
    """One branch of nanoBragg's argument scan.

    names: the branch fires if any of them is a substring of the word (match="exact": equal;
    an int: substring and that total length; ">n": substring and longer than n).
    nargs: values it needs after the word (it silently does nothing with fewer).
    sets: setting -> Value, list of Values, or a constant.
    action: for the few irregular branches, called as (draft, flag, words, strict).
    nbgpu: our addition, not a nanoBragg flag.
    needs_next: -curved_det: no value, but fires only if a word follows.
    upto_dash: -cell: reads up to 6 values, stopping at a word that starts with '-'.
    """
    __slots__ = ("names", "nargs", "sets", "match", "stop", "action", "nbgpu", "needs_next", "upto_dash")

    def __init__(self, names, nargs=0, sets=None, match="substr", stop=False, action=None, nbgpu=False,
                 needs_next=False, upto_dash=False):
        self.names, self.nargs, self.sets, self.match = names, nargs, sets or {}, match
        self.stop, self.action, self.nbgpu, self.needs_next = stop, action, nbgpu, needs_next
        self.upto_dash = upto_dash


def R(names, nargs=0, match="substr", stop=False, action=None, nbgpu=False, needs_next=False, upto_dash=False,
      **sets):
    names = (names,) if isinstance(names, str) else tuple(names)
    return Rule(names, nargs, sets, match, stop, action, nbgpu, needs_next, upto_dash)



_parsing = threading.local()   # the warnings of the parse under way (API calls may run in threads)


def warn(message: str):
    """A warning for the user from the parse under way (actions call it)."""
    _parsing.warnings.append(message)


def matches(rule: Rule, text: str) -> bool:
    if rule.match == "exact":
        return text in rule.names
    if not any(name in text for name in rule.names):
        return False
    if isinstance(rule.match, int):
        return len(text) == rule.match
    if isinstance(rule.match, str) and rule.match.startswith(">"):
        return len(text) > int(rule.match[1:])
    return True


def apply_rule(rule: Rule, draft, flag: str, words: list[str], strict: bool):
    """Fire one branch; returns "stop" when the C branch ends with `continue`."""
    for name, spec in rule.sets.items():
        if isinstance(spec, Value):
            value = convert(flag, words, spec, strict)
            if spec.kind == "i" and spec.op:
                value = spec.op(value)
        elif isinstance(spec, list):
            value = [convert(flag, words, s, strict) for s in spec]
        else:
            value = spec
        setattr(draft, name, value)
    result = rule.action(draft, flag, words, strict) if rule.action else None
    return "stop" if rule.stop or result == "stop" else None


def values_used(rule: Rule, following: list[str]) -> int:
    """How many of the following words the branch reads."""
    if rule.upto_dash:
        n = 0
        while n < min(6, len(following)) and not following[n].startswith("-"):
            n += 1
        return n
    return rule.nargs


class FlagTable:
    """One program's rules (in its source order) and the record its parse fills; `program`
    names it in warnings.

    prescan: names whose word and value the program reads before its main scan (nanoBragg's
    -img/-mask): they count as used, whatever the table says."""

    def __init__(self, program: str, rules: list, record, prescan=()):
        self.program, self.rules, self.record, self.prescan = program, rules, record, tuple(prescan)
        self.known_names = {name for rule in rules for name in rule.names}
        self._matching = {}      # word -> the rules it matches, in table order (a batch parses the same words often)

    def rules_matching(self, text: str) -> tuple:
        rules = self._matching.get(text)
        if rules is None:
            rules = tuple(rule for rule in self.rules if matches(rule, text))
            if len(self._matching) < 10000:
                self._matching[text] = rules
        return rules

    def ignored_last(self, word: str) -> bool:
        """Whether the program ignores `word` as the last word of its command line (a flag that
        acts only when another word follows it: -curved_det)."""
        return word.startswith("-") and any(rule.needs_next for rule in self.rules_matching(word))

    def extended(self, words, more) -> list:
        """`words` with nbgpu's `more` after them (a batch's -noprogress, a frame's or the API's
        keyword flags), each meaning what it means alone: a last word of `words` that the program
        ignores there stays last, so `more` cannot make it act; one of `more` acts."""
        words, more = list(words), list(more)
        if more and self.ignored_last(more[-1]):
            # nbgpu's own switch (curved_det=True) is meant to act: it goes first, where no
            # last-word rule applies (no flag undoes it, so its place changes nothing else)
            return self.extended(more[-1:] + words, more[:-1])
        if more and words and self.ignored_last(words[-1]):
            return words[:-1] + more + words[-1:]
        return words + more

    def draft(self, start=None) -> SimpleNamespace:
        """A mutable copy of the record's defaults (vectors as lists), with `start` (field ->
        value) applied: what parsing works on."""
        values = {name: list(value) if isinstance(value, tuple) else value
                  for name, value in self.record.defaults().items()}
        values.update(start or {})
        return SimpleNamespace(**values)

    def freeze(self, working: SimpleNamespace):
        return self.record(**{name: tuple(value) if isinstance(value, list) else value
                              for name, value in vars(working).items()})

    def parse(self, argv: list[str], start=None) -> tuple:
        """argv with the program's rules over the defaults (and `start`): (the record, warnings
        for the user).

        A word is validated strictly (number, finite, in range) when the user typed that flag
        or an alias of it; a branch reached through a substring collision with another flag's
        exact name gets the C's silent atof/atoi instead.
        """
        _parsing.warnings, _parsing.program = [], self.program
        for text in argv:
            if "\0" in text:               # only the Python API and job files can pass one
                raise InputError(f"{text!r}: a NUL byte in a word")
        working = self.draft(start)
        used = [False] * len(argv)
        for i, text in enumerate(argv):
            if not text.startswith("-"):
                continue
            following = argv[i + 1:]
            fired = False
            for rule in self.rules_matching(text):
                typed = text in rule.names or text not in self.known_names
                if len(following) < rule.nargs or (rule.needs_next and not following):
                    if typed and rule.needs_next:
                        warn(f"{text} is ignored as the last argument, as {self.program} does")
                    elif typed:
                        raise InputError(f"{text}: missing value ({rule.nargs} expected)")
                    continue
                fired = True
                n = values_used(rule, following)
                used[i + 1:i + 1 + n] = [True] * n
                if apply_rule(rule, working, text, following, typed) == "stop":
                    break
            if any(name in text for name in self.prescan):
                fired = True
                used[i + 1:i + 2] = [True] * min(1, len(following))
            used[i] = True
            if not fired and not is_number(text) and text not in self.known_names:
                warn(f"unknown flag {text} ignored (as {self.program} does)")
                n = 0   # its values, if any, are part of the same warning
                while n < len(following) and not following[n].startswith("-"):
                    n += 1
                used[i + 1:i + 1 + n] = [True] * n
        for i, text in enumerate(argv):
            if not used[i]:
                warn(f"ignoring {text!r}: neither a flag nor a flag's value")
        return self.freeze(working), list(dict.fromkeys(_parsing.warnings))
