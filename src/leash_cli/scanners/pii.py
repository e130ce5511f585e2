"""PII detection: pattern + checksum + context, pure Python, stdlib ``re``.

Entity types: ``EMAIL``, ``PHONE``, ``CREDIT_CARD``, ``US_SSN``, ``IBAN``,
``IP_ADDRESS`` plus user-supplied custom patterns (name -> regex).

Design decisions (documented here because they change what matches):

* EMAIL - RFC-ish ASCII addresses with a 2..63 letter TLD.  Documentation
  domains (``example.com``) ARE reported: the syntax is a real address and a
  gateway cannot know whether the user invented it.  ``git@host`` (SSH
  remotes) and retina asset names (``icon@2x.png``) are not e-mail.
* PHONE - international (``+CC``, ``00CC``, E.164) and national numbers in
  20+ countries, found by shape and validated per country with Google's
  libphonenumber metadata (``phonenumbers``); the countries tried for a
  national number come from the script and language of the text around it
  (see :mod:`.phones`).  North American 3-3-4 numbers keep their own area /
  exchange rules.  Dates, decimals, coordinates, versions, ISBNs and numbers
  after order / invoice / id words (in 12 languages) are not phones.
* CREDIT_CARD - 13..19 digits, optional space/dash separators (groups of at
  least 3 digits), Luhn valid AND a known IIN range (Visa, Mastercard, Amex,
  Discover, JCB, Diners, UnionPay).  Well-known test PANs (4111 1111 1111
  1111) are reported: they are indistinguishable from real ones.
* US_SSN - ``AAA-GG-SSSS`` (same separator twice, dash or space) or 9 plain
  digits with SSN context: "SSN", "social security", ``employee_ssn`` ... in
  the 40 characters before, or as the header of the value's table column
  (markdown, CSV, TSV: however far down the table).  Issuance rules: area != 000, 666, 900-999;
  group != 00; serial != 0000.  Publicly known specimen numbers are NOT
  reported: 078-05-1120 (Woolworth wallet card), 219-09-9999 (SSA
  pamphlet), 123-45-6789 (the canonical placeholder).
* IBAN - country code + check digits + BBAN of the exact per-country length
  (table below), optional single spaces, mod-97 == 1.
* IP_ADDRESS - IPv4 with octet validation (0-255, no leading zeros) and
  IPv6 (full, compressed, embedded IPv4) validated by :mod:`ipaddress`.
  Dotted quads that are version strings are NOT IPs: preceded by ``v`` /
  "version" / "release" / "build" ..., or followed by a pre-release suffix
  (``1.2.3.4-beta``, ``1.2.3.4+build``), or part of a longer dotted chain
  (OIDs such as ``1.3.6.1.4.1``).  ``abc::def``-style C++ scopes are not
  IPv6 (an IPv6 match needs a digit and a 3+ char group or 3+ colons).

Twenty sets of decimal digits (Arabic-Indic, Persian, Devanagari, Bengali,
Thai, Khmer, Myanmar ...) are read as ASCII digits (one for one, offsets unchanged).  Overlapping candidates are resolved by a sorted sweep
(:mod:`.overlap`), linear in practice.

All regexes are compiled once at import, use bounded quantifiers around
ambiguous parts, and every match is anchored with a look-behind so the
engine does not rescan long runs from every position.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Iterable
from typing import Literal

from . import gates, overlap, phones
from .custom import compile_custom, select_types
from .engine import Finding
from .normalize import Composed, Normalized, has_escapes, normalize, unescaped
from .prefilter import Prefilter

__all__ = ["PiiScanner", "PII_ENTITIES", "luhn_ok", "iban_ok", "card_brand"]

SCANNER = "pii-detector"
PII_ENTITIES = ("EMAIL", "PHONE", "CREDIT_CARD", "US_SSN", "IBAN", "IP_ADDRESS")
# overlap priority (higher wins on equal score)
_PRIORITY = {"CREDIT_CARD": 6, "IBAN": 5, "US_SSN": 4, "EMAIL": 3, "IP_ADDRESS": 2, "PHONE": 1}


def _rank(r: tuple) -> tuple:
    return (-r[3], -_PRIORITY.get(r[0], 7), -(r[2] - r[1]))


# ---------------------------------------------------------------------------
# checksums
# ---------------------------------------------------------------------------
def luhn_ok(digits: str) -> bool:
    total = 0
    parity = len(digits) % 2
    for i, ch in enumerate(digits):
        d = ord(ch) - 48
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_MAESTRO = frozenset({5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763})


def card_brand(d: str) -> str | None:
    """Return the card brand for a digit string if its IIN and length fit."""
    n = len(d)
    p1, p2, p3, p4, p6 = d[:1], int(d[:2]), int(d[:3]), int(d[:4]), int(d[:6])
    if p1 == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or 622126 <= p6 <= 622925) and 16 <= n <= 19:
        return "discover"
    if 3528 <= p4 <= 3589 and 16 <= n <= 19:
        return "jcb"
    if (300 <= p3 <= 305 or p2 in (36, 38, 39)) and (n == 14 or 16 <= n <= 19):  # (no Diners number has 15)
        return "diners"
    if p2 == 62 and 16 <= n <= 19:
        return "unionpay"
    if 2200 <= p4 <= 2204 and 16 <= n <= 19:
        return "mir"
    if p4 == 9792 and n == 16:
        return "troy"
    if (p6 == 606282 or p4 == 3841) and n in (16, 19):
        return "hipercard"
    if (506099 <= p6 <= 506198 or 507865 <= p6 <= 507964 or 650002 <= p6 <= 650027) and n in (16, 18, 19):
        return "verve"
    if p4 in _MAESTRO and 16 <= n <= 19:
        return "maestro"
    return None


# an ACH (NACHA) file: a batch header record ("5" and a service class code) and entry detail records ("6"), 94
# characters each; an entry's individual identification number (columns 40-54) holds the payee's SSN in payroll files
_NACHA_BATCH = re.compile(r"(?m)^5(?:200|220|225|280)[^\n]{46}PPD")  # (a consumer batch: its SEC code, PPD)
# (the individual's name after the id: letters and spaces, not a return's "RETURN R03" nor a vendor's "VENDOR 4471")
_NACHA_ENTRY = re.compile(
    r"(?m)^6[2-5][2-9][0-9]{9}[0-9A-Za-z ]{17}[0-9]{10}([0-9]{9})[ ]{4,6}(?=[A-Za-z][A-Za-z .,'&-]{19})"
)


def _nacha_ssns(t: str):
    """``("US_SSN", start, end, score)`` of the SSNs in an ACH file's entry detail records."""
    for n, m in enumerate(_NACHA_ENTRY.finditer(t)):
        if n >= 10000:
            break
        d = m.group(1)
        if d[:3] in ("000", "666") or d[0] == "9" or d[3:5] == "00" or d[5:] == "0000" or d in _SSN_SPECIMENS:
            continue
        yield ("US_SSN", m.start(1), m.end(1), 0.8)


def _national_brand(d: str) -> bool:
    """A 16-digit number in a national scheme's ranges that :func:`card_brand` does not name: Brazil's Elo, India's
    RuPay."""
    p6 = int(d[:6])
    return any(lo <= p6 <= hi for lo, hi in _NATIONAL_RANGES)


_NATIONAL_RANGES = (
    # Elo
    (504175, 504175), (506699, 506778), (509000, 509999), (627780, 627780), (636297, 636297), (636368, 636368),
    (650031, 650033), (650035, 650051), (650405, 650439), (650485, 650538), (650541, 650598), (650700, 650718),
    (650720, 650727), (650901, 650920), (651652, 651679), (655000, 655019), (655021, 655058),
    # RuPay
    (508500, 508999), (606985, 607984), (608001, 608500), (817200, 820199),
)  # fmt: skip
# a table column of other numbers that pass Luhn one time in ten (lower case)
_NOT_CARD_HEADER = re.compile(
    r"(?<![a-z])(?:sscc|gtin|ean|ean13|upc|imei|iccid|imsi|meid|barcode|tracking|sendung|colis|serial|sn)(?![a-z])"
)


IBAN_LENGTHS = {
    "AD": 24,
    "AE": 23,
    "AL": 28,
    "AT": 20,
    "AZ": 28,
    "BA": 20,
    "BE": 16,
    "BG": 22,
    "BH": 22,
    "BI": 27,
    "BR": 29,
    "BY": 28,
    "CH": 21,
    "CR": 22,
    "CY": 28,
    "CZ": 24,
    "DE": 22,
    "DJ": 27,
    "DK": 18,
    "DO": 28,
    "EE": 20,
    "EG": 29,
    "ES": 24,
    "FI": 18,
    "FK": 18,
    "FO": 18,
    "FR": 27,
    "GB": 22,
    "GE": 22,
    "GI": 23,
    "GL": 18,
    "GR": 27,
    "GT": 28,
    "HR": 21,
    "HU": 28,
    "IE": 22,
    "IL": 23,
    "IQ": 23,
    "IR": 26,  # (Iran's Sheba number: in the IBAN format, outside SWIFT's registry)
    "IS": 26,
    "IT": 27,
    "JO": 30,
    "KW": 30,
    "KZ": 20,
    "LB": 28,
    "LC": 32,
    "LI": 21,
    "LT": 20,
    "LU": 20,
    "LV": 21,
    "LY": 25,
    "MC": 27,
    "MD": 24,
    "ME": 22,
    "MK": 19,
    "MN": 20,
    "MR": 27,
    "MT": 31,
    "MU": 30,
    "NI": 28,
    "NL": 18,
    "NO": 15,
    "OM": 23,
    "PK": 24,
    "PL": 28,
    "PS": 29,
    "PT": 25,
    "QA": 29,
    "RO": 24,
    "RS": 22,
    "RU": 33,
    "SA": 24,
    "SC": 31,
    "SD": 18,
    "SE": 24,
    "SI": 19,
    "SK": 24,
    "SM": 27,
    "SO": 23,
    "ST": 25,
    "SV": 28,
    "TL": 23,
    "TN": 24,
    "TR": 26,
    "UA": 29,
    "VA": 22,
    "VG": 24,
    "XK": 20,
    "YE": 30,
}
# Account numbers printed in the IBAN format where SWIFT's registry lists no IBAN (as Iran's): the West and Central
# African franc zones' banks (a bank code of letters and digits: "SN58 SN01 0015 …"), the Maghreb's, Lusophone
# Africa's, Madagascar's, the Comoros', Honduras'; the same country length and mod-97 check as the registry's
IBAN_LENGTHS.update(
    {"AO": 25, "BF": 28, "BJ": 28, "CF": 27, "CG": 27, "CI": 28, "CM": 27, "CV": 25, "DZ": 26, "GA": 27, "GQ": 27,
     "GW": 25, "HN": 28, "KM": 27, "MA": 28, "MG": 27, "ML": 28, "MZ": 25, "NE": 28, "SN": 28, "TD": 27, "TG": 28}
)  # fmt: skip
# ... and their account numbers' shape after the check digits, which the registry's countries need not have checked
# (their lengths alone are rarer): digits, but the West African franc zone's bank code (one or two letters first:
# "SN58 SN01 …", "ML03 D008 …") and Honduras' four letters -- an airline's code and a booking line ("TG895 Q 01FEB
# NBOJFK HK2") pass the length and one time in 97 the check
_IBAN_UNREGISTERED_BBAN = dict.fromkeys(
    ("AO", "CF", "CG", "CM", "CV", "DZ", "GA", "GQ", "KM", "MA", "MG", "MZ", "TD"), re.compile(r"[0-9]+")
)
_IBAN_UNREGISTERED_BBAN.update(
    dict.fromkeys(("BF", "BJ", "CI", "GW", "ML", "NE", "SN", "TG"), re.compile(r"[A-Z][A-Z0-9][0-9]+"))
)
_IBAN_UNREGISTERED_BBAN["HN"] = re.compile(r"[A-Z]{4}[0-9]+")


def iban_ok(iban: str) -> bool:
    iban = iban.replace(" ", "").upper()
    if len(iban) < 15 or IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban[2:4].isdigit():
        return False
    if not iban.isalnum() or not iban.isascii():
        return False
    shape = _IBAN_UNREGISTERED_BBAN.get(iban[:2])
    if shape is not None and not shape.fullmatch(iban, 4):
        return False
    return int((iban[4:] + iban[:4]).translate(_IBAN_DIGITS)) % 97 == 1


_IBAN_DIGITS = {ord(c): str(10 + i) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}  # A=10 ... Z=35


# ---------------------------------------------------------------------------
# regexes (compiled once)
# ---------------------------------------------------------------------------
# (a local part may hold Latin letters with accents, as internationalised mailboxes do: "álvaro.cano39@gmail.com";
# not "þ", the quote character of e-discovery load files: "þþjsmith@northwind-trade.comþþ")
_LATIN_ACCENTED = "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00fd\u00ff-\u024f"
_EMAIL = re.compile(
    # (not inside a longer name; a Hebrew one-letter prefix may join it with a hyphen: "מייל מ-omer@walla.co.il")
    rf"(?<![A-Za-z0-9._%+{_LATIN_ACCENTED}])(?:(?<!-)|(?<=[\u05d0-\u05ea]-))"
    rf"([A-Za-z0-9{_LATIN_ACCENTED}](?:[A-Za-z0-9._%+\-{_LATIN_ACCENTED}]{{0,63}}))"
    r"@"
    r"((?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}"
    r"([A-Za-z]{2,63}))"
    r"(?![A-Za-z0-9\-]|\.[A-Za-z0-9])"
)
_GLUED_MAIL_LABEL = re.compile(r"(?:E-?[Mm]ail|E-?MAIL)(?=[a-z0-9][A-Za-z0-9._%+\-]*$)")
_EDI_TAG = re.compile(r"[A-Z]{3}\+")
_EDI_END = re.compile(r"'[\r\n]*$")  # (the segment before ends with its "'")
_PHONE_GROUPS_BEFORE = re.compile(r"(?<![0-9])[0-9]{2,4}(?: [0-9]{2,4}){2,} $")  # ("06 12 50 92 23contact@…")
_LOCAL_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-"
    + "".join(chr(c) for c in range(0xC0, 0x250) if c not in (0xD7, 0xF7, 0xFE))
)
_FILE_TLDS = frozenset(
    ["png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff", "pdf", "js", "ts", "css", "html"]
)

