"""Type coercion: dates, numbers, enums, consents, emails and phones."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from kithkin.imports.ingest import IngestOptions, coerce


def _stamps(values: list[str | None], **options: object) -> tuple[list[object], list[object]]:
    parsed, errors = coerce.to_datetime(pa.array(values, pa.string()),
                                        IngestOptions.model_validate(options))
    return parsed.to_pylist(), errors.to_pylist()


def test_iso_with_and_without_offset_and_epoch_are_utc() -> None:
    parsed, errors = _stamps(["2024-03-01T10:00:00+01:00", "2024-03-01T09:00:00Z",
                              "2024-03-01 09:00:00", "1709283600", "2024-03-01T10:00:00.5+01:00"])
    expected = datetime(2024, 3, 1, 9, tzinfo=UTC)
    assert parsed[:4] == [expected] * 4
    assert parsed[4] == datetime(2024, 3, 1, 9, 0, 0, 500000, tzinfo=UTC)
    assert errors == [None] * 5


def test_day_first_and_month_first() -> None:
    assert _stamps(["01/03/2024"])[0] == [datetime(2024, 3, 1, tzinfo=UTC)]
    assert _stamps(["01/03/2024"], day_first=False)[0] == [datetime(2024, 1, 3, tzinfo=UTC)]
    assert _stamps(["2024.03.01"], date_format="%Y.%m.%d")[0] == [datetime(2024, 3, 1,
                                                                            tzinfo=UTC)]


def test_naive_times_are_read_in_the_configured_zone() -> None:
    parsed, _ = _stamps(["2024-07-01 12:00:00", "2024-07-01T12:00:00+02:00"],
                        timezone="Europe/Paris")
    assert parsed == [datetime(2024, 7, 1, 10, tzinfo=UTC)] * 2


def test_bad_dates_are_errors_not_nulls() -> None:
    parsed, errors = _stamps(["2024-02-30", "yesterday", None, ""])
    assert parsed == [None] * 4
    assert errors[0] is not None and "not a date-time" in str(errors[0])
    assert errors[1] is not None
    assert errors[2:] == [None, None]  # empty is 'no value', not an error


@pytest.mark.parametrize(
    ("text", "decimal_comma", "expected"),
    [("€1,234.50", False, 1234.5), ("$ 12", False, 12.0), ("12 EUR", False, 12.0),
     ("-3.25", False, -3.25), ("1.234,50", True, 1234.5), ("£0,99", True, 0.99),
     ("1e3", False, 1000.0),
     # a comma that can only be a decimal one, without the option (a European shop
     # export's 10,50 used to be read as 1050); three digits after it stay thousands
     ("10,50", False, 10.5), ("0,5", False, 0.5), ("€ 1.234,50", False, 1234.5),
     ("-7,25 EUR", False, -7.25), ("1,234", False, 1234.0), ("1,234,567", False, 1234567.0)],
)
def test_decimals(text: str, decimal_comma: bool, expected: float) -> None:
    values, errors = coerce.to_number(pa.array([text]),
                                      IngestOptions(decimal_comma=decimal_comma), cents=True)
    assert values.to_pylist() == [expected]
    assert errors.to_pylist() == [None]


def test_bad_numbers_and_whole_numbers() -> None:
    values, errors = coerce.to_number(pa.array(["12abc", "1.5", "7", "12 eur"]), IngestOptions(),
                                      integer=True)
    assert values.to_pylist() == [None, None, 7, 12]
    assert errors.to_pylist() == ["not a number", "not a whole number", None, None]


def test_money_is_rounded_to_cents() -> None:
    values, _ = coerce.to_number(pa.array(["2.675", "10.004"]), IngestOptions(), cents=True)
    assert values.to_pylist() == pytest.approx([2.68, 10.0], abs=0.006)


def test_consent_synonyms_and_enum_spelling() -> None:
    values, errors = coerce.to_consent(pa.array(["Yes", "no", "opted out", "maybe", None]),
                                       ("granted", "denied", "opted_out"))
    assert values.to_pylist() == ["granted", "denied", "opted_out", None, None]
    assert errors.to_pylist()[3] == "not one of granted, denied, opted_out"
    kinds, _ = coerce.to_enum(pa.array(["In Person", "in-person"]), ("in_person",))
    assert kinds.to_pylist() == ["in_person", "in_person"]


def test_emails_and_phones_are_normalised() -> None:
    raw, normalized, errors = coerce.to_email(pa.array([" ANN@Example.COM ", "nope"]))
    assert raw.to_pylist() == ["ANN@Example.COM", "nope"]
    assert normalized.to_pylist() == ["ann@example.com", None]
    assert errors.to_pylist() == [None, "not an email address"]
    _, e164, errors = coerce.to_phone(pa.array(["020 7946 0018", "12"]),
                                      IngestOptions(phone_region="GB"))
    assert e164.to_pylist() == ["+442079460018", None]
    assert errors.to_pylist() == [None, "not a valid phone number"]


def test_tags() -> None:
    tags, _ = coerce.to_tags(pa.array(["vip; late ;", '["a", "b"]', None]))
    assert tags.to_pylist() == ['["vip", "late"]', '["a", "b"]', None]
