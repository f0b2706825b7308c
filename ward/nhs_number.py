"""The NHS number: the identifier a GP's system files a discharge summary under
(api/discharge_fhir.py puts it first among the Patient's identifiers).  Pure.

Ten digits, the last a Modulus 11 check digit over the first nine (NHS Data
Dictionary, "NHS NUMBER"): weights 10 down to 2, the check digit is 11 minus the
sum's remainder mod 11, 11 read as 0, and a number whose check would be 10 is not
an NHS number.  One mistyped digit, or two swapped, always fails the check, so a
summary is never filed in someone else's record for a typing slip."""

from __future__ import annotations

from ward.errors import WardError

_WEIGHTS = range(10, 1, -1)


def normalise(text: str) -> str:
    """The number as stored: digits only (people write it 3-3-4 with spaces or
    hyphens: '943 476 5919')."""
    return "".join(c for c in text if c not in " -")


def problem(text: str) -> str | None:
    """Why ``text`` is not an NHS number, in words; None when it is one."""
    digits = normalise(text)
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return f"an NHS number is 10 digits (e.g. 943 476 5919), not {text!r}"
    check = 11 - sum(int(d) * w for d, w in zip(digits, _WEIGHTS, strict=False)) % 11
    check = 0 if check == 11 else check
    if check == 10 or check != int(digits[9]):
        return (f"{text!r} is not an NHS number: its check digit does not match"
                " (a digit mistyped or two swapped?)")
    return None


def checked(text: str) -> str:
    """``text`` as stored (``normalise``), or WardError saying why it is no NHS number."""
    reason = problem(text)
    if reason:
        raise WardError(reason)
    return normalise(text)