_CARD = re.compile(r"[0-9](?<![0-9\-][0-9])(?:[ \-]?[0-9]){12,22}(?![0-9])")
_SEP_SPLIT = re.compile(r"[ \-]")
# a grouped number's run that goes on after a match of _CARD or came on before it: a group of three digits or more; and
# a run of nine groups of four or more (an access key's, a barcode's: no card is written inside one)
_RUN_GOES_ON = re.compile(r"[ \-][0-9]{3}")
_RUN_CAME_ON = re.compile(r"[0-9]{3}[ \-]$")
_KEY_RUN = re.compile(r"(?<![0-9])[0-9]{4}(?:[ \-][0-9]{4}){8,}(?![0-9])")
# a tax number's label right before an unspaced number: a taxpayer's number, not a card, though one in ten passes Luhn
# ("الرقم الضريبي: 39969646947763", "VAT no.: 4…"; a card's word before it wins, "Tax card: 4111…", and an expiry after it)
_TAX_LABEL = re.compile(
    # (the short ones in capitals, as labels write them: not a name, "Mariana Iva:", "Aung Tin:", "Holiday Inn:")
    r"(?:(?<![^\W\d_])(?:(?i:tax|vat|vergi|mwst|ust)|TIN|GST|NIP|INN|ИНН|NIF|RFC|TVA|BTW|IVA)"
    # (a label's colon or a number's word after the tax word: not "ok btw 4532…")
    r"(?:[ \t]+(?i:no|nr|id|number|reg|registration|номер)\.?[ \t]*[:#№]?|\.?[ \t]*[:#№])"
    r"|(?:الرقم الضريبي|الضريبي|ضريبي)[ \t]*[:#№]?)[ \t]*$"
)
# an amount's currency or a card's security code right after a grouped card's last group of three: the three are the
# amount's or the code's, not the card's ("4169 7388 1224 0517 389 AZN", "… 0517 389 CVV"), though a 19-digit card's
# number may pass Luhn with them (not a currency before its amount: "6250 9410 0652 8591 005 CNY 1280.00")
_AMOUNT_OR_CODE_AFTER = re.compile(
    r"[ \t]?(?:[€$£¥₽₹₩₺₼₸₦₱₫₴₾₪](?![ \t]*[0-9])|(?:AZN|USD|EUR|GBP|RUB|TRY|KZT|UZS|GEL|AMD|UAH|NGN|KES|GHS|ZAR|EGP|"
    r"MAD|AED|SAR|QAR|KWD|INR|PKR|BDT|LKR|NPR|IDR|PHP|VND|THB|MYR|SGD|HKD|CNY|JPY|KRW|AUD|NZD|CAD|CHF|SEK|NOK|DKK|PLN|"
    r"CZK|HUF|RON|BGN|RSD|BRL|MXN|ARS|CLP|COP|PEN)(?![A-Za-z0-9])(?![ \t]*[0-9])|(?:CVV|CVC|CVV2|CVC2)(?![A-Za-z0-9])(?![ \t]*:?[ \t]*[0-9]))"
)

# (not followed by a dash or dot and more of a code: "PN 412-37-0915-B" is a part number)
# (ASCII boundaries: a CJK character may touch it, "社会安全号码是893-10-2467")
_SSN = re.compile(
    r"([0-9](?<![A-Za-z0-9_\-.][0-9])[0-9]{2})([\- .]?)([0-9]{2})\2([0-9]{4})(?![A-Za-z0-9_]|[\-.][0-9A-Za-z])"
)
_SSN_SPECIMENS = frozenset({"078051120", "219099999", "123456789"})
_SSN_DASHED_END = re.compile(r"(?<![0-9\-])[0-9]{3}-[0-9]{2}-[0-9]{4}$")
_OTHER_ID = re.compile(
    r"phone|cell|mobile|tel|fax|passport|licen[cs]e|account|acct|card|case|order|member|policy|routing|zip|ein|"
    r"itin|number|no\.|#"
)
_AND_ANOTHER = re.compile(r"[ ,;]*(?:and|&|plus|as well as) [^.;:\n0-9]{0,30}$")
# (underscores and dashes count as boundaries: employee_ssn, social-security-number, SocialSecurityNumber)
# ("my social" in chat: "the last four of your social"; not "your social media")
_SSN_CTX = re.compile(
    r"(?<![a-z])(?:ssns?(?![a-z])|(?:patient|employee|member|customer|subscriber|insured|person)_?ssns?(?![a-z])|social[ _\-]?security|soc\.? ?sec\b|ss#|ss no\b|"
    r"tax ?payer[ _\-]?id|itin(?![a-z])|"
    # (a 1099's payee's or recipient's TIN: an SSN as often as not; not the payer's, an EIN)
    r"(?:payee|recipient)(?:'?s)?[ _\-]?tin(?![a-z])|"
    r"(?:my|your|his|her|their) social(?![a-z]| (?:media|network|networks|worker|life|skills|club|event|circle|"
    r"feed|account|accounts|profile|profiles|post|posts|handle|handles|channel|channels|calendar)(?![a-z])))"
)

# (an employer's number named so in brackets right after it: "Payee TIN: 841234567 (EIN)")
_EIN_AFTER = re.compile(r"[ \t]*\([ \t]*(?:EIN|FEIN)[ \t]*\)")
# (a company's or a case's registry word right before a number: its number, whatever SSN word stands further back)
_OTHER_REGISTRY = re.compile(r"(?<![a-z])(?:duns|ärende)\W{0,12}$")


def _a_part_number(t: str, r: tuple[str, int, int, float], parts: set[str]) -> bool:
    """Whether the finding ``r`` is a line item's part number met elsewhere in ``t``, with no word of its own type
    before it (a phone's or an SSN's: "… (phone 206-555-0142)" keeps it)."""
    typ, a, b, _ = r
    if typ not in ("PHONE", "US_SSN") or t[a:b] not in parts:
        return False
    near = t[max(0, a - 60) : a].lower()
    return _SSN_CTX.search(near) is None if typ == "US_SSN" else not phones.has_phone_word(near)


_LIST_SEP = re.compile(r"[ \t]*(?:[,;/&]|and)[ \t]*")
# a product's label a few words before a number on its line: the product's model or part number
_PRODUCT_LABEL = re.compile(  # (a label that starts its line: not "Agenda item: John's SSN …")
    r"(?im)^[ \t*•\-]*(?:product|produkt|produit|producto|prodotto|produto|item|article|artikel|artículo|articolo)"
    r"[ \t]*:[^\n:]{0,24}$"
)
_SSN_DASHED = re.compile(r"(?<![0-9\-])(?!000|666|9)[0-9]{3}-(?!00)[0-9]{2}-(?!0000)[0-9]{4}(?![0-9\-])")


# (also after a chat's timestamp: "[16:07] Marcus: sorry, my cell is (207) 906-2173")
_LABEL_START = re.compile(r"[ \t]*(?:\[[0-9:., /-]{4,20}\][ \t]*)?[^\W\d_][^,:\n]{0,30}:[ \t]")
_PROSE_CELL = re.compile(r"(?:[^\W\d_]+[ \t]+){2}[^\W\d_]{2}")  # (three words in a row, no comma between)
_LONG_DIGITS = re.compile(r"(?<![A-Za-z0-9_])[0-9]{5,}(?![A-Za-z0-9_])")  # (not a name's date: "balance_20240131")
_SSN_TABLE_WORD = re.compile(r"(?i)\bssns?\b|social security|identifying number|soc\.? ?sec")
_FIELD_SEP = re.compile(r"[;\t|]")
# (a type alone in its cell: a separator, two spaces or the line's end after it)
_CELL_END = r"(?=[ \t]*(?:[,;|\t\r\n]|$)|[ \t]{2})"
# (a row's TIN-type cell right after its number, under a TIN column: "Hernandez, Luis A.   545187204    SSN   4,850.00";
# not the next field's label, "SSN: …", "SSN 523-41-8876", "SSN  523-41-8876")
_SSN_TYPE_AFTER = re.compile(
    r"(?:[ \t]{2,}|[ \t]*[,;|\t][ \t]*)SSN(?![ \t]*[0-9]{3}[- ]?[0-9]{2}[- ]?[0-9]{4}(?![0-9]))" + _CELL_END
)
_TIN_COLUMN = re.compile(r"(?<![a-z])(?:tin|taxpayer id)(?![a-z])")
# (...and an employer's or another taxpayer number's type cell: "Nguyen Interpreting LLC   611904418   EIN")
_OTHER_TIN_TYPE_AFTER = re.compile(r"(?:[ \t]{2,}|[ \t]*[,;|\t][ \t]*)(?:EIN|FEIN|ITIN|ATIN)" + _CELL_END)


def _taken_above(t: str, a: int, taken: set[int]) -> bool:
    """An SSN read as one (``taken``: their starts) at the same column of the line above, after the same record's
    start: a fixed-width record's column under a header the table reader did not line up ("REC PAYEE_TIN  NAME" over
    "B   409568213 ORTEGA LUIS A", each row's TIN below the first)."""
    if not taken:
        return False
    ls = t.rfind("\n", max(0, a - _MAX_ROW), a) + 1
    if ls == 0:
        return False
    pl = t.rfind("\n", max(0, ls - 1 - _MAX_ROW), ls - 1) + 1
    if pl == 0 and ls - 1 > _MAX_ROW:
        return False
    col = a - ls
    if pl + col not in taken or pl + col >= ls:
        return False
    # (the same record's start before both, or no word: "B   " over "B   "; not "SSN: " over "PIN: ")
    lead = t[ls:a]
    return lead == t[pl : pl + col] or not lead.strip()


def _ssn_above(t: str, a: int) -> bool:
    """A dashed SSN in the same column of the line above: a row of a payroll's table whose number lost its dashes
    ("Pham, Kevin   201-19-0857 …\nBright, Shawna L.   410274011 …")."""
    ls = t.rfind("\n", max(0, a - _MAX_ROW), a) + 1
    if ls == 0:
        return False  # (the first line, or a line longer than a table's row: bounded, linear)
    col = a - ls
    pl = t.rfind("\n", max(0, ls - 1 - _MAX_ROW), ls - 1) + 1
    if pl == 0 and ls - 1 > _MAX_ROW:
        return False
    above = t[pl : ls - 1]
    if t.find("   ", ls, a) < 0 or above.find("   ", 0, col) < 0 or _FIELD_SEP.search(t, ls, a):
        return False  # (only a fixed-width table's cells line up, spaces before them; a delimited row's header names
        # its column; a comma in a name is no delimiter: "Pham, Kevin      201-19-0857")
    m = _SSN_DASHED.search(above, max(0, col - 2), col + 13)
    if m is None or m.group().replace("-", "") in _SSN_SPECIMENS:
        return False
    # (and a word of SSNs or identifying numbers before, a table's header or a form's: not an invoice's part numbers)
    return _SSN_TABLE_WORD.search(t, max(0, a - 3000), a) is not None


_LIST_ITEM = re.compile(r"[ \t]*(?:[-*•·]|[0-9]{1,2}[.)])[ \t]")
# (a dashed SSN, a comma and a name before the number: "Sofia 089-33-4471, Mateo 820 14 6637")
_SSN_THEN_NAME = re.compile(r"(?<![0-9\-])([0-9]{3}-[0-9]{2}-[0-9]{4}),[ \t]+[^\W\d_][^\W\d_'’]{1,20}[ \t]+$")
# (another id's or an amount's label before a number: not an SSN's, whatever list it is in)
_NOT_SSN_LABEL = re.compile(
    r"(?<![a-z])(?:(?:passport|licen[cs]e|dl|driver|medicare|medicaid|visa|uscis|alien|a-number|account|acct|card|"
    r"case|order|member|policy|routing|receipt|ein|itin|amount|paid|total|balance|invoice|claim|id)(?![a-z])|no\.|#|\$)"
)


