"""The NHS number's Modulus 11 check (ward/nhs_number.py): a typing slip never
files a discharge summary in someone else's record."""

from __future__ import annotations

import pytest

from ward import nhs_number

VALID = "9434765919"  # the NHS Data Dictionary's own example


def test_a_valid_number_in_the_ways_people_write_it():
    for written in (VALID, "943 476 5919", "943-476-5919"):
        assert nhs_number.problem(written) is None
        assert nhs_number.normalise(written) == VALID


def test_every_single_digit_slip_and_every_swap_of_neighbours_is_caught():
    for i in range(10):
        for d in "0123456789":
            if d != VALID[i]:
                slip = VALID[:i] + d + VALID[i + 1:]
                assert nhs_number.problem(slip) is not None, slip
    for i in range(9):
        if VALID[i] != VALID[i + 1]:
            swapped = VALID[:i] + VALID[i + 1] + VALID[i] + VALID[i + 2:]
            assert nhs_number.problem(swapped) is not None, swapped


def test_a_check_of_10_is_no_number_and_11_reads_as_0():
    # 000000006: weighted sum 6 x 2 = 12, 12 mod 11 = 1, check 11 - 1 = 10: no last
    # digit makes it a number.
    for d in "0123456789":
        assert "check digit" in nhs_number.problem("000000006" + d)
    assert nhs_number.problem("1000000000") is not None  # sum 10: check 1, not 0
    assert nhs_number.problem("1000000001") is None
    assert nhs_number.problem("0000000000") is None  # sum 0: check 11, read as 0


@pytest.mark.parametrize("bad", ["", "943476591", "94347659190", "943476591x",
                                 "９４３４７６５９１９", "943_476_5919"])
def test_what_is_not_ten_digits_is_refused_with_the_reason(bad):
    assert "10 digits" in nhs_number.problem(bad)
