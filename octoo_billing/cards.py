"""Card numbers: the check digit every payment card number carries (the Luhn checksum)."""


def _digits(number: str) -> str:
    return "".join(ch for ch in str(number or "") if ch in "0123456789")


def luhn_valid(number: str) -> bool:
    """Whether ``number`` (spaces and dashes ignored) has 12 to 19 digits and a good Luhn check digit."""
    digits = _digits(number)
    if not 12 <= len(digits) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