def _ssn_listed(t: str, a: int) -> bool:
    """The number before it in the same list is a dashed SSN: on its line after a comma and a name, or ending the list's
    item above ("- Priya Raman (applicant): 655-27-4410\n- Arjun Raman (spouse): 148 93 6075"), with a word of SSNs
    before (the list's lead: "USCIS needs the prior SSNs ...": looked for by the caller, once per text); not when the
    number's own label names another id or a phone ("- Phone: 415 55 1234", ", Fax 548.21.3377", "- Passport: …": a
    reader's)."""
    ls = t.rfind("\n", max(0, a - _MAX_ROW), a) + 1
    m = _SSN_THEN_NAME.search(t, max(ls, a - 48), a)  # (the SSN, the comma and a name: 48 characters at most)
    if m is not None:
        label = t[m.end(1) : a]
    elif ls > 0 and a - ls <= 120 and _LIST_ITEM.match(t, ls, a) is not None:  # (a list item's label: short)
        label = t[ls:a]
        pl = t.rfind("\n", max(0, ls - 1 - _MAX_ROW), ls - 1) + 1
        if pl == 0 and ls - 1 > _MAX_ROW:
            return False  # (a line above longer than a list's item: bounded, linear)
        above = t[pl : ls - 1].rstrip(" \t.;,")
        if _LIST_ITEM.match(above) is not None:
            m = _SSN_DASHED.search(above, max(0, len(above) - 11))
    if m is None or m.group().split(",")[0].replace("-", "") in _SSN_SPECIMENS:
        return False
    low = label.lower()
    return _NOT_SSN_LABEL.search(low) is None and not phones.has_phone_word(low)


_TAX_FORM = re.compile(
    r"(?<![a-z0-9])(?:(?:form|the|my|her|his|our|your|their) (?:1040(?:-?(?:sr|nr|x|es))?|1099(?:-[a-z]+)?|w-?[249]|ss-5|i-9)"
    r"|w-[249]|1040-(?:sr|nr|x|es)|ss-5|i-9)(?![a-z0-9])"
)
# a column of part or order numbers ("SKU,Description,Qty" over "417-22-0938,…"; an account column may hold SSNs)
_NOT_SSN_COLUMN = re.compile(
    r"\b(?:sku|skus|part|parts|item|items|model|serial|order|orders|invoice|po|ticket|tracking|batch|lot|isbn|product|"
    r"article|art|artikel|código|codigo|référence|reference|ref)\b"
    # (a retail export's style, colour and size code, in snake case too: "style_color_size" over "418-22-0917"; an HR
    # export's job code: "Job Code" over "410-22-0031", "job_code" -- not any code's or job's column, "Employee Code" over
    # an SSN, nor a new hire's mail read as a table: a twenty-third reader's)
    r"|(?<![a-z])(?:style|color|colour|size|variant|job[ _-]?codes?)(?![a-z])"
)
_DIGIT_RUN_AFTER = re.compile(r"(?:(?<![a-z])[a-z]+ )?([0-9]{4,})")  # (a digit run, and the word before it)
_FORM_BEFORE = re.compile(r"(?:for|on|the|form|my|your|his|her|their|our|new|old) (?:1040|1099)$")
_TAX_FORM_HINT = re.compile(r"1040|1099|w-?[249]|ss-5|i-9")  # (a literal search before the pattern)
_IBAN_START = re.compile(r"([A-Z](?<![A-Za-z0-9][A-Z])[A-Z])([0-9]{2})(?= ?[A-Z0-9])")
_IBAN_BODY = {
    n: re.compile(r"(?: ?[A-Z0-9]){%d}(?![A-Za-z0-9])" % n) for n in set(v - 4 for v in IBAN_LENGTHS.values())
}

_IBAN_BODY_GLUED = {
    n: re.compile(r"[A-Z0-9]{%d}(?=[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?(?![A-Za-z0-9]))" % n)
    for n in set(v - 4 for v in IBAN_LENGTHS.values())
}

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# (ASCII boundaries; not after a lone capital and a dash: "appendix A-9.8.8.1", but "gw-10.0.0.1")
_IPV4 = re.compile(
    r"[0-9](?<![A-Za-z0-9_.][0-9])(?<!(?<![A-Za-z])[A-Z]-[0-9])[0-9]{0,2}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
    r"(?![A-Za-z0-9_]|\.[0-9])"
)
_VERSION_AFTER = re.compile(
    r"[ \t]*\((?:build|rev|revision|release)[ \t]*[0-9]|\([0-9]+\.[0-9]+(?:\.[0-9]+)?\)"
    # a firmware's build glued after it ("11.0.2.5(H110SP2C05)"), a version word after it ("22.40.1.3 (버전 번호)")
    r"|(?-i:\((?=[A-Z0-9]{6,}\))[A-Z]+[0-9][A-Z0-9]*\))"
    r"|[ \t]*\((?:version|versión|versão|버전|版本|バージョン|เวอร์ชัน|firmware)(?:[ \t]*(?:number|no\.?|nr\.?|번호|号|番号))?\)",
    re.IGNORECASE,
)  # "4.2.0.1 (build 20240611.3)", "FPBX-16.0.40.7(18.20.2)" (not "gateway 10.20.30.40 (1.2)")
# where a dotted quad is a version by what stands before it (lower case, on its line): a product token
# ("Chrome/122.0.0.0"; not a path's "/hosts/"), an image's tag ("registry.internal/web:4.17.0.2"), the next of a
# list of products and their versions ("Datadog agent 7.54.0, osquery 5.12.1.4"), or a quoted User-Agent value
# ('ua="Yealink SIP-T46U 108.86.0.75"'); each looked for only after its own character
_PRODUCT_SLASH = re.compile(r"(?:^|[\s(;,\"'])[a-z][\w-]*[a-z]/$")
_PORT_AFTER = re.compile(r"[:(/][0-9]")
_IMAGE_TAG = re.compile(r"[\w.-]+/[\w.-]+:$")
_VERSION_LIST = re.compile(
    r"[a-z][\w.+-]*(?: [a-z][\w.+-]*)? (?:v[0-9]+(?:\.[0-9]+){1,2}|[0-9]+(?:\.[0-9]+){2})(?:[-+][\w.]+)?, "
    r"(?!(?:client|host|server|from|ip|addr|address|src|dst|peer|gateway|gw|dns|proxy|remote|node|router) )"
    r"[a-z][\w.+-]*(?: [a-z][\w.+-]*)? $"
)
_IN_USER_AGENT = re.compile(
    r"(?:user[-_ ]?agent|\bua)[\"']?[ \t]*[:=][ \t]*[\"'][^\"'\n]*$"
    # (a SIP or HTTP header: "User-Agent: Yealink SIP-T46U 108.86.0.45"; not a log line's "… from 10.20.30.40")
    r"|(?:^|\n)[ \t]*user-agent[ \t]*:(?:(?!\b(?:from|ip|addr|src|client|host|remote|peer|server)\b|[=|;,])[^\n])*$"
)
# an assembly's namespace before its version ("Serilog.Sinks.File 5.0.0.0"; host names are written in lower case)
_NAMESPACE = re.compile(r"[A-Z][a-z][A-Za-z0-9]*(?:\.[A-Z][a-z][A-Za-z0-9]*)+")


def _namespace_before(t: str, a: int) -> bool:
    """Whether a namespace and one space stand right before ``a``."""
    if t[a - 1 : a] != " ":
        return False
    ts = t.rfind(" ", max(0, a - 80), a - 1) + 1
    ts = max(ts, t.rfind("\n", max(0, a - 80), a - 1) + 1, t.rfind("\t", max(0, a - 80), a - 1) + 1)
    return ts > a - 80 and _NAMESPACE.fullmatch(t, ts, a - 1) is not None


def _version_before(t: str, a: int, b: int) -> bool:
    """Whether what stands before ``a`` on its line makes the dotted quad there a version (``_PRODUCT_SLASH``,
    ``_IMAGE_TAG``, ``_VERSION_LIST``, ``_IN_USER_AGENT``)."""
    c = t[a - 1 : a]
    if c not in ("/", ":", " "):
        return False
    before = t[max(0, t.rfind("\n", max(0, a - 200), a) + 1, a - 200) : a].lower()
    near = before[-60:]
    if c == "/":
        m = _PRODUCT_SLASH.search(near)
        # (a product's token: no dots, ends in a letter, at a line's start or after a separator -- "Chrome/…",
        # "curl/…"; not a host name's "db01.internal/10.20.30.40:5432", an interface's "eth0/…", nor before a port)
        if m is not None and (m.start() > 0 or len(before) <= 60) and not _PORT_AFTER.match(t, b):
            return True
    elif c == ":":
        if "/" in near and _IMAGE_TAG.search(near):
            return True
    elif ", " in near and _VERSION_LIST.search(near):
        return True
    return ("ua" in before or "agent" in before) and _IN_USER_AGENT.search(before) is not None


_OID_ARCS = ("1.3.6.1", "2.5.4.", "2.5.29.")
_HEADING_BEFORE = re.compile(r"(?:^|\n)#{1,6} $")
_OBIS_BEFORE = re.compile(r"(?<![0-9])[0-9]{1,3}-[0-9]{1,3}:$")
_VERSION_JOIN = re.compile(
    r"[ \t]*(?:,|→|->|=>|to|auf|vers|naar|till|do|на|a)?[ \t]*(?:(?:boot|bootloader|core|kernel|fw|firmware|rom|modem|"
    r"webui|app|build)[ \t:]{1,3})?"
)
_LIST_JOIN = re.compile(r",? ?(?:and|or|to|through|und|bis|et|à|y|e|a|i|и|en|tot|och|og|ve)? ?", re.IGNORECASE)


# what follows a card and no identity number: its expiry or its code ("4111111111119;12/27;123", "… with any future
# expiry and CVV 123": an eighteenth reader's; not a date's month and year, "15/03/2024", nor "invalid": a nineteenth's)
_CARD_AFTER = re.compile(
    r"(?i)(?<![0-9])(?<![0-9][/.-])(?:0[1-9]|1[0-2]) ?[/-] ?(?:[0-9]{2}|20[0-9]{2})(?![0-9/.-])|expir|\bexp\b|cvv|cvc|"
    r"(?<![a-z])valid(?: thru| through| until)?(?![a-z])"
)
# ...and an identity number's word right before it, or before the list it is in ("beneficiaries' ID: 5703155147089,
# 4911020209080"; not a bare test card, nor another field's id, "Transaction ID 88123: charged 4111111111119": a
# twenty-first reader's)
_ID_BEFORE = re.compile(
    r"(?<![a-z])(?:id|ids|identity|identiteit|i\.d\.)(?:[ \t]*(?:no\.?|nr\.?|number|numbers|nos\.?))?\W{0,4}$"
)
_ID_LIST = re.compile(r"(?:[0-9]{13}[ \t]*[,;][ \t]*)+$")
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _za_identity(s: str) -> bool:
    """Whether 13 digits read as a South African identity number: a date of birth (YYMMDD), four digits, a citizenship
    digit (0, 1, 2), a digit and a Luhn check digit -- the caller's card already passed Luhn ("4911020209080": a
    beneficiary's id, not one of the retired 13-digit Visas)."""
    month, day = int(s[2:4]), int(s[4:6])
    return len(s) == 13 and 1 <= month <= 12 and 1 <= day <= _MONTH_DAYS[month - 1] and s[10] in "012"


_MASK_OCTET = "(?:255|254|252|248|240|224|192|128|0)"
_NETMASK = re.compile(rf"255\.{_MASK_OCTET}\.{_MASK_OCTET}\.(?:254|252|248|240|224|192|128|0)")  # (not a broadcast)
_CLAUSE_AFTER = re.compile(r" [A-Z][a-z]+ [a-z]+")
_NUMBERED_HEADING = re.compile(r"(?m)^[0-9]{1,2}(?:\.[0-9]{1,2}){0,2}\.? [A-Z][a-z]+")
_SECTION_CTX = re.compile(
    r"(?:\b(?:clause|clauses|section|sections|appendix|annex|chapter|article|paragraph|schedule|requirement|"
    r"requirements)\W{0,3}|\breq\. ?|§\W{0,3})$"
)
# a budget's or a programme's numbered line, a tariff's position (a dotted quad of one-digit parts but the last):
# "imputándose a Jurisdicción 1.1.1.18", "ligne budgétaire 3.1.2.14", "Tarifstelle 2.4.1.1" (not a threat report's
# "Indicator: 5.2.7.45", "Suspicious activity: 5.8.1.22", "Component 5.8.1.22 unreachable", "Línea: 9.9.9.9": an
# eighteenth reader's; nor "Baixe o programa 1.1.1.1", a nineteenth's)
_PLAN_CTX = re.compile(
    r"(?<![^\W\d_])(?:rubro|rubrique|partida|jurisdicción|jurisdiccion|tarifstelle|budget line|"
    r"budget item|ligne budgétaire|línea presupuestaria|partida presupuestaria|cost code|wbs)\W{0,3}$"
)
_PLAN_QUAD = re.compile(r"[0-9]\.[0-9]\.[0-9]\.[0-9]{1,2}")


_VERSION_WORDS = (
    "version|versión|versão|versione|versi|versio|versie|verze|wersja|версия|sürüm|firmware|版本号|版本|バージョン|버전|"
    "เวอร์ชัน|إصدار|גרסה|έκδοση|संस्करण"
)
# what names an address on a line before a dotted quad (lower case): a bare version ("Export TK-Suite 4.2.1.0",
# "versi adaptor 2.3.0.11") has none of these before it; a resolver ("DNS = 1.1.1.1", "ping 8.8.8.8") has
_ADDR_WORDS = re.compile(
    r"(?<![a-z])(?:ip|ipv4|ips|inet|addr|address|adresse|addresse|dirección|direccion|endereço|endereco|indirizzo|"
    r"adres|adresa|адрес|host|hosts|server|servers|serveur|servidor|dns|nameserver|resolver|resolvers|gateway|gw|"
    r"router|route|via|src|dst|source|destination|from|to|peer|client|remote|ping|traceroute|tracert|nslookup|dig|"
    r"ssh|telnet|connect|connected|connecting|allow|allowed|deny|denied|block|blocked|allowlist|whitelist|blocklist|"
    r"blacklist|banned|resolve|resolves|resolved|"
    r"firewall|proxy|upstream|listen|bind|nat|vpn|subnet|lan|wan|public|private|origin|node|endpoint|target|"
    r"desde|depuis|von|van|da|de|para|pour|an|naar|nach|до|с|от)(?![a-z])|[=@]|://"
)


