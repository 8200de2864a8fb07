"""The gateway's English texts, and the few the sandbox had to make up.

Documented texts are copied verbatim from the gateway's RU->EN table. Texts the
documentation does not give follow Yii2's built-in validator messages
("{attribute} cannot be blank.", "{attribute} must be an integer.", ...),
which is what the documented ones are.
"""

from __future__ import annotations

__all__ = [
    "BLACKLISTED",
    "COMPANY_BLANK",
    "DATA_NOT_FOUND",
    "DUPLICATE",
    "INVALID_CREDENTIALS",
    "INVALID_JSON",
    "MESSAGE_BLANK",
    "NOT_AN_OBJECT",
    "NOT_ENOUGH_MONEY",
    "PHONES_ARRAY",
    "PHONE_BLANK",
    "RATE_LIMITED",
    "SENDER_BLANK",
    "SENDER_INCORRECT",
    "blank",
    "incorrect_phone",
    "must_be_integer",
    "must_be_string",
    "sender_unavailable",
]

# Documented.
SENDER_BLANK = "Sender Name cannot be blank."
PHONE_BLANK = "Phone number cannot be blank."
MESSAGE_BLANK = "Message cannot be blank."
SENDER_INCORRECT = "Sender name is incorrect"
PHONES_ARRAY = "Incorrect phones array or phones quantity greater than 100"
BLACKLISTED = "This number is in the black list"
NOT_ENOUGH_MONEY = "Not enough money. It is necessary to refill the balance"
COMPANY_BLANK = "Legal name of the company cannot be blank."
DATA_NOT_FOUND = "Error. Data not found"
DUPLICATE = "Duplication of the message in an interval of less than 2 minutes"

# Yii2's own texts for its HTTP exceptions.
INVALID_CREDENTIALS = "Your request was made with invalid credentials."
RATE_LIMITED = "Rate limit exceeded."
INVALID_JSON = "Invalid JSON data in request body: Syntax error."

# Made up in the same style.
NOT_AN_OBJECT = "Invalid JSON data in request body: a JSON object is expected."


def incorrect_phone(phone: str) -> str:
    """The documented per-number error for a malformed number."""
    return f"Incorrect phone number ({phone})"


def sender_unavailable(state: str) -> str:
    """The documented error for a sender name that is not Approved."""
    return f'Sender Name has state "{state}" and not available at the moment.'


def blank(label: str) -> str:
    """Yii2's required-field message."""
    return f"{label} cannot be blank."


def must_be_string(label: str) -> str:
    """Yii2's string validator message."""
    return f"{label} must be a string."


def must_be_integer(label: str) -> str:
    """Yii2's integer validator message."""
    return f"{label} must be an integer."