_VERSION_HEADER = re.compile(rf"(?<![a-z])(?:{_VERSION_WORDS}|ver|release|build|fw|sw|os|rev|revision)(?![a-z])")


def _version_shaped(quad: str) -> bool:
    """Led by one digit, every part one or two digits, a part after the first a zero: "4.2.1.0", "6.4.0.12",
    "1.0.3.11" -- as versions are numbered, and few public addresses ("3.14.15.92", "5.6.7.8" are none of these)."""
    return quad[1] == "." and (".0." in quad or quad.endswith(".0")) and _small_parts(quad)


def _bare_version(t: str, a: int, b: int, quad: str, header: str) -> bool:
    """A version-shaped dotted quad (:func:`_version_shaped`) with no port or prefix length after it, as software
    writes its own version: in a table's cell, under a version's header ("Firmware"; not one that names an address,
    "fw ip"); elsewhere, with nothing that names an address before it on its line and no other quad there
    ("carga-clientes 4.4.1.0", "Versión del conector: 6.4.0.12"; not "DNS = 1.1.1.1", "ping 1.0.0.8")."""
    if not _version_shaped(quad) or _PORT_OR_PREFIX.match(t, b) or quad in _RESOLVERS:
        return False
    if header:
        h = header.lower()
        if _ADDR_WORDS.search(h):
            return False  # (an "IP" or "Host" column: an address)
        if _VERSION_HEADER.search(h):
            return True
    ls = t.rfind("\n", max(0, a - 80), a) + 1
    before = t[max(ls, a - 80) : a].lower()
    le = t.find("\n", b, b + 40)
    after = t[b : le if le >= 0 else b + 40].lower()  # ("Use 1.1.1.1 as DNS")
    return _ADDR_WORDS.search(before) is None and _IPV4.search(before) is None and _ROLE_AFTER.search(after) is None


_ROLE_AFTER = re.compile(r"(?<![a-z])(?:dns|resolver|nameserver|gateway|proxy|ip)(?![a-z])")

# the public resolvers, which are addresses wherever they stand ("Cloudflare 1.1.1.1")
_RESOLVERS = frozenset(
    ["1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4", "9.9.9.9", "4.2.2.1", "4.2.2.2", "4.2.2.3", "4.2.2.4", "4.2.2.5"]
)


_PORT_OR_PREFIX = re.compile(r"[:/][0-9]")


def _small_parts(quad: str) -> bool:
    return all(len(p) <= 2 for p in quad.split("."))


def _three_parts(quad: str) -> str:
    return quad[: quad.rfind(".")]


_IPV4_FULL = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")
# "1.2.3.4-beta", a release's "5.3.11.2+531102" (not "10.0.0.1+10.0.0.2", two addresses)
_IPV4_SUFFIX_BAD = re.compile(r"[-~][A-Za-z]|\+(?![0-9]{1,3}\.[0-9])[A-Za-z0-9]")
_IPV6 = re.compile(
    r"(?<![\w:.])"
    r"(?=[0-9A-Fa-f:.]{0,40}::|(?:[0-9A-Fa-f]{1,4}:){6})"
    r"[0-9A-Fa-f:.]{2,45}"
    r"(?![\w:])"
)
_IPV6_BODY = re.compile(_IPV6.pattern.replace(r"(?<![\w:.])", "", 1))  # (after a label's colon: no look-behind)
_IPV6_GATE = re.compile(r"::|:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:")
_HEXCOLON = frozenset("0123456789abcdefABCDEF:.")
_HEXCOLON_RUN = re.compile(r"[0-9A-Fa-f:.]*")
_VERSION_CTX = re.compile(
    rf"(?:(?<![a-z])(?:{_VERSION_WORDS}|ver|release|build|fw|sdk|rev|revision|v|kernel|"
    # (numbers that are no sections -- those are _SECTION_CTX's -- yet no addresses: "figure 4.2.1.7", "OID 1.3.6.1")
    # (camelCase and compounds too: "firmwareVersion":", "Systeemversie 6.12.0.244", "Softwareversion")
    r"figure|oid|bootloader)\W{0,4}$)|version\W{0,3}$|"
    r"(?:system|systeem|software|firmware|programmatuur|programvare|ohjelmisto|laiteohjelmisto|app)(?:versie|versio|versjon)"
    r"\W{0,3}$"
)


# a version word and the product's name: "Versión MIUI: 14.0.11.0", "firmware RT-AX58U: 3.0.0.4", "version WebUI :
# 1.0.3.112" (on the 40 characters before)
def _version_named(low: str) -> bool:
    """:data:`_VERSION_NAMED` on ``low``, looked for only where a version word may be (a substring test first)."""
    if low.isascii() and "ver" not in low and "firm" not in low and "wersj" not in low:
        return False
    m = _VERSION_NAMED.search(low)
    return m is not None and _SERVER_WORDS.search(m.group()) is None  # (not "firmware update server : 172.16.5.4")


_SERVER_WORDS = re.compile(
    r"(?<![a-z])(?:server|servers|host|gateway|ip|dns|address|addr|proxy|router|van|from)(?![a-z])"
)


_VERSION_NAMED = re.compile(rf"\b(?:{_VERSION_WORDS})(?:\s[\w.-]{{2,12}}){{1,2}}\s?:?\s?$")

_PHONE = phones.PHONE
_NANP = re.compile(r"(?:(\+?1)([ .\-]?))?(\((\d{3})\)|(\d{3}))([ .\-]?)(\d{3})([ .\-]?)(\d{4})")
_NATIONAL = re.compile(
    r"0\d{1,4}(?:[ .\-/]?\d{2,5}){1,4}|0\d{1,4} ?\(?\d{1,4}\)? ?\d{2,8}|\(0\d{1,4}\) ?\d{2,4}(?:[ .\-]?\d{2,5}){0,3}"
)
_FRENCH = re.compile(r"0[1-9](?:([ .])\d{2})(?:\1\d{2}){3}")
_INTL_GROUPS = re.compile(r"\+\d{1,3}(?:[ .\-]?(?:\(\d{1,5}\)|\d{1,6})){1,6}")
_PHONE_CTX = re.compile(
    r"\b(?:phone|phones|tel|telephone|mobile|cell|cellphone|call|calls|called|fax|contact|sms|text me|"
    r"whatsapp|reach|dial|hotline|helpline|landline|ph|mob|"
    r"tél|téléphone|telephone|telefon|teléfono|telefono|telefone|móvil|movil|celular|portable|numéro|número|numero|"
    r"handy|rufnummer|mobil|mobilnummer|telefonnummer|tlf|puhelin)\b"
)
_NEG_CTX = re.compile(
    r"(?:\b(?:order|orders|invoice|inv|ref|reference|id|ticket|tracking|sku|isbn|issn|serial|account|acct|po|case|"
    r"transaction|txn|build|version|ver|port|pid|uid|item|part|model|batch|lot|confirmation|receipt|policy|member|serials|"
    r"patent|doi|pr|card|iban|routing|zip|bestellung|rechnung|commande|factura|pedido|auftrag|kundennummer|mrn|npi|mbi|patient|"
    r"duns|ärende|s/n|spare|ersatzteil|reservedel|reservdel|repuesto|ricambio|schimb|dalies|catalog|catalogue|katalog|"
    r"dossier)\b"
    r"(?:\W{0,3}(?:number|num|no|nr|id|code)\b)?|#)\W{0,12}$"
    # (a clinical trial's subject id, with no colon: "Subject 101-22-0047 | Visit V05"; not "Subject: 523-41-8876")
    r"|\bsubject[ \t]+$"
    # (a cost centre's code: "Cost center 512-44-7780")
    r"|\bcost[ \t]+cent(?:er|re)[ \t]*:?[ \t]*$"
)

# One Hyperscan pass (prefilter.py) says which entity patterns can match in a text; every
# finding of a type comes from a match of its pattern here, so one that cannot match is skipped.
# E-mail and IPv6 go in as what every match of theirs holds (the domain after the "@"; the
# literal-led IPv6 gate the scan starts from): their own patterns lead with wide classes that
# cost Hyperscan ten times the rest of the pass.  Below ~2 KB the scanner's own gates cost
# less than the ~1 µs a pass costs in calls and copies.
_PREFILTER = Prefilter(
    [
        r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,63}",
        _CARD,
        _SSN,
        _IBAN_START,
        _IPV4,
        _IPV6_GATE,
        _PHONE,
    ],
    min_length=2048,
)
_PF_EMAIL, _PF_CARD, _PF_SSN, _PF_IBAN, _PF_IPV4, _PF_IPV6, _PF_PHONE = range(7)
_PF_NUMBERS = frozenset((_PF_CARD, _PF_SSN, _PF_IBAN, _PF_IPV4, _PF_IPV6, _PF_PHONE))

# country calling codes: 1- and 2-digit codes exactly, 3-digit by prefix
_CC1 = {"1", "7"}
_CC2 = {
    "20",
    "27",
    "30",
    "31",
    "32",
    "33",
    "34",
    "36",
    "39",
    "40",
    "41",
    "43",
    "44",
    "45",
    "46",
    "47",
    "48",
    "49",
    "51",
    "52",
    "53",
    "54",
    "55",
    "56",
    "57",
    "58",
    "60",
    "61",
    "62",
    "63",
    "64",
    "65",
    "66",
    "81",
    "82",
    "84",
    "86",
    "90",
    "91",
    "92",
    "93",
    "94",
    "95",
    "98",
}
_CC3_PREFIX = {
    "21",
    "22",
    "23",
    "24",
    "25",
    "26",
    "29",
    "35",
    "37",
    "38",
    "42",
    "50",
    "59",
    "67",
    "68",
    "69",
    "80",
    "85",
    "87",
    "88",
    "96",
    "97",
    "99",
}


def _valid_cc(digits: str) -> int:
    """Length of a valid calling-code prefix of ``digits`` (0 if none)."""
    if digits[:1] in _CC1:
        return 1
    if digits[:2] in _CC2:
        return 2
    if digits[:2] in _CC3_PREFIX and len(digits) >= 3:
        return 3
    return 0


class PiiScanner:
    """Detect PII entities in text.

    ``entities``: subset of :data:`PII_ENTITIES` (default: all).
    ``custom_patterns``: ``{"NAME": "regex"}`` compiled once; every match is
    reported as type ``NAME`` with score 0.9 (named group ``value``, if
    present, narrows the reported span).
    ``min_score``: findings below it are dropped.
    """

    name = SCANNER

    def __init__(
        self, entities: list[str] | None = None, custom_patterns: dict[str, str] | None = None, min_score: float = 0.5
    ):
        self.entities = select_types(entities, PII_ENTITIES, custom_patterns, "PII entity")
        self.min_score = float(min_score)
        self.custom = compile_custom(custom_patterns)
        _PREFILTER.warm()
        if "PHONE" in self.entities:
            phones.warm()

    # ------------------------------------------------------------------
    def scan(self, text: str) -> list[Finding]:
        if not text:
            return []
        if has_escapes(text):
            # a JSON document's strings as serialised: read "\u00fc", "\n" and '\"' as what they stand for (a tool
            # call's arguments, a tool's result, a request body logged), spans mapped back to the escaped text
            norm: Normalized | Composed = unescaped(text)
        else:
            norm = normalize(text)
        t = norm.text
        if not t.isascii() and _has_native_digits(t):  # Arabic-Indic, Persian, Devanagari, Thai ... digits
            t = _NATIVE_DIGITS.sub(_fold_digits, t)  # one for one: offsets hold
        raw: list[tuple[str, int, int, float]] = []
        ents = self.entities
        items = phones.ItemNumbers(t)  # (line items' part numbers: no SSNs, no phones, wherever they stand)
        # which entity patterns can match at all, in one Hyperscan pass (None: unknown, try each)
        pf = _PREFILTER.matching(t)
        if "EMAIL" in ents and "@" in t and (pf is None or _PF_EMAIL in pf):
            raw.extend(self._email(t))
        if pf is None or not pf.isdisjoint(_PF_NUMBERS):
            b = gates.char_bytes(t)
            # runs of digits and separators: the number patterns only look there, in the runs that hold
            # enough digits for a card (13), an SSN (9), a phone number (7), an IPv4 address (4 and 3
            # dots): on digit-dense text (logs, timestamps) most runs hold fewer
            runs = gates.NumberRuns(b) if b is not None else None
            has_digit = runs.has_digit if runs else _has_digits(t)
        else:
            has_digit = False
        if has_digit:
            if "CREDIT_CARD" in ents and (pf is None or _PF_CARD in pf):
                raw.extend(self._cards(t, runs.at_least(13) if runs else None))
            if "US_SSN" in ents and (pf is None or _PF_SSN in pf):
                raw.extend(self._ssn(t, runs.at_least(9) if runs else None, items))
            if "US_SSN" in ents and "\n6" in t and ("\n5" in t or t[:1] == "5") and _NACHA_BATCH.search(t):
                raw.extend(_nacha_ssns(t))
            if "IBAN" in ents and (pf is None or _PF_IBAN in pf) and gates.has(b, gates.IBAN_MAP, b"AA00"):
                raw.extend(self._iban(t))
            if "IP_ADDRESS" in ents:
                if "." in t and (pf is None or _PF_IPV4 in pf):
                    raw.extend(self._ipv4(t, runs.at_least(4, dots=3) if runs else None))
                if ":" in t and (pf is None or _PF_IPV6 in pf):
                    raw.extend(self._ipv6(t))
            if "PHONE" in ents and (pf is None or _PF_PHONE in pf):
                raw.extend(self._phone(t, runs.at_least(7) if runs else None, items))
            if items.strings:  # (the part's number where a subject line names it: "NCR RK711491 – 426.742.68 / …")
                raw = [r for r in raw if not _a_part_number(t, r, items.strings)]
        for name, rx in self.custom:
            for m in rx.finditer(t):
                if "value" in rx.groupindex and m.group("value") is not None:
                    va, vb = m.span("value")
                else:
                    va, vb = m.span()
                if vb > va:
                    raw.append((name, va, vb, 0.9))
        return self._finalize(norm, raw)

    def _finalize(self, norm, raw: Iterable[tuple[str, int, int, float]]) -> list[Finding]:
        cands = [r for r in raw if r[3] >= self.min_score]
        if not cands:
            return []
        # resolve overlaps (a sorted sweep, overlap.py): best score, then priority, then longer span
        out: list[Finding] = []
        orig = norm.original
        for typ, a, b, sc in overlap.resolve(cands, _rank):
            oa, ob = norm.span(a, b)
            out.append(Finding(SCANNER, typ, oa, ob, round(min(1.0, sc), 4), orig[oa:ob]))
        return out

    # -- EMAIL -----------------------------------------------------------
    def _email(self, t: str):
        if t.count("@") > 2000:  # pathological: one linear regex pass
            yield from self._email_check(_EMAIL.finditer(t))
            return
        ms = []
        at = t.find("@")
        last_end = 0
        while at >= 0:
            i = at
            while i > 0 and at - i < 65 and t[i - 1] in _LOCAL_CHARS:
                i -= 1
            # the regex needs an alphanumeric first character
            while i < at and not t[i].isalnum():
                i += 1
            if i >= last_end:
                m = _EMAIL.match(t, i)
                if m is not None:
                    ms.append(m)
                    last_end = m.end()
            at = t.find("@", at + 1)
        yield from self._email_check(ms)

    def _email_check(self, matches):
        t = ""
        for m in matches:
            t = m.string
            local, tld = m.group(1), m.group(3)
            if local.endswith(".") or ".." in local:
                continue
            tl = tld.lower()
            if tl in _FILE_TLDS:
                continue
            if local == "git" and t[m.end() : m.end() + 1] == ":":
                continue
            a = m.start()
            ls = max(a - 200, t.rfind("\n", max(0, a - 200), a) + 1, 0)  # (its line, at most 200 back)
            h = _ID_HEADER.match(t, ls, a)
            if (
                (h is not None and _ID_VALUES.fullmatch(t, h.end(), a))
                or (t[a - 1 : a] in ("<", "=") and t[max(ls, a - 14) : a].lower().endswith(_ID_PREFIXES))
                or (a - ls == 4 and t[ls:a].lower() == "uid:")
                or (
                    t[a - 1 : a] == ":"
                    and t[max(ls, a - 5) : a].lower().endswith(("sip:", "sips:"))
                    and local.isdigit()
                )
            ):
                # a message, call or event id (Message-ID: <…@host>, UID:…@host), a SIP extension (sip:2001@pbx; a
                # named SIP address, sip:jane.doe@contoso.com, is the person's e-mail address in Teams)
                continue
            sch = t.rfind("://", max(0, a - 300), a)
            if sch >= 0:
                # userinfo of a URL (scheme://user:password@host) is not an e-mail, a password with an
                # unescaped "#" included (postgres://app:Xk9#pL2v@db: the secrets scanner's URL password)
                auth = t[sch + 3 : a]
                colon = auth.find(":")
                if colon > 0 and "#" not in auth[:colon] and not any(c.isspace() or c in "/?=@&" for c in auth):
                    continue
            if local[:1].isdigit() and t[a - 1 : a] == " " and _PHONE_GROUPS_BEFORE.search(t, max(0, a - 24), a):
                k = len(local) - len(local.lstrip("0123456789"))
                if k < len(local) and local[k].isalpha():
                    # a number's last group glued to the address after it, as text pulled from a PDF runs cells
                    # together ("Port.06 12 50 92 23contact@garnier-plomberie.fr"): the address is after the digits
                    yield ("EMAIL", a + k, m.end(), 0.9)
                    continue
            g = _GLUED_MAIL_LABEL.match(local)
            if g is None and local[3:4] == "+" and _EDI_END.search(t, max(0, a - 3), a) and _EDI_TAG.match(local):
                g = _EDI_TAG.match(local)  # an EDIFACT segment's tag and separator: "COM+einkauf@…:EM'"
            # a scraped page's label glued to its address ("E-mailcontato@padaria.com.br"): the address is after it
            yield ("EMAIL", a + (g.end() if g is not None else 0), m.end(), 0.9)

    # -- CREDIT_CARD -----------------------------------------------------
    def _cards(self, t: str, wins=None):
        headers: _Headers | None = None
        for m in gates.finditer(_CARD, t, wins):
            s = m.group()
            a = m.start()
            if " " not in s and "-" not in s:
                if _glued(t, a, m.end()):
                    continue  # "ref=TBS2404030830120072", a hash's digits: an id with letters, not a card
                if not (13 <= len(s) <= 19 and luhn_ok(s)):
                    continue
                brand = card_brand(s)
                if brand is None and len(s) == 16 and _national_brand(s):
                    # a national scheme's card (Elo, RuPay), only after a card's word: '"card":{"number":"504175…"'
                    brand = "national" if _CARD_CTX.search(t[max(0, a - 40) : a].lower()) else None
                if brand and t[a - 1 : a] == ">" and _XML_REF.search(t, max(0, a - 40), a):
                    continue  # an XML element named as a reference ("<AcctSvcrRef>3574918881251105")
                if (
                    brand
                    and _TAX_LABEL.search(t, max(0, a - 30), a)
                    and not _CARD_CTX.search(t[max(0, a - 40) : a].lower())
                    and _CARD_AFTER.search(t, m.end(), m.end() + 40) is None  # ("… exp 09/27 cvv 123")
                ):
                    continue  # a taxpayer's number after its label
                if brand and len(s) >= 16 and "\n" in t:
                    if headers is None:
                        headers = _Headers(t)
                    if _NOT_CARD_HEADER.search(headers.header_of(a)):
                        continue  # a column of SSCCs, IMEIs, ICCIDs, barcodes: one in ten passes Luhn
                if brand and len(s) == 13 and not _ean13(s) and headers is None and "\n" in t:
                    headers = _Headers(t)
                if brand and not (len(s) == 13 and (_ean13(s) or self._thirteen_not_card(t, a, s, headers))):
                    # (a 13-digit Visa number is all but retired: one is a card only after a card's word; a 13-digit
                    # EAN / JAN barcode is on every product, and a German mobile's MSISDN, 4915112345678, starts
                    # with a 4 too)
                    yield ("CREDIT_CARD", a, m.end(), _card_score(t, a, False))
                continue
            if (_RUN_GOES_ON.match(t, m.end()) or _RUN_CAME_ON.search(t, max(0, a - 8), a)) and any(
                r.start() < m.end() and a < r.end() for r in _KEY_RUN.finditer(t, max(0, a - 60), m.end() + 60)
            ):
                continue  # (groups of a run of nine fours or more: an NF-e's 44-digit access key; two cards are eight)
            # grouped: try every contiguous run of groups, longest first
            groups = []
            pos = 0
            for g in _SEP_SPLIT.split(s):
                groups.append((pos, g))
                pos += len(g) + 1
            if any(len(g) < 3 for _, g in groups[1:-1]) or len(groups) > 8:
                # malformed grouping (1 2 3 4 ...): only allow if the whole is a card
                continue
            if len(groups) > 4 and len(groups[-1][1]) == 3 and _AMOUNT_OR_CODE_AFTER.match(t, m.end()):
                groups.pop()  # (the last three digits are an amount's or a security code's)
            best = None
            ng = len(groups)
            # (with a card's word before it, a card may be written in other groups: "PAN 541333 0089604111")
            card_word = (
                any(len(g) != 4 for _, g in groups) and _CARD_CTX.search(t[max(0, a - 40) : a].lower()) is not None
            )
            for i in range(ng):
                digits = ""
                for j in range(i, ng):
                    digits += groups[j][1]
                    if len(digits) > 19:
                        break
                    if len(digits) >= 13 and (best is None or len(digits) > best[2]):
                        if (
                            all(len(groups[k][1]) >= 3 for k in range(i, j))  # (the last may be two: "… 0259 04")
                            # (a card's number is written from a group of four: "230219-1630-028114" is a case's,
                            # a date and a time and a sequence)
                            and (len(groups[i][1]) == 4 or card_word)
                            and len(groups[j][1]) >= (2 if j == ng - 1 and j > i else 3)
                            and luhn_ok(digits)
                            and (
                                card_brand(digits)
                                or (
                                    len(digits) == 16
                                    and _national_brand(digits)
                                    and _CARD_CTX.search(t[max(0, a - 40) : a].lower()) is not None
                                )
                            )
                        ):
                            gs = groups[i][0]
                            ge = groups[j][0] + len(groups[j][1])
                            best = (gs, ge, len(digits))
            if best and not _IBAN_HEAD.search(t, max(0, a + best[0] - 6), a + best[0]):
                # (not the digits of an IBAN-shaped run whose check digits fail: "AT13 4110 5228 9222 3431")
                yield ("CREDIT_CARD", a + best[0], a + best[1], _card_score(t, a + best[0], True))

    @staticmethod
    def _thirteen_not_card(t: str, a: int, s: str, headers: _Headers | None) -> bool:
        """A 13-digit "Visa" that is a valid international number with its "+" (a German MSISDN, 4915112345678) and
        has no card's word before it or in its column's header (``headers``: the text's, None for one line): a
        phone's, not a card (13-digit Visas are retired)."""
        if _CARD_CTX.search(t[max(0, a - 40) : a].lower()):
            return False
        if headers is not None and _CARD_CTX.search(headers.header_of(a).replace("_", " ")):
            return False
        return phones.valid_international("+" + s) or (
            _za_identity(s)
            and _ID_BEFORE.search(_ID_LIST.sub("", t[max(0, a - 80) : a].lower())) is not None
            and _CARD_AFTER.search(t, a + len(s), a + len(s) + 40) is None
        )

    # -- US_SSN ----------------------------------------------------------
    def _ssn(self, t: str, wins=None, items: phones.ItemNumbers | None = None):
        headers = _Headers(t)
        if items is None:
            items = phones.ItemNumbers(t)
        listed_end = -1  # where the last number after a word that is no SSN's ends
        words_at: list[int] | None = None  # (where the text's words of SSNs stand, for _ssn_listed)
        taken: set[int] = set()  # (where the SSNs read with their word or column start: a column below reads on)
        for m in gates.finditer(_SSN, t, wins):
            area, sep, group, serial = m.group(1), m.group(2), m.group(3), m.group(4)
            if area == "000" or area == "666" or area[0] == "9" or group == "00" or serial == "0000":
                continue
            near = t[max(0, m.start() - 80) : m.start()].lower()
            if _SSN_CTX.search(near) is None and (
                items.covers(m.start(), m.end()) or _PRODUCT_LABEL.search(t, max(0, m.start() - 60), m.start())
            ):
                # a line item's part number ("020  108-90-0270  2657 pcs"), a product's ("Product: Pump 613-50-2478")
                continue
            if area + group + serial in _SSN_SPECIMENS:
                continue
            if sep != "-" and _EIN_AFTER.match(t, m.end()) is not None:
                continue  # an employer's number, named so right after it ("Payee TIN: 841234567 (EIN)")
            # (the word may end the line before: "I'll need your social security number.\ncustomer: 457 23 9901";
            # but not past another number, whose word it is: "SSN 512-45-6789. Member no. 412 55 1234")
            before = t[max(0, m.start() - 80) : m.start()].lower()
            # a US tax form that asks for the number ("my wife's number on the 1040"), even as the last number
            form = _TAX_FORM_HINT.search(before) is not None and _TAX_FORM.search(before) is not None
            # (a US tax form's number is no other number the word belongs to: "gave SSN for 1099 update: 518 40 2279";
            # not "ends in 1040", "Paid $1099", "invoice 1099")
            runs = [r.group(1) for r in _DIGIT_RUN_AFTER.finditer(before) if _FORM_BEFORE.match(r.group()) is None]
            chained = False
            if runs:
                cut = before.rfind(runs[-1]) + len(runs[-1])
                # ...unless that number is an SSN with its word, and "and" joins this one to it: "My SSN is
                # 523-41-8876 and my wife's is 531 07 2249"
                # (the word close before the first, no other id's noun after "and": not "… and passport 512 45 6789")
                first = _SSN_DASHED_END.search(before, 0, cut)
                chained = (
                    first is not None
                    and _AND_ANOTHER.match(before, cut) is not None
                    and _OTHER_ID.search(before, cut) is None
                    and _SSN_CTX.search(before, max(0, first.start() - 30), first.start()) is not None
                )
                before = before[cut:]
            header = headers.header_of(m.start())
            tin_column = _TIN_COLUMN.search(header) is not None
            if not sep and tin_column and _SSN_CTX.search(header) is None and _OTHER_TIN_TYPE_AFTER.match(t, m.end()):
                continue  # a TIN column's row whose type cell names another number
            neg = (
                _NEG_CTX.search(before[-25:]) is not None
                or _NOT_SSN_COLUMN.search(header) is not None
                # (the next of a list whose word is no SSN's: "Helmet serials: 412-33-8801, 412-33-8802")
                or (
                    listed_end >= 0
                    and _LIST_SEP.fullmatch(t, listed_end, m.start()) is not None
                    and _SSN_CTX.search(t[m.end() : m.end() + 40].lower()) is None  # ("…, 523-41-8876 is my social")
                )
            )
            ctx = (
                (form and not neg)
                or (chained and not neg)
                or _SSN_CTX.search(before) is not None
                or _SSN_CTX.search(header) is not None
            )
            if (
                ctx
                and neg
                and sep != "-"
                and _OTHER_REGISTRY.search(before[-25:])
                and not _SSN_CTX.search(before[-25:])
            ):
                ctx = False  # another id's word right before an undashed number, the SSN's further back ("… not an SSN
                # …). DUNS 573941566"; a dashed one keeps the SSN's shape: "social security … case 523-41-8876")
            if sep == "-":
                score = 0.8
            elif sep in " .":  # (dots: an OCR'd or hand-typed "723.35.0736")
                score = 0.4
            else:
                score = 0.3
            if (
                not ctx
                and not neg
                and sep != "-"
                and (not header.strip() or "identif" in header or _SSN_DASHED.search(header))
            ):
                # (under no column's name, a form's "individual identifying number", or a "header" that is a row of
                # SSNs itself; a column named "ACCT" holds account numbers under an SSN written there by mistake)
                ctx = _ssn_above(t, m.start()) or _taken_above(t, m.start(), taken)
                if not ctx and _ssn_listed(t, m.start()):
                    if words_at is None:  # (the words of SSNs, found once: a list of thousands reads the text once)
                        words_at = [w.start() for w in _SSN_TABLE_WORD.finditer(t)]
                    k = bisect.bisect_left(words_at, m.start() - 3000)
                    ctx = k < len(words_at) and words_at[k] < m.start()
            if not ctx and not neg and tin_column and _SSN_TYPE_AFTER.match(t, m.end()):
                ctx = True  # a TIN column's row whose type cell says SSN
            if ctx:
                score += 0.3
                taken.add(m.start())
            elif neg:
                score -= 0.4  # (after "order", or under a column of them: "SKU,Description,Qty" over "417-22-0938,…")
                listed_end = m.end()
            yield ("US_SSN", m.start(), m.end(), min(score, 1.0))

    # -- IBAN ------------------------------------------------------------
    def _iban(self, t: str):
        if "?3" in t:
            for f in _MT940_IBAN.finditer(t):
                iban = f.group(1)
                if IBAN_LENGTHS.get(iban[:2]) == len(iban) and iban_ok(iban):
                    yield ("IBAN", f.start(1), f.end(1), 0.95)
        pos = 0
        while True:
            m = _IBAN_START.search(t, pos)
            if not m:
                return
            cc = m.group(1)
            n = IBAN_LENGTHS.get(cc)
            if n is None:
                pos = m.end()
                continue
            body = _IBAN_BODY[n - 4].match(t, m.end())
            if body is None and t[m.end() : m.end() + 1] != " ":
                # a fixed-width record's IBAN with its BIC glued after it ("DE27397705422653171633COBADEFFXXX")
                body = _IBAN_BODY_GLUED[n - 4].match(t, m.end())
            if body and iban_ok(t[m.start() : body.end()]):
                yield ("IBAN", m.start(), body.end(), 0.95)
                pos = body.end()
            else:
                pos = m.end()

    # -- IP_ADDRESS ------------------------------------------------------
    def _ipv4(self, t: str, wins=None):
        found = []
        numbered: set[str] = set()  # the first three parts of the dotted quads a section word names
        prev_end, prev_numbered, prev_version, prev_quad = -1, False, False, ""
        headings: bool | None = None  # whether the text has numbered headings of one to three parts
        headers: _Headers | None = None
        for m in gates.finditer(_IPV4, t, wins):
            a, b = m.span()
            if not _IPV4_FULL.fullmatch(m.group()):
                continue
            if _IPV4_SUFFIX_BAD.match(t, b):
                continue
            before = t[max(0, a - 20) : a].lower()
            quad = m.group()
            if _OBIS_BEFORE.search(t, max(0, a - 8), a):
                continue  # an OBIS code of a meter's register ("1-0:1.8.0.255", "0-0:96.1.0.255")
            if quad.startswith("0.") and quad != "0.0.0.0":
                continue  # "this network" (0.0.0.0/8) is no host's address: a bus address, a counter ("0.0.0.12")
            if quad.startswith(_OID_ARCS) or _HEADING_BEFORE.search(t, max(0, a - 8), a):
                continue  # an OID's arcs ("1.3.6.1 = iso.org.dod.internet"), a release's heading ("## 6.9.12.4")
            # a document's numbered part ("clause 4.2.1.7", "req. 3.5.1.2"), and the next of a list of them
            # ("clauses 1.2.3.4 and 7.1.2.9")
            section = (
                _SECTION_CTX.search(before) is not None
                or (
                    _PLAN_QUAD.fullmatch(quad) is not None
                    and quad not in _RESOLVERS
                    and _PLAN_CTX.search(before) is not None
                )
                or (prev_numbered and a - prev_end <= 8 and _LIST_JOIN.fullmatch(t, prev_end, a) is not None)
            )
            # ...or a numbered clause's heading, in a text whose other headings are numbered too ("12.3 Fees" ...
            # "12.3.1.4 Liability is capped")
            if not section and (a == 0 or t[a - 1] == "\n") and _CLAUSE_AFTER.match(t, b) and _small_parts(quad):
                if headings is None:
                    headings = _NUMBERED_HEADING.search(t) is not None
                section = headings
            # a version (after a version word, an assembly's namespace: "Serilog.Sinks.File 5.0.0.0")
            part = section or bool(
                _VERSION_CTX.search(before)
                or _version_named(t[max(0, a - 40) : a].lower())
                # the next of a list or a change of versions ("1.0.3.112 → 1.0.3.118", "4.1.0.7, boot 1.0.3.11")
                or (
                    prev_version
                    and a - prev_end <= 14
                    and _VERSION_JOIN.fullmatch(t, prev_end, a) is not None
                    and (quad.split(".", 1)[0] == prev_quad.split(".", 1)[0] or _version_shaped(quad))
                )
                or _VERSION_AFTER.match(t, b)
                or (quad.endswith(".0") and _namespace_before(t, a))
                or _version_before(t, a, b)
            )
            if not part and _version_shaped(quad):
                if headers is None:
                    headers = _Headers(t)
                part = _bare_version(t, a, b, quad, headers.header_of(a))
            if not part and phones.TWO_DIGIT_QUAD.fullmatch(quad):
                # a phone number in pairs right after a phone word's label (Luxembourg, Belgium, France: "Téléphone :
                # 27.14.71.62"), not an address
                part = phones.paired_after_label(t, a, b)
            if section:
                numbered.add(_three_parts(quad))
            found.append((a, b, part))
            prev_end, prev_numbered, prev_version, prev_quad = b, section, part, quad
        for a, b, part in found:
            # ...and the siblings of a numbered part ("Section 4.2.1.3 applies where 4.2.1.1 and 4.2.1.2 are met")
            low = part or (numbered and _three_parts(t[a:b]) in numbered)
            yield ("IP_ADDRESS", a, b, 0.3 if low or _NETMASK.fullmatch(t, a, b) else 0.85)

    def _ipv6(self, t: str):
        # anchor on "::" or a colon-separated hex run (literal ":" start =
        # fast scan), back up to the token start and match there
        pos = 0
        while True:
            g = _IPV6_GATE.search(t, pos)
            if g is None:
                return
            h = g.start()
            i = h
            while i > 0 and h - i < 45 and t[i - 1] in _HEXCOLON:
                i -= 1
            m = _IPV6.match(t, i)
            if m is None and t[i] == ":" and i > 0 and t[i - 1].isalpha() and t[i - 1] not in _HEXCOLON:
                # a label's colon right before it ("ip:2001:db8::1", "ステージング：2001:db8::1" after NFKC)
                i += 1
                m = _IPV6_BODY.match(t, i)
            elif m is None and i > 0 and t[i - 1].isalpha() and 0 < (j := t.find(":", i, h + 1)) - i <= 2:
                # ...whose last characters are hex digits ("IPv6:fd12:3456:789a:1::25", "サーバ IPv6：fd12:…")
                i = j + 1
                m = _IPV6_BODY.match(t, i)
            if m is None or m.end() <= h:
                # an IPv6 address can only start at the start of this
                # hex/colon run (look-behind), so skip the whole run
                run = _HEXCOLON_RUN.match(t, h)
                assert run is not None  # (``*``: it always matches)
                pos = run.end() + 1
                continue
            pos = m.end()
            s = m.group()
            a = m.start()
            s2 = s.rstrip(".")
            if not any(c.isdigit() for c in s2):
                continue
            try:
                ipaddress.IPv6Address(s2)
            except ValueError:
                # "addr:port" written without brackets: drop the last group
                head, _, tail = s2.rpartition(":")
                # (or a compressed one's port of five digits, which no group can be: an ALB log's "2001:db8::90ff:60112")
                if not (
                    tail.isdigit()
                    and len(tail) >= 2
                    and head
                    and (s2.count(":") >= 8 or ("::" in head and len(tail) == 5 and head.count(":") >= 4))
                ):
                    continue
                try:
                    ipaddress.IPv6Address(head)
                except ValueError:
                    continue
                s2 = head
            if s2.count(":") < 3 and not any(len(g) >= 3 for g in s2.split(":")) and s2 != "::1":
                continue
            if s2.count(":") == 7 and all(len(g) == 2 for g in s2.split(":")):
                continue  # an EUI-64 hardware address (a Zigbee or Thread device's "8a:e7:c2:9e:fb:be:cb:37")
            yield ("IP_ADDRESS", a, a + len(s2), 0.85)

    # -- PHONE -----------------------------------------------------------
    def _phone(self, t: str, wins=None, items: phones.ItemNumbers | None = None):
        headers = _Headers(t)
        if "wa.me/" in t or "whatsapp.com/send" in t:
            yield from phones.whatsapp_links(t)
        if "@" in t and "+" in t:
            yield from phones.sip_users(t)
        if "COM+" in t:
            yield from phones.edifact_numbers(t, headers.header_of)
        yield from phones.phone_candidates(
            t,
            phones.with_glued(t, gates.finditer(_PHONE, t, wins, lookahead=phones.LOOKAHEAD), wins),
            _nanp_score,
            headers.header_of,
            shapes=self._phone_score,
            min_score=self.min_score,
            items=items,
        )

    @staticmethod
    def _phone_score(s: str, digits: str) -> float:
        nd = len(digits)
        if s.startswith("+"):
            if not (8 <= nd <= 15) or not _INTL_GROUPS.fullmatch(s):
                return 0.0
            cc = _valid_cc(digits)
            if not cc:
                return 0.0
            if digits[0] == "1":
                mm = _NANP.fullmatch(s)
                if not mm or not _nanp_ok(mm):
                    return 0.0
            return 0.85
        if s.startswith("00"):
            rest = digits[2:]
            if 8 <= len(rest) <= 15 and _valid_cc(rest):
                return 0.35
            return 0.0
        mm = _NANP.fullmatch(s)
        if mm and _nanp_ok(mm):
            if mm.group(3).startswith("("):
                return 0.75
            if mm.group(6) or mm.group(8):
                # separators: must be consistent (555-123-4567, 555.123.4567)
                if mm.group(6) != mm.group(8):
                    return 0.45
                return 0.65
            return 0.3
        if digits[0] == "0" or s.startswith("(0"):
            if _FRENCH.fullmatch(s):
                return 0.55
            if 9 <= nd <= 12 and _NATIONAL.fullmatch(s):
                return 0.3
        return 0.0


def _nanp_score(s: str, digits: str) -> float:
    """Score of a North American 3-3-4 number written without ``+`` (0: not one)."""
    mm = _NANP.fullmatch(s)
    if not mm or not _nanp_ok(mm):
        return 0.0
    if mm.group(3).startswith("("):
        return 0.75
    if mm.group(6) or mm.group(8):
        # separators: must be consistent (555-123-4567, 555.123.4567), or a space then a dash after the trunk's 1, as
        # Canada writes a toll-free number ("1 866 607-6301"), or after one of Quebec's area codes, as Quebec writes
        # every number ("514 343-7418"); elsewhere that grouping needs a phone word, like any inconsistent grouping:
        # "212 345-6789 grams"
        if (
            mm.group(6) == " "
            and mm.group(8) == "-"
            and ((mm.group(1) == "1" and mm.group(2) == " ") or (mm.group(4) or mm.group(5)) in _QUEBEC_AREAS)
        ):
            return 0.55
        return 0.45 if mm.group(6) != mm.group(8) else 0.65
    return 0.3


_QUEBEC_AREAS = frozenset(("418", "438", "450", "514", "579", "581", "819", "873", "367", "354", "263", "468"))


def _nanp_ok(mm: re.Match) -> bool:
    area = mm.group(4) or mm.group(5)
    exch = mm.group(7)
    if area[0] in "01" or area[1:] == "11" or area[1] == "9":
        return False
    if exch[0] in "01" or exch[1:] == "11":
        return False
    return True


_DIGIT_RE = re.compile(r"[0-9]")
# the decimal digits of the scripts whose people write numbers in them: Arabic-Indic, Persian, N'Ko, Devanagari,
# Bengali, Gurmukhi, Gujarati, Oriya, Tamil, Telugu, Kannada, Malayalam, Sinhala, Thai, Lao, Tibetan, Myanmar,
# Khmer, Mongolian (each a run of ten from its zero)
_DIGIT_ZEROS = (
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0DE6,
    0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810,
)  # fmt: skip
_DIGIT_FOLD = {z + i: 48 + i for z in _DIGIT_ZEROS for i in range(10)}
_NATIVE_CLASS = "[" + "".join(f"\\u{z:04x}-\\u{z + 9:04x}" for z in _DIGIT_ZEROS) + "]"
_NATIVE_DIGITS = re.compile(_NATIVE_CLASS + "+")
_NATIVE_DIGIT = re.compile(_NATIVE_CLASS)


def _has_native_digits(t: str) -> bool:
    try:
        t.encode("latin-1")  # (C speed) the usual non-ASCII text: Latin-1, no such digits
        return False
    except UnicodeEncodeError:
        return _NATIVE_DIGIT.search(t) is not None


def _fold_digits(m: re.Match) -> str:
    return m.group().translate(_DIGIT_FOLD)


def _delim(line: str) -> str | None:
    if line.count("|") >= 2:
        return "|"
    if "\t" in line:
        return "\t"
    if line.count(";") >= 2:
        return ";"
    if "," in line:
        return ","
    return None


def _unquoted_commas(t: str, lo: int, hi: int) -> list[int]:
    """The positions of the commas of ``t[lo:hi]`` outside quoted fields."""
    out, i = [], lo
    for m in _QUOTED_FIELD.finditer(t, lo, hi):
        j = t.find(",", i, m.start())
        while j >= 0:
            out.append(j)
            j = t.find(",", j + 1, m.start())
        i = m.end()
    j = t.find(",", i, hi)
    while j >= 0:
        out.append(j)
        j = t.find(",", j + 1, hi)
    return out


_XML_REF = re.compile(r"<(?:[\w.-]+:)?[A-Za-z]*(?:Ref|Id|ID|Nb|Nr|No|Num)>$")
# an MT940 statement's structured field 86: the counterparty's IBAN in sub-field ?31 ("?31AT499973732649869052?32")
_MT940_IBAN = re.compile(r"\?3[0-9]([A-Z]{2}[0-9]{2}[A-Z0-9]{10,30})(?=\?|\r?\n|$)")
_IBAN_HEAD = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2} $")
_CDR_COLUMNS = frozenset(["billsec", "disposition", "dcontext", "dstchannel", "lastapp", "lastdata", "duration"])


def _count(t: str, delim: str, lo: int, hi: int) -> int:
    """The delimiters in ``t[lo:hi]``; a CSV line's commas inside quoted fields are not ("PJSIP/4410,30")."""
    if delim != "," or not _quoted_csv(t, lo, hi):
        return t.count(delim, lo, hi)
    return len(_unquoted_commas(t, lo, hi))


def _quoted_csv(t: str, lo: int, hi: int) -> bool:
    """Whether ``t[lo:hi]`` holds a quoted CSV field: quote, comma, quote between two of them, or one quoted field
    between commas (an amount with its thousands' comma, `…,1.12%,"₩770,400",37`; not JSON's '": "')."""
    if t.find('","', lo, hi) >= 0:
        return True
    q = t.find(',"', lo, hi)
    return q >= 0 and (t.find('",', q + 2, hi) >= 0 or (t[hi - 1 : hi] == '"' and hi - 1 > q + 1))


_QUOTED_FIELD = re.compile(r'"(?:[^"\n]|"")*"')
_COPY = re.compile(r"[ \t]*COPY[ \t]+[\w.\"]+[ \t]*\(([^)\n]*)\)[ \t]+FROM[ \t]+stdin", re.IGNORECASE)
_Row = tuple[str, list[str]]  # a table row's delimiter and its header's cells (lower case)


class _Headers:
    """The header cell of the table column a position is in: markdown pipes, CSV, TSV and
    semicolon rows (a block of consecutive lines with the same number of delimiters; its first line
    is the header).  A column named "SSN" or "Telefon" gives the values under it their context,
    however far down the table they are.  Lines are read once (memoised); lines longer than
    ``_MAX_ROW`` characters are not table rows (so one huge line costs nothing per candidate)."""

    __slots__ = (
        "t",
        "memo",
        "rows",
        "fixed",
        "sql",
        "sql_cols",
        "sql_tuples",
        "cells",
        "heads",
        "x12",
        "copy",
        "html",
        "heads_html",
        "commas",
    )

    def __init__(self, t: str) -> None:
        self.t = t
        self.x12: bool | None = None  # whether the text holds X12 EDI segments (looked at once)
        self.html: bool | None = None  # whether the text holds an HTML table with header cells (looked at once)
        self.heads_html: dict[int, list[str]] = {}  # header row start -> its cells
        self.memo: dict[tuple[int, str], int] = {}
        self.rows: dict[int, _Row | None] = {}  # line start -> (delimiter, header cells); None: not a table row
        # line start -> (header line, column spans) of the fixed-width table it is a row of; None: not one
        self.fixed: dict[int, tuple[str, list[tuple[int, int]]] | None] = {}
        self.sql: bool | None = None  # whether the text holds an SQL VALUES list (looked at once)
        self.sql_cols: dict[int, list[str]] = {}  # VALUES position -> the statement's column names
        self.sql_tuples: dict[int, tuple[list[int], int]] = {}  # tuple start -> (its commas, its end or -1)
        self.cells: dict[int, list[tuple[int, int]] | None] = {}  # line start -> its fixed-width cells
        self.heads: dict[int, int] = {}  # line start -> the header line over it (-1: none)
        self.copy: dict[int, list[str] | None] = {}  # block start -> the COPY statement's columns over it (None: none)
        self.commas: dict[int, list[int] | None] = {}  # a quoted CSV line's start -> its commas outside quotes

    def header_of(self, pos: int) -> str:
        t = self.t
        if self.x12 is None:
            self.x12 = "~" in t and "*" in t and _X12_SEGMENT.search(t) is not None
        if self.x12:
            named = self._x12_element(pos)
            if named:
                return named
        # an SQL value (after a comma or the tuple's bracket, a quote between): read first, since a tuple on a
        # line of its own would read as a CSV row
        if self.sql is not False and _SQL_VALUE_BEFORE.search(t, max(0, pos - 4), pos):
            named = self._sql_column(pos)
            if named:
                return named
        if self.html is None:
            self.html = "<th" in t and "<td" in t
        if self.html:
            named = self._html_column(pos)
            if named:
                return named
        lo = max(0, pos - _MAX_ROW)
        ls = t.rfind("\n", lo, pos) + 1
        if ls == 0 and lo > 0:
            return ""  # inside a line longer than a table row
        row: _Row | Literal[False] | None = self.rows.get(ls, False)
        if row is False:
            row = self.rows[ls] = self._row(ls)
        if row is None:
            return self._fixed_header(ls, pos) or self._aligned_header(ls, pos)
        delim, cells = row
        commas = self.commas.get(ls, False)
        if commas is False:  # (a quoted CSV line's commas outside its quotes, found once per line; None: no such line)
            le = t.find("\n", ls)
            le = len(t) if le < 0 else le
            quoted = delim == "," and _quoted_csv(t, ls, le)
            commas = self.commas[ls] = _unquoted_commas(t, ls, le) if quoted else None
        col = bisect.bisect_left(commas, pos) if isinstance(commas, list) else t.count(delim, ls, pos)
        cell = cells[col] if col < len(cells) else ""
        if cell.strip(' "') in ("src", "dst") and not _CDR_COLUMNS.isdisjoint(c.strip(' "') for c in cells):
            return cell + " (call record)"  # Asterisk's CDR: its source and destination are the call's numbers
        return cell

    def _html_column(self, pos: int) -> str:
        """The header cell (``<th>``, lower case, tags stripped) of the HTML table column whose ``<td>`` holds
        ``pos``: the cell's place in its row, in the nearest row of header cells above; "" when none."""
        t = self.t
        lo = max(0, pos - _MAX_ROW)
        cell = t.rfind("<td", lo, pos)
        if cell < 0 or t.find("</td", cell, pos) >= 0:
            return ""  # not inside a cell
        row = t.rfind("<tr", lo, cell)
        if row < 0:
            return ""
        k = t.count("<td", row, cell) + t.count("<th", row, cell)  # (the cell's place in its row)
        head = t.rfind("<th", max(0, row - _MAX_ROW), row)
        hrow = t.rfind("<tr", max(0, head - _MAX_ROW), head) if head >= 0 else -1
        if hrow < 0 or t.find("<table", head, row) >= 0 or t.find("</table", head, row) >= 0:
            return ""  # (no header row, or it is another table's; not a cell's "Timetable")
        cells = self.heads_html.get(hrow)
        if cells is None:  # (read once per header row, however many values under it)
            # the row ends at its "</tr>" or the next row's "<tr>" (HTML5 leaves it open)
            ends = [e for e in (t.find("</tr", head, head + _MAX_ROW), t.find("<tr", head, head + _MAX_ROW)) if e > 0]
            hend = min(ends) if ends else min(len(t), head + _MAX_ROW)
            found = _HTML_CELL.findall(t, hrow, hend) if t.find("<td", hrow, hend) < 0 else []
            cells = self.heads_html[hrow] = [_HTML_TAG.sub("", c).strip().lower() for c in found]
        return cells[k] if k < len(cells) else ""  # (none when the row above holds data cells: row headers)

    def _x12_element(self, pos: int) -> str:
        """What an X12 EDI element at ``pos`` holds, by its segment's qualifier: "ssn" after ``REF*SY`` / ``REF*0F``
        (the subscriber's number) or an ``NM1`` or ``N1`` id of qualifier ``34`` (code list 66: a Social Security
        Number; an importer's in a customs ``N1*IM`` segment); "phone" after a ``PER`` communication
        qualifier (``TE HP WP CP FX``); "" otherwise."""
        t = self.t
        lo = max(0, pos - _X12_BACK)
        ss = max(t.rfind("~", lo, pos), t.rfind("\n", lo, pos)) + 1
        if (ss == 0 and lo > 0) or t.find("*", ss, pos) < 0:  # (no segment starts within reach: none is read)
            return ""
        seg = t[ss:pos].lstrip().split("*")
        tag, k = seg[0], len(seg) - 1  # (k: the element ``pos`` is in)
        if tag == "REF" and k == 2 and seg[1] in ("SY", "0F"):
            return "ssn"
        if (tag == "NM1" and k == 9 and seg[8] == "34") or (tag == "N1" and k == 4 and seg[3] == "34"):
            return "ssn"
        if tag == "PER" and k >= 4 and k % 2 == 0 and seg[k - 1] in _X12_PHONES:
            return "phone"
        return ""

    def _row(self, ls: int) -> _Row | None:
        t = self.t
        le = t.find("\n", ls, ls + _MAX_ROW + 1)
        if le < 0:
            le = len(t)
            if le - ls > _MAX_ROW:
                return None
        line = t[ls:le]
        delim = _delim(line)
        if delim is None:
            return None
        if delim == "," and _LABEL_START.match(line):
            return None  # a label's line ("Kunde: Herr Dr. Stefan Reiter, Tel. 0171 …"), no CSV row
        n = _count(line, delim, 0, len(line))
        if not n:
            return None  # (commas only inside quotes: an XML line's attribute, custo="0,87")
        hs = self._header_start(ls, delim, n)
        if delim == "\t" and hs > 0:
            # PostgreSQL's dump: "COPY t (id, name, ssn) FROM stdin;" names the columns of the rows below it (read
            # once per block, the list shared by its rows; a line longer than a row is no statement)
            if hs in self.copy:
                cols = self.copy[hs]
            else:
                pe = hs - 1
                ps = t.rfind("\n", max(0, pe - _MAX_ROW), pe) + 1
                m = _COPY.match(t, ps, pe) if ps > 0 or pe <= _MAX_ROW else None
                cols = self.copy[hs] = [c.strip().strip('"').lower() for c in m.group(1).split(",")] if m else None
            if cols is not None:
                return delim, cols
        if hs == ls:
            return None  # the row is the header itself (or stands alone)
        he = t.find("\n", hs, ls)
        if delim == "," and "   " in line and _NUMBER_CELL.search(t, hs, he if he >= 0 else ls):
            return None  # a fixed-width row with a comma in a name ("HARRIS, GLORIA M   713-45-9348"): no CSV
        if (
            delim == ","
            and _LONG_DIGITS.search(t, hs, he if he >= 0 else ls)
            and _PROSE_CELL.search(t, hs, he if he >= 0 else ls)
        ):
            return None  # two lines of prose with as many commas: a header holds no sentence with an account number
            # ("… 3.99% APR, ACH autopay from routing 063107513 acct 1100448921\nInstaller: …, (772) 879-1406"; not
            # "name,ssn,202401,202402", "employee,ssn,GL 60100")
        return delim, [c.lower() for c in t[hs : he if he >= 0 else ls].split(delim)]

    def _line_cells(self, ls: int) -> list[tuple[int, int]] | None:
        """The cells of the line at ``ls`` as (start, end) columns, split at two or more spaces (None: a line
        too long to be a row, or blank)."""
        got = self.cells.get(ls, False)
        if got is not False:
            return got  # type: ignore[return-value]
        t = self.t
        le = t.find("\n", ls, ls + _MAX_ROW + 1)
        if le < 0:
            le = len(t) if len(t) - ls <= _MAX_ROW else -1
        if le >= 0 and t.find("  ", ls, le) < 0:  # (no two spaces: one cell at most, no regex needed)
            line = t[ls:le]
            stripped = line.strip()
            res1 = [(line.find(stripped[:1]), len(line.rstrip()))] if stripped else None
            self.cells[ls] = res1
            return res1
        cells = [m.span() for m in _CELL.finditer(t, ls, le)] if le >= 0 else []
        res = [(a - ls, b - ls) for a, b in cells] or None
        self.cells[ls] = res
        return res

    def _aligned_header(self, ls: int, pos: int) -> str:
        """The header cell over ``pos`` in a fixed-width table with no rule under its header: going up through
        the rows above (lines of two or more cells, one of them a number), the first line of two or more cells
        with no number, if at least two of its cells start where this row's do ("NAME    SSN    RELATION" over
        "HARRIS, G    713-45-9348    SPOUSE"). Each line's header is kept: a table is walked once."""
        row = self._line_cells(ls)
        if row is None or len(row) < 2:
            return ""
        hs = self._table_head(ls)
        if hs < 0:
            return ""
        head = self._line_cells(hs)
        assert head is not None
        if len({a for a, _ in row} & {a for a, _ in head}) < 2:
            return ""
        c = pos - ls
        for k, (a, _) in enumerate(head):
            if a <= c and (k + 1 == len(head) or c < head[k + 1][0]):
                b = head[k][1]
                return self.t[hs + a : hs + b].lower()
        return ""

    def _table_head(self, ls: int) -> int:
        """The start of the header line over the fixed-width row at ``ls`` (-1: none): going up through the rows
        (lines of two or more cells, one a number), the first line of two or more cells and no number."""

        def look(ps: int, cur: int):
            cells = self._line_cells(ps)
            if cells is None or len(cells) < 2:
                return -1  # an empty line, or prose: no table above
            if not _NUMBER_CELL.search(self.t, ps + cells[0][0], ps + cells[-1][1]):
                if self._aligned_row_above(ps, cells):
                    return _UP  # a row whose cells hold no number ("DOE, A    n/a    401K"): the header is higher
                return ps  # two or more cells and no number: the header
            return _UP  # another row

        return self._walk_up(ls, self.heads, _ALIGN_UP, look, -1)

    def _aligned_row_above(self, ls: int, cells: list[tuple[int, int]]) -> bool:
        """Whether the line above the one at ``ls`` (of ``cells``) is a row of the same table: two or more cells,
        a number among them, and at least two cells starting where these do -- as many cells as these, or two
        besides the first."""
        if ls == 0:
            return False
        ps = self.t.rfind("\n", max(0, ls - 1 - _MAX_ROW), ls - 1) + 1
        if ps == 0 and ls - 1 > _MAX_ROW:
            return False
        above = self._line_cells(ps)
        if above is None or len(above) < 2:
            return False
        if not _NUMBER_CELL.search(self.t, ps + above[0][0], ps + above[-1][1]):
            return False
        shared = {a for a, _ in above} & {a for a, _ in cells}
        # (as many cells, or two columns besides the first, where every line starts: a report's title line over the
        # header, "PICK LIST  WV-PL-2024-114823   Wave 07   Zone B", shares the first and one more by chance)
        return len(shared) >= 2 and (len(above) == len(cells) or len(shared - {cells[0][0]}) >= 2)

    def _walk_up(self, ls: int, memo: dict, limit: int, look, default):
        """Walk up from the line at ``ls`` until ``look(previous line's start, this line's start)`` answers
        (anything but :data:`_UP`), at most ``limit`` lines; ``default`` at the text's start, past the limit or
        past a line longer than a table row. Every line walked keeps the answer in ``memo``: a table is walked
        once however many of its rows ask."""
        t = self.t
        chain = []
        cur = ls
        res = default
        while True:
            if cur in memo:
                res = memo[cur]
                break
            chain.append(cur)
            if cur == 0 or len(chain) > limit:
                break
            ps = t.rfind("\n", max(0, cur - 1 - _MAX_ROW), cur - 1) + 1
            if ps == 0 and cur - 1 > _MAX_ROW:
                break
            got = look(ps, cur)
            if got is not _UP:
                res = got
                break
            cur = ps
        for c in chain:
            memo[c] = res
        return res

    def _sql_column(self, pos: int) -> str:
        """The column a value at ``pos`` fills in ``INSERT INTO t (a, b, ssn) VALUES (1, 'x', '512...'), (...)``:
        the statement's column list, counted along the value's tuple (commas inside quotes skipped). Each tuple
        is read once (its top-level commas kept), so a value costs a search back for its tuple."""
        t = self.t
        if self.sql is None:
            self.sql = "VALUES" in t or "values" in t
        if not self.sql:
            return ""
        lo = max(0, pos - _SQL_BACK)
        v = max(t.rfind("VALUES", lo, pos), t.rfind("values", lo, pos))
        if v < 0:
            return ""
        ts = t.rfind("(", v, pos)
        if ts < 0:
            return ""
        cols = self.sql_cols.get(v)
        if cols is None:
            ce = t.rfind(")", max(0, v - _SQL_BACK), v)
            cs = t.rfind("(", max(0, v - _SQL_BACK), ce) if ce >= 0 else -1
            ok = cs >= 0 and t[ce + 1 : v].isspace()
            cols = self.sql_cols[v] = [c.strip().strip('`"[]').lower() for c in t[cs + 1 : ce].split(",")] if ok else []
        if not cols:
            return ""
        got = self.sql_tuples.get(ts)
        if got is None:
            commas: list[int] = []
            close = -1
            for m in _SQL_TOKEN.finditer(t, ts + 1, min(len(t), ts + 1 + _SQL_BACK)):
                g = m.group()
                if g == ",":
                    commas.append(m.start())
                elif g in "()":
                    close = m.start()  # (the tuple's end, or a nested call: read no further)
                    break
            got = self.sql_tuples[ts] = (commas, close)
        commas, close = got
        if 0 <= close < pos:
            return ""
        col = bisect.bisect_left(commas, pos)
        return cols[col] if col < len(cols) else ""

    def _fixed_header(self, ls: int, pos: int) -> str:
        """The header cell over ``pos`` in a fixed-width table: a rule of dash (or ``=``) groups under the header
        line ("Name    SSN" over "------  -----"), the rows below it, no empty line between."""
        got = self.fixed[ls] if ls in self.fixed else self._fixed_table(ls)
        if got is None:
            return ""
        header, cols = got
        c = pos - ls
        for k, (a, _) in enumerate(cols):
            if a <= c and (k + 1 == len(cols) or c < cols[k + 1][0]):
                return header[a : cols[k + 1][0] if k + 1 < len(cols) else len(header)].strip().lower()
        return ""

    def _fixed_table(self, ls: int) -> tuple[str, list[tuple[int, int]]] | None:
        """The header line and column spans of the fixed-width table the line at ``ls`` is a row of (None: not
        one), by a walk up to at most ``_FIXED_UP`` lines to a rule of dash groups with a header over it."""
        t = self.t

        def look(ps: int, cur: int):
            line = t[ps : cur - 1]
            if not line.strip():
                return None
            if _RULE_LINE.fullmatch(line):
                hs = t.rfind("\n", max(0, ps - 1 - _MAX_ROW), ps - 1) + 1
                if ps > 0 and t[hs : ps - 1].strip():
                    return (t[hs : ps - 1], [m.span() for m in _RULE_GROUP.finditer(line)])
                return None
            return _UP

        return self._walk_up(ls, self.fixed, _FIXED_UP, look, None)

    def _header_start(self, ls: int, delim: str, n: int) -> int:
        t, memo = self.t, self.memo
        chain = []
        cur = ls
        while True:
            known = memo.get((cur, delim))
            if known is not None:
                res = known
                break
            chain.append(cur)
            if cur == 0 or len(chain) > 1000:
                res = cur
                break
            ps = t.rfind("\n", max(0, cur - 1 - _MAX_ROW), cur - 1) + 1
            if (ps == 0 and cur - 1 > _MAX_ROW) or _count(t, delim, ps, cur - 1) != n:
                # a query tool's rule under the header ("-----+-----", "|----+----|", "+----+----+"): the header
                # is the row above it (psql, mysql, sqlcmd, Snowflake's and Trino's boxes)
                pp = t.rfind("\n", max(0, ps - 1 - _MAX_ROW), ps - 1) + 1 if ps > 0 else -1
                if (
                    pp >= 0
                    and delim == "|"
                    and _BOX_RULE.fullmatch(t, ps, cur - 1)
                    and _count(t, delim, pp, ps - 1) == n
                    and not _BOX_RULE.fullmatch(t, pp, ps - 1)
                ):
                    chain.append(ps)
                    cur = pp
                    continue
                res = cur
                break
            cur = ps
        for c in chain:
            memo[(c, delim)] = res
        return res


_MAX_ROW = 4096
# a box table's rule line ("|---+---|", "---+---"; three dashes, then one run: a failed match is linear)
_BOX_RULE = re.compile(r"[ \t]*[|+]?[-=]{3}[-=+|: \t]*\r?")
_HTML_CELL = re.compile(r"<t[hd](?:\s[^>]*)?>(.*?)(?=</t[hdr]|<t[hd][\s>]|$)", re.S)  # (a cell, closed or not)
_HTML_TAG = re.compile(r"<[^>]*>")
_X12_SEGMENT = re.compile(r"(?:^|~)[ \t\r\n]*(?:ISA|GS|ST|NM1|N1|REF|PER|INS)\*", re.M)
_X12_BACK = 512  # characters an element is looked back from for its segment's start
_X12_PHONES = frozenset(("TE", "HP", "WP", "CP", "FX"))
_SQL_BACK = 8192  # characters an SQL value is looked back from for its statement's VALUES
_SQL_VALUE_BEFORE = re.compile(r"[,(][ \t]*['\"]?$")
_SQL_TOKEN = re.compile(r"'(?:[^'\\]|\\.|'')*'|[,()]")  # a quoted string (skipped), a comma, a bracket
_ALIGN_UP = 256  # lines a fixed-width row is walked up to find a header aligned with it
_UP = object()  # (``_Headers._walk_up``: no answer here, go on up)
_CELL = re.compile(r"\S+(?: \S+)*")  # a cell of a fixed-width line: words one space apart
_NUMBER_CELL = re.compile(r"[0-9]{3}")  # a header cell holds no number ("(2) SSN" may)
_FIXED_UP = 256  # rows of a fixed-width table walked up to find its rule (each line's answer kept: linear)
_RULE_LINE = re.compile(r"[ \t]*[-=]{2,}(?:[ \t]+[-=]{2,})+[ \t]*")
_RULE_GROUP = re.compile(r"[-=]+")
_KEEP_DIGITS = str.maketrans("", "", " \t().-+")


def _has_digits(t: str) -> bool:
    return _DIGIT_RE.search(t) is not None


# e-mail-shaped ids: the headers that start a line of them (mail, SIP, iCalendar) and what may come just
# before one (a postfix log's message-id=<…>, a SIP URI)
_ID_HEADER = re.compile(r"[ \t]*(?:message-id|in-reply-to|references|call-id|content-id|x-message-id)[ \t]*:", re.I)
_ID_PREFIXES = ("message-id=<", "message-id=", "msgid=<")
# (only the header's ids before the address; the id's own characters before its "@" that an address cannot start
# with: "<CAF8x2=R9k0Qm4471ZpT@mail.gmail.com>")
_ID_VALUES = re.compile(r"[ \t]*(?:<[^<>\s]{1,250}>[ \t,]*)*(?:<[^<>\s@]{0,250})?")
_CARD_WORD_GLUED = re.compile(r"card|cc|visa|mc|amex|pan|credit|debit|karte|tarjeta|carte|cartao|num|no|nr")
_CARD_CTX = re.compile(
    r"\b(?:card|credit|debit|visa|mastercard|amex|cc|pan|payment|karte|kreditkarte|tarjeta|carte|carta|cartão|cartao|"
    r"karta|kaart|kort|kortti|diners|discover|jcb|maestro|unionpay|mc|kartennummer|kreditkartennummer|kortnummer)\b"
)


def _glued(t: str, a: int, b: int) -> bool:
    """The run ``t[a:b]`` is part of an id or a hash: ASCII letters glued to its left that are no card word
    ("ref=TBS2404…", not "card4111…"), or letters on both sides."""
    left = a > 0 and t[a - 1].isascii() and t[a - 1].isalpha()
    if not left:
        return False
    if b < len(t) and t[b].isascii() and t[b].isalpha():
        return True
    i = a
    while i > 0 and a - i < 12 and t[i - 1].isascii() and t[i - 1].isalpha():
        i -= 1
    return _CARD_WORD_GLUED.search(t[i:a].lower()) is None


def _ean13(d: str) -> bool:
    """``d`` (13 digits) carries a valid EAN-13 / JAN check digit."""
    return (sum(map(int, d[:12:2])) + 3 * sum(map(int, d[1:12:2])) + int(d[12])) % 10 == 0


def _card_score(t: str, a: int, grouped: bool) -> float:
    score = 0.85 if grouped else 0.75
    if _CARD_CTX.search(t[max(0, a - 40) : a].lower()):
        score += 0.1
    return score
