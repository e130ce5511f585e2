"""Phone numbers in international and national formats, validated per country.

A phone number is found in three steps, cheapest first:

1. **Candidates** - a regular expression finds runs of digits and the separators
   people write inside phone numbers (space, ``.``, ``-``, ``/``, parentheses, a
   leading ``+``), 7..15 digits, not glued to ASCII letters or digits (CJK, Arabic
   or Cyrillic text right next to the number is fine: ``电话13800138000``, and so is a
   scraped page's label: ``Fax089 871 229``, ``… 43Fax:``), plus an
   optional extension (``ext. 12``, ``x31``, ``доб. 123``, ``wew. 5``, ``ramal 7``).
2. **Shape vetoes** (no library call): dates (``03.12.2026``, ``2026-12-03``),
   decimal numbers and coordinates, dotted version strings, a number followed by
   a currency or unit, a number right after a negative word (order, invoice,
   Bestellnummer, zamówienie, заказ, 订单, 주문, طلب ...).  Card numbers and IBANs
   are their own types and win any overlap.
3. **Validation** with Google's libphonenumber metadata (the ``phonenumbers``
   package): ``+CC`` / ``00CC`` numbers are parsed as international; national
   numbers are tried against the regions the surrounding text hints at (its
   script - Cyrillic, Hangul, kana, Han, Arabic, Devanagari ... - and the
   language of nearby Latin-script words), so ``0151 23456789`` counts in German
   text and ``010-1234-5678`` in Korean text.  North American 3-3-4 numbers keep
   their own fast check (area and exchange rules).  A number with its national
   trunk prefix (``0``, or ``8`` in Russia) scores higher than one without; a
   bare digit run or a thousands-shaped group (``512 345 678``) needs a phone
   word nearby (phone, Telefon, telefon, tel., звоните, 电话, 전화, 電話, هاتف,
   फ़ोन ...), in the 40 characters before it, just after it, or in the header of
   its table column.

Each validation costs 10-40 µs, so it only runs on candidates that survived the
vetoes, and results are cached per (digits, regions).
"""

from __future__ import annotations

import bisect
import re
from functools import lru_cache

_pn = None  # the phonenumbers module, imported by warm() (~80 ms: only when a PII scanner looks for phones)

__all__ = ["PHONE", "phone_candidates", "region_hints", "warm", "with_glued"]

# -- candidates ---------------------------------------------------------------------------
# A web page scraped without its layout glues a number to its labels ("Tel.+39 089 876 354|Fax089 876 319",
# "Hotline0316 887-7272", "Tel.:0461 1820 43Fax:0461 …", "Telefone(51) 3015-6076WhatsApp(51) …"): these labels
# may touch a number on the left (``with_glued``: looked for before the runs of digits the scanner reads, since a
# look-behind per label at every digit doubled the pattern's cost), and these on the right (a capital letter
# starting the next label)
_GLUED_LABELS = "Tel Tel. Tél. Tlf. Fax Fax. Hotline Telefon Telefone Telefono Teléfono Phone Mobil Mobile Cell Cell. "
_GLUED_LABELS += (
    "Handy WhatsApp Τηλ. Τηλ Φαξ Port. Gsm GSM ATD"  # (French "Port.", a mobile; Belgian "GSM"; a modem's dial)
)
_GLUED_LABELS += " %2B %2b"  # (a URL-encoded "+": "phone=%2B2015795839")
# (a capital before the label makes it part of a code: "XTel2079…"; a digit is the number before it: "…
# 6076WhatsApp(51) 99438-2458")
_GLUED_ALT = "(?:" + "|".join(re.escape(w) for w in sorted(_GLUED_LABELS.split(), key=len, reverse=True)) + ")"
_GLUED = re.compile(_GLUED_ALT + r"(?=[+(]?[0-9])")
_GLUED_END = re.compile(_GLUED_ALT + "$")
# (the labels' last characters, and the one before a label's dot, where a run that starts at the dot looks:
# a cheap test first)
_GLUED_LAST = frozenset(c for w in _GLUED_LABELS.split() for c in (w[-1], w[-2] if w[-1] == "." else w[-1]))
# (their first letters: "Fax", "E-Mail", "WhatsApp", "Emergência", "Notfall" ...)
_GLUED_AFTER = (
    "Fax|FAX|Tel|TEL|Tél|E-?[Mm]a|Emai|What|Mobi|Cell|Hand|Emer|Urg|Notf|Web|Www|Τηλ|Φαξ|Port\\.|Gsm|GSM|[Cc]ont"
    # (an extension glued to the number: "0161 496 0554ext. 214", "(206) 555-0123x204")
    "|[Ee]xt|x(?=[0-9]{2})"
)
LOOKAHEAD = 5  # how far past its end a match of PHONE looks (the longest prefix above, and a character)
# a Hungarian case ending joined to a number by a hyphen ("hívj a +36 30 418 2276-os számon", "a 06 1 555 0123-ra")
_HU_SUFFIX = r"(?<=-)(?:os|es|as|ra|re|on|en|hoz|hez|ig|ba|be|ban|ben|nak|nek|val|vel)(?![0-9A-Za-z])"
_GLUED_AFTER_END = re.compile("(?:" + _GLUED_AFTER + r")[ \t]$")  # a code before a number that is a label: "220Fax "
# Starts at "+", "(" or a digit not preceded by an ASCII word character or a number
# separator (nor by a digit and a colon: "17:42:18 2024 -0700" is a time); ends at a digit not
# followed by one.  ASCII-only boundaries: CJK, Arabic and Cyrillic letters may touch the number, a
# Hebrew one-letter prefix joined by a hyphen ("ל-054-…", "to 054-…") may lead it, and the Nguni "ku-" ("at": "ku-072
# 630 5512"), a word joined by a hyphen may lead an international number ("ku-+27 73 …"), and so may a slash
# after a bracket or a CJK character ("(市話)/0911-891-427": two numbers, each labelled).  A slash between
# spaces separates two numbers ("+212 5 24 88 99 73 / 07 71 22 90 44") unless it follows an area code
# alone ("0711 / 725 04 38"): ``phone_candidates`` splits such a match (a character class here is three
# times faster than an alternation that tells the two apart); without spaces it groups a number
# ("0173/28154237"), but not a reservation system's passenger tag after it ("APM +49 151 27384910/P1"); a "+" right
# after a slash opens a number of its own ("9418 2773/+852 2418 8836").
_PHONE_BODY = (
    r"(?<!(?<![\u05d0-\u05ea])(?<!(?<![^\W\d_])ku)-[^+])(?<!(?<![^\W\d_])-\+)(?<![0-9]:[\s\S])"
    r"(?<!(?<![)\u2e80-\u9fff\uac00-\ud7af])/[^+])"
    r"(?:(?<=\+)\(?[0-9]|(?<=\()\+?[0-9]|(?<=[0-9]))"
    r"[0-9 \t()./\-]{4,24}[0-9]"
    r"(?!(?!"
    + _GLUED_AFTER
    + r")[A-Za-z0-9_]|[.\-](?!"
    + _HU_SUFFIX
    + r")[0-9A-Za-z]|/(?!P[0-9]{1,2}(?![0-9A-Za-z]))[0-9A-Za-z])"
)
PHONE = re.compile(r"[+(0-9](?<![A-Za-z0-9_+#.@][\s\S])" + _PHONE_BODY)
# (PHONE after a glued label, whose last character the first look-behind would refuse)
_PHONE_GLUED = re.compile(r"[+(0-9]" + _PHONE_BODY)
_EXT = re.compile(
    r"[ \t]{0,2}(?:ext\.?|extn\.?|extension|extensi[óo]n|extens[ãa]o|x(?=[ \t]?[:\-]?[ \t]?[0-9]{2})|доб\.?|wewn\.?|wew\.?|ramal|anexo|anx\.?|dahili|interno|int\.?|poste|durchwahl|dw\.?|tst\.?|toestel|ankn\.?|lokal|вътр\.?|内線|内线|內線|分機|分机|转|轉|내선|"
    r"loc\.?|local|samb\.?|sambungan|تحويلة|داخلي|داخلی|ต่อ|máy lẻ)"
    r"[ \t]{0,2}(?:[:\-][ \t]?)?[0-9]{1,6}(?![0-9A-Za-z])",
    re.IGNORECASE,
)
_TIME_TAIL = re.compile(r"[0-5][0-9](?![0-9]|h)")  # (the minutes of a time whose hour ends a number)
_DURATION_AFTER = re.compile(  # (a unit of time after a count)
    r"[ \t]+(?:minutes?|mins?|minutos?|minuti|minuten|minuter|minutter|minuuttia|minut|minuty|heures?|hours?|hrs?|"
    r"horas?|ore|stunden|std\.|days?|jours?|d[ií]as|tage|tagen|giorni|dagen|dager|dagar|seconds?|secondes|sekunden)"
    r"(?![^\W\d_])",
    re.IGNORECASE,
)
_TWO_DATES = re.compile(r"[0-9]{6} [0-9]{6}")  # (a claim form's statement period: "021224 021624")
_BIRTH_NUMBER = re.compile(r"[0-9]{6}/[0-9]{3,4}")  # (a Czech or Slovak birth number: "845612/4418")
# (a Belgian national number: "86.07.18-123.45")
_BE_NATIONAL = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}-[0-9]{3}\.[0-9]{2}")
# (a UPC-A barcode's number as printed under its bars, one digit, five, five and the check digit: "0 30000 04187 3")
_UPC_A = re.compile(r"[0-9] [0-9]{5} [0-9]{5} [0-9]")
_BARCODE_WORD = re.compile(r"(?<![A-Za-z])(?:UPC|upc|EAN|ean|GTIN|gtin|[Bb]ar ?code)(?![A-Za-z])")


def _six_digit_date(d: str, birth: bool = False) -> bool:
    """Whether six digits read as a date: MMDDYY or DDMMYY; ``birth``: YYMMDD with a woman's month + 50 too (a Czech
    or Slovak birth number's)."""
    a, b, c = int(d[:2]), int(d[2:4]), int(d[4:])
    if birth:
        return (1 <= b <= 12 or 51 <= b <= 62) and 1 <= c <= 31
    return (1 <= a <= 12 and 1 <= b <= 31) or (1 <= a <= 31 and 1 <= b <= 12)


_COLON_PARTS = re.compile(r":(?:[0-9]{3,}:[0-9]+|[0-9]+:[0-9]{3,})")  # (two more parts glued on, one no time's)
_KEEP_DIGITS = str.maketrans("", "", " \t().-+/")
_ONE_DIGIT_GROUP = re.compile(r"(?<![0-9])[0-9](?![0-9])")
_SPELLED = re.compile(r"[0-9](?: [0-9]){7,14}")  # a number read out digit by digit, as speech-to-text writes it
# ...not a code read out ("Your phone verification code is 4 8 2 9 1 7 3 5", "which phone model?")
_CODE_WORD = re.compile(r"code|kod|c[oó]dig|codice|pin\b|otp|passcode|password|verif|model|test|keypad|serial|imei")
# a customer number's check part after a slash: "641974/57", or its year: "0441772/2024" (not a number's alternative
# last digits, "022-26598888/99")
_YEAR_GROUP = re.compile(r"[0-9][ \-/](?:[0-9]+[ \-/])*(?:19[5-9][0-9]|20[0-4][0-9]|25[5-7][0-9])(?:[ \-/][0-9]|$)")
# ...after a code's or a number's word ("Cod meci", "Maç kodu", "Matchnummer", "Jogo n.º", "รหัสรายการ", "رقم المباراة")
_RECORD_WORD_BEFORE = re.compile(
    r"(?i)(?:(?<![^\W\d_])(?:cod|code|codice|código|kod|(?<!alan )kodu|expediente|folio|matchnummer|spielnummer|"
    r"kampnummer)\.?|n\.?[°º]|n\.o|№|mã\s+\S+|รหัส\S*)(?:[ \t:]+[^\W\d_]+){0,2}[ \t:]*$"
)
# (a parts maker's number: "0 986 494 104"; not a Ukrainian toll-free "0 800 300 015")
_BOSCH = re.compile(r"[01] (?!80)[0-9]{3} [0-9]{3}(?: [0-9]{3})?")
_DOTTED_224 = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{4}")
_SLASH_TAIL = re.compile(r"[0-9]{5,7}/(?:[0-9]{1,2}|(?:19|20|25)[0-9]{2})")  # (25xx: a Thai year, "03099/2568")
_DMY_SPACED = re.compile(r"(?:0?[1-9]|[12][0-9]|3[01])\. ?(?:0?[1-9]|1[0-2])\. ?(?:19|20)[0-9]{2}(?![0-9])")
# what stands before a bracketed area code and is no part of its number: a house or suite number ("Váci utca 12.
# (1) 385 2217", "Suite 12 (415) 555-0132"), a range of hours ("Mo-Fr 9-17 (22) 628 40 12"); not one digit, a trunk
# or country prefix ("8 (495) 123-45-67", "1 (800) 555-0199")
_BEFORE_AREA = re.compile(r"[0-9]{1,4}\. |[0-9]{1,2}[-–][0-9]{1,2} |[0-9]{2,4} ")


def _calling_code_before(p: str) -> bool:
    """Whether the digits before a bracketed area code are an international prefix or a country's calling code
    ("0049 (30) 1234567", "44 (20) 7946 0958"), not a house number ("Suite 12 (415) …", "utca 12. (1) …")."""
    if not p.endswith(" ") or p.endswith(". ") or not p.strip().isdigit():
        return False
    d = p.strip()
    return d.startswith("00") or (_pn is not None and _pn.region_code_for_country_code(int(d)) != "ZZ")


# the number continues a letters-and-digits code: "1Z 999 AA1 01 2345 6784" (not across a tab, which ends a table's
# cell: "NL859012784B01\t010 191 8338", a VAT id's column, then a phone's)
# ...unless the code is a phone field's name and its number: SAP's "TELF1", "Phone2", "Tel1", "Mobile2", "Fax1"
_NUMBERED_LABEL = re.compile(r"(?:tel|telf|telefon|phone|mobile|mobil|cell|fax|telfx|handy)[0-9] ", re.IGNORECASE)
# a shipping container's number (ISO 6346): an owner code of three capitals and U, J or Z, six digits, a check digit
_CONTAINER_OWNER = re.compile(r"(?<![A-Za-z])[A-Z]{3}[UJZ][ \t]?$")
_CONTAINER_SERIAL = re.compile(r"[0-9]{6}[ \t]?[0-9]")
_CODE_BEFORE = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z0-9]*[A-Za-z])(?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]+ $")

# -- vetoes ---------------------------------------------------------------------------------
_YEAR_RANGE = re.compile(r"((?:19|20)[0-9]{2}) ?[-/–] ?((?:19|20)[0-9]{2})")


def _year_range(s: str) -> bool:
    """A span of years, a season's or an academic year's: "2024-2025", "1998/2003" (a later year within ten)."""
    m = _YEAR_RANGE.fullmatch(s)
    return m is not None and 0 < int(m.group(2)) - int(m.group(1)) <= 10


_DATE = re.compile(
    r"\(?(?:(?:19|20)\d\d[-./](?:0?[1-9]|1[0-2])[-./](?:0?[1-9]|[12]\d|3[01])"
    r"|(?:0?[1-9]|[12]\d|3[01])[-./](?:0?[1-9]|1[0-2])[-./](?:19|20)?\d\d"
    r"|(?:0?[1-9]|1[0-2])[-./](?:0?[1-9]|[12]\d|3[01])[-./](?:19|20)?\d\d"
    r"|(?:19|20)\d\d\. (?:0?[1-9]|1[0-2])\. (?:0?[1-9]|[12]\d|3[01]))\)?(?:\.?[ T].*)?"  # (Korean, Hungarian: "2024. 3. 14",
    # and its time: "2024. 6. 11. 14:00")
)
_TIME_LAST = re.compile(r"(?<![0-9])(?:[01]?[0-9]|2[0-3])[.:][0-5][0-9]$")  # a number that ends with a time
_HOURS_AFTER = re.compile(r"[ \t]?(?:uhr|h)(?![^\W\d_])", re.IGNORECASE)
_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:([ .])\d{3})(?:\1\d{3})*")
_UNIT_AFTER = re.compile(
    r"[ \t]?(?:€|\$|£|¥|₽|₹|₩|₺|%|‰|°|元|円|원|руб|р\.|тыс|млн|zł|pln|eur|usd|gbp|chf|rub|ft|kč|kr|"
    r"km|kg|mb|gb|kb|ms|mm|cm|m²|m2|people|users|inhabitants|habitantes|einwohner|mieszkańców|человек|"
    r"osób|personas|pessoas|persone|inwoners|kişi|명|人|units|pcs|szt|stück|шт)(?![a-z])"
    r"(?![ \t]?[0-9])",  # (not the next amount's currency: "010 191 8338\t€ 640,00")
    re.IGNORECASE,
)
# more currencies' codes, in capitals, after an amount written in thousands: "3 850 000 FCFA", "2 000 000 Ar." (the
# Malagasy ariary's sign) (not after a phone word:
# "Tel. 800 123 456 SAR"; nor after a number in a phone's groups, "Ahmed 055 123 4567 SAR"; not the codes that are
# words or names too, "TRY", "BOB")
_CURRENCY_AFTER = re.compile(
    r"[ \t]?(?:FCFA|CFA|XOF|XAF|TND|DZD|AED|SAR|INR|IDR|BRL|MXN|ARS|CLP|KES|NGN|ZAR|EGP|UAH|CZK|HUF|BGN|SEK|NOK|DKK|"
    r"JPY|CNY|KRW|SGD|MYR|THB|VND|AUD|NZD|MGA|UGX|TZS|RWF|ETB|GHS|AZN|KZT|UZS|GEL|AMD|PKR|BDT|LKR|NPR|PHP|MAD|QAR|KWD|"
    r"OMR|BHD|JOD|PEN|COP|PYG|UYU|GTQ|HNL|DOP|CRC|ZMW|MWK|MZN|BWP|NAD|AOA|CDF|GNF|HKD|TWD|MMK|KHR|LAK|MNT|RON|RSD|ISK|"
    r"Ar\.?)(?![A-Za-z])(?![ \t]?[0-9])"
)
# a meter's units, as written (not "Gal", a name; nor "KVA-Anlage")
_METER_UNIT_AFTER = re.compile(r"[ \t]?(?:kWh|MWh|kvarh|kVA|kW|m³|m3|Smc|gal|gallons|litres|liters)(?![A-Za-z\-])")
# (a currency's code as a word of its own: "Claire Vasseur 06 81 …", "Fleur", "Pasteur" end in "eur")
_UNIT_BEFORE = re.compile(r"(?:€|\$|£|¥|₽|₹|₩|₺|(?<![^\W\d_])(?:eur|usd|pln|rub|r\$))\s?$", re.IGNORECASE)
# rupees, written so, before an amount in thousands ("Rs 2 184 000"; not "RS 011 …", nor "Contact Rs. 98450 12345")
_RUPEES_BEFORE = re.compile(r"(?<![^\W\d_])Rs\.?\s?$")
# rupiah, whose amounts are written in dotted thousands ("Rp 20.527.500"; not "Kontak: Rp 0812 3456 7890", initials)
_RUPIAH_BEFORE = re.compile(r"(?<![^\W\d_])Rp\.?\s?$")
_DOTTED_THOUSANDS = re.compile(r"[1-9][0-9]{0,2}(?:\.[0-9]{3})+")

# negative words right before a number (ASCII / Latin / Cyrillic words need a word boundary;
# CJK and Arabic words are matched as they stand)
_NEG_WORDS = (
    r"order|orders|invoice|inv|ref|réf|reference|id|ticket|tracking|sku|isbn|issn|ean|serial|sn|account|acct|po|case|"
    r"transaction|txn|build|version|ver|port|pid|uid|item|part|model|batch|lot|confirmation|receipt|policy|member|"
    r"patent|doi|card|iban|routing|zip|postcode|checksum|offset|hash|badge|room|seat|flight|"
    r"booking|reservation|meeting|webinar|conference|passcode|pin|bol|awb|mawb|hawb|waybill|consignment|abn|acn|"
    r"range|ranges|ports|duns|ein|cage|naics|eori|hts|tariff|taric|utm|box|postfach|apartado|caixa|cas|"
    r"ndc|rx|nhs|mrn|orgnr|organisationsnummer|momsreg|viitenumero|viite|smlouva|smlouvy|"
    r"tilaus|tilauksesi|tilausnumero|billete|billet|bilhete|biglietto|código|codigo|kód|koodi|"
    r"supersedes|superseded|interchangeable|assembly|drawing|dwg|solicitud|solicitação|antrag|wniosek|siniestro|sinistro|schadennummer|relais|накладной|накладную|auftragsnr|bestellnr|rechnungsnr|sachnummer|sachnr|protokol|protokoll|billettnr|obj|varukod|sss|historia clínica|commodity code|numéro d'entreprise|"
    r"ondernemingsnummer|ondernemingsnr|handelsregister|hrb|hra|rcs|"
    r"buchung|buchungsnummer|réservation|reserva|prenotazione|rezerwacja|rezerwacji|reservering|bokning|bestilling|"
    r"objednávka|objednávky|faktura|ordre|zásilka|zásilky|"
    r"contract|contratto|contrato|contrat|vertrag|vertragsnummer|umowa|umowy|polizza|póliza|apólice|"
    r"art|table|tab|tabelle|tableau|tabla|resi|objednávku|objednávce|entreprise|enterprise|company|vat|btw|tva|iva|"
    r"ust|mwst|beneficiário|beneficiario|agência|agencia|"
    r"bestellung|bestellnummer|auftrag|auftragsnummer|rechnung|rechnungsnummer|kundennummer|lieferschein|"
    r"aktenzeichen|zeichen|artikel|artikelnummer|sendungsnummer|steuernummer|plz|matrikelnummer|personalnummer|"
    r"mitgliedsnummer|versicherungsnummer|vorgangsnummer|geschäftszeichen|ausweisnummer|kundennr|"
    r"article|dossier|artículo|expediente|articolo|pratica|artigo|processo|protocolo|artykuł|ürün|"
    r"kontonummer|blz|bic|swift|rekeningnummer|rekening|cuenta|conta|hesap|postal|pocztowy|индекс|"
    r"commande|facture|colis|référence|siret|siren|apn|"
    r"factura|pedido|referencia|dni|nie|nif|cif|"
    r"fattura|ordine|codice|ordine|"
    r"bestelling|bestelnummer|factuur|factuurnummer|klantnummer|ordernummer|lidnummer|lidmaatschapsnummer|kvk|bsn|"
    r"zamówienie|zamówienia|faktura|faktury|nip|regon|pesel|krs|konto|konta|"
    r"fatura|nota fiscal|cpf|cnpj|encomenda|hs code|hts code|nit|ruc|rut|cuit|cuil|rfc|curp|"
    r"cost centre|cost center|kostenstelle|centre de coût|centro de costo|centro de costos|centro de coste|"
    r"centro di costo|kostenplaats|cvr|practice no|practice number|practice nr|cégjegyzékszám|adószám|"
    r"bilet|biletu|biletów|"
    r"sipariş|siparis|fatura|takip|vergi|tckn|"
    r"заказ|заказа|счёт|счет|артикул|инн|кпп|огрн|снилс|паспорт|накладная|договор|договору|договора|qq|"
    # (official documents' own numbers: a bill's, a notice's, a group's, a policy's; national and tax ids -- Danish
    # CPR, British UTR, American TIN, New Zealand IRD, Canadian SIN, Czech and Slovak birth and insured numbers,
    # a Tunisian CNAM "matricule"; a Spanish "orden", a customs tariff's "subpartida")
    r"polis|polisnummer|cpr|utr|ird|matricule|assuré|cnam|poistenca|rodné|orden|ordem|subpartida|tarifaire|"
    # (a web page's imprint and listings: Pakistani NTN and STRN, an Argentine IIBB, Ukrainian ІПН and ЄДРПОУ, a
    # Quebec NEQ, a Slovenian registry or tax number, a Costa Rican cédula, a manufacturer's part number, an ad's)
    r"ntn|strn|iibb|іпн|ипн|єдрпоу|едрпоу|neq|matična|davčna|izkaznica|izkaznice|cédula|cedula|hersteller|herstellernummer|"
    r"объявление|"
    # (what a call, a dictation or a ticket timeline names: a file's, a case's, a request's, a ticket's number; a
    # meeting's password)
    r"akte|sag|kennwort|passwort|geslo|heslo|senha|contraseña|lösenord|adgangskode|salasana|hasło|wachtwoord|"
    r"пароль|şifre|"
    # (a SIM card's number, a Swahili account and pay-bill, a Bulgarian personal number, a Czech bill)
    r"kortnr|kortnummer|simkortnr|sim-kortnr|sim-kortnummer|akaunti|paybill|егн|vyúčtování|vyúčtovaní|isikukood|"
    # (a RAG chunk's character range, a form's submission, a product's UPC, a Medicare card, a company's number)
    r"upc|betriebsnr|betriebsnummer|"
    # (a Swedish bankgiro or plusgiro number, an ABA routing number, an SSN)
    r"bankgiro|plusgiro|aba|ssn|"
    # (travel and freight: a consignment note's, a ticket's, a loyalty programme's, a passport's, a customs tariff's
    # and a document's or a transaction's number)
    r"przewozowy|tkt|biljett|biljettnummer|eurobonus|passport|pasaporte|passeport|reisepass|passaporto|paszport|"
    r"paspoort|goederencode|warencode|세번부호|dokladu|transakce|"
    # (public bodies' numbers: an Icelandic personal id, a German file's or payment's reference, a Spanish doctor's
    # licence, a Ukrainian or Russian declaration's)
    r"kennitala|bearbeitungsnummer|kassenzeichen|colegiado|декларація|декларации|декларация|"
    # (insurance, property and vehicles: an Italian motor policy's, Icelandic and Polish policies', a Dutch
    # registration's, a Russian form's, a Norwegian toll tag's number)
    r"tryggingarnúmer|polisa|polisy|registratienummer|бланка|бланк|"
    # (utilities: a German delivery point's number; a Hungarian tax number, a Lithuanian pre-trial investigation's)
    r"abnahmestelle|entnahmestelle|verbrauchsstelle|zählpunkt|marktlokation|adóazonosító|tyrimo|"
    # (universities and research: Croatian student and personal ids and tax number, Serbian JMBG)
    r"jmbag|jmbg|oib|"
    # (media and sport: a ticket's barcode, a box office's folio, a Hungarian referee's card)
    r"barcode|barcodes|streepjescode|strichcode|folio|igazolvány|"
    # (manufacturing: a machine's number, a French or Portuguese serial)
    r"série|serie|"
    # (law and immigration: Belgian company numbers (KBO, BCE), Vietnamese citizen ids, a French foreigner's AGDREF)
    r"kbo|bce|cccd|cmnd|agdref|"
    # (lending and collections: a loan's, a Swedish case's, a Finnish payment reference's number)
    r"empréstimo|emprestimo|préstamo|prestamo|prestito|ärende|viitteellä|kreditkonto|"
    # (Lithuanian contract's, order's and invoice's numbers, a Portuguese reference)
    r"sutarties|užsakymo|sąskaitos|referência|"
    # (pharmacies and practices: a Slovak insured person; drug codes, prescriptions, a vet's stamp and an Estonian
    # invoice are below: words that name a phone's line or a person too)
    r"poistenec|"
    r"זהות|"  # (a Hebrew identity number: "מספר זהות: 012345674")
    # (a wallet's transaction in Urdu, a transaction's id, a payment's operation in Portuguese and Spanish)
    r"ٹرانزیکشن|tid|operação|operacao|operación|"
    # (small business: a Turkish tax number, an Austrian tax account, a goods and services tax number -- not Gulf
    # Standard Time after opening hours, see _neg --, an Icelandic bank account)
    r"vkn|abgabenkonto|vertragskonto|kundenkonto|gst|banki|"
    # (science and operations: a weather station's WIGOS identifier, "WIGOS ID: 0-20509-0-92805")
    r"wigos|"
    # (buildings and clubs: an access card's, a transponder's, a gate remote's)
    r"toegangspas|transponder|telecomando|"
    # (farming and food: a Danish field block's, a Turkish customs tariff's GTIP code,
    # a Dubai building's Makani code)
    r"markblok|markbloknummer|gtip|makani|"
    # (an invoice's number in Finnish)
    r"laskun|laskunumero|"
    # (an Italian livestock movement form's or a tax form's number, "Modello 4 n. 0418-2024-0117")
    r"modello|"
    # (a Vietnamese bank account's number, số tài khoản: "Chuyển khoản Vietcombank STK 0938166622")
    r"stk|"
    r"αφμ|"  # (a Greek tax number)
    # (farms: a German herd register's ear tag and farm of origin, a Belgian farmer's number, a Uruguayan DICOSE)
    r"ohrmarke|herkunftsbetrieb|landbouwernummer|dicose|"
    # (civic life: a Portuguese company's tax number, a Hungarian registry's number)
    r"nipc|nyilvántartási|"
    # (public services: a Norwegian case's number and library card, a Bulgarian tax account's, a receipt's)
    r"saksnummer|lånekort|партиден|recibo|"
    # (education: a Czech registration's column, a Bulgarian incoming number's)
    r"registrační|registracni|входящ|входящий|"
    # (farms and food, housing, clinical research: a Korean match's number, a Hungarian article's, a German customs
    # tariff's, a Korean approval's; an Indonesian business id after "NIB" in _neg, by its length; a Turkish receipt's
    # and a Polish land parcel's and producer's numbers are in _NEG_UNLESS_PHONE_WORD, a registry's, a goods received
    # note's, an RMA's and an ERP's in _NEG_MULTI_RE)
    r"cikkszám|cikkszam|zolltarifnummer|승인번호|경기번호|"
    # (telecoms and utilities: an Urdu reference number's, "ریفرنس نمبر"; a Portuguese supply point's code, CIL, in
    # _neg, only as written in capitals, with no phone word near, before a number that starts with no 0, "(" or "+"
    # and has no North American shape)
    r"ریفرنس نمبر|"
    # (education: a Czech applicant's registration number, "Registrační číslo uchazeče:"; a Ukrainian and a Russian
    # certificate's number, "Номер сертифіката:"; not "Telefon uchazeče:", "Телефон для проверки сертификата:", a
    # reader's)
    r"registrační číslo uchazeče|registracni cislo uchazece|evidenční číslo uchazeče|kód uchazeče|"
    r"номер сертифіката|номер сертификата|"
    # (automotive: an Argentine inspection sticker's, "Oblea N°:"; a club member's abbreviated number, "Mitgl.-Nr.", in
    # _NEG_WITH_NUMBER_WORD)
    r"oblea|"
    # (logistics: an Icelandic booking's, order's and shipment's numbers; a Korean item number, its tariff code's
    # label, with a note after it: "품목번호(HSK): 8418.10-1000" -- not "HSK" alone, a German district's name too,
    # "Kreisverwaltung HSK 0291 941234": a reader's; an air waybill's master and house numbers, MAWB and HAWB, above)
    r"bókunarnúmer|pöntunarnúmer|sendingarnúmer|품목번호|"
    # (legal: a Latvian land register's cadastral number, "Kadastra numurs: 0100 018 4418"; a Russian application's
    # and an Azerbaijani receipt's before "№" in _NUMBERED_RECORDS)
    r"kadastra numurs|kadastra nr"
)
_NEG_SET = frozenset(w for w in _NEG_WORDS.split("|") if " " not in w)
# records whose number follows "№" ("No" once normalised): a Russian application's, "по заявлению № 0418-2024-118447",
# an Azerbaijani receipt's, "qəbz № 0418-2273" (not "Для заявления: 8 (495) …", with no sign: a reader's)
_NUMBERED_RECORDS = frozenset(["заявлению", "заявления", "qəbz", "qəbzi"])
_FREIGHT_CODE = re.compile(r"\b(?:PRO|DUA)[ \t]*(?:#|[Nn][oº°]\.?)?[ \t:]*$")
_HOLDERS = frozenset(["account", "acct"])  # (what holds a phone number on file)
# ...and a phone word's own label naming the record that holds it, at a line's start: a fraud file's "Phone on order:
# 206-913-4472", "Mobile on file:" (not "SMS for booking: 4471229018", "phoned about a refund on the order 44…": a
# twenty-first reader's)
_HOLDER_LABEL = re.compile(
    r"(?:^|\n)[ \t]*(?:billing[ \t]+|shipping[ \t]+|delivery[ \t]+|contact[ \t]+)?"  # ("Billing phone on order:")
    r"(?:phone|phone number|mobile|mobile number|cell|cell phone|tel|telephone|contact number)[ \t]+"
    r"(?:on|for|in)[ \t]+(?:order|file|booking|reservation|record|profile|account|acct)[ \t]*:[ \t]*$"
    # (French: "Numéro de téléphone inscrit au dossier :", the number on file; Spanish: "Teléfono de referencia
    # (madre):", a contact's number; from a line's start, or from a word's within the 40 characters _neg reads)
    r"|(?:(?:^|\n)[ \t]*|(?<![^\W\d_]))(?:num[ée]ro de t[ée]l[ée]phone|t[ée]l[ée]phone|portable|cellulaire)[ \t]+"
    r"(?:inscrit|enregistr[ée])?"
    r"[ \t]*au dossier[ \t]*:[ \t]*$"
    r"|(?:(?:^|\n)[ \t]*|(?<![^\W\d_]))(?:tel[ée]fono|celular|m[óo]vil)[ \t]+de[ \t]+referencia(?:[ \t]*\([^()\n]{1,20}\))?[ \t]*:[ \t]*$"
)


def _on_holder(low: str) -> bool:
    """A phone word, then "on the account" right before the number: "the mobile on the account is 07400 434238"."""
    on = _ON_HOLDER.search(low)
    return on is not None and _has_ctx(low[max(0, on.start() - 40) : on.start()])


# "on the account", "on your account is": the phone word before it names the number
_ON_HOLDER = re.compile(
    r"(?<![a-z])(?:on|in|for)[ \t]+(?:the|your|his|her|their|my|our|this)[ \t]+(?:account|acct)[ \t]*(?:is|was|:)?[ \t]*$"
)
# a request's, a ticket's or a code's word, only right before its number with no label colon ("заявку 6510-874391")
_NEG_INLINE = frozenset(["заявка", "заявку", "заявки", "zgłoszenie", "zgłoszenia", "mã"])
# words that are a record's only with its number word after them ("Bill number 812 447 3301", "Notice no."; not
# "Call Bill 415-555-0132"), and ids that are words too ("TIN", "SIN"), not where a phone word is near
_NEG_WITH_NUMBER_WORD = frozenset(
    ("bill", "notice", "group", "plan", "račun", "računa", "računu", "irb", "pr", "masch", "application", "job")
    + ("parcel", "schlüssel", "mitgl")  # ("Parcel no. 286-502-502", "Schlüssel Nr. 0855-037")
    # (a vet's stamp, a Turkish association register's: "Stempel Nr. …", "kütük numarası …"; also surnames and a
    # Norwegian first name: "Praxis Dr. Stempel 030 …", "Kontakt: Arve 412 34 567")
    + ("stempel", "kütük")
    # (a building permit's: "Permiso de construcción No. 200-2026"; not "Permiso: llame al …")
    + ("permiso", "construcción")
    # (a loan contract's: "Darlehensvertrag Nr. 4471-22-0093")
    + ("darlehensvertrag",)
    + ("stud",)  # (a student's number: "Stud.-Nr. 2024-0117")
)
# (and a field's length, a form's submission, Medicare: "Phone number (max 15 chars): …", "Call Medicare 1-800-…")
_NEG_UNLESS_PHONE_WORD = frozenset(
    # (and a student's registration, a Turkish or Lithuanian personal id or code, a Portuguese or Spanish
    # identification, a US form's OMB number: "Telefone para identificação: 912 …" is a phone)
    ("tin", "sin", "chars", "submission", "medicare")
    + ("matricula", "matrícula", "kimlik", "asmens", "kodas", "identificação", "identificación", "omb")
    + ("rca", "brikke")  # (an Italian motor policy, a Norwegian toll tag: "Call RCA (212) 930-4000" is a phone)
    # (a meter's number in a dozen languages, unless a phone word is near: "Hotline Zähler 0800 …", "Numero verde
    # guasti contatore 800 …"; a Czech or Slovak customer's number: "Volejte na zákaznické číslo 800 …" is a phone)
    + ("meter", "meters", "zähler", "compteur", "contatore", "licznik", "licznika", "medidor", "mätare", "måler")
    + ("mittari", "sayaç", "sayacı", "счетчик", "счётчик", "счетчика", "счётчика", "лічильник", "лічильника")
    + ("wodomierz", "zákaznické", "zákaznického", "zákaznický", "zákaznícke")
    + ("rif",)  # (an Italian reference, "RIF. 339 229 6842"; not "Tel. rif. 02 …", "Recapito di rif.: 347 …")
    # (German, Belgian drug codes and a prescription's word: "recept 8222227", "PZN 63382606"; not a pharmacy's
    # prescription line, "Tel. ricetta 06 1234 5678", nor the Polish PZN's "Kontakt: Okręg PZN 22 831 22 71")
    + ("pzn", "cnk", "recept", "recepta", "receptu", "rezept", "ricetta", "receta")
    # (hospitals: a French patient's id, a Portuguese health-service user, an Argentine insurer's member, a Ukrainian GP
    # declaration, an Estonian booking: "IPP 522.734.38"; not "Telefone do utente: 912 345 678")
    + ("ipp", "utente", "afiliado", "декларації", "декларація", "broneeringu")
    + ("listing", "usuario")  # (a listing's and a user's id: "listing 7309933613", "N.º de usuario")
    + ("nss", "подопечного")  # (a Mexican social-security number, a Russian ward's: "NSS 27 893322"; not "Tel NSS …")
    + ("nota",)  # (an invoice, a note: "Uw zorgverzekeraar heeft de nota 089935876"; not "Nota: tel. 333 …")
    + ("allocataire",)  # (a family allowance's beneficiary: "Numéro allocataire : 5784769")
    + ("חשבון",)  # (a Hebrew account: "סניף 802, חשבון 44712-09")
    + (
        "lotto",
        "loto",
        "lottó",
        "lotería",
    )  # (a draw's numbers, after a label's colon: "Lotto 6/42: 05-11-19-23-34-40")
    # (emergency services: an incident's, a rescue operation's, a report's number; a rail booking's; a game's match:
    # "incident 2407-1183", "PNR 8412211830"; not "Caller's phone for the incident 0412 555 123")
    + ("incident", "incidente", "aksjon", "البلاغ", "بلاغ", "pnr", "partida")
    # (transport: a Romanian booking's code, a Norwegian deviation report's, an air waybill's:
    # "Cod rezervare: 6102-33791", "Avvik nr. 2024-0314", "Flyfraktbrev 074-82259030")
    + ("avvik", "avviksnr", "flyfraktbrev", "fraktbrev", "luftfraktbrev")
    # (farming and fishing: a lot's, a herd's, a Norwegian landing note's number: "Partie 0424 1183 22", "n° de troupeau
    # 10.2234.5567", "Sluttseddel nr. 24-177424"; an Icelandic personal id's "kt." is in _ORG_NR)
    + ("partie", "troupeau", "sluttseddel")
    # (farms and food: a Turkish receipt, a Polish land register's parcel and a producer's identification number:
    # "Makbuz No: 06-2024-0118472", "Działka ewidencyjna 0408 2-0017"; not "Makbuz için arayın: 0212 …")
    + ("makbuz", "ewidencyjna", "ewidencyjny", "identyfikacyjny")
    # (clinical research: a lab sample's, a trial subject's, a temperature logger's number: "Muestra n.º 25-4471-0918",
    # "대상자 번호: 204-0031", "logger 7714-0092"; not "대상자 연락처: 010-…")
    + ("muestra", "대상자", "logger")
    # (health care: a lab's accession number, a Portuguese lab request's, a Brazilian health plan's card: "Accession
    # 0304-7721-19", "Requisição n.º 2411/88213", "carteirinha 0418 2273 0091 4")
    + ("accession", "requisição", "requisicao", "carteirinha")
    + ("målnummer", "målnr")  # (a Swedish court case's number: "Målnummer: 08-115947-24")
    + ("arve",)  # (an Estonian invoice, lower-cased: "Loomakliinik – arve 5522992"; "Arve" is a first name too)
    + ("acc",)  # (a bank account, abbreviated: "branch code 051001, acc 072 418 331"; not "Acc. manager tel. 082 …")
    + ("uci",)  # (a Canadian immigration client's number: "UCI 11-2287-4410"; see _NANP_SHAPE)
    # (an Arabic subscription's number: "رقم الاشتراك: 0418-7722-09"; not "اتصل على رقم الاشتراك 0501234567")
    + ("الاشتراك", "اشتراك")
    # (retail: an Estonian payment's reference number: "viitenumbrit 7712204"; not a Swedish or a Norwegian receipt's
    # word, which a payment app's receipt shows the payee's mobile after, "Swish-kvitto: 070-…": a twenty-first reader's)
    + ("viitenumber", "viitenumbri", "viitenumbrit", "viitenumbriga")
    # (a Spanish social-security affiliation number: "Nº afiliación: 03/1184472018"; a department's line with no phone
    # word, "Servicio de afiliación 91 …", is lost with it: a twenty-third reader's, left)
    + ("afiliación", "afiliacion")
    + ("tilbud",)  # (a Danish or Norwegian quote: "tilbud nr. 2026-4417"; not "Ring for et tilbud: 22 33 44 55")
    # (a payee's company number, a library card's, a property's registration: "Numéro BCE du bénéficiaire : 0207.373.429",
    # "Número de carnet: 0800 2211 4598 7", "imóvel de inscrição 047.112.0882-3"; not "Téléphone du bénéficiaire : 06 …")
    + ("bénéficiaire", "carnet", "inscrição")
    + ("ahorros",)  # (a savings account: "cuenta de ahorros 031-445812-07"; not "Caja de Ahorros, tel. 0800 …")
    # (buildings and utilities: a Mexican cadastral account, an Icelandic payment slip: "Cuenta catastral
    # 041-827-36-000-4", "greiðsluseðill 0441-26-88227"; not a lot's, "Interesados en el lote: 55 1234 5678", a
    # taxpayer's, "Central de Atendimento ao Contribuinte: 0800 …", a stand's, "Our stand 0161 496 0000", nor a giro's,
    # "Trattoria Il Giro 06 6982 1234")
    + ("catastral", "greiðsluseðill", "greiðsluseðil")
    + ("saateleht",)  # (an Estonian delivery note's: "saateleht 55120-24")
    # (media, sport and family life: an accreditation's code, a Maltese ticket, an Uzbek contract: "Ausweiscode 0221 355
    # 9140", "Biljett Nru. 0221 355 914", "Shartnoma raqami 0418/27-2025"; not a citizens' office's "Pass und Ausweis
    # 030 …", a council's "Urbanismo y licencias 91 …", an Urdu ad's "بکنگ: 0300-…", an Arabic "حجز تذكرة 0555 …", a
    # Japanese surname "Mita", a box office's "Vstupenky 777 …", a trattoria "Il Giro 06 …": a fifteenth reader's)
    + ("ausweiscode", "biljett", "shartnoma")
    # (students: a Portuguese student's number: "número de estudante 2025104873"; not "Telemóvel do estudante: 912 …")
    + ("estudante",)
)
_LOTTERY = frozenset(["lotto", "loto", "lottó", "lotería"])  # (not a shop's sign: "Bar Tabac Loto 01 42 33 44 55")
# an ad platform's words, before an id in its shape, 123-456-7890 ("Google Ads 948-418-3129", "google_ads / 537-…",
# "Offline conversion  customer=157-974-1931", "Manager account (MCC) 355-199-7194"; not "Campaign 07700 900123")
_AD_WORDS = frozenset(["ads", "campaign", "conversion", "mcc"])
_AD_PHRASES = re.compile(r"google ads|إعلانات جوجل")  # (a word or two before: "Google Ads -tili 420-939-8053")
_AD_ID = re.compile(r"[0-9]{3}-[0-9]{3}-[0-9]{4}")
# ...of which only on the number's own line ("Enquire about this listing\n0412 345 678" is a phone)
_NEG_SAME_LINE = frozenset(["listing", "usuario"])
_CZ_RECORDS = frozenset(
    [
        "doklad",
        "dokladu",
        "faktura",
        "faktúra",
        "faktury",
        "faktúry",
        "objednávka",
        "objednávky",
        "smlouva",
        "smlouvy",
        "zmluva",
        "zmluvy",
        "účtenka",
        "účtenky",
        "bloček",
        "zakázka",
        "zakázky",
        "zásilka",
        "zásielka",
        "spis",
        "spisu",
        "rozhodnutí",
        "rozhodnutie",
        "pojistka",
        "poistka",
        "protokol",
        "protokolu",
        "vstupenka",
        "jízdenka",
        "lístok",
        "účet",
        "účtu",
        "průkaz",  # (an identity card's: "ztrátu občanského průkazu č. 204718337")
        "průkazu",
        "preukaz",
        "preukazu",
    ]
)
_DUI_SHAPE = re.compile(r"[0-9]{8}-[0-9]")
# ...of which a name's when capitalised, unless a number word follows ("Hilsen Arve\n412 34 567"; "Arve nr 118…")
_NEG_LOWER_ONLY = frozenset(["arve", "acc"])  # ("ACC: 0800 101 996", New Zealand's accident line)
# ...and those that are such a word only in capitals (a supply point's: British MPAN and MPRN, French PDL and PRM,
# Italian PDR, Mexican RPU, Australian NMI, Polish PPE; a Hungarian social-security number, a Russian bank's BIK;
# not "Hotel Taj", nor a dent repairer's "PDR (214) …" after "Call")
_NEG_CAPS = frozenset(
    ("mpan", "mprn", "pdl", "prm", "pdr", "rpu", "nmi", "ppe", "taj", "бик")
    + ("npwp", "nik", "nim")  # (Indonesian tax, identity and student numbers; not "Call Nik …", "z nim")
    + ("nid",)  # (a Bangladeshi national id)
    + ("ptan",)  # (a Medicare supplier's transaction access number: "PTAN 6640218801")
    + (
        "dui",
    )  # (a Salvadoran identity document, in its shape only: "DUI 04188273-0"; not "Traffic Tickets & DUI 213-…")
    + ("ra",)  # (a Brazilian student's academic record: "Seu RA é 2023104417"; not "Ra 0412 …", a name)
    + ("cin",)  # (a Tunisian or Moroccan identity card's number, an Indian company's: "CIN : 09412773")
)
_NEG_MULTI = tuple(w for w in _NEG_WORDS.split("|") if " " in w) + (
    "тн вэд",  # (a Russian customs code)
    "cod rezervare",  # (a Romanian booking's code; not "Rezervare: 0721 234 567", a booking line's phone)
    "variabilní symbol",  # (a Czech payment's reference)
    "var. symbol",
    "mã số thuế",  # (a Vietnamese tax code)
    "numéro client",  # (a customer's number: "Numéro client : 0488-441-877")
    # (property: a Mexican property-tax account and cadastral key, a Brazilian taxpayer's number; not "Oficina de
    # Catastro y Predial 55 5658 1111", "Central de Atendimento ao Contribuinte: 0800 …")
    "cuenta predial",
    "clave catastral",
    "do contribuinte",
    "de contribuinte",
    "huerta registrada",  # (a Mexican registered orchard: "Huerta registrada: 14-108-0221")
    "code de contrôle",  # (a ticket's check code: "Code de contrôle : 33 12 44 09 71")
    # (a German tax number's abbreviation, a French registration's number, a Malaysian identity card's: "St.Nr. 040 217
    # 81204", "n° d'inscription 2022-0419", "No. KP: 030512-14-4182"; not an ordinal's "1st no. 0917 …", a club's
    # "demande d'inscription : 06 …", a province's "Focal Person KP: 0300-…": a sixteenth reader's)
    "st.nr",
    "st.-nr",
    "st. nr",
    "n° d'inscription",
    "nº d'inscription",
    "numéro d'inscription",
    "no. kp",
    "no kp",
    "code de controle",
    # (a ticket's own number after its abbreviated number word: "Nº boleto: 3301-703688", "Αρ. εισιτηρίου: 0412 0071 3390
    # 87"; the ticket word alone also names a box office's line, "Boletos: 55 …", and "número de boleto" a helpline's
    # subject, "¿Olvidaste tu número de boleto? 800 …": an eighteenth reader's)
    "nº boleto",
    "n° boleto",
    "no. boleto",
    "αρ. εισιτηρίου",
    # (a Brazilian payment slip's document number, a money transfer's control number: "Número do documento:
    # 2024110412", "MTCN 418 552 0937")
    "número do documento",
    "numero do documento",
    "mtcn",
    "poziv na broj",  # (a Serbian payment's reference: "позив на број 97 44712882")
    "позив на број",
    "sweref",  # (Swedish grid coordinates: "SWEREF 99 TM N 7 006 420 E 383 150")
    # (a record's id, in a header cell or a word before: "Customer ID,Campaign ID,…\n579-794-2270,…"; not when its own
    # value stands between, "Customer ID 48213, Jo Bloggs, 07700 900123": see _neg)
    "customer id",
    "campaign id",
    "account id",
    "ایم آر نمبر",  # (a medical record's number in Urdu)
    "n° de séjour",  # (a French hospital stay: "N° de séjour 420966572"; not "Urgence pendant le séjour : 06 …")
    "numéro de séjour",
    "n° séjour",
    "n° adhérent",  # (a mutual insurer's member number: "n° adhérent 697015597"; not "adhérent : 06 84 …", a phone)
    "n° d'adhérent",
    "numéro adhérent",
    "numéro d'adhérent",
    "n° client",
    "número de cliente",
    "numero cliente",
    "d-u-n-s",
    "insurance number",  # (a Canadian social insurance number, a British national insurance number)
    "assurance sociale",
    "r. č.",  # (a Czech or Slovak birth number, rodné číslo)
    "r.č.",
    "linha digitável",  # (a Brazilian payment slip's line)
    "identificação civil",  # (a Portuguese citizen card's number)
    "omb control",  # (a US form's "OMB Control Number 0938-1051")
    "rodné číslo",
    "sanduku la posta",  # (a Swahili post-office box and its postal code: "Sanduku la Posta 4218-40100")
    "flying blue",  # (a loyalty programme's member number)
    "frequent flyer",
    "poziv na broj",  # (a Croatian payment's reference)
    "паспорт рф",  # (a Russian passport's series and number)
    "кадастровый номер",  # (a plot's cadastral number)
    "tarjeta sanitaria",  # (a Spanish health card's code and number)
    "referencia bancaria",  # (a Mexican bank reference)
    "code programme",  # (a broadcast's programme code)
    "mã trận",  # (a Vietnamese match's code)
    "nr klienta",  # (a Polish customer's and consumer's number; not "Biuro Obsługi Klienta", a service line)
    "numer klienta",
    "nr odbiorcy",
    "numer odbiorcy",
    "point de livraison",  # (a French supply point: "Point de livraison : 09 124 417 728 305")
    "(hs)",  # (a customs tariff's code: "세번부호(HS): 8471.30-0000"; not "Tel. 24 hs 0800 …", open all day)
)
_REGISTRY = re.compile(r"\b(?:rcs|rm|siren|siret|immatricul|inscrit|registre)")
_FR_PHONE = re.compile(r"t[ée]l|phone|portable|mobile|fax|appel|joindre|contact")  # ("numéro" is any number's)
_NEG_MULTI_RE = re.compile(
    "|".join(re.escape(w) for w in _NEG_MULTI)
    + r"|(?<![^\W\d_])(?:patient id|health no)(?![^\W\d_])"
    # (a goods received note's, a returned pallet's, an ERP's number, with a number's word: "RMA no. 0800-4471-22",
    # "Numéro ERP : 0593500012"; not "Returns (RMA): 0800 …", "John Smith, ERP 07700 …", "RMA no longer …")
    + r"|(?<![^\W\d_])(?:(?:rma|grn|erp) (?:no|nr|number)|num[ée]ro erp)[.:#]?[ \t]*[:#]?[ \t]*$"
    # (a Spanish registry's number: "Número de registro: 05-440-0187"; not the civil registry's line)
    + r"|(?<![^\W\d_])n(?:[úu]mero|o) de registro[.:#]?[ \t]*[:#]?[ \t]*$"
    # (telecoms and utilities: a Czech identity card's, "OP č. 218447711"; a Swahili meter's, "Namba ya mita:"; not "OP:
    # 603 …", "Hiroshi Mita 090-…")
    + r"|(?<![^\W\d_])(?:op č\.?|namba ya mita|nambari ya mita)[.:#]?[ \t]*[:#]?[ \t]*$"
)
# the multi-word negatives after which the record's own value may stand before a phone
_OWN_VALUE_BETWEEN = (
    "code de contr",
    "st.",
    "st ",
    "n° d",
    "nº d",
    "numéro d",
    "no. kp",
    "no kp",
    # (a transfer's control number, a slip's document number, a ticket's, then a phone on the row: "MTCN 4185520937 |
    # Ana Diaz | 0803 123 4567": a twenty-first reader's)
    "mtcn",
    "número do",
    "numero do",
    "nº bol",
    "n° bol",
    "no. bol",
    "αρ. ει",
)
_NOSSO_NUMERO = re.compile(r"nosso n[úu]mero\W*$")

# ...and what names a number only right before it: a meeting's id, its dial-in code and password in an invitation,
# in its language ("Konferenz-ID:", "ID da reunião:"), a dictation's file, a Vietnamese request ("tạo yêu cầu";
# not "Lost your access code? Call …", "Mọi yêu cầu xin liên hệ …", "your profile no")
_NEG_LAST = (
    "personal id",  # (UCAS's "Personal ID: 143-556-8921"; not "bring a personal ID. Questions? Call …")
    "s/n",  # (a serial number: "Datalogger S/N 20 48 71 33"; not a Spanish address's "Paseo del Prado s/n … Tel. …")
    "p/n",  # (a part number: "P/N 3214552-4")
    "s.l.p.",  # (a Swahili post-office box, "S.L.P. 99726-00100")
    "c.c.",  # (a Colombian citizen's card, cédula de ciudadanía: "C.C. 4302302879")
    "numéro fiscal",  # (a French tax number, a Belgian national register's, a payment code, a Hungarian TAJ number)
    "registre national",
    "o.v.v.",  # (a Dutch payment's reference, "onder vermelding van": "o.v.v. 2025-0412")
    "rijksregisternummer",  # (a Belgian national number)
    "code de paiement",
    "taj szám",
    "dial-in code",
    "access code",
    "conference code",
    "participant code",
    "konferenz-id",
    "besprechungs-id",
    "id sestanka",
    "id da reunião",
    "id de reunión",
    "id de la réunion",
    "id della riunione",
    "id riunione",
    "id spotkania",
    "vergader-id",
    "møde-id",
    "mötes-id",
    "kokoustunnus",
    "toplantı kimliği",
    "id встречи",
    "id конференции",
    "id cuộc họp",
    "id rapat",
    "código de acceso",
    "código de acesso",
    "code d'accès",
    "codice di accesso",
    "mot de passe",
    "yêu cầu",
    "for file",
    "file no",
    "file number",
    "file nr",
)
_NEG_LAST_RE = re.compile(
    r"(?<![^\W\d_])(?:" + "|".join(re.escape(w) for w in _NEG_LAST) + r")[ \t]*(?:is|:|#|：)?[ \t]*$"
)
# ...and what names another record's number right before it unless a phone word stands before it too: a Jordanian
# national number, a Nepali citizenship certificate's
_NEG_LAST_SOFT_RE = re.compile(r"(?:الرقم الوطني|नागरिकता)[^\n]{0,8}$")
# ...and a registration's number "in the register" ("Реєстраційний номер у реєстрі 24-0917-2208"; not "Контактний номер у
# реєстрі: 067 …")
_IN_REGISTER = re.compile(r"(?:реєстрац|регистрац)[^\n]{0,40}(?<![^\W\d_])(?:у реєстрі|в реєстрі|в реестре)[^\n]{0,8}$")
_DIGIT = re.compile(r"[0-9]")
_TIME_BEFORE = re.compile(r"(?:[0-9][ \t]*[ap]\.?m\.?|[0-9]:[0-9]{2}|[0-9]-[0-9]{1,2})[ \t]*\)?[ \t]*\(?gst\W*$")
# a compound of a number word (German, Dutch, Scandinavian, Finnish: "Buchungsnr.", "Målernr.", "Zählernummer", "PQ-Nr.",
# "asiakasnumero", "Kiinteistötunnus", "Y-tunnus"), a record's number unless its first part names a phone
# ("Rufnummer", "Tel.-Nr.", "Servicenummer", "Notfallnummer", "puhelinnumero")
_COMPOUND_NUMBER = re.compile(
    r"(?:[^\W\d_]{2,}-?|[^\W\d_]-)(?:nr|tunnus)|[^\W\d_]-nummer|"  # (a Dutch V-nummer, a foreign national's)
    # (Hungarian -szám, a record's: a receipt's, an invoice's or an account's, an order's, a customer's, a contract's,
    # a reference's; not "Zöldszám", "Segélyszám", "mellékszám")
    r"[^\W\d_]*(?:nyugta|számla|rendelés|ügyfél|szerződés|hivatkozás|azonosító|cikk|tranzakció|sor|taj)-?szám|"
    # (spelled out, a phone's compounds are many -- "Hoofdnummer", "Doorkiesnummer", "Notdienstnummer",
    # "Kännykkänumero": only a record's first part counts)
    r"[^\W\d_]*(?:register|studenten|student|matrikel|pass|kunde|kund|klant|asiakas|vertrag|contract|sopimus|avtal|"
    r"rechnung|faktur|factuur|lasku|buchung|booking|auftrag|"
    r"bestell|order|ordre|tilaus|artikel|serien|serie|objekt|anlage|liegenschaft|gerät|zähler|mess|måler|mätar|"
    r"mittari|meter|konto|rekening|account|mitglied|versicherung|polis|steuer|personal|person|henkilö|kassen|"
    r"referenz|referentie|viite|transaktion|vorgang|akten|sags|ärende|dossier|fall|lieferant|leverancier|"
    r"fahrgestell|chassis|paket|sendung|zählpunkt|käyttöpaikka|post|beanstandung)[^\W\d_]{0,4}-?(?:nummer|numero)"
)
_PHONE_STEM = re.compile(
    # (short stems at the word's start only: "Spielstellennr." holds "tel", "Mittelnummer" too)
    r"^(?:tel|fon|mob|bel|ring|lin|lín|info|call|ruf|wahl|toll|frei|haupt|jour|vagt|vakt|nød|nood|sms|gsm|tlf|tfn|"
    r"hív|röst|alarm|spoed|funk|pager|privat)|"
    # (...or right before the number word: "Firmentel-Nr.", "Bedrijfsgsm-nr", "Terugbel-nr", "Rückruf-Nr.")
    r"(?:tel|bel|gsm|tlf|ruf|vakt|vagt|mob|fon)-?(?:nr|nummer|numero)$|rückruf|"
    r"phon|handy|mobil|fax|servic|hotline|notruf|notfall|kontakt|contact|whatsapp|durchwahl|zentral|störung|stoerung|"
    r"bereitschaft|support|direkt|direct|hjælp|hjälp|help|växel|sentral|anruf|opkald|samtal|gratis|kostenlos|sammel|"
    r"festnetz|büro|buero|nebenstelle|anschluss|puhelin|soitto|päivystys|vermittlung|ansprechpartner|doorkies|"
    r"notdienst|auskunft|kännykkä|liittymä|yhteys|dienst|bezugsperson|telefon|rufnummer"
)


def _compound_number(tok: str) -> bool:
    """A record's number word made of a noun and "nr" / "nummer" whose noun names no phone."""
    return _COMPOUND_NUMBER.fullmatch(tok) is not None and _PHONE_STEM.search(tok) is None


# a short bracketed note after a number's word ("Betriebsnr. (HIT) 09 777 044 1772", "Kundennr. (alt)")
# (a note that says when or how to call: "Policy number (24 hrs):", "Case number (urgent):")
_HELPLINE_NOTE = re.compile(r"[0-9]|hour|hrs|urgent|emergenc|after|direct|toll|free|line")
_ID_RECORDS = frozenset(
    ["nhs", "member", "policy", "patient", "customer", "client", "account", "insurance", "passport", "student"]
    + ["employee", "case", "claim", "order", "invoice", "tax", "licence", "license", "registration"]
)
_NOTE_AFTER = re.compile(r"[ \t]*\([^()\n]{1,12}\)[ \t]*:?[ \t]*$")
# (a longer one after a social-insurance or taxpayer number's word: "SIN (for estate gift file only): …")
_LONG_NOTE_AFTER = re.compile(r"[ \t]*\([^()\n]{1,40}\)[ \t]*:?[ \t]*$")
_NOTE_ID_WORDS = frozenset(("sin", "tin"))
# a company's or a person's tax / registry number: the word may stand a few words before it
_ID_WORDS = frozenset(  # (not "ein", "btw", "vat", "inn", "nit", "rut", "rfc": words of their own elsewhere)
    [
        "ersatzteil",  # (a spare part's number: "Ersatzteil Lüftermotor: 8738 2090 13")
        "nip",
        "regon",
        "krs",
        "cvr",
        "siret",
        "siren",
        "cnpj",
        "cpf",
        "инн",
        "огрн",
        "ruc",
        "cuit",
        "cuil",
        "curp",
        "abn",
        "acn",
        "tva",
        "itin",  # (a US taxpayer number: "ITIN супруга: 912-78-4410")
        "agb-code",  # (a Dutch health-care provider's: "AGB-code praktijk: 04-054321", "AGB-code: …")
        "agb",
        "ondernemingsnummer",  # (a Belgian company's number a word before: "Ondernemingsnummer werkgever: 0118.…")
        "sss",  # (a Philippine social-security number a word before: "SSS ER No.: 03-9123456-7-000")
        "viitenumero",  # (a Finnish payment reference a word before: "Viitenumero laskulle: 77487 47398")
        # (a file's word a word before: "Expediente AFA 11-4471-2024", "TAJ-szám ellenőrizve: …")
        "expediente",
        "taj-szám",
        "cccd",  # (a Vietnamese citizen's id a word before: "CCCD số 016391564824")
        "lieferschein",  # (a delivery note's number a word before: "Lieferschein Großhandel Nr. 0664753/208856")
        "ičo",  # (a Czech company's number a word before: "IČO pořadatele 27812 847")
        "npwp",  # (an Indonesian tax number a word before: "NPWP Pembeli 02.227…"; not "RNC", a party's name too)
        # (a building licence's number a word before: "Licencia MIVHED 0288-2026", "Licença n.º 412/2026")
        "licencia",
        "licença",
        # (a Portuguese social-security and company number: "NISS: 2 0004 1875 3", "NIPC: 508 731 264"; not "NIS", a
        # shekel's and a Serbian city's name too)
        "niss",
        "nipc",
    ]
)
# ...of which only with a number word after them ("Lieferschein Rückfragen 0171 …" is a phone)
_ID_WORDS_NUMBERED = frozenset(["lieferschein"])
_ASKED = re.compile(r"[?？]")
# a code's one-letter prefix after its word on the same line (not T, M, F, P ... of a signature: "T 0161 …")
_CODE_LETTER = re.compile(r"(?:(?<=[^\W\d_][ \t])|(?<=[:.][ \t]))(?![TMFPWCHODE])[A-Z][ \t]?$")
# a question's line end, then a speaker's role and a colon alone on the number's line
_ANSWER_LABEL = re.compile(r"[?？][ \t]*\r?\n[ \t]*(?:customer|client|cliente|caller|kunde|klient)[ \t]*:[ \t]*$")
_CLIENT_WORDS = frozenset(("client", "cliente", "customer", "klant"))
# the number words of a customer's number ("Votre numéro de client : 1284-5502-71"; not "id", "code")
_CLIENT_NUMBER = frozenset(
    (
        "number",
        "num",
        "no",
        "nr",
        "nro",
        "n°",
        "nº",
        "№",
        "nummer",
        "numer",
        "numéro",
        "número",
        "numero",
        "номер",
    )
)
_SERVICE_WORDS = re.compile(
    r"servi[cç]|atenci[oó]n|atendimento|care|support|relation|relaci[oó]n|rela[cç][oõ]|apoio|assistance|asistencia"
)
_CODE_LETTERS = re.compile(r"(?<=:[ \t])[A-Z]{2,4}[ \t]?$")
_NUMBER_LABEL = re.compile(r"(?i)(?:nummer|number|numero|número|numer|nr\.?|no\.?|id)[ \t]*:[ \t]*$")
# an account's own short form right before it ("A/c 00112233445566"; not "A/C Repair: …", "Casa/Celular: …")
_ACCOUNT_AC = re.compile(r"(?<![^\W\d_/])a/c\.?(?:[ \t]*(?:no\.?|number|#))?[ \t]*:?[ \t]*$")
_ORG_NR = re.compile(
    r"(?<![a-z.])(?:org\. ?nr\.?|kt\.)[ \t]*[:#]?[ \t]*$"
)  # a Swedish "Org.nr", not "example.org"; an Icelandic personal id's "kt." (not knots: "15 kt 0412 …")
# the articles, prepositions and verbs that may stand between a record's word and its number, which are no number
# word themselves ("the trade group is 519-…")
_FILLER_GLUE = frozenset(
    [
        "de",
        "du",
        "del",
        "do",
        "da",
        "van",
        "der",
        "des",
        "of",
        "the",
        "is",
        "was",
        "el",
        "la",
        "le",
        "es",
        "est",
        "ist",
        "é",
    ]
)
# words that may stand between a negative word and its number ("order number: 123", "numer zamówienia 12")
_NEG_FILLER = _FILLER_GLUE | frozenset(
    [
        "number",
        "num",
        "no",
        "nr",
        "n°",
        "nº",
        "id",
        "code",
        "номер",
        "numer",
        "nummer",
        "№",
        "numéro",
        "número",
        "numero",
        "numarası",
        "numaranız",
        "n",
        "º",
        "o",  # ("n.º" reads "n.o" once normalised)
        "č",  # (Czech "č.", číslo: "Zákaznické číslo 8801229437"; "Telefonní číslo" keeps its phone word)
        "číslo",
        "szám",  # (Hungarian: "Nyilvántartási szám: 06-02-0004417"; "Telefonszám" keeps its phone word)
        "št",  # (Slovenian "št.", številka, Croatian "br.", broj: "RAČUN št. 24-1182207")
        "br",
        "broj",
        "številka",  # (Slovenian: "Matična številka: 8218770000")
        "jurídica",  # (a Costa Rican company's "Cédula jurídica: 3-002-418227", a person's "cédula física")
        "juridica",
        "física",
        "fisica",
        "importador",  # (a customs declaration's party: "Cédula jurídica importador: 3-101-412887")
        "exportador",
        "nro",
        "electrónico",  # ("número de billete electrónico")
        "electronico",
        "electronic",
        "client",  # ("Réf. client : …", "customer ref")
        "cliente",
        "customer",
        "klant",
        "nru",  # (Maltese, Uzbek and Urdu number words: "Biljett Nru. …", "Shartnoma raqami …", "بکنگ نمبر …")
        "raqami",
        "raqam",
        "نمبر",
    ]
)
# (the word an Arabic record's number may hold between its noun and "رقم" is no phone word: "رقم العقد جوال: 055…")
_AR_NOT_PHONE = r"(?!(?:ال)?(?:جوال|هاتف|موبايل|واتساب|تلفون)|اتصل|اتصال|تواصل|للتواصل)"
_NEG_CJK = re.compile(
    r"(?:订单|單號|单号|发票|發票|编号|編號|主文|注文|伝票|(?<!電話)(?<!携帯)(?<!FAX)(?<!Fax)(?<!ＦＡＸ)(?<!ファックス)(?<!代表)(?<!折返し)(?<!折り返し)(?<!連絡)番号|郵便|邮编|账号|账户|帳號|帳戶|帐号|口座|계좌|우편번호|주문|사업자|"
    r"상품번호|매물번호|관리번호|접수번호|예약번호|회원번호|송금번호|ผู้เสียภาษี|این ٹی این|ایس ٹی آر این|"
    # (education: a Chinese exam's admission ticket and candidate numbers)
    r"准考证号|准考證號|考生号|考生號|"
    r"등록번호|송장|請求書|请求书|거래명세서|会議\s*ID|会议\s*ID|회의\s*ID|コード|品番|批次|批号|批號|"
    # (a utility's customer and meter numbers, a Chinese or Taiwanese electricity account, an ordinal's 第 before
    # its number and 号: "不动产权第0188220号")
    r"고객번호|계기번호|계량기번호|電號|电号|户号|戶號|第|승인번호|代碼|代码|کد ملی|대출번호|계약번호|동호수|"
    # (a student's number, a notice's, a farm household's: "学号：2022011834", "학번", "공지번호 2025-0137", "농가번호")
    r"学号|學號|学籍号|학번|공지번호|공고번호|농가번호|배출번호|"
    # (a Korean receipt's number -- not a cash receipt's phone, "현금영수증 010-…" --, a care institution's code)
    r"영수증\s*번호|기관\s*기호|"
    # (a receipt's serial number, a non-profit's unique number, a designation's: "일련번호: 2024-0418", "고유번호:
    # 117-82-61873")
    r"일련번호|고유번호|지정번호|"
    # (a lottery draw, a medical record, a Persian postcode, an ad account, a platform's, a player's or a member's id)
    r"ロト|病歷號|病历号|کد پستی|広告アカウント|광고 계정|애즈 계정|(?:平台|用户|用戶|玩家|会员|會員|会員|主播)\s*ID|"
    # (a Hebrew record's number: a match's, an order's, a customer's, an account's, a file's)
    r"מספר\s+(?:משחק|הזמנה|לקוח|חשבון|תיק|אסמכתא)|"
    r"رقم الطلب|الطلب|الشحنة|شحنة|فاتورة|الفاتورة|رقم الحساب|الحساب|المعاملة|معاملة|الزيارة|الملف|ضريبية|الضريبي|"
    # (an Arabic record's number: "هوية مقيم رقم", "فاتورة مبسطة رقم", "رقم السجل التجاري", "رقم المرجع")
    r"(?:ال)?(?:طلب|شحنة|فاتورة|هوية|مقيم|تصريح|مرجع|مركبة|عقد|سجل|إقرار)\S{0,4}(?:\s+"
    + _AR_NOT_PHONE
    + r"\S+)?\s+رقم|"
    r"رقم\s+(?:ال)?(?:مرجع|عقد|سجل|تصريح|هوية|مركبة|إقرار|إيصال|عداد|مباراة|بطاقة|حيازة|تشغيلة)\S{0,4}(?:\s+"
    + _AR_NOT_PHONE
    + r"\S+)?|बीजक|[Qq][Qq]号?|〒|รหัส|পরিচয়পত্র\s*নম্বর)"
    # (a record's key in quotes too: '"사업자번호":"')
    r"\s*[:：#№]?\s*(?:号码|號碼|号|番号|번호|नं\.?|[Nn][Oo]\.?)?\s*[\"']?\s*[:：]?\s*[\"']?$"
)

# phone words (before or just after a number, or a table column header)
_CTX_SET = frozenset(
    [
        # (a line's, a hotline's and a mobile's words of the telecom bills and forms: Spanish "línea", Polish
        # "infolinia", Estonian "mobiilinumber")
        "línea",
        "linea",
        "telf",  # (Peru's and Bolivia's abbreviation, and the plural: "Telf. N.° 01 315 0800", "Teléfonos N.° …": a reader's)
        "teléfonos",
        "telefonos",
        "telefónica",
        "telefonica",
        "infolinia",
        "infolinii",
        "infolinię",
        "mobiilinumber",
        "mobiil",
        "telefoninumber",
        "voice_mail",
        "atd",  # (a modem's dial command: "ATD0630600256;")
        "phone",
        "phonenumber",  # (one word as schemas write it: "Name": "PhoneNumber", "Value": …)
        "mobilenumber",
        "phoneno",
        "phones",
        "tel",
        "telephone",
        "mobile",
        "cell",
        "cellphone",
        "call",
        "calls",
        "called",
        "calling",
        "fax",
        "contact",
        "sms",
        "whatsapp",
        "reach",
        "reached",
        "dial",
        "hotline",
        "helpline",
        "landline",
        # (a building's desk, where its phone is what a notice gives: "Portería: 601 6247718", "Conserjería: …")
        "portería",
        "porteria",
        "conserjería",
        "conserjeria",
        # (Rioplatense Spanish: "llamás a la sede al 2902 5160", "llamá al …")
        "llamás",
        "llamá",
        "llamanos",
        "llamame",
        "ph",
        "mob",
        "ring",
        "voicemail",
        "tél",
        "téléphone",
        "portable",
        "appelez",
        "appelle",
        "appelle-moi",
        "appelez-moi",
        "appeler",
        "contacter",
        "contactez",
        "contacté",
        "contactez-moi",
        "telemóvel",
        "telemovel",
        "telemóveis",
        "comunicarse",
        "comuníquese",
        "comunicate",
        "appeler",
        "joindre",
        "numéro",
        "standard",
        "telefon",
        "telefonnummer",
        "handy",
        "handynummer",
        "rufnummer",
        "mobil",
        "mobilnummer",
        "erreichbar",
        "erreichen",
        "anrufen",
        "rückruf",
        "teléfono",
        "telefono",
        "telefone",
        "móvil",
        "movil",
        "celular",
        "llama",
        "llámame",
        "llámeme",
        "llame",
        "llamar",
        "número",
        "numero",
        "fijo",
        "cellulare",
        "chiamare",
        "chiamatemi",
        "chiamami",
        "bel",
        "bellen",
        "telefoonnummer",
        "telefoon",
        "mobiele",
        "mobiel",
        "nummer",
        "tel",
        "kom",
        "komórka",
        "komórkowy",
        "dzwonić",
        "dzwoń",
        "zadzwoń",
        "numer",
        "numeru",
        "ligue",
        "liga-me",
        "ligue-me",
        "ligue",
        "gsm",  # (a mobile, in Belgium, Luxembourg, the Netherlands, Turkey)
        "ligar",
        "contato",
        "contacto",
        "arayın",
        "arayabilirsiniz",
        "numaralı",
        "numarası",
        "numarasından",
        "телефон",
        "утас",  # (Mongolian)
        "телефону",
        "тел",
        "звоните",
        "позвоните",
        "звонить",
        "моб",
        "мобильный",
        "номер",
        "puhelin",
        "tlf",
        "telefonu",
        "composez",
        "composer",
        "llamada",
        "llamadas",
        "llámanos",
        "llamanos",
        "llámenos",
        "gọi",  # Vietnamese: call, a phone (điện thoại), its abbreviations, Zalo (the country's messenger)
        "điện",
        "sđt",
        "đt",
        "zalo",
        "numerem",
        "telefoniczny",
        "telefonicznie",
        "volat",
        "volejte",
        "zavolejte",
        "číslo",
        "čísle",
        "čísla",
        "ring",
        "ringe",
        "ringer",
        "ringa",
        "sentralbord",
        "växel",
        "soita",
        "soittaa",
        "τηλέφωνο",
        "τηλ",
        "κινητό",
        "ċemplu",  # (Maltese: call; "ċemplu lil … fuq 7942 1836", "ċempel lil Doris fuq 7921 4863")
        "cemplu",
        "ċempel",
        "cempel",
        "telefonoan",  # (Basque: at the telephone, after the number: "943 42 18 60 telefonoan")
        "chamade",  # (Galician: call, to several: "chamade a Uxía do 2º 698 412 735")
        "telefonszám",
        "hívjon",
        "hívj",
        "hívjanak",
        "sunați",
        "telepon",
        "hubungi",
        "nomor",
        "zap",  # (Brazilian Portuguese for WhatsApp: "me chama no zap")
        "zapzap",
        "thoại",
        "kontakt",
        "texter",
        "texto",
        "appelle",
        "rappeler",
        "rappelle",
        "síma",
        "sími",
        "tālrunis",
        "tālruni",
        "numurs",
        "numuru",
        "helistage",
        "helistada",
        "helistan",
        "helista",
        "numbril",
        "tālruņa",
        "zvaniet",
        "zvanīt",
        "zvani",
        "tālr",
        "telefonas",
        "caller",
        "callee",
        "msisdn",
        "cel",
        "pokličite",
        "pokliči",
        "nazovite",
        "nazovi",
        "mobitel",
        "télécopieur",  # (a fax, in French Canada)
        "telecopieur",
        "reachable",  # (a dictation's or a transcript's: "reachable at …", "Kännykkään, …", "Перезвоните …")
        "kännykkä",
        "kännykkään",
        "kännykkäni",
        "matkapuhelin",
        "matkapuhelimeen",
        "перезвоните",
        "перезвонить",
        # (a Czech or Slovak "they called me from", a landline: "auf ihrem Festnetz 0 …"; a fault line: "Dépannage
        # compteur : 09 …", "Störungsannahme Zähler: 0800 …", "guasti")
        "volali",
        "volal",
        "volala",
        "zavolal",
        "zavolali",
        "zavolala",
        "volajte",
        "zavolajte",
        "festnetz",
        "telèfon",  # (Catalan)
        "contacte",  # (Spanish, Portuguese: "contacte con …", "contacte-nos pelo …"; Czech, Lithuanian)
        "contacte-nos",
        "contáctenos",
        "kontaktujte",
        "skambinkite",
        "skambinti",
        "mòbil",
        "recapito",  # (Italian: "Recapito di rif.: 347 …", "recapito telefonico")
        # (a phone's number word, compounded: Danish, Norwegian, German, Dutch, Finnish)
        "tlfnr",
        "tlf-nr",
        "tfnnr",
        "telnr",
        "tel-nr",
        "telefonnr",
        "telefon-nr",
        "mobilnr",
        "mobil-nr",
        "handynr",
        "faxnr",
        "doorkiesnummer",
        "hoofdnummer",
        "puhelinnumero",
        "puhelinnro",
        "kännykkänumero",
        "matkapuhelinnumero",
        "emergency",  # (an emergency line: "Gas emergency: 0800 111 999", "Emergency meter 0800 …")
        "dépannage",
        "störungsannahme",
        "störungsdienst",
        "entstörung",
        "guasti",
        "phoned",  # ("phoned 085 230 3566 07/07")
        "callback",  # ("Callback number for this incident: 07700 900123")
        "ligar",  # (Portuguese "call": "Podem ligar-me para o 924 204 926")
        "ligar-me",
        "liguem",
        "telm",  # (Portuguese: telemóvel, "Telm. 968 109 757")
        "mobilais",  # (Latvian: a mobile)
        "mowbajl",  # (Maltese: a mobile)
        "piezvaniet",  # (Latvian: call; Russian and Bulgarian: fax)
        "piezvanīt",
        "факс",
        "llamame",  # (Spanish "call me" without its accent; Icelandic mobile, phone number)
        "farsími",
        "símanúmer",
        "jazzcash",  # (a mobile wallet, which a phone number names)
        "easypaisa",
        "gcash",
        "mbway",  # (Portugal's phone-number payments: "MBWay: 912.139.572")
        # (call me, contact me: Galician, Portuguese, Spanish; call: Icelandic -- "chámame ao 986 214 463", "contactem-me
        # pelo 912 447 308", "contactarme al 7153 8294", "hringdu í mig í 862 4471")
        "chámame",
        "chámanos",
        "contactem-me",
        "contacte-me",
        "contacta-me",
        "contactarme",
        "contáctame",
        "contáctenos",
        "rufft",  # (Luxembourgish: call; Mongolian: call, after the number -- "7011 4827 дугаарт залгана уу")
        "urufft",
        "залгана",
        "залгах",
        "hringdu",
        "hringja",
        "hringið",
        "llamará",  # (Spanish: will call, call; French: reachable; "la llamará al 5720 2306", "joignable au 77 …")
        "llamaremos",
        "llámenos",
        "joignable",
        "joignables",
        # (call: Xhosa, Zulu, Quechua, Basque; "tsalela uNomsa ku-+27 73 512 8846", "waqyay 984 670 215")
        "tsalela",
        "tsalelani",
        "shayela",
        "shayelani",
        "waqyay",
        "waqyaway",
        "deitu",
        "deitzeko",
    ]
)
_CTX_MULTI = (
    "text me",
    "sabit hat",
    "office line",
    "direct line",
    "branch line",
    "main line",
    "phone line",
    "best #",  # (American: "best # 313-…", "cell #", "work #")
    "phone #",
    "cell #",
    "work #",
    "home #",
    "contact #",
    "sans frais :",  # (toll-free: French Canada's "Sans frais : 1 877 …", not "annulation sans frais"; Portugal's
    "sans frais:",  # "linha grátis", Italy's "numero verde")
    "numéro sans frais",
    "ligne sans frais",
    "linha grátis",
    "apoio ao cliente",  # (Portugal's customer line, its line of support and its faults' line: "Avarias 800 506 506")
    "linha de apoio",
    "avarias",
    "linha verde",
    "número verde",
    "numero verde",
    "liên hệ",  # (Vietnamese: contact)
    "tổng đài",  # (Vietnamese: a switchboard, a hotline)
    "number to text",  # ("Best number to text updates to?", "a number to call or text")
    "number to call",
    "number to reach",
    "numbers to text",
    "numbers to call",
    "out of hours",  # (a practice's or a landlord's after-hours line: "out of hours 01248 322057")
    "out-of-hours",
    "text to",  # ("sending promo texts to 94059613")
    "texts to",
    "can text",  # ("or you can text 8128 8480"; "text me", "number to text" above)
    "please text",
    "or text",
    "mb way",
    "puh.",  # (Finnish, a phone's abbreviation as a label; "puh" alone is German "phew")
    "puh:",
    "wool ci",  # (Wolof: call at; "Ngir laaj, wool ci 77 639 04 52")
    "my number is",  # ("Receipts attached. My number is 7941 8352.")
    # (a chat's "my new number", in its language: "Nombor baru saya …", "ჩემი ახალი ნომერია …")
    "my new number is",
    "my new number:",
    "mi nuevo número es",
    "mi nuevo numero es",
    "meu novo número é",
    "meu novo numero é",
    "mon nouveau numéro est",
    "mon nouveau numéro :",
    "meine neue nummer ist",
    "meine neue nummer:",
    "il mio nuovo numero è",
    "mijn nieuwe nummer is",
    "мой новый номер",
    "мій новий номер",
    "yeni numaram",
    "nomor baru saya",
    "nombor baru saya",
    "ჩემი ახალი ნომერი",
    "my number:",
    "simu:",  # (Swahili, a phone, as a label or in a phrase; "SIMU" is a motor's make too)
    "simu =",
    "simu  =",
    "ya simu",
    "piga simu",
    # (a customer service's, an emergency line's, an inquiry's, an information line's, an outside line's: "Atención
    # al cliente: 900 100 251", "Emergencias: 71 418 227", "Consultas al 2000-7720", "Për informacion: 0800 4040",
    # "külső vonal 75 508 220")
    "atención al cliente",
    "atencion al cliente",
    "emergencias:",
    "për informacion",
    "külső vonal",
    "επικοινωνία:",  # (Greek: contact, as a label: "Επικοινωνία: 99 624 318"; not "communication", a course's name)
    "επικοινωνία :",
)
_CTX_MULTI_RE = re.compile(
    r"(?<![^\W\d_])(?:"
    + "|".join(re.escape(w) for w in _CTX_MULTI)
    + ")"
    # (Brazilian Portuguese "Fone: (31) 3270-5000", "Fone/Fax"; not headphones, "fone de ouvido", and their model's
    # number)
    + r"|(?<![^\W\d_])fone(?![^\W\d_])(?! de ouvido)"
)  # (not "monitor text")
_CTX_CJK = re.compile(
    r"电话|電話|手机|手機|座机|致电|拨打|撥打|热线|熱線|联系|聯繫|연락|전화|휴대폰|핸드폰|번호|携帯|携转|攜轉|代表番号|門號|门号|"
    # (a Chinese contact list's relations before each mobile: "陈一诺 妈妈 15921836047", "班主任 周老师 13917042263"; not
    # "先生" / "女士", a letter's salutation after an air waybill's number)
    r"妈妈|媽媽|爸爸|家长|家長|老师|老師|"
    r"お問い合わせ|連絡先|代表|外線|फ़ोन|फोन|मोबाइल|मोबाईल|संपर्क|कॉल|नंबर|सम्पर्क|दूरभाष|दूरध्वनी|हेल्पलाइन|هاتف|الهاتف|جوال|الجوال|خليوي|الخليوي|خلوي|الخلوي|اتصل|اتصال|موبايل|واتساب|تلفون|تواصل|"
    # (Arabic "رقم" is any number: "رقم العقد", "هوية مقيم رقم"; a phone's is "رقم الهاتف", "رقم الجوال")
    # (a whole word where a stem would match inside others: "فون" is in "المؤلفون", "โทร" in "โทรทัศน์", television;
    # Persian "همراه" alone is "along with", its mobile is "تلفن همراه")
    r"نومرو|تماس|تلفن|موبایل|موبائل|(?<![\u0600-\u06ff])فون(?![\u0600-\u06ff])|رابطہ|رقمي|ফোন|মোবাইল|যোগাযোগ|"
    r"โทร(?!ทัศน์)|มือถือ|ติดต่อ|ទូរស័ព្ទ|ទំនាក់ទំនង|"
    r"ဖုန်း|ဆက်သွယ်|ტელ|დარეკეთ|დამირეკეთ|დამირეკოთ|დაგვირეკეთ|დაუკავშირდით|დაგვიკავშირდით|მობ|კონტაქტ|უკუკავშირ|ಫೋನ್|ഫോൺ|ఫోన్|தொலைபேசி|ફોન|ਫ਼ੋਨ|ਫੋਨ|දුරකථන|ስልክ|"
    # (Hebrew tel., phone, mobile -- not a laptop's, "מחשב נייד", nor mobility --, "call" and "dial"; Amharic "call";
    # Pakistan's mobile wallets, which a phone number names)
    r"טל['׳]|טלפון|(?<!מחשב )נייד(?!ות)|פלאפון|התקשרו|חייגו|ይደውሉ|ደውሉ|جاز کیش|ایزی پیسہ"
)

# -- region hints ---------------------------------------------------------------------------
# (first code point, last code point, regions) of the scripts that point at a country
# letters only some of a script's languages use, which point at their countries before the script's block does
_SCRIPT_LETTERS = (
    ("үө", ("MN",)),  # Mongolian (Cyrillic)
    ("ٹڈڑںھہے", ("PK",)),  # Urdu
    ("پچکگی", ("IR", "AF", "PK")),  # Persian (and Urdu)
    ("ژ", ("IR", "AF")),
)
_SCRIPTS = (
    (0xAC00, 0xD7AF, ("KR",)),
    (0x3040, 0x30FF, ("JP",)),
    (0x4E00, 0x9FFF, ("CN", "TW", "HK", "JP")),
    (0x0400, 0x04FF, ("RU", "UA", "BY", "KZ")),
    (0x0600, 0x06FF, ("SA", "AE", "EG", "QA", "KW", "JO", "MA", "TN", "DZ", "IQ", "OM", "LB")),
    (0x0900, 0x097F, ("IN", "NP")),
    (0x0980, 0x09FF, ("BD", "IN")),
    (0x0A00, 0x0D7F, ("IN", "LK")),  # Gurmukhi, Gujarati, Oriya, Tamil, Telugu, Kannada, Malayalam
    (0x0D80, 0x0DFF, ("LK",)),
    (0x0590, 0x05FF, ("IL",)),
    (0x0E00, 0x0E7F, ("TH",)),
    (0x0E80, 0x0EFF, ("LA",)),
    (0x1000, 0x109F, ("MM",)),
    (0x1780, 0x17FF, ("KH",)),
    (0x10A0, 0x10FF, ("GE",)),
    (0x0530, 0x058F, ("AM",)),
    (0x1200, 0x137F, ("ET",)),
    (0x0370, 0x03FF, ("GR", "CY")),
)
# (a letter looked up by code point; a script's block by bisection: the blocks do not overlap)
_SCRIPT_CHAR = {ch: k for k, (letters, _) in enumerate(_SCRIPT_LETTERS) for ch in letters}
_BLOCKS = sorted((lo, hi, k) for k, (lo, hi, _) in enumerate(_SCRIPTS))
_BLOCK_LO = [lo for lo, _, _ in _BLOCKS]
assert all(a[1] < b[0] for a, b in zip(_BLOCKS, _BLOCKS[1:]))
# Latin-script languages: letters only they use, and frequent short words (stop words, phone words)
_LANGS = (
    (
        "äöüß",
        (
            "und der die das bitte sie ihnen unter oder ich mich telefon erreichbar büro uhr wir ist nicht danke "
            "privat geschäftlich mit für"
        ),
        ("DE", "AT", "CH"),
    ),
    ("ąęłńśźż", "proszę numer lub pod tel kom się jest na do mój mnie dzwonić zadzwoń dziękuję dom praca", ("PL",)),
    (
        "",
        (
            "het een naar gerust bel of op voor mijn nummer kantoor uur tussen mobiele niet maar u kunt ons "
            "bedankt thuis werk"
        ),
        ("NL", "BE"),
    ),
    ("ğşıİ", "için ve numaralı bize beni arayın değil hat numarasını numarasından teşekkürler ev iş", ("TR",)),
    (
        "ãõ",
        (
            "você ligue celular telefone para pelo comigo meu em número ou não escritório o liga-me "
            "obrigado obrigada casa trabalho"
        ),
        ("BR", "PT"),
    ),
    (
        "ñ¿¡",
        (
            "llámame llama al el teléfono móvil celular número mi es de del para cuando puedes gracias casa trabajo "
            "los las estos estas ciudad usted también pero hola hay favor"
        ),
        ("ES", "MX", "AR", "CO", "CL"),
    ),
    (
        "",
        ("il lo chiamare chiamatemi telefono cellulare oppure numero dal della lunedì per grazie casa lavoro"),
        ("IT",),
    ),
    ("éèêàçù", "le la les vous au pour numéro appelez mon est et de merci maison travail", ("FR", "BE", "CH")),
    # (the words below are each language's own: "du", "je", "na", "mi", "se", "ja", "este" would hint at the wrong
    # country in French, Polish, Spanish, German or Portuguese text, where any 8 or 9 digits may then validate)
    ("ěřůťďň", "prosím děkuji volat volejte zavolejte číslo kancelář nebo případně pozdravem", ("CZ", "SK")),
    ("æø", "og jeg meg hilsen venlig vennlig takk kontoret ansatt avdeling uke", ("DK", "NO")),
    ("", "och jag hälsningar ringa växel", ("SE",)),
    ("", "kiitos terveisin soita puhelin toimisto", ("FI",)),
    ("", "tafadhali asante habari simu piga wasiliana namba yake jina kwa sana karibu", ("KE", "TZ", "UG")),
    ("őű", "hogy vagy köszönöm telefonszám hívjon üdvözlettel", ("HU",)),
    ("șțşţ", "și pentru vă mulțumesc sunați", ("RO",)),
    (
        "",
        "pokličite pokliči pišite hvala lep pozdrav nazovite lijep srdačan pozdravom vprašanja telefonska številka",
        ("SI", "HR"),
    ),
    ("", "anda dengan dgn yang yg mohon terima kasih hubungi silakan sila kami", ("ID", "MY")),
)
_LANG_CHARS = [frozenset(c) for c, _, _ in _LANGS]
# country-code top-level domains of a host or an address; not those sold as generic names (.co, .io, .me, .tv, .ai …),
# nor those that are abbreviations too ("tel.no", "user.id", "this.is")
_CC_TLD = re.compile(r"[a-z0-9]\.([a-z]{2})(?![a-z0-9\-])")
_CC_TLDS = (
    "de at ch fr be nl lu it es pt pl cz sk si hr rs ba hu ro bg gr dk se fi ee lv lt ie mt cy ua by ru kz tr il sa ae "
    "qa kw om bh jo lb eg ma tn dz ng ke gh za in pk bd lk np th vn my sg ph kr jp cn tw hk au nz br ar cl pe mx uy "
    "py bo ec ve ca"
)
_TLD_REGION = {cc: cc.upper() for cc in _CC_TLDS.split()}
_TLD_REGION["uk"] = "GB"
_LANG_WORDS = [frozenset(w.split()) for _, w, _ in _LANGS]
_LETTERS = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)?")
_ENGLISH = ("GB", "IN", "AU", "IE")
_ALL_TARGETS = (
    "US",
    "GB",
    "DE",
    "FR",
    "ES",
    "IT",
    "NL",
    "PL",
    "PT",
    "BR",
    "RU",
    "SA",
    "AE",
    "EG",
    "CN",
    "KR",
    "JP",
    "IN",
    "TR",
    "MX",
    "AT",
    "CH",
    "BE",
    "UA",
    "AU",
    "CA",
    "AR",
    "CO",
)


# ...and, with a phone word near, these (8-digit numbers are phones in Singapore, Hong Kong, Denmark, Norway)
_WORD_TARGETS = (
    "HK",
    "SG",
    "MY",
    "PH",
    "TH",
    "VN",
    "ID",
    "PK",
    "NZ",
    "ZA",
    "NG",
    "KE",
    "IL",
    "CZ",
    "DK",
    "NO",
    "SE",
    "FI",
    "IS",
    "LV",
    "LT",
    "EE",
    "PE",
    "BO",
    "EC",
    "VE",
    "UY",
    "PY",
    "GT",
    "CR",
    "DO",
    "PA",
    "SV",
    "HN",
    "NI",
    "SN",
    "CI",
    "CM",
    "NP",
)


# places that name a country: its names (in English and its own languages), its capital, its largest cities -- those
# of the countries the language words below do not hint at, where no other country's place has the name (not "Georgia",
# "Santiago", "Córdoba", "Lima", "Kingston", "Victoria", "Mali", "Jordan"); read only beside a phone word (``_score``):
# "la paz" and "el alto" are everyday Spanish too
_PLACES = {
    "BO": "bolivia|la paz|santa cruz de la sierra|cochabamba|el alto",
    "PE": "perú|arequipa|trujillo, perú|cusco|callao",
    "EC": "ecuador|quito|guayaquil|cuenca, ecuador",
    "VE": "venezuela|caracas|maracaibo|valencia, venezuela",
    "UY": "uruguay|montevideo",
    "PY": "paraguay|asunción",
    "CR": "costa rica|san josé, costa rica|heredia|alajuela",
    "PA": "panamá|ciudad de panamá|panama city",
    "GT": "guatemala",
    "HN": "honduras|tegucigalpa|san pedro sula",
    "SV": "el salvador|san salvador",
    "NI": "nicaragua|managua",
    "DO": "república dominicana|dominican republic|santo domingo|punta cana",
    "CU": "la habana|havana",
    "JM": "jamaica|montego bay",
    "TT": "trinidad|port of spain",
    "SN": "sénégal|senegal|dakar|thiès|saint-louis du sénégal",
    "CI": "côte d'ivoire|cote d'ivoire|ivory coast|abidjan|yamoussoukro|bouaké",
    "CM": "cameroun|cameroon|yaoundé|douala",
    "BF": "burkina faso|ouagadougou",
    "NE": "niamey",
    "GN": "conakry",
    "BJ": "bénin|cotonou|porto-novo",
    "TG": "lomé",
    "GA": "libreville",
    "CD": "kinshasa|lubumbashi",
    "CG": "brazzaville",
    "MG": "madagascar|antananarivo",
    "MA": "maroc|morocco|casablanca|rabat|marrakech|tanger|fès",
    "DZ": "algérie|algeria|alger|algiers|oran|constantine",
    "TN": "tunisie|tunisia|tunis|sfax|sousse",
    "NG": "nigeria|lagos|abuja|port harcourt|kano",
    "GH": "ghana|accra|kumasi",
    "KE": "kenya|nairobi|mombasa|kisumu",
    "TZ": "tanzania|dar es salaam|dodoma|arusha",
    "UG": "uganda|kampala",
    "RW": "rwanda|kigali",
    "ET": "ethiopia|addis ababa",
    "ZM": "zambia|lusaka",
    "ZW": "zimbabwe|harare|bulawayo",
    "ZA": "south africa|johannesburg|cape town|durban|pretoria",
    "AE": "uae|united arab emirates|dubai|abu dhabi|sharjah",
    "SA": "saudi arabia|riyadh|jeddah|dammam",
    "QA": "qatar|doha",
    "KW": "kuwait",
    "BH": "bahrain|manama",
    "OM": "oman|muscat",
    "LB": "lebanon|liban|beirut|beyrouth",
    "IQ": "iraq|baghdad|erbil|basra",
    "SG": "singapore|singapura",
    "MY": "malaysia|kuala lumpur|penang|johor bahru",
    "ID": "indonesia|jakarta|surabaya|bandung",
    "PH": "philippines|manila|quezon city|cebu|davao",
    "TH": "thailand|bangkok|chiang mai",
    "VN": "vietnam|việt nam|hanoi|hà nội|ho chi minh|hồ chí minh|saigon|đà nẵng",
    "KH": "cambodia|phnom penh|siem reap",
    "MM": "myanmar|yangon|mandalay",
    "BD": "bangladesh|dhaka|chittagong",
    "LK": "sri lanka|colombo|kandy",
    "NP": "nepal|kathmandu|pokhara",
    "PK": "pakistan|karachi|lahore|islamabad",
    "FJ": "fiji|suva|lautoka|nadi",
    "PG": "papua new guinea|port moresby",
    "NZ": "new zealand|aotearoa|auckland|wellington|christchurch",
    "MT": "malta|valletta|sliema|birkirkara",
    "CY": "cyprus|κύπρος|nicosia|λευκωσία|limassol|λεμεσός|larnaca|λάρνακα",
    "AL": "albania|shqipëri|shqipëria|tirana|tiranë|durrës",
    "MK": "north macedonia|skopje|скопје",
    "RS": "serbia|srbija|србија|belgrade|beograd|београд|novi sad",
    "BA": "bosnia|sarajevo|banja luka",
    "ME": "montenegro|crna gora|podgorica",
    "XK": "kosovo|prishtina|pristina",
    "LU": "luxembourg|lëtzebuerg",
    "IS": "iceland|ísland|reykjavík|reykjavik",
    "EE": "estonia|eesti|tallinn|tartu",
    "LV": "latvia|latvija|riga|rīga",
    "LT": "lithuania|lietuva|vilnius|kaunas|klaipėda",
    "GE": "tbilisi|batumi|kutaisi",
    "AM": "armenia|yerevan|երևան",
    "AZ": "azerbaijan|azərbaycan|baku|bakı",
    "KZ": "kazakhstan|almaty|astana|алматы|астана",
    "UZ": "uzbekistan|o'zbekiston|tashkent|toshkent|ташкент",
    "KG": "kyrgyzstan|bishkek|бишкек",
}
_PLACE_NAMES = [(name, r) for r, names in _PLACES.items() for name in names.split("|")]
_PLACE_REGION = [r for _, r in _PLACE_NAMES]
try:
    from ahocorasick_rs import AhoCorasick as _PlaceAC
    from ahocorasick_rs import MatchKind as _PlaceKind

    _PLACE_AC: _PlaceAC | None = _PlaceAC([n for n, _ in _PLACE_NAMES], matchkind=_PlaceKind.LeftmostLongest)
except ImportError:  # pragma: no cover - a declared dependency
    _PLACE_AC = None


def place_hints(window: str) -> tuple[str, ...]:
    """The regions of the places ``window`` names (``_PLACES``: "La Paz", "Nairobi", "Shqipëri"), in order."""
    out: list[str] = []
    if _PLACE_AC is None:  # pragma: no cover - a declared dependency
        return ()
    low = window.lower()
    for i, a, b in _PLACE_AC.find_matches_as_indexes(low):
        if (a and low[a - 1].isalnum()) or (b < len(low) and low[b].isalnum()):
            continue
        if _PLACE_REGION[i] not in out:
            out.append(_PLACE_REGION[i])
    return tuple(out)


def region_hints(window: str) -> tuple[str, ...]:
    """Regions the text around a number hints at, most likely first (English-speaking last)."""
    out: list[str] = []
    low = window.lower()
    chars = set(low)
    if not low.isascii():
        letters, found = set(), set()
        for ch in chars:
            o = ord(ch)
            if o >= 0x370:
                k = _SCRIPT_CHAR.get(ch)
                if k is not None:
                    letters.add(k)
                j = bisect.bisect_right(_BLOCK_LO, o) - 1
                if j >= 0 and o <= _BLOCKS[j][1]:
                    found.add(_BLOCKS[j][2])
        for k in sorted(letters):
            out.extend(r for r in _SCRIPT_LETTERS[k][1] if r not in out)
        for k in sorted(found):
            out.extend(r for r in _SCRIPTS[k][2] if r not in out)
    if "." in low:  # a country's domain in an address or a link ("dpo@trgovina-primer.si", "www.example.cz")
        for m in _CC_TLD.finditer(low):
            r = _TLD_REGION.get(m.group(1))
            if r is not None and r not in out:
                out.append(r)
    words = set(_LETTERS.findall(low))
    scored = []
    for k, (_, _, regions) in enumerate(_LANGS):
        n = len(words & _LANG_WORDS[k]) + 2 * len(chars & _LANG_CHARS[k])
        if n:
            scored.append((-n, k, regions))
    for _, _, regions in sorted(scored):
        out.extend(r for r in regions if r not in out)
    out.extend(r for r in _ENGLISH if r not in out)
    return tuple(out)


_WARM = False


def warm() -> None:
    """Import ``phonenumbers`` and load the metadata of the regions tried most (the library loads
    a region on first use, ~1 ms each: at scanner construction, not on a request).  Without the
    package only the shape rules apply (international numbers by calling code, North American
    numbers, French-style groups)."""
    global _WARM, _pn
    if _WARM:
        return
    _WARM = True
    try:
        import phonenumbers
    except ImportError:  # pragma: no cover - a declared dependency
        return
    # the library compiles each region's patterns by re.compile on every call, and with some two hundred regions'
    # patterns re's own cache (512) thrashes: its cache of compiled patterns took a fifth off the PII scanner's time
    # over the blind sets (docs/benchmarks.md)
    cache = getattr(phonenumbers, "enable_pattern_cache", None)
    if cache is not None:
        cache()
    for r in (
        _ALL_TARGETS
        + _ENGLISH
        + ("UA", "BY", "KZ", "TW", "HK", "QA", "KW", "JO", "MA", "CL", "IL", "TH", "GR", "CY")
        + ("IR", "AF", "BD", "LK", "MM", "KH", "GE", "MN", "TN", "DZ", "IQ", "OM", "LB")
        + ("CZ", "SK", "DK", "NO", "SE", "FI", "HU", "RO")
        + _WORD_TARGETS
    ):
        phonenumbers.PhoneMetadata.metadata_for_region(r)
    _pn = phonenumbers


@lru_cache(maxsize=16384)
def _intl(s: str) -> tuple[int, str | None]:
    """The international number ``s`` parsed once: (2: valid, 1: possible length for the country, 0: no; the
    region of a valid one, None for a shared calling code's or an invalid one)."""
    assert _pn is not None  # callers run only after warm() imported it
    try:
        n = _pn.parse(s, None)
    except _pn.NumberParseException:
        return 0, None
    if _pn.is_valid_number(n):
        return 2, _pn.region_code_for_number(n)
    if n.country_code == 52 and str(n.national_number).startswith("1"):  # Mexico's retired mobile "1"
        n.national_number = int(str(n.national_number)[1:])
        if _pn.is_valid_number(n):
            return 2, "MX"
    return (1 if _pn.is_possible_number(n) else 0), None


def _valid_intl(s: str) -> int:
    """2: valid, 1: possible length for the country, 0: no."""
    return _intl(s)[0]


def _intl_region(s: str) -> str | None:
    """The region of the valid international number ``s`` (None: not one, or a shared calling code's)."""
    return _intl(s)[1]


@lru_cache(maxsize=16384)
def _valid_national(s: str, regions: tuple[str, ...]) -> tuple[str | None, bool]:
    """(first region where ``s`` is a valid national number, whether it carries that region's trunk prefix)."""
    assert _pn is not None  # callers run only after warm() imported it
    digits = s.translate(_KEEP_DIGITS)
    for r in regions:
        md = _pn.PhoneMetadata.metadata_for_region(r)
        if md is None:
            continue
        prefix = md.national_prefix or ""
        trunk = bool(prefix) and digits.startswith(prefix)
        if prefix and not trunk and r not in _TRUNKLESS_OK:
            if len(digits) >= 8 and _written_without_trunk(digits, r, md):
                return r, False  # the few numbers a country writes without it (1300 in Australia, 1588 in Korea)
            continue  # a DE/GB/FR/... national number is written with its 0
        lengths = md.general_desc.possible_length
        if (
            lengths
            and not md.national_prefix_transform_rule
            and len(digits) - (len(prefix) if trunk else 0) not in lengths
            and len(digits) not in lengths
        ):
            continue  # (cheap: no parse for a length the country never uses)
        if trunk and not md.national_prefix_transform_rule and digits[len(prefix) : len(prefix) + 1] not in ("", "0"):
            # the plain trunk-prefix case (DE, GB, FR, NL, TR, KR, JP, SA, EG, RU ...): build the number
            # directly, ~3x cheaper than parse()
            n = _pn.PhoneNumber(country_code=md.country_code, national_number=int(digits[len(prefix) :]))
            if _pn.is_valid_number_for_region(n, r):
                return r, trunk
            if md.national_prefix_for_parsing == prefix:
                continue  # parse() would strip the same prefix: the same answer
        try:
            n = _pn.parse(s, r)
        except _pn.NumberParseException:
            continue
        if n.country_code == md.country_code and _pn.is_valid_number_for_region(n, r):
            return r, trunk
    return None, False


def _written_without_trunk(digits: str, r: str, md) -> bool:
    """Whether ``digits`` is a valid toll-free, premium-rate, shared-cost or single (UAN) number of ``r`` that its own
    national format writes without the trunk prefix (1300 655 506 and 1800 123 456 in Australia; 0800 in
    Britain is written with it; an ordinary subscriber number never is here)."""
    assert _pn is not None
    n = _pn.PhoneNumber(country_code=md.country_code, national_number=int(digits))
    if not _pn.is_valid_number_for_region(n, r) or _pn.number_type(n) not in _SERVICE_TYPES:
        return False
    return not _pn.format_number(n, _pn.PhoneNumberFormat.NATIONAL).startswith(md.national_prefix)


# PhoneNumberType TOLL_FREE, PREMIUM_RATE, SHARED_COST, UAN (no import at load time): Vietnam's hotlines
# ("Tổng đài 1900 6067") are premium-rate numbers written without the trunk prefix
_SERVICE_TYPES = frozenset({3, 4, 5, 9})
_IN_GROUPS = re.compile(r"[0-9]{10}|[0-9]{5}[ .\-][0-9]{5}|[0-9]{3}([ .\-])[0-9]{3}\1[0-9]{4}")


# regions whose trunk prefix is often left out when writing a national number (Bolivia's "0" selects a carrier: its
# numbers are written without it, "cel. 71548327")
_TRUNKLESS_OK = frozenset({"BR", "CN", "IN", "MX", "AR", "CO", "US", "CA", "RU", "KZ", "HK", "TW", "BO"})


_TOKEN = re.compile(r"n[°º](?![^\W\d_])|[^\W\d_]+(?:[-'][^\W\d_]+)*|#|№")  # ("N°", "Nº": a number sign)


# an escaped line break or tab in an iCalendar or JSON text ("…\\nPasscode: …"): a space between words
_ESCAPES = re.compile(r"\\[nrt]")


def paired_after_label(t: str, a: int, b: int) -> bool:
    """A dotted quad of two-digit pairs at ``t[a:b]`` right after a phone word's label ("Téléphone : 27.14.71.62",
    "Tel. 27.14.71.62"): a phone number written in pairs, not an address (nor with a port after it)."""
    if t[a] in "01" or t[b : b + 1] in (":", "/") or _IP_WORD.search(t, max(0, a - 24), a):
        return False  # (a private 10/8 address, a port, a prefix length, "IP del teléfono: …")
    m = _LABEL_WORD.search(t, max(0, a - 24), a)
    return m is not None and _has_ctx(m.group(1).lower())


_IP_WORD = re.compile(r"(?<![A-Za-z])(?:IP|ip|Ip)(?![A-Za-z])")
_LABEL_WORD = re.compile(r"([^\W\d_]+)\.?[ \t]*[:：]?[ \t]*$")


def has_phone_word(low: str) -> bool:
    """A phone word in ``low`` (lower-cased text): "tel", "phone", "mobile", "call" ... in the languages read."""
    return _has_ctx(low)


def _has_ctx(low: str) -> bool:
    """A phone word in ``low`` (lower-cased text)."""
    if "\\" in low:
        low = _ESCAPES.sub(" ", low)
    tokens = _TOKEN.findall(low)
    if not _CTX_SET.isdisjoint(tokens):
        return True
    if "num" in low and any(_PHONE_COMPOUND.fullmatch(t) for t in tokens if len(t) > 8):
        return True
    if not low.isascii() and _CTX_CJK.search(low):
        return True
    return _CTX_MULTI_RE.search(low) is not None or ("alt" in low and _ALT_NUMBER.search(low) is not None)


# a phone's compound number word in German, Dutch and the Nordic languages: a phone noun and "number" in one word
# ("Kontaktnummer", "Servicenummer", "Festnetznummer", "telefonnummeret", "Vakttelefonnummer"; not "Dienstnummer",
# an officer's, nor "Serviceauftragsnummer", a record's: the phone noun must stand right before the number word; not
# "Kontakt-Nr." nor "Supportnr.", which name a record as often as a phone)
_PHONE_COMPOUND = re.compile(
    r"[^\W\d_]{0,6}(?:kontakt|service|support|hotline|notfall|notruf|störungs|stoerungs|festnetz|zentral|durchwahl|"
    r"mobil|mobiel|telefon|handy|fax|whatsapp|gratis|sammel|hjælpe|hjälp|hjelpe|kundeservice|kundenservice|"
    r"kundservice)-?(?:nummer|nummern|nummeret|nummers|numre|numrene|nummar|nummarið|numero|numeron)"
)
_ALT_NUMBER = re.compile(r"(?<![^\W\d_])alt(?:ernate)?\.? ?#")  # ("Contact #: … Alt #: 2544141433"; not "Asphalt #")


_IM_ON = re.compile(r"(?<![^\W\d_])i(?:'|’| a)m on[ \t]+$")  # ("I'm on 07945178465 if you need to verify it")
_PHONE_SIGN = re.compile(r"[☎☏📞📱]\ufe0f?[ \t:]*$")  # (a phone's sign right before: "☎ (0-312) 94438"; not after)


# Spanish "inquiries" as a label, alone or with one more subject ("Consultas: 2908 4417", "Consultas y reclamos:
# 2231-4400"; not a report's counts, "Consultas atendidas: 2231 4400": a twentieth reader's)
_INQUIRIES_LABEL = re.compile(r"(?<![^\W\d_])consultas(?:[ \t]+[ye][ \t]+[^\W\d_]+)?[ \t]*[:：][ \t]*$")
# a parish's or a secretariat's label and its colon right before a number ("Despacho parroquial: 913 662 475", "Presbytère:
# 54 21 38", "Farní kancelář: 545 213 074"; not "Office hours: 08 30 17 30", "Office ID: 0412 5561")
_OFFICE_LABEL = re.compile(
    r"(?<![^\W\d_])(?:secretar[ií]a|secr[ée]tariat|sekretariat|secretariaat|segreteria|pfarrbüro|pfarramt|"
    r"kancelář|kancelaria|despacho|presbyt[èe]re|parroquia|paróquia|parrocchia|parafia|fara)"
    r"(?:[ \t]+(?!hours|horario|horaire|öffnungszeiten|geöffnet|ouvert|id\b|code|número|numéro|nummer|nr\b|no\b)"
    r"[^\W\d_]+){0,2}[ \t]*[:：][ \t]*$"
    # (an office as the label itself, at a label's or a sentence's start, with no word after but a phone's -- or an
    # Icelandic office's owner in the genitive, "Skrifstofa safnsins:": "School office: 403 7412", "Office: 323 2047",
    # "… me? Office: 6418 8227"; not "Term of office: 2019 2023", "Office open: 0830 1730", "Skrifstofa opin: 9 00 16
    # 00": a reader's)
    r"|(?:^|[\n|•·;,(]|[.?!][ \t])[ \t]*"
    r"(?:(?!(?:of|in|took|left|assumed|leaving|taking|entered|post|tax|patent)[ \t])[^\W\d_]+[ \t]+)?"
    r"(?:office(?:[ \t]+(?:phone|tel|telephone|line|main|direct|number))?|skrifstofa(?:[ \t]+(?!opin|opnun|lokuð|kt\b|kennitala)[^\W\d_]+)?)"
    r"[ \t]*[:：][ \t]*$"
    # (and in other languages, alone at a label's start: "Oficina: 2438 2744", "Büro: 0221 …"; not "Gastos oficina:",
    # "Miete Büro:", whose head noun comes first)
    r"|(?:^|[\n|•·;,(]|[.?!][ \t])[ \t]*(?:oficina|escritório|escritorio|büro|ufficio|kantoor|офис|оффис)[ \t]*[:：][ \t]*$"
)
# a contact list's line: a role or a place as its label, a person's name (a title before it maybe) and a dash before the
# number ("Presidente: Sr. Ramiro Choque – 7357 4316", "Gate (11:00–13:30): Daniel Nguyen – 0474169912", "Manager: Ms.
# Boitumelo Seretse – 72 544 276"; read on the text as written: the name's words capitalised)
_ROSTER_LINE = re.compile(
    r"(?:^|\n)[ \t]*([^\W\d_][^\n]{0,40}?):[ \t]*"
    r"((?:Mr|Mrs|Ms|Miss|Dr|Sr|Sra|Srta|Lic|Ing|Arq|Prof|M|Mme|Mlle|Herr|Frau|Sig|Sig\.ra|Dott|Pan|Pani|Bpk|Ibu)\.?[ \t]+)?"
    r"[A-ZÀ-ÖØ-ÞĀ-ŽА-ЯЁ][^\W\d_'’.]+(?:[ \t]+[A-ZÀ-ÖØ-ÞĀ-ŽА-ЯЁ][^\W\d_'’.]+){0,3}[ \t]+[–—-][ \t]*$"
)


def _roster_line(before: str) -> bool:
    """:data:`_ROSTER_LINE` right before the number, its label no record's ("Invoice: Acme Ltd – 2025 0412") and a
    person's title before the name: a contact (not "Budget: Marketing Department – 2 450 000", "Population: Buenos Aires
    – 3 075 646", even in a list of such lines)."""
    m = _ROSTER_LINE.search(before)
    if m is None:
        return False
    words = _TOKEN.findall(m.group(1).lower())
    if not (_NEG_SET.isdisjoint(words) and _NUMBER_WORDS.isdisjoint(words)):
        return False
    return m.group(2) is not None


# "inquiries to" right before the number ("Consultas al 2000-7720", "Cualquier consulta al 2258 4417"; not "Consulta al
# cliente 4471229018": a customer's number)
_INQUIRY_TO = re.compile(r"(?<![^\W\d_])consultas? al[ \t]*$")


# weak phone words: a service's name that counts for a number near it, but cancels no record's word or shape (telecoms
# and utilities: Czech and Slovak "infolinka", a company's customer service -- Danish, Norwegian, German, Swedish,
# Finnish: "Kundeservice (hverdager 8-16): 70 10 20 30"; not "Kundeservice\nKundenummer: 22114478": a reader's)
_WEAK_CTX = frozenset(
    ["infolinka", "infolinku", "infolinky", "kundeservice", "kundenservice", "kundservice", "kundtjänst"]
    + ["asiakaspalvelu"]
)
# Spanish "call us", right before the number ("puede llamarnos al 2901 4412"; not "llamarnos indicando el N° de reclamo
# 4312-3456": a reader's)
_CALL_US = re.compile(r"(?<![^\W\d_])llamarnos(?:[ \t]+al)?[ \t]*:?[ \t]*$")
# Portuguese "linha" as a number's label ("linha gratuita 800 201 344", "Linha de apoio: …"; not "Linha de crédito nº",
# "linha 3 da tabela")
_LINHA_LABEL = re.compile(
    r"(?<![^\W\d_])linha(?:[ \t]+(?:gratuita|verde|azul|direta|directa|de apoio|de atendimento|telefónica|telefônica))?"
    r"[ \t]*[:：]?[ \t]*$"
)


def _service_ctx(before: str, after: str) -> bool:
    """A company's service line near the number (:data:`_WEAK_CTX`), or Portuguese "linha" or Spanish "llamarnos" as
    its label; each looked for only where its letters are."""
    low = before[-40:].lower()
    if "linha" in low and _LINHA_LABEL.search(before[-30:].lower()) is not None:
        return True
    if "llamarnos" in low and _CALL_US.search(before[-20:].lower()) is not None:
        return True
    near = low + " " + after.lower()
    return ("kund" in near or "infolink" in near or "asiakas" in near) and not _WEAK_CTX.isdisjoint(
        _TOKEN.findall(near)
    )


def _ctx(before: str, after: str, header: str) -> bool:
    return (
        ("al" in before[-5:] and _INQUIRY_TO.search(before[-16:]) is not None)
        or
        # (each looked for only where it can be: "m on" in ASCII, a phone's sign outside it)
        ("m on" in before[-12:] and _IM_ON.search(before[-12:]) is not None)
        or (":" in before[-3:] and _OFFICE_LABEL.search(before[-40:].lower()) is not None)
        or (":" in before[-3:] and _INQUIRIES_LABEL.search(before[-40:].lower()) is not None)
        or (not before[-6:].isascii() and _PHONE_SIGN.search(before[-6:]) is not None)
        or _service_ctx(before, after)
        or _has_ctx(before)
        or _has_ctx(after)
        or bool(header and (_has_ctx(header) or _HEADER_PHONE.search(header)))
    )


# a column header that names a phone number as databases and call records write it (lower case): "homephone",
# "mobilephone", "a_number", "b_number", "nommer_gebel" (Asterisk's "src" and "dst": pii's header_of, by the row)
_HEADER_PHONE = re.compile(
    r"phone|msisdn|(?<![a-z])(?:[ab]_(?:number|party|nr|num)|[ab](?:number|party)|"
    r"(?:calling|called|dialed|dialled)(?:_?(?:number|party|no|nr|num))?|caller|callee|gebel|gebeld)(?![a-z])"
)


# a sender's or recipient's key right before a number (lower case)
_MSG_KEY = re.compile(
    r"(?<![a-z0-9])(?:to|from|dst|src|dest|destination|recipient|sender|wa_id|waid|msisdn|originator|caller|callee|"
    # a call record's parties: "calling_number=447700900123", "callingPartyNumber", "a_number", "CLI", "cgpn"
    r"ani|dnis|(?:calling|called)_?(?:party_?)?(?:number|num|no|nr)?|caller_?id|cli|clid|cgpn|cdpn|[ab]_?(?:number|party)|"
    # (the same in the languages call records are written in: "origem", "destino", "chiamante", "appelant")
    r"origem|origen|destino|destinatario|destinatário|remitente|remetente|chiamante|chiamato|appelant|appelé|"
    r"anrufer|angerufener|"
    # (a modem's own number, "own: 420605649338"; Kamailio's and OpenSIPS's from, to and request users)
    r"own|fu|tu|ru"
    r")[\"']?[ \t]*[:=][ \t]*[\"']?$"
)


# a call's party as a record's key: a phone word for a national number after it (not "to", "from", "sender": a
# transfer's, a shipment's)
_PARTY_KEY = re.compile(
    r"(?<![a-z0-9])(?:msisdn|caller|callee|ani|dnis|(?:calling|called)_?(?:party_?)?(?:number|num|no|nr)?|caller_?id|cli|"
    r"clid|cgpn|cdpn|[ab]_?(?:number|party)|chiamante|chiamato|appelant|appelé|anrufer|angerufener|fu|tu|ru)"
    r"[\"']?[ \t]*[:=][ \t]*[\"']?$"
)


def valid_international(s: str) -> bool:
    """Whether ``s`` ("+…") is a valid international number (False without ``phonenumbers``)."""
    if _pn is None:
        return False
    return _valid_intl(s) == 2


def msg_keyed(before: str) -> bool:
    """A sender's, recipient's or call party's key stands right before the number ("msisdn": "…", "to=",
    "calling_number=")."""
    return _keyed(before) and _MSG_KEY.search(before[-32:].lower()) is not None


def _phone_key(before: str) -> bool:
    """The record's key right before the number names a phone ("phone": "…", "mobile_no=")."""
    key = _KEY_BEFORE.search(before[-30:].lower())
    return key is not None and _has_ctx(key.group(1).replace("_", " "))


def _keyed(before: str) -> bool:
    """A record's key stands right before the number: "ts=", '"to": "', "phone: "."""
    return before[-3:].rstrip(" \t\"'")[-1:] in (":", "=")


_KEY_BEFORE = re.compile(r"([a-z][a-z0-9_]*)[\"']?[ \t]*[:=][ \t]*[\"']?$")  # a record's key right before a value


_SENTENCE_END = re.compile(r"[.!?][ \t]+(?=[^\W\d_])")
# an SSN's (an EIN's) word, its own number whole (dashed), at most three short numeric fields (a CSV row's amount and
# count: "SSN,529-31-8846,48211.90,1312,505-266-1873") and a field's separator, right before a number
_ROW_NEXT_FIELD = r"(?:[ \t]*[,;|\t][ \t]*[0-9][0-9.]{0,11}){0,3}[ \t]*[,;|\t\u2013\u2014-][ \t]*$"
_OWN_NUMBER = {
    "ssn": re.compile(r"ssn[:#.,;|\t]?[ \t]*[0-9]{3}-[0-9]{2}-[0-9]{4}" + _ROW_NEXT_FIELD),
    "ein": re.compile(r"ein[:#.,;|\t]?[ \t]*[0-9]{2}-[0-9]{7}" + _ROW_NEXT_FIELD),
}
# a Mexican power bill's service number's label ("Número de servicio 441880218774")
_SERVICE_NUMBER = re.compile(r"(?<![^\W\d_])n[úu]mero de servicio[.:#]?[ \t]*[:#]?[ \t]*$")
# a North American number's shape, which no Canadian immigration client's number (UCI) has: "UCI 949-824-5011" is UC
# Irvine's line, "UCI 11-2287-4410" a client's
_NANP_SHAPE = re.compile(r"\(?[2-9][0-9]{2}\)?[ .\-]?[2-9][0-9]{2}[ .\-][0-9]{4}")
_KR_MOBILE = re.compile(r"01[016789][ .\-]?[0-9]{3,4}[ .\-]?[0-9]{4}")


def _neg(before: str, keyed: bool = False, s: str = "") -> bool:
    """A negative word (order, invoice, Kundennummer, заказ ...) right before the number ``s`` (``keyed``: a record's
    key may stand right before it)."""
    tail = before[-30:]
    if "\\" in tail:
        tail = _ESCAPES.sub(" ", tail)
    if tail[-2:].rstrip()[-1:].isupper():  # (a code's one-letter prefix: "Číslo zásilky: Z 4418 2290 17")
        tail = _CODE_LETTER.sub("", tail)
        code = _CODE_LETTERS.search(tail)  # (or its letters after a number's label: "EuroBonus-nummer: EBG 612 …")
        # (not a phone word, "Kontakt: GSM 0612 …", a negative word of its own, "Adquirente: NIF 224 815 600", nor a
        # name after a label that names no number, "Company: IBM 0171 1234567", "Room: VIP 020 7946 0958")
        if (
            code is not None
            and _NUMBER_LABEL.search(tail, 0, code.start()) is not None
            and code.group().strip().lower() not in _NEG_SET
            and not _has_ctx(code.group().lower())
        ):
            tail = tail[: code.start()]
    tail = tail.lower()
    if "\u0307" in tail:
        tail = tail.replace("i\u0307", "i")  # (Turkish "İ" lower-cased keeps its dot: "GTİP" is "gtip")
    key = _KEY_BEFORE.search(tail) if keyed and "_" in tail else None
    if key is not None and "_" in key.group(1) and not _CTX_SET.isdisjoint(key.group(1).split("_")):
        return False  # a key that names a phone with its negative word: "contact_relais", "tel_commande"
    toks = _TOKEN.findall(tail)
    if len(toks) > 1 and toks[-1] in ("no", "№") and toks[-2] in _NUMBERED_RECORDS and not _has_ctx(tail):
        return True
    if toks and tail.rstrip(" \t:")[-1:] == ")":
        note = _NOTE_AFTER.search(tail)
        if note is not None and not _has_ctx(note.group()):
            head = _TOKEN.findall(tail, 0, note.start())
            if head and (
                head[-1] in _NEG_SET
                or head[-1] in _NOTE_ID_WORDS
                or _compound_number(head[-1])
                # (an id's record word and a number's: "NHS number (if known): 943 476 5919"; not a booking's or a
                # meeting's, whose lines are phones too, "Reservation number (24h): 0412 …")
                or (
                    len(head) > 1
                    and head[-1] in _NUMBER_WORDS
                    and head[-2] in _ID_RECORDS
                    and _HELPLINE_NOTE.search(note.group()) is None
                )
            ):
                toks = head  # (the note says nothing of a phone: the word before it names the number)
        else:
            wide = before[-60:].lower()  # (the word may stand further back than the tail reaches)
            note = _LONG_NOTE_AFTER.search(wide)
            if note is not None and not _has_ctx(note.group()):
                head = _TOKEN.findall(wide, 0, note.start())
                if head and head[-1] in _NOTE_ID_WORDS:
                    toks, tail = head, wide
    if toks and _compound_number(toks[-1]) and not _has_ctx(tail):
        return True  # "Buchungsnr. 0441-7728-12", "Målernr. 30208874", "PQ-Nr. 010.044172"
    if (
        toks
        and (
            toks[-1] in ("n°", "nº", "№")
            or (toks[-1] == "n" and tail.rstrip(" \t:")[-3:] in ("n.°", "n.º"))  # (Spanish "N.° 021-006-…")
            # (Czech and Slovak "č." after a record's noun: "doklad č. 0418-2207-0091"; not "tel. č. 0905 …", "na č. 603 …",
            # "t. č. 603 …", "linka č. 0800 …", "p. Dvořák, č. 604 …": a twentieth reader's)
            or (toks[-1] == "č" and len(toks) > 1 and toks[-2] in _CZ_RECORDS and tail.rstrip().endswith("č."))
            or (toks[-1] == "số" and tail.rstrip()[-1:] == ":" and "hiệu" in toks)
        )
        and not _has_ctx(tail)
    ):
        return True  # a number sign right before it, no phone word: "Resolución N° 023-003-0145821" (not "Teléfono N°")
    if toks and "-" in toks[-1] and toks[-1].rsplit("-", 1)[1] in _NEG_FILLER:
        toks[-1:] = toks[-1].rsplit("-", 1)  # a word and its number word joined: "CVR-nr.", "Hersteller-Nr."
    elif toks and "-" in toks[-1]:
        # a negative word's compound reads as the word: "AutoPASS-brikke" (not a phone word's, "Telefon-Bestellung")
        first, last = toks[-1].split("-", 1)[0], toks[-1].rsplit("-", 1)[1]
        if (last in _NEG_SET or last in _NEG_UNLESS_PHONE_WORD) and not _has_ctx(first):
            toks[-1] = last
    popped = []
    while toks and toks[-1] in _NEG_FILLER:
        popped.append(toks.pop())
        if popped[-1] == "id" and _TOKEN.findall(tail, tail.rfind("\n") + 1) == ["id"] and not _has_ctx(tail):
            return True  # an id's own label, alone on its line ("ID: 7740-118329"; not "Caller ID:", "WhatsApp ID:")
    numbered = not _FILLER_GLUE.issuperset(popped)  # (a number word among them: "Bill number is …", not "group is …")
    if (
        popped
        and toks
        and "-" in toks[-1]
        and (toks[-1].rsplit("-", 1)[1] in _NEG_SET or toks[-1].rsplit("-", 1)[1] in _NEG_WITH_NUMBER_WORD)
        and not _has_ctx(toks[-1].replace("-", " "))  # (not "Fax-ID no.", "Telefon-Bestellung Nr.")
    ):
        return True  # a negative word's compound before its number word: "Tierarzt-Stempel Nr. 0891 2345 67"
    if (
        not _CLIENT_WORDS.isdisjoint(popped)
        and not _CLIENT_NUMBER.isdisjoint(popped)
        and "\n" not in tail[tail.rfind(popped[-1]) :]
        and not _has_ctx(_ANY_NUMBER.sub(" ", before[-60:].lower()))
        and _SERVICE_WORDS.search(tail) is None
    ):
        return True  # a customer's number: "Votre numéro de client : 1284-5502-71" (not "Phone customer number: …",
        # "Service client numéro …", "Call our customer number …", nor a question's "número?" above an answer)
    if toks and toks[-1] == "nota" and tail.rstrip(" \t")[-1:] == ":":
        toks = []  # a note's label ("Nota: 333 123 4567", Italian, Spanish, Portuguese), not an invoice
    if toks and toks[-1] == "gst" and _TIME_BEFORE.search(tail):
        toks = []  # Gulf Standard Time after opening hours ("9am–6pm GST: 04 330 1234"), not a tax number
    if toks and "\n" in tail and _ANSWER_LABEL.search(tail) is not None:
        toks = []  # an answer's speaker under a question: the question is no key ("Can you confirm the phone number on
        # the account?\nCustomer: (628) 822-7909"; not a key split over two lines, "Order no.\nCustomer: …")
    if (
        toks
        and (
            # (its own number word: not a question's "Lost parcel? The number is 020 …")
            (toks[-1] in _NEG_WITH_NUMBER_WORD and numbered and not _ASKED.search(tail, tail.rfind(toks[-1])))
            or (
                toks[-1] in _NEG_UNLESS_PHONE_WORD
                and not _has_ctx(_ANY_NUMBER.sub(" ", tail[tail.rfind("\n") + 1 :]))
                and (toks[-1] not in _NEG_LOWER_ONLY or numbered or toks[-1] in before[-40:])
                and (toks[-1] not in _LOTTERY or tail.rstrip(" \t").endswith(":"))
                and (toks[-1] not in _NEG_SAME_LINE or "\n" not in tail[tail.rfind(toks[-1]) :])
                and (toks[-1] != "uci" or _NANP_SHAPE.fullmatch(s) is None)
                # (a trial subject's number, not a text's recipient's mobile: "발송 대상자: 010-…")
                and (toks[-1] != "대상자" or _KR_MOBILE.fullmatch(s) is None)
            )
            or (toks[-1] in _AD_WORDS and _AD_ID.fullmatch(s) is not None and not _has_ctx(tail))
            or (
                toks[-1] in _NEG_CAPS
                and (toks[-1].upper() in before[-30:] or before.islower())  # (a header cell comes lower-cased)
                and (toks[-1] != "dui" or _DUI_SHAPE.fullmatch(s) is not None)
                # (a phone word of the sentence before names no number of this one: "… contato com o banco. Seu RA é …")
                and not _has_ctx(_ANY_NUMBER.sub(" ", _SENTENCE_END.split(tail)[-1]))
            )
        )
    ):
        return True
    if _NOSSO_NUMERO.search(tail) and s and " " not in s and "(" not in s:
        return True  # a boleto's own number ("Nosso número: 96261638-1"), not "ligue para o nosso número 0800 …"
    if toks and toks[-1] == "nib" and len(s.translate(_KEEP_DIGITS)) in (13, 21) and not _has_ctx(tail):
        return True  # an Indonesian business id (13 digits) or a Portuguese account's NIB (21): no phone's length
    if (
        toks
        and toks[-1] == "servicio"
        and s.isdigit()
        and len(s) == 12
        and not s.startswith("01800")
        and _SERVICE_NUMBER.search(tail)
    ):
        return True  # a Mexican power bill's service number, 12 digits in a run ("Número de servicio: 01 800 123 4567",
        # "… 018001234567" and "… 800 123 4567" are phones)
    if (
        toks
        and toks[-1] == "cil"
        and "CIL" in before[-30:]
        and s[:1] not in "0(+"
        and not _NANP_SHAPE.fullmatch(s)
        and not _has_ctx(tail)
    ):
        return True  # a Portuguese supply point's code ("Local de consumo: CIL 4412 8830 17")
    if (
        toks
        and toks[-1] in ("pro", "dua")
        and _FREIGHT_CODE.search(before[-30:])
        and s[:1] not in "0(+"
        and s.count("-") >= (2 if toks[-1] == "pro" else 1)  # (a PRO number's check digit: "417-220118-3")
        and " " not in s
        and not _NANP_SHAPE.fullmatch(s)
        and not _has_ctx(tail)
    ):
        # a freight bill's PRO number ("PRO 417-220118-3"), a Latin American customs declaration's DUA ("con DUA
        # 24-0412887"), in capitals only ("pro" and Malay / Indonesian "dua", two, are words); not a number a trunk or
        # country code opens, of North American shape, in spaced groups or a PRO's with one dash (a club's or a
        # college's PRO, its public relations officer: "PRO: 087 123 4567", "PRO: 98450 12345", "PRO: 98450-12345")
        return True
    if toks and toks[-1] == "mst" and not before.isascii():
        return True  # a Vietnamese tax code (Mã số thuế); "MST" in English is a time zone: "9-5 MST 303-555-0143"
    if toks and toks[-1] == "reg" and tail.rstrip(" \t:").endswith("reg.") and s[:1] != "0" and not _has_ctx(tail):
        return True  # a company register's number ("Reg. 32631207"; "Reg" alone is a name too, "Reg. 07700 900123")
    if toks and toks[-1] == "po" and "PO" not in before[-30:]:
        toks.pop()  # (Tagalog "po", a courtesy: "Contact no. ko po 0917 …"; a purchase order is "PO")
    if toks and toks[-1] in _NEG_SET and "\n" in tail:
        w_end = tail.rfind(toks[-1]) + len(toks[-1])
        nl = tail.find("\n", w_end)
        if nl >= 0 and _DIGIT.search(tail, w_end, nl):
            toks = []  # the word had its own number, and the line ended ("Kostenstelle 4117\n  2. 079 385 89 27")
    if (
        toks
        and toks[-1] in _OWN_NUMBER
        and _OWN_NUMBER[toks[-1]].search(tail) is not None
        and len(s.translate(_KEEP_DIGITS)) != 9  # (an SSN's nine digits again, "SSN 612-45-6789, 612 45 6789", too)
    ):
        # an SSN's or an EIN's word with its own number after it: the number after that is the row's next field ("SSN
        # 071-73-9747 – (206) 623-8645", a staff list; "EIN,27-3309158,57420.75,2104,919-641-2785"), unless it is the
        # SSN again ("SSN 612-45-6789, 612 45 6789") or has nine digits, another tax id, a Canadian SIN or a routing
        # number ("SSN,529-31-8846,48211.90,04-2103580", an employer's EIN in a W-2 row: a reader's)
        toks = []
    if toks and (toks[-1] in _NEG_SET or (toks[-1] == "#" and not _DIGIT.search(tail, tail.rfind("#")))):
        # ("#" only right before it: not the "#07-02" of a unit two cells back, nor "best #", "cell #"; nor an
        # account that holds the phone a phone word named: "the mobile on the account is 07400 434238", not its
        # number: "mobile account no. 4471 2290")
        if not (toks[-1] == "#" and (_CTX_MULTI_RE.search(tail) or _ALT_NUMBER.search(tail))) and not (
            (toks[-1] in _HOLDERS and _on_holder(before[-72:].lower())) or _HOLDER_LABEL.search(before[-72:].lower())
        ):
            return True
    # a tax or company id word a few words back, no phone word after it ("NIP Wynajmującego: 676-238-41-19")
    # (a phone word before the id's word counts only where the id's word is nearer: "Tài sản: điện thoại, ví, CCCD số
    # 0791…", a stolen phone; not "Phone the ABN team 02 9374 1111")
    if (
        not _ID_WORDS.isdisjoint(toks[-2:])
        and _CTX_SET.isdisjoint(toks[-2:])
        and (toks[-1] in _ID_WORDS or toks[-1] == "số" or _CTX_SET.isdisjoint(toks))
    ):
        w = toks[-1] if toks[-1] in _ID_WORDS else toks[-2]
        # (a number between is the id's own)
        if not _DIGIT.search(tail, tail.rfind(w)) and (popped or w not in _ID_WORDS_NUMBERED):
            return True
    multi = _NEG_MULTI_RE.search(tail)
    if (
        multi is not None
        and (multi.group().endswith(" id") or multi.group().startswith(_OWN_VALUE_BETWEEN))
        and _DIGIT.search(tail, multi.end())
    ):
        # the record's own value stands between: "Customer ID 48213, Jo Bloggs, 07700 900123", "Code de contrôle : 4829
        # - SAV 01 42 33 44 55", "St.Nr. 143/123/45678 · 089 12345678"
        multi = None
    if multi is not None and "?" in tail[multi.end() :]:
        multi = None  # a question about the record, then a line to ask it on ("… número do documento? (11) 3003-…")
    if multi is not None and _has_ctx(tail[multi.end() :]):
        multi = None  # a card's or a reference's name, then a phone word ("tarjeta sanitaria: llame al 900 …")
    if multi is not None or _ORG_NR.search(tail) or _NEG_LAST_RE.search(tail) or _ACCOUNT_AC.search(tail):
        return True
    if not tail.isascii():
        wide = before[-60:].lower()
        if _IN_REGISTER.search(wide) is not None or (
            _NEG_LAST_SOFT_RE.search(tail) is not None
            # (a phone word before it, not "رقم", any number's word: "رقم الهاتف الوطني: 079 …")
            and not _has_ctx(wide.replace("رقم", " "))
        ):
            return True
    if s and _AD_ID.fullmatch(s) and (ad := _AD_PHRASES.search(tail)) is not None:
        # an ad platform's name a word or two before an id in its shape (no value, no phone word between)
        if not _DIGIT.search(tail, ad.end()) and not _has_ctx(tail):
            return True
    if toks and toks[-1] in _NEG_INLINE and tail[-1:] in " \t" and tail.rstrip()[-1:].isalpha() and not _has_ctx(tail):
        return True  # "Я создала заявку 6510-874391" (not a hotline's label, "Заявки: 8 (495) …", nor "chị Mã 0912 …")
    # a French company's registration: "RCS de Lyon sous le numéro 852 417 309" (not "joindre sous le numéro …")
    if "sous le n" in tail and _REGISTRY.search(before.lower()) and not _FR_PHONE.search(tail):
        return True
    if not tail.isascii() and "क्रमांक" in tail and not _has_ctx(tail):
        return True  # a Hindi or Marathi serial number ("पर्ची क्रमांक"; not "संपर्क क्रमांक", "दूरभाष क्रमांक")
    # Korean's ordinal glued to its number: "지정번호: 제2022-0418호" (not "제 번호 010-…", "my number")
    if before[-1:] == "제" and not ("가" <= before[-2:-1] <= "힣"):
        return True
    return not tail.isascii() and _NEG_CJK.search(before[-28:]) is not None


# a log line's key after the value that says what the value was ("event=dtmf digits=2208971220 purpose=customer_no";
# not "customer_phone", nor a contact record's "type": "customer" after its "phone" key: the caller checks that)
_NEG_AFTER_KEY = re.compile(
    r"[\"']?[ \t,;]+[\"']?(?:purpose|type|kind|field|slot|intent)[\"']?[ \t]*[:=][ \t]*[\"']?"
    r"(?:customer|client|account|order|member|policy|contract|pin|otp|ticket|case|booking)"
    r"(?:[_-]?(?:no|nr|num|number|id|ref))?(?![\w-])",
    re.IGNORECASE,
)
# the id a question asks for (lower case): an id word beside a number word ("número de contrato", "codice
# cliente", "клиентский номер", "customer number", "Kundennummer", "고객번호"), not an id word alone ("the phone
# number on your account", "per conto di Mario", "in order to")
_NUM_WORD = r"(?:number|no|nr|num|numéro|número|numero|nummer|numer|номер|číslo|nomor|numara\w*|code|codice|código|id)"
_ID_STEM = (
    r"(?:client|klient|customer|kunde|klant|cliente|клиент|contrat|contract|vertrag|umow|smlouv|zmluv|договор|account|"
    r"konto|cuenta|compte|conto|odbern|odběrn|zähler|meter|order|pedido|commande|bestell|zamówien|заказ|póliza|"
    r"polizza|apólice|polic|ticket|dossier|expediente|akte|member|mitglied|case|reference)"
)
_ASKED_ID = re.compile(
    rf"\b{_NUM_WORD}\W+(?:[^\W\d_]+\W+)?{_ID_STEM}|\b{_ID_STEM}[^\W\d_]*\W+(?:[^\W\d_]+\W+)?{_NUM_WORD}(?![^\W\d_])|"
    r"\b(?:kunden|kund|klant|asiakas|vertrags|sopimus|avtale|avtals|auftrags|bestell|order|ordre|tilaus|konto|"
    r"rechnungs|mitglieds|zähler|policen|versicherungs)(?:nummer|nr|numero|number)|"
    r"(?:고객|회원|계약|주문)\s*번호|(?:お客様|顧客|会員|契約|注文)番号|(?:客户|客戶|会员|會員|合同|订单|訂單)\s*(?:号|號|编号|編號)"
)
# any number's words, which say nothing of a phone in a question ("Имате ли клиентски номер?"; "전화번호" keeps "전화")
_ANY_NUMBER = re.compile(
    r"(?<![^\W\d_])(?:numéro|número|numero|nummer|numer|numeru|numerem|номер[а-я]*|číslo|čísla|čísle|nomor|numurs|"
    r"numuru|numaralı|numarası|numarasından)(?![^\W\d_])|번호|号码|號碼|番号"
)
# a speaker's label before a turn: a name or a role, a timestamp before or after it ("[00:00:41] Георги Иванов: ",
# "MARTIN: ", "Speaker 2 (00:50): ", "佐藤: ")
_SPEAKER = re.compile(
    r"[ \t]*(?:\[[0-9:.,]+\][ \t]*)?[^\W\d_][^\n:：?？\[\]]{0,30}?(?:[ \t]*\(?[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?\)?)?"
    r"[ \t]*[:：][ \t]*"
)
_QUESTION = re.compile(r"(?:[?？]|か[。.]?)[ \t]*$")  # (a Japanese question may end "…できますか。")
_HEADER_LINE = re.compile(r"[^\n?？]{0,40}[0-9]{1,2}:[0-9]{2}[ \t]*")  # a transcript's turn header: "Speaker 2  00:47"
_ROLE_WORDS = re.compile(r"caller|callee")  # (a speaker's role that is a phone word: "Caller: Yes, it's …")


def _asked(t: str, a: int) -> str | None:
    """What the question a transcript's short answer turn answers asked for: ``"phone"`` (a phone word in it),
    ``"id"`` (a customer, contract, account ... number: "¿Tiene a mano su número de contrato?\nJavier: Sí, es el
    833-910-653."), or None. A turn: the answer and the question each after a speaker's label, or each after a
    header line ("Speaker 2  00:47"); not when the answer's own words say what the number is, nor after a label
    that is a phone word ("Questions about your order?\nPhone: 0161 496 0000")."""
    ls = t.rfind("\n", 0, a) + 1
    if a - ls > 100:
        return None
    head = t[ls:a]
    sp = _SPEAKER.match(head)
    said = head[sp.end() :] if sp is not None else head
    if len(said) > 25 or _DIGIT.search(said) or _has_ctx(said.lower()):
        return None
    if sp is not None and _has_ctx(_ROLE_WORDS.sub(" ", head[: sp.end()].lower())):
        return None
    end, header = ls - 1, False
    for _ in range(3):  # the previous turn: past blank lines and a header line
        if end <= 0:
            return None
        nl = t.rfind("\n", max(0, end - 300), end)
        if nl < 0 and end > 300:
            return None  # (a line too long for a question turn)
        start = nl + 1
        line = t[start:end]
        if not line.strip() or _HEADER_LINE.fullmatch(line):
            header = header or bool(line.strip())
            end = start - 1
            continue
        q = _SPEAKER.match(line)
        if not (header or (q is not None and sp is not None)) or not _QUESTION.search(line):
            return None
        asks = line[q.end() :] if q is not None else line  # (not its speaker: "Customer: Is there a number …?")
        low = asks.lower()
        if _has_ctx(_ANY_NUMBER.sub(" ", low)):
            return "phone"
        return "id" if _ASKED_ID.search(low) else None
    return None


# Library validations per scan: past this many (a 4 KB prompt holds a few; a pasted contact list of
# thousands would cost 30-100 us each), numbers are scored by shape alone (``shapes``).
MAX_VALIDATIONS = 512
_SEEN_MAX = 16  # international numbers of a text whose countries hint at its national ones
_LINKS_MAX = 64  # WhatsApp links validated per scan


# A line item's number: a part number beside its quantity and unit ("010  703-68-3027  2437 pcs", "we rejected 74 pcs of
# 426.742.68") is no phone number and no SSN -- nor is the same number elsewhere in the text (the subject line that
# names the part: "NCR RK711491 – 426.742.68 / CH9342768"); the callers first ask for a phone's or an SSN's word
_QTY_UNIT = r"(?:pcs|pc|pieces|ea|units|stk|stück|szt|ks|pzs|pz|pezzi|pièces|piezas|peças|uds|τεμ|шт)\.?(?![^\W\d_])"
_QTY_AFTER = re.compile(r"[ \t]{1,4}[0-9][0-9.,]{0,8}[ \t]?" + _QTY_UNIT, re.IGNORECASE)  # "…-0270  2657 pcs"
_QTY_BEFORE = re.compile(r"[0-9][ \t]?" + _QTY_UNIT + r"[ \t]+of[ \t]+$", re.IGNORECASE)  # "74 pcs of …" (not an ad's
# "4 szt. 501 234 567": a count, then the seller's phone)


class ItemNumbers:
    """The line items' numbers of a text, as the scanners meet them: ``beside_quantity(a, b)`` says whether the number
    ``t[a:b]`` stands beside a quantity and its unit, ``remember(a, b)`` keeps it as one (the callers first ask for a
    phone's or an SSN's word), ``covers`` does both; :attr:`strings` are those met so far (the
    same number elsewhere in the text is the part's too). Looked at around each candidate only: a search of a
    whole text costs ~0.1 ms per 4 KB."""

    __slots__ = ("t", "strings")

    def __init__(self, t: str):
        self.t = t
        self.strings: set[str] = set()

    def beside_quantity(self, a: int, b: int) -> bool:
        t = self.t
        return _QTY_AFTER.match(t, b) is not None or _QTY_BEFORE.search(t, max(0, a - 30), a) is not None

    def remember(self, a: int, b: int) -> bool:
        self.strings.add(self.t[a:b])
        return True

    def covers(self, a: int, b: int) -> bool:
        return self.beside_quantity(a, b) and self.remember(a, b)


def phone_candidates(
    t: str, matches, nanp, header_of, shapes=None, min_score: float = 0.0, items: ItemNumbers | None = None
):
    """Score every candidate match of :data:`PHONE` in ``t``; yields ``("PHONE", start, end, score)``.

    ``nanp(s, digits)`` is the scanner's North American score (0 when not such a number),
    ``shapes(s, digits)`` its shape-only score (used without ``phonenumbers`` and past
    :data:`MAX_VALIDATIONS`); ``header_of(pos)`` the header cell of the table column at ``pos``
    ("" when none).  A national number whose best possible score is below ``min_score`` is not
    validated at all."""
    memo: dict[int, tuple[str, ...]] = {}
    budget = [MAX_VALIDATIONS]
    if shapes is None:
        shapes = nanp

    def hints(pos: int) -> tuple[str, ...]:
        # the text around a number, per 256-character block (one look per block, however many numbers)
        k = pos >> 8
        got = memo.get(k)
        if got is None:
            got = memo[k] = region_hints(t[max(0, (k << 8) - 128) : (k << 8) + 384])
        return got

    matches = _split_alternatives(t, matches)
    # the countries of the text's own international numbers: a national number of the same country beside
    # one ("+351 21 148 9984 · Urgências: 938 853 587") is read as that country's, with a phone word's weight
    seen: tuple[str, ...] = ()
    if _pn is not None:
        looked = zeros = 0
        for a, b in matches:
            g = t[a:b]
            if g[:2] in ("1 ", "1-") and "US" not in seen and nanp(g, g.translate(_KEEP_DIGITS)) > 0:
                # a North American number with its trunk's 1 ("1 800 790-2424"): as a +1 one, for the numbers beside it
                # ("… ou, pour les clients d'affaires, 514 385-7252")
                seen += ("US",)
                continue
            zero = g[:2] == "00" and g[2:3] != "0"
            if zero:
                # an international number after its 00 ("00351 96 118 7204"), not an id ("Factura 0034912345678"); one
                # that does not parse does not count towards the limit (zero-padded record ids would crowd the others
                # out), but towards one of its own
                zeros += 1
                if zeros > 4 * _SEEN_MAX or _neg(t[max(0, a - 40) : a]):
                    continue
                g = "+" + g[2:]
            if g[:1] == "+" or g[:2] == "(+":
                if g.startswith("(+"):  # (as _score reads it, so the loop below finds it parsed)
                    g = "+" + g[2:].replace(")", "", 1)
                if g.count("(") > g.count(")"):  # (a bracket opened after it, cut as below: "+57 601 2344150 (24/7)")
                    g = g[: g.rfind("(")].rstrip(" \t-./")
                r = _intl_region(g)
                if r is None and zero:
                    continue
                if r is not None and r not in seen:
                    seen += (r,)
                looked += 1
                if looked >= _SEEN_MAX:
                    break

    last = -1  # where the last number yielded ends: one joined to it by "or" is a phone number too
    last_groups: tuple[int, ...] = ()  # (and the lengths of its groups of digits)
    hl7 = "|^~\\&" in t
    if items is None:
        items = ItemNumbers(t)
    for a, b in matches:
        joined = False
        s = t[a:b]
        if s.startswith("(") and ")" not in s:
            s, a = s[1:], a + 1
        if s[1:3] == ". " or s[2:4] == ". ":
            lm = _LIST_MARK.match(s)
            k = a - 1
            while k >= 0 and a - k <= 8 and t[k] in " \t":
                k -= 1
            if lm is not None and (k < 0 or t[k] == "\n"):
                s, a = s[lm.end() :], a + lm.end()  # a list's number before it ("  1. 510-520-8921   Main line")
        k = s.find("(", 2)
        if k > 0 and s[k : k + 3] != "(0)" and _BEFORE_AREA.fullmatch(s, 0, k) and not _calling_code_before(s[:k]):
            s, a = s[k:], a + k
        if s.count("(") > s.count(")"):  # a bracket opened after the number: "022-2296-2978 (10 AM – 1 PM)"
            cut = s.rfind("(")
            if cut > 0:
                s = s[:cut].rstrip(" \t-./")
                b = a + len(s)
        if t[b : b + 1] == ":" and _TIME_TAIL.match(t, b + 1) and " " in s:
            # a time after the number, its hour read as the number's last group: "telefon 08-587 418 30 08:10",
            # "at (312) 418-2297 2:40pm"
            cut = s.rfind(" ")
            if (
                len(s) - cut <= 3
                and s[cut + 1 :].isdigit()
                and int(s[cut + 1 :]) <= 23
                and len(s[:cut].translate(_KEEP_DIGITS)) >= 7
            ):
                s = s[:cut].rstrip(" -./")
                b = a + len(s)
        if s[:1] == "+" and t[b : b + 1] == " " and _pn is not None and _DURATION_AFTER.match(t, b):
            # a duration after an international number, its count read as the number's last group: "au +377 6 78 41 23
            # 50 30 minutes avant l'arrivée"; only where the number is valid without the count and not with it (a
            # number in pairs keeps its last pair before "Hours:", "ore pasti", "heures de bureau": a reader's)
            cut = s.rfind(" ")
            if (
                len(s) - cut <= 3
                and s[cut + 1 :].isdigit()
                and _valid_intl(s) != 2
                and _valid_intl(s[:cut].rstrip(" -./")) == 2
            ):
                s = s[:cut].rstrip(" -./")
                b = a + len(s)
        if ". " in s:  # a sentence ends after the number: "(876) 706-5466. 4/5 stars"
            cut = s.find(". ")
            if len(s[:cut].translate(_KEEP_DIGITS)) >= 7:
                s = s[:cut]
                b = a + cut
        if "  " in s or "\t" in s:
            # two spaces or a tab end a cell of a fixed-width row: the number is before (not in OCR'd text, whose
            # words are all two spaces apart: "please  call  the  office  on  020  8771   3493")
            gap = _cell_gap(t, a, b)
            if gap is not None:
                s = t[a : gap.start()].rstrip(" -./")  # (the cell's own trailing separator: "7130161512-  12 Main St")
                b = a + len(s)
            else:
                k = s.rfind("  ")  # (OCR'd: a house number after it, "…3493  12  Main  Street", is not the number's)
                if k > 0 and len(s) - k <= 5 and s[k:].strip().isdigit() and _WORD_NEXT.match(t, b):
                    s = s[:k].rstrip()
                    b = a + len(s)
        if s.count("(") != s.count(")") or s.count("(") > 1:
            continue
        if s[:1].isdigit() and t[a - 3 : a] in ("%2B", "%2b") and s == s.translate(_KEEP_DIGITS):
            # a URL-encoded "+" (a form's "phone=%2B2015795839"): read as the number's own
            if _pn is not None and _valid_intl("+" + s) == 2:
                yield ("PHONE", a, b, 0.8)
                last, last_groups = b, _group_lengths(s)
            continue
        intl = s.startswith(("+", "(+"))
        if not intl:
            if _DATE.fullmatch(s) or s.count("/") > 1 or _year_range(s):
                continue
            if _TWO_DATES.fullmatch(s) and _six_digit_date(s[:6]) and _six_digit_date(s[7:]):
                continue  # a claim form's statement period, two dates of six digits ("021224 021624")
            if _BIRTH_NUMBER.fullmatch(s) and s[0] != "0" and _six_digit_date(s[:6], birth=True):
                continue  # a Czech or Slovak birth number ("Číslo pojištěnce: 845612/4418"): no phone is split so (a
                # German area code of six digits with its 0 is: "035201/1234")
            if _BE_NATIONAL.fullmatch(s):
                continue  # a Belgian national register's number: no country groups a phone so
            if _UPC_A.fullmatch(s) and _BARCODE_WORD.search(t, max(t.rfind("\n", 0, a) + 1, a - 160), a):
                continue  # a product's UPC-A as printed under its bars, a barcode's word on its line ("Case pack UPC 0 41220
                # 06418 7 (water), 0 30000 04187 3"; not an Indian mobile and a stray digit, "0 98765 43210 2 BHK")
            if s.startswith("0000") or s.startswith("(0000"):
                continue  # a record's zero-padded number ("Número da nota: 00004412"): no trunk or international
                # prefix is followed by a zero (no area code and no country code starts with one)
            if "." in s and _decimalish(s):
                continue
            if (_DOTTED_224.fullmatch(s) or _BOSCH.fullmatch(s)) and not _has_ctx(t[max(0, a - 40) : a].lower()):
                continue  # a bill of quantities' position ("02.01.0110  Hausanschluss …"), a parts maker's number ("0 986
                # 494 104"): no country groups a phone so
            if ("." in s and _DMY_INSIDE.search(s)) or (
                " " in s
                and _TWO_TIMES.fullmatch(s)
                and _DAY_MONTH.search(t, t.rfind("\n", 0, a) + 1, a)
                and not _has_ctx(t[max(0, a - 40) : a].lower())
            ):
                continue  # a document's number and its date ("nr. 0448 / 18.10.2024"); a flight segment's times
                # after its date ("LH2012 Y 11JUN 2 MUCHAM HK1  0645 0755")
            if _DMY_SPACED.match(s) or (
                _SLASH_TAIL.fullmatch(s) and not _has_ctx(_ANY_NUMBER.sub(" ", t[max(0, a - 40) : a].lower()))
            ):
                continue  # "Příští porada: 21. 5. 2025 16:15"; "Nr. 906389/63"
        if len(_ONE_DIGIT_GROUP.findall(s)) > 2 and not (
            _SPELLED.fullmatch(s) and _has_ctx(low := t[max(0, a - 40) : a].lower()) and _CODE_WORD.search(low) is None
        ):
            continue  # 0 1 2 3 4 5 6 7: a list of digits (one read out after a phone word is a number: "call me on 0 6 1 2 …")
        if not intl and _COLON_PARTS.match(t, b) and t[a - 1 : a] not in (":", "+"):
            continue  # the first part of a code whose parts colons join, one of three digits or more (a Ukrainian
            # cadastral number, "8036100000:79:418:0027"; not a call log's count or duration, "0412 345 678:2",
            # "0412345678:00:03:21": an eighteenth reader's)
        if ".." in s:
            continue  # leader dots between a number and an amount ("03/05 ........... 412"): no phone has two
        if s.count("-") >= 2 and _DATE_INSIDE.search(s):
            continue  # a date inside the run ("098  26-02-2024 00"): cells of a table run together
        if (
            len(s) in (9, 11, 13, 15, 17)
            and (s[len(s) // 2] == "-" or s[len(s) // 2] == "/")
            and _short_range(s)
            and not _has_ctx(t[max(0, a - 40) : a].lower())
        ):
            continue  # a range of extensions or numbers ("内线 8001-8004", "0137/0138", a guest card's "Nr. 0530542-0530543")
        if "(" in s and not intl and _YEAR_IN_BRACKETS.search(s) and not _has_ctx(t[max(0, a - 40) : a].lower()):
            continue  # a citation's volume, year and pages ("NeurIPS 33 (2020) 1877–1901")
        if _IBAN_BEFORE.search(t, max(0, a - 16), a):
            continue  # the rest of an IBAN-shaped run whose check digits fail ("NL43 INGB 4955 6624 85")
        if (
            s.count(".") == 3
            and _IP_SHAPED.fullmatch(s)
            and not (TWO_DIGIT_QUAD.fullmatch(s) and paired_after_label(t, a, b))
        ):
            # an IPv4 address ('reg.1.server.1.address="194.128.13.226"' in a phone's config), or one out of range
            # ("269.82.76.859" in a validator's report); not pairs after a phone word ("Téléphone : 27.14.71.62")
            continue
        if (t.startswith("[.]", b) or t.startswith("(.)", b)) and t[b + 3 : b + 4].isalnum():
            continue  # the head of a defanged address in a security log ("NOERROR 0 300 20.190.159[.]2")
        if t.startswith('" ', a - 2) and _HTTP_BEFORE.search(t, max(0, a - 16), a):
            continue  # an access log's status and size after the request ('… HTTP/1.1" 200 5120')
        if t.startswith(":", b) and _YMD_HOUR.fullmatch(s):
            continue  # a compact date and the hour of a time ("20240412 05:12:31.540")
        if _FIX_TAG_BEFORE.search(t, max(0, a - 8), a):
            continue  # a FIX message's field ("|37=1505787342|": an order's id; no FIX field is a phone)
        if t.startswith("#", b) and not _MMI_BEFORE.search(t, max(0, a - 6), a):
            # keyed after the call connects ("+1 929-555-0100,,84211903377#"): a meeting id or a PIN; not a number in
            # a call-forwarding code ("**21*+17204054903#", "*61*0601234567*11*20#")
            continue
        if (
            _NOT_DIALLED.fullmatch(s)
            or _YEAR_FIRST.match(s)
            or (s[2:3] == "-" and _EIN.fullmatch(s) and "ein" in _TOKEN.findall(t[max(0, a - 40) : a].lower()))
        ):
            continue  # a postal code, a case number with its year, a lottery draw, a CAS number (_NOT_DIALLED)
        if (
            not intl
            and _YEAR_GROUP.search(s)
            and not nanp(s, s.translate(_KEEP_DIGITS))  # (not "(480) 945-2027")
            and _RECORD_WORD_BEFORE.search(t, max(0, a - 30), a)
            and not _has_ctx(t[max(0, a - 40) : a].lower())
        ):
            continue  # a year as a later group of a record's number: "Cod meci 0744-2024-11", "Jogo n.º 1180 2025 22"
            # (a Thai one too, "0812-2567-14")
        if _SPACED_DATE.fullmatch(s) and not _has_ctx(t[max(0, a - 40) : a].lower()):
            continue
        if _POSTAL_4_3.fullmatch(s) and _CITY_AFTER.match(t, b):
            continue  # 4000-446 Porto: a Portuguese postal code and its town
        digits = s.translate(_KEEP_DIGITS)
        nd = len(digits)
        if nd < 7 or nd > (15 if nd <= 15 or _IDD.match(s) is None else 19):
            continue  # (an international prefix adds up to four digits: "0011 44 7118 230995")
        if digits.endswith("00000000"):
            continue  # a form's placeholder ("069 / 0000 0000 / KEINE ANGABE"): no subscriber's number is eight zeros
        if nd == 13 and digits[:3] in ("978", "979") and _ean13_ok(digits):
            continue  # ISBN-13 / EAN
        if nd == 10 and s.count("-") == 3 and s[-2] == "-" and _isbn10_ok(digits):
            continue  # ISBN-10, its check digit a group of its own ("0-306-40615-2")
        before = t[max(0, a - 40) : a]
        if before[-1:] in "\"'" and "{" in before:
            tv = _TYPED_VALUE.search(before)
            if tv is not None:  # a typed value's wrapper ('"사업자번호":{"stringValue":"'): read the key as the value's
                before = t[max(0, a - 40 - (tv.end() - tv.start()) + 1) : a - (tv.end() - tv.start())] + '"'
        if (
            _UNIT_BEFORE.search(before[-5:])
            or (_RUPIAH_BEFORE.search(before[-4:]) and _DOTTED_THOUSANDS.fullmatch(s))
            or (_RUPEES_BEFORE.search(before[-4:]) and _THOUSANDS.fullmatch(s))
        ):
            continue
        if (nd == 10 and digits[:3] == "123" and "swish" in before.lower()) or (
            s[:1] == "(" and _NANP_CUT.fullmatch(s)
        ):
            continue  # a Swedish company's Swish number (123 …); "(312) 555-01", a number cut short
        if s[5:6] == "-" and _ZIP4.fullmatch(s) and _STATE_BEFORE.search(before[-4:]):
            continue  # a US ZIP+4 after its state ("CA^94110-1847", "Austin, TX 78701-4417")
        if t.startswith("@", b) and nd == 10 and digits[0] in "6789" and s == digits and _UPI_HANDLE.match(t, b):
            # an Indian mobile as a UPI payment address ("8123242483@ybl"): the number is the phone's
            if _pn is not None and _valid_national(s, ("IN",))[0] == "IN":
                yield ("PHONE", a, b, 0.7)
                last, last_groups = b, _group_lengths(s)
            continue
        if nd == 7 and _CONTAINER_OWNER.search(before[-6:]) and _CONTAINER_SERIAL.fullmatch(s):
            continue  # a shipping container's serial and check digit after its owner code ("HDMU 660381 2")
        code = _CODE_BEFORE.search(before[-24:])
        if (
            code is not None
            and _GLUED_AFTER_END.search(code.group()) is None
            and not _NUMBERED_LABEL.fullmatch(code.group())
        ):
            continue
        if (
            not intl
            and _PREFIX_BEFORE.search(before[-4:])
            and (before.rstrip(" \t")[-1:] != "\n" or _CODE_LINE_ABOVE.search(before[-40:]) is not None)
            and s[:1] != "("  # (a bracketed area code is no id's: a US state's "Joliet IL (815) 725-4402")
            and not _SHOUTED_BEFORE.search(before[-40:])
            and " / " not in s  # (an area code's slash is no id's: "Bereitschaft IT 0664 / 190 00 95")
            and not _own_country_number(before, s)
        ):
            continue
        after = t[b : b + 24]
        if hl7 and ("|" in before or "|" in after):
            # an HL7 v2 message: a field's words are its own ("…^PRN^CP||DE|M|EV|8812044711": the phone's code
            # belongs to the field before)
            before, after = before[before.rfind("|") + 1 :], after.split("|", 1)[0]
        if (
            _UNIT_AFTER.match(after)
            or (
                items.beside_quantity(a, b)  # (the cheap test first: a phone's word or column beats the quantity)
                and not _has_ctx(before[-40:].lower())
                and not _has_ctx(header_of(a).lower())
                and items.remember(a, b)
            )
            or _METER_UNIT_AFTER.match(after)
            or (_CURRENCY_AFTER.match(after) and _THOUSANDS.fullmatch(s) and not _has_ctx(before[-40:].lower()))
            or (_HOURS_AFTER.match(after) and _TIME_LAST.search(s))
        ):
            continue  # (a date and a time before "Uhr": "Do, 14.11. 19.30 Uhr")
        e = _EXT.match(t, b)
        end = e.end() if e else b
        keyed = _keyed(before)
        asked = _asked(t, a) if "\n" in before else None
        if asked == "phone":
            joined = True  # (a phone word in the question this line answers)
        port = _PORT_BEFORE.search(before[-8:]) is not None  # (French: "Port.06 12 50 92 23", a mobile; not "report.")
        if port:
            joined = True
        neg = (
            not port
            and (
                asked == "id"
                or (keyed and _NEG_AFTER_KEY.match(after) is not None and not _phone_key(before))
                or _neg(before, keyed, s)
                # (a column's header, unless the record's own key right before names a phone: a JSON line's commas read
                # as a CSV row's put '"phone": "414-301-8852"' under a line above's "zip")
                or (_neg(head := header_of(a)) and not (keyed and _phone_key(before)))
                # (a column named "ad_id", "user_id" over bare digits; not "contact_id" over "(02) 9876 5432")
                or (head.endswith("id") and s.isdigit() and not _has_ctx(head) and _id_key(head.strip(' "') + ":"))
                or _id_key(before[-24:])
                or (before[-1:] == ">" and _xml_id(t[max(0, a - 160) : a]))
                or (keyed and s.isdigit() and 9 <= len(s) <= 13 and _TIME_KEY.search(before[-24:]) is not None)
            )
        )
        # (a column named "Code", "Art.-Nr.", "Order"; a key named "..._id")
        joined = (
            joined
            or (
                last >= 0
                and a - last <= _OR_LABEL_REACH
                and a - last > 4  # (a gap of a few characters, "or" or a slash, is _OR_JOIN's, below)
                and not neg
                and not (s[:1] == "(" and s[2:3] == ")")  # (a count in brackets: "Hilde (3) 958 22 146")
                and (m_or := _OR_LABEL.fullmatch(t, last, a)) is not None
                # (after "or" any few words; after a comma alone, a contact's place or line among them)
                and (m_or.group(1) or m_or.group(2) or _CONTACT_LABEL.search(t, last, a) is not None)
                and _NEG_SET.isdisjoint(
                    words := _TOKEN.findall(t[last:a].lower())
                )  # (no record's word: "codice corso")
                and _NUMBER_WORDS.isdisjoint(words)  # (nor a number's: "or mail check number 1234567890")
            )
            or (
                last >= 0
                and a - last <= _OR_REACH
                and _OR_JOIN.fullmatch(t, last, a) is not None
                and (
                    "/" not in t[last:a]
                    or s[:1] in "+0("
                    or (len(last_groups) > 2 and _group_lengths(s) == last_groups)
                )  # (after a slash, a whole number, or one in the groups of the number before it: "33 821 47 09 / 77 638
                # 21 54"; not "/ 3 500 000", "/ 2024 …", "(206) 555-0142 / 2024 118 774")
            )
        )
        if joined and nd < 9 and _THOUSANDS.fullmatch(s) and ("·" in t[last:a] or "•" in t[last:a]):
            joined = False  # (a count after a middle dot: "(212) 555-0188 · 4 500 000 downloads"; not "· 650 218 447")
        score = _score(
            t, s, digits, a, b, before, after, nanp, header_of, neg, hints, shapes, budget, min_score, seen, joined
        )
        if score > 0 and neg and not intl:  # (an order number never starts with "+": "Cep: +90 533 …" is a mobile)
            score -= 0.6  # order / invoice / customer number ...: kept only below any sane min_score
        if score > 0:
            if score >= min_score:
                last, last_groups = end, _group_lengths(s)
            yield ("PHONE", a, end, min(score, 1.0))


_DIGIT_GROUP = re.compile(r"[0-9]+")


def _group_lengths(s: str) -> tuple[int, ...]:
    """The lengths of the groups of digits of the number ``s`` ("33 821 47 09": 2, 3, 2, 2)."""
    return tuple(len(g) for g in _DIGIT_GROUP.findall(s))


_WHATSAPP = re.compile(r"(?:wa\.me/|whatsapp\.com/send/?\?phone=)\+?([0-9]{8,15})(?![0-9])")


def whatsapp_links(t: str):
    """``("PHONE", start, end, score)`` of the number in a WhatsApp link (``wa.me/351932700996``): a calling
    code without its "+", a phone number by the link's definition (valid ones only)."""
    if _pn is None:
        return
    for k, m in enumerate(_WHATSAPP.finditer(t)):
        if k >= _LINKS_MAX:
            return
        if _valid_intl("+" + m.group(1)) == 2:
            yield ("PHONE", m.start(1), m.end(1), 0.9)


# the user of a SIP address after a path's "/" (FreeSWITCH's "sofia/external/+576014182290@sip.example"), which
# PHONE does not start after (a path's numbers are no phone numbers); after "sip:" PHONE reads it itself
_SIP_USER = re.compile(r"\+[0-9]{8,15}(?=@)")


def sip_users(t: str):
    """``("PHONE", start, end, score)`` of each international number that is a SIP address's user after "/"
    (each "+" of ``t`` looked at: a one-character search, where a search for "/+" would read the text slowly)."""
    if _pn is None:
        return
    i, n = t.find("+"), 0
    while i >= 0 and n < _LINKS_MAX:
        if i > 0 and t[i - 1] == "/":
            m = _SIP_USER.match(t, i)
            if m is not None:
                n += 1
                if _valid_intl(m.group()) == 2:
                    yield ("PHONE", m.start(), m.end(), 0.9)
        i = t.find("+", i + 1)


# an EDIFACT COM segment's telephone, fax or mobile number: "COM+004930123225:TE'", "COM++49 30 1234567:FX'"
_EDI_COM = re.compile(r"(?:^|['\n])[ \t\r]*COM\+([+0-9][0-9 ()/\-]{5,22}[0-9]):(?:TE|FX|AL|AH|AJ|MO)(?=['+:\s]|$)")


def edifact_numbers(t: str, header_of=None):
    """``("PHONE", start, end, score)`` of the telephone, fax and mobile numbers of EDIFACT COM segments (the
    qualifier after the number says what it is)."""
    if _pn is None:
        return
    for n, m in enumerate(_EDI_COM.finditer(t)):
        if n >= _LINKS_MAX:
            break
        s, a = m.group(1), m.start(1)
        digits = s.translate(_KEEP_DIGITS)
        if s.startswith("+"):
            ok = _valid_intl(s) == 2
        elif digits.startswith("00"):
            ok = _valid_intl("+" + digits[2:]) == 2
        else:
            ok = _valid_national(s, region_hints(t[max(0, a - 256) : a + 256]))[0] is not None
        if ok:
            yield ("PHONE", a, m.end(1), 0.8)


# Firestore's and DynamoDB's typed values: {"stringValue":"…"}, {"S": "…"}
_TYPED_VALUE = re.compile(r"\{[ \t]*[\"'](?:stringValue|integerValue|S|N)[\"'][ \t]*:[ \t]*[\"']$")
_SETTER = re.compile(r"\bset(?:Phone|Mobile|Cell|Celular|Telefon|Telephone|Tel|Fax|Msisdn)\w*\([\"']$")
_KEY_NAME = re.compile(r"([A-Za-z][A-Za-z0-9_.\-]*)[\"']?[ \t]*[:=][ \t]*[\"']?$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|[_.\-]+")
# a key whose last words name a phone: "PhoneNumber", "homePhone", "mobile_no", "mCallIncomingNumber",
# "voice_mail.number.1" (not "iPhoneUnitsSold", "smartphone_sales", "phoneModelNumber")
_PHONE_KEY_END = re.compile(
    r"(?:^| )(?:(?:home|work|office|mobile|cell|main|contact|business|private) )?(?:phone|telephone|mobile|cell|cellphone|"
    r"fax|msisdn)(?: (?:number|no|nr|num))?$|(?:^| )(?:incoming|outgoing|caller|calling|called|line1|voice mail|"
    r"voicemail|phone|mobile|fax|contact) (?:number|no|nr|num)$"
)


def _named_phone_key(before: str) -> bool:
    """The record's key right before the number names a phone in its last words (camelCase, snake_case, dotted)."""
    m = _KEY_NAME.search(before[-48:])
    if m is None:
        return False
    words = " ".join(w for w in _CAMEL.split(m.group(1)) if w and not w.isdigit()).lower()
    return _PHONE_KEY_END.search(words) is not None


# a call's row in a bill or a call log: a time before the number, a duration or a charge after it, on its line
# ("09/08  12:18 AM  2144542671  PLANO TX  5", "20.05.2024 07:37:06  Исх.  79428906223  Тверь  283 сек  0,07 ₽")
_ROW_TIME = re.compile(r"(?<![0-9])[0-2]?[0-9](?:[:h]| h )[0-5][0-9](?![0-9])")  # ("12:18", "16h18", "11 h 52")
# (a duration: "00:03:12", "4:31", "283 сек", "1457秒", "30 min")
_ROW_AFTER = re.compile(
    r"(?<![0-9.:])(?:[0-9]{1,3}:[0-5][0-9](?::[0-5][0-9])?|[0-9]+ ?(?:s|sec|secs|seconds|сек|秒|min|mins|мин|分钟?|dk|sn))"
    r"(?![0-9]|[^\W\d_])",
    re.IGNORECASE,
)


def _call_row(t: str, a: int, b: int) -> bool:
    """Whether the number at ``t[a:b]`` stands in a call's row: a date and a time of day before it and a duration
    after it, on a line of at most 300 characters, with a line of the same shape before or after it (a bill's or a
    log's calls are a table, not one line of a log)."""
    ls = t.rfind("\n", max(0, a - 200), a) + 1
    le = t.find("\n", b, b + 200)
    if le < 0:
        le = min(len(t), b + 200)
    if (ls == 0 and a > 200) or le - ls > 300:
        return False
    if not (_ROW_DATE.search(t, ls, a) and _ROW_TIME.search(t, ls, a) and _ROW_AFTER.search(t, b, le)):
        return False
    # a neighbouring row: the line before or after holds a time, a run of seven digits and a duration after it
    pe = ls - 1
    ps = t.rfind("\n", max(0, pe - 300), pe) + 1 if pe > 0 else -1
    ne = t.find("\n", le + 1, le + 302) if le < len(t) else -1
    for lo, hi in ((ps, pe), (le + 1, ne if ne >= 0 else min(len(t), le + 301))):
        if 0 <= lo < hi and hi - lo <= 300:
            for run in _ROW_NUMBER.finditer(t, lo, hi):
                if _ROW_TIME.search(t, lo, run.start()) and _ROW_AFTER.search(t, run.end(), hi):
                    return True
    return False


_ROW_DATE = re.compile(
    r"(?<![0-9])(?:[0-9]{1,4}[./-][0-9]{1,2}(?:[./-][0-9]{2,4})?|[0-3]?[0-9] [a-zéû]{3,4}\.?)(?![0-9])", re.IGNORECASE
)
_ROW_NUMBER = re.compile(r"(?<![0-9:.])\+?[0-9(](?:[0-9()\-]| [0-9(]){5,18}(?<=[0-9])(?![0-9:.])")


_MMI_BEFORE = re.compile(r"(?:^|[^*0-9])\*{1,2}(?:21|61|62|67|002|004)\*$")
_DIRECT_DIAL = re.compile(r"(\+[0-9 ]{6,}[0-9])-[0-9]{1,4}")
TWO_DIGIT_QUAD = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{2}")
_IP_SHAPED = re.compile(r"[1-9][0-9]{0,2}(?:\.[0-9]{1,3}){3}")
_YMD_HOUR = re.compile(r"(?:19|20)[0-9]{2}[01][0-9][0-3][0-9] [0-2][0-9]")
_FIX_TAG_BEFORE = re.compile(r"(?:\^A|[|^;\x01\n])[0-9]{1,4}=$")
_IBAN_BEFORE = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: [A-Z0-9]{4})* $")
_YEAR_IN_BRACKETS = re.compile(r"[0-9] \((?:19|20)[0-9]{2}\) [0-9]")
_DMY_INSIDE = re.compile(r"(?<![0-9])(?:0?[1-9]|[12][0-9]|3[01])\.(?:0?[1-9]|1[0-2])\.(?:19|20)[0-9]{2}(?![0-9])")
_TWO_TIMES = re.compile(r"(?:[01][0-9]|2[0-3])[0-5][0-9][ \t]{1,3}(?:[01][0-9]|2[0-3])[0-5][0-9]")
_DAY_MONTH = re.compile(r"(?<![0-9A-Za-z])[0-3]?[0-9](?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)(?![A-Za-z])")
_DATE_INSIDE = re.compile(r"(?<![0-9])[0-3][0-9]-[01][0-9]-(?:19|20)[0-9]{2}(?![0-9])")
_LIST_MARK = re.compile(r"[1-9][0-9]?\. (?=[+(0-9])")


def _short_range(s: str) -> bool:
    """Four to eight digits, a dash or slash, as many digits a little larger: a range, not a number ("8001-8004", a
    slip's "tickets 88412-88439", guest cards' "0530542-0530543")."""
    k = len(s) // 2
    lo, hi = s[:k], s[k + 1 :]
    return lo.isdigit() and hi.isdigit() and lo[: k - 2] == hi[: k - 2] and 0 < int(hi) - int(lo) < 100


_NANP_CUT = re.compile(r"\([2-9][0-9]{2}\) ?[0-9]{3}-[0-9]{1,3}")
_ZIP4 = re.compile(r"[0-9]{5}-[0-9]{4}")
_STATE_BEFORE = re.compile(r"(?<![A-Za-z])[A-Z]{2}(?:[ \t^,]|, )$")
# a UPI payment address's handle after the "@" (no dot after it: no e-mail domain)
_UPI_HANDLE = re.compile(r"@[a-z]{2,15}(?![a-z0-9.\-])")
_AREA_ALONE = re.compile(r"\(?0[0-9]{2,4}\)?")


_WORD_GAP = re.compile(r"[^\W\d_][.,:;]?( +)(?=[^\W\d_])")
_OCR_GAPS = 3  # word gaps of two spaces, and none of one, on the number's line and the line before


def _ocr_spaced(t: str, a: int) -> bool:
    """Whether the text before ``a`` (its line and the one before) spaces every word two spaces apart, as OCR
    often does; a fixed-width table's cells hold words one space apart, and its gaps are of any width."""
    ls = t.rfind("\n", max(0, a - 240), a)
    ls = t.rfind("\n", max(0, a - 240), ls) if ls > 0 else ls
    gaps = [len(g) for g in _WORD_GAP.findall(t, max(0, ls + 1, a - 240), a)]
    return len(gaps) >= _OCR_GAPS and all(g == 2 for g in gaps)


def _xml_id(before: str) -> bool:
    """An XML element named as an id holds the number: '<cbc:EndpointID schemeID="0208">0459183427' (a Belgian
    company number), "<PartyIdentification><ID>…", "<CustomerId>…" -- not "<cbc:Telephone>"."""
    m = _XML_OPEN.search(before)
    return m is not None and _XML_ID_NAME.search(m.group(1)) is not None and not _has_ctx(m.group(1).lower())


_XML_OPEN = re.compile(r"<(?:[A-Za-z][\w.-]*:)?([A-Za-z][\w.-]*)(?:\s[^<>]*)?>$")
_XML_ID_NAME = re.compile(r"(?:^|[a-z_.-])(?:ID|Id|id)$|^ID$")


def _id_key(tail: str) -> bool:
    return ("id" in tail or "Id" in tail or "ID" in tail) and _ID_KEY.search(tail) is not None


def _glued_at(t: str, lo: int) -> int:
    """Where a number glued to a label on its left starts in the run of digits and separators at ``lo`` (the
    run may start at the label's dot: "Tel.+39 …"), or -1."""
    for p in range(lo, min(lo + 2, len(t))):
        if t[p] in "+(0123456789":
            if t[p - 1 : p] not in _GLUED_LAST:
                return -1
            g = _GLUED_END.search(t, max(0, p - 9), p)
            return p if g is not None and not _in_code(t, g.start()) else -1
    return -1


def _in_code(t: str, i: int) -> bool:
    """A capital before the label at ``i`` makes it part of a code ("XTel2079…")."""
    return "A" <= t[i - 1 : i] <= "Z"


def with_glued(t: str, matches, runs: list[tuple[int, int]] | None):
    """``matches`` of :data:`PHONE`, and the numbers glued to a label on their left (:data:`_GLUED_LABELS`), in
    order of start: looked for at the start of each of ``runs`` (the runs of digits the scanner reads), or in the
    whole text when None."""
    if runs is None:
        starts = [g.end() for g in _GLUED.finditer(t) if not _in_code(t, g.start())]
    else:
        # (a label's last letter right before the run, or before its dot: "Fax089 …", "Tel.+39 …"; most runs follow a
        # space, a quote or a key's "=" and are passed over here)
        starts = [p for lo, _ in runs if t[lo - 1 : lo] in _GLUED_LAST and (p := _glued_at(t, lo)) >= 0]
    glued = [m for p in starts if (m := _PHONE_GLUED.match(t, p)) is not None]
    if not glued:
        return matches
    out = list(matches)
    seen = {m.start() for m in out}
    out.extend(m for m in glued if m.start() not in seen)
    out.sort(key=lambda m: m.start())
    return out


def _split_alternatives(t: str, matches) -> list[tuple[int, int]]:
    """The spans of the :data:`PHONE` matches, a match that holds two numbers separated by " / " split in two
    (the second read again from its start: the first match may have stopped inside it at 24 characters),
    unless what comes before the slash is an area code alone ("0711 / 725 04 38"); and so is one that holds
    two separated by " - " where a whole number ends before the dash and a trunk or "+" starts the next
    ("010 26645609 - 02 34977876"; not a range "1000 - 2000", nor a lottery draw). A match that runs over a
    cell's end (a tab, or two spaces outside OCR'd text) into the next cell is cut there, and the cells after it
    that start inside the match are read on their own ("3311<tab>03(5143)5055": an extension, then the outside line;
    "431-09-5527<tab>1250.00<tab>479-521-0817": an SSN, an amount, then a phone)."""
    out: list[tuple[int, int]] = []
    done = -1
    for m in matches:
        a, b = m.span()
        if a < done:
            continue  # (inside the second number of a split)
        sep = _SPLIT_SEP.search(t, a, b)  # (most matches hold none: one search decides)
        if sep is None:
            out.append((a, b))
            done = b
            continue
        gap = _cell_gap(t, a, b) if sep.group() in ("  ", "\t") else None
        if gap is not None:
            out.append((a, a + len(t[a : gap.start()].rstrip(" -./"))))  # (a cell's own trailing separator)
            # (the pattern will not start a number one character after a digit: each cell after the cut that starts
            # inside the match is read alone -- "431-09-5527<tab>1250.00<tab>479-521-0817", an SSN, an amount and a
            # phone; the next match reads the rest of the row; a cell shorter than the shortest match holds no number)
            done = b
            ce = gap.end()
            while ce < b:
                k = _SHORT_CELL.match(t, ce)
                if k is not None and not _AREA_ALONE.fullmatch(t, ce, k.end(1)):
                    ce = k.end()  # (a cell shorter than the shortest match, not an area code: no number starts in it)
                    continue
                m2 = PHONE.match(t[ce : ce + _SPLIT_REACH])
                if m2 is None:
                    break
                a2, b2 = ce + m2.start(), ce + m2.end()
                sep = _SPLIT_SEP.search(t, a2, b2)
                gap = _cell_gap(t, a2, b2) if sep is not None and sep.group() in ("  ", "\t") else None
                if gap is None:
                    out.append((a2, b2))
                    done = max(done, b2)
                    break
                if gap.start() - a2 >= _SHORTEST:
                    out.append((a2, a2 + len(t[a2 : gap.start()].rstrip(" -./"))))
                done = max(done, gap.start())
                ce = gap.end()
            continue
        i = t.find(" / ", a, b)
        m2 = None
        if i < 0:
            i = t.find(" - ", a, b)
            if i >= 0 and t[i + 3 : i + 4] in ("0", "+") and len(t[a:i].translate(_KEEP_DIGITS)) >= 7:
                # (a whole number on either side: not "(0161) 496 - 0000", "+49 30 1234 - 0")
                m2 = PHONE.search(t, i + 3, min(len(t), i + 3 + _SPLIT_REACH))
                if m2 is None or m2.start() != i + 3 or len(m2.group().translate(_KEEP_DIGITS)) < 7:
                    i = -1
            else:
                i = -1
        if i < 0 or _AREA_ALONE.fullmatch(t, a, i):
            out.append((a, b))
            done = b
            continue
        out.append((a, i))
        if m2 is None:
            m2 = PHONE.search(t, i + 3, min(len(t), i + 3 + _SPLIT_REACH))
        if m2 is not None and m2.start() == i + 3:
            out.append(m2.span())
            done = m2.end()
        else:
            done = b
    return out


_SPLIT_REACH = 40  # characters the number after " / " is read in (a match is at most 26 and its lookahead)
_SHORTEST = 6  # characters of the shortest PHONE match
_CELL_GAP = re.compile(r"[ ]*\t[ \t]*|[ ]{2,}")
_SHORT_CELL = re.compile(r"([^\t\n]{0,%d}?)(?:%s)" % (_SHORTEST - 1, _CELL_GAP.pattern))  # (a cell, then its gap)
_SPLIT_SEP = re.compile(r"  |\t| / | - ")
_WORD_NEXT = re.compile(r"[ \t]+[^\W\d_]")


def _cell_gap(t: str, a: int, b: int) -> re.Match | None:
    """The gap in ``t[a:b]`` that ends the cell a match starts in: a tab, or two spaces or more -- not in OCR'd
    text, nor two spaces right after an area code ("Tel: 0161  496 0000", a number typed with a double space)."""
    g = _CELL_GAP.search(t, a, b)
    if g is None or "\t" in g.group():
        return g
    if g.group() == "  " and _AREA_ALONE.fullmatch(t, a, g.start()):
        return None
    return None if _ocr_spaced(t, a) else g


def _isbn10_ok(d: str) -> bool:
    return sum((10 - i) * int(c) for i, c in enumerate(d)) % 11 == 0


def _ean13_ok(d: str) -> bool:
    return (sum(map(int, d[::2])) + 3 * sum(map(int, d[1::2]))) % 10 == 0


_SPACES = re.compile(r"[ ]+")
# shapes no phone number takes, in one pass: a Brazilian postal code's 5-3 (40020-000); a document or case
# number closed by its year (4471/2023, 4471-22/2024); numbers drawn in a lottery (07 - 18 - 22 - 35 - 41);
# a CAS registry number, its check digit alone after the last dash (7732-18-5)
_NOT_DIALLED = re.compile(
    r"[0-9]{5}-[0-9]{3}|[0-9]{1,6}/(?:19|20)[0-9]{2}|(?:[0-9]+[-.])+[0-9]+/(?:19|20)[0-9]{2}"
    r"|[0-9]{1,2}(?: - [0-9]{1,2}){3,}|[0-9]{2,7}-[0-9]{2}-[0-9]"
    # a customs tariff code (8471.30.0000); a tax id's dotted thousands and check digit (NIT 900.123.456-7, RUT
    # 12.345.678-9); a batch led by its date (20240301-07)
    r"|[0-9]{4}\.[0-9]{2}\.[0-9]{2,4}|[0-9]{1,3}(?:\.[0-9]{3}){2}-[0-9]|[89][0-9]{8}-[0-9]"
    r"|(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])-[0-9]{1,3}"
    # an e-ticket's airline code and ten digits (080-2187654321); a Hungarian company number (01-09-123456)
    r"|[0-9]{3}-[0-9]{10}|[0-9]{2}-[0-9]{2}-[0-9]{6}"
    # a line of six numbers or more of two digits (a lottery ticket: "03 14 22 27 38 41"; a phone has five at most)
    r"|(?!00 )[0-9]{2}(?: [0-9]{2}){5,}"
    # a US ZIP+4 or a pick-up point's code (75011-0482; a Brazilian mobile is 9xxxx-xxxx)
    r"|[1-8][0-9]{4}-[0-9]{4}"
    # a record led by its year (Historia clínica 2024-004471)
    r"|(?:19|20)[0-9]{2}-[0-9]{5,6}"
    # a tariff code of four parts (8418.10.00.90; a Belgian mobile 0478.12.34.56 starts with 0), a Brazilian
    # payment slip's field with its check digit (03018477210-3)
    r"|[1-9][0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[0-9]{2}|[0-9]{11}-[0-9]"
    # an SSN's shape (3-2-4 with dashes: no country groups a phone so), a Brazilian CPF, a Hungarian tax number
    r"|[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}|[0-9]{8}-[0-9]-[0-9]{2}"
)
# a US date of birth written with spaces ("DOB 07 14 1982"), unless a phone word says otherwise ("Mobile: 07 14 1982")
_SPACED_DATE = re.compile(r"(?:0[1-9]|1[0-2]) (?:0[1-9]|[12][0-9]|3[01]) (?:19|20)[0-9]{2}")
_EIN = re.compile(r"[1-9][0-9]-[0-9]{7}")  # a US employer id, with "EIN" before it ("EIN on the W-2 is 84-2917745")
_POSTAL_4_3 = re.compile(r"[0-9]{4}-[0-9]{3}")
_CITY_AFTER = re.compile(r"[ \t]+[^\W\d_](?<![a-z])")  # a capitalised word: "Porto", "Lisboa"
# "HP" (a mobile, "handphone", in Indonesia, Malaysia and Singapore) in capitals: "hp" is horsepower ("150 hp")
_HP = re.compile(r"(?<![A-Za-z])H[Pp](?![A-Za-z])(?:[ \t]*(?:no|nr|#)\.?)?[ \t]*[:.]?[ \t]*$")
# two capitals right before a number: a country or carrier prefix of a VAT id or a parcel code, also on the line above
# ("VAT: BE\n0123.…"; "PH", "TN" and "WA" (WhatsApp), the phone's own abbreviations, and "HP" are no prefix; nor a
# code's last letters, "Bristol BS7 8AA\n07400 …"; a "+" number is never a VAT id)
_PREFIX_BEFORE = re.compile(r"(?<![A-Za-z0-9])(?!PH|HP|TN|WA)[A-Z]{2} ?$")


# ...unless it is a word of text in capitals ("CRITICAL VALUE CALLED TO DR. LEBLANC AT 403-215-0984"): a preposition
# in capitals after another word in capitals (not a VAT id's country: "VAT GB 123 4567 89", "BTW BE 0123.456.749")
# (two capitals that end the line above count only alone after a label: "VAT: BE\n0123.…"; not a company's "… PR\n0161 …")
def _own_country_number(before: str, s: str) -> bool:
    """Two capitals that are a country's code before a national number of it written in groups with spaces or dashes,
    after a phone word ("tel. PL 624 103 754", "tel. +91 … / in NL 06-27639373"): the country's, no VAT id's."""
    if _pn is None or "." in s or (" " not in s and "-" not in s) or not _has_ctx(before[-40:].lower()):
        return False
    if _VAT_WORD.search(before[-16:].lower()):
        return False  # a VAT id's own word before the code: "Tel. +32 2 555 12 34 - BTW BE 0456 789 123"
    region = before.rstrip()[-2:]
    return _valid_national(s, (region,))[0] == region


_VAT_WORD = re.compile(
    r"(?<![a-z])(?:vat|btw|tva|iva|ust|mwst|moms|nip|uid|kbo|bce|cif|nif|dic|dič|pvm|kmkr|alv)(?![a-z])"
)
_CODE_LINE_ABOVE = re.compile(r"(?:^|\n|:)[ \t]*[A-Z]{2}[ \t]*\n$")
_SHOUTED_BEFORE = re.compile(r"(?<![A-Za-z])[A-Z]{2,}\.? (?:AT|TO|ON|BY|OR|OF|AS) $")
# (and a year and a three-digit sequence, "2024-118": a record's)
_YEAR_FIRST = re.compile(r"(?:19|20)[0-9]{2}(?:([-.])[0-9]+\1[0-9]|/[0-9]|-[0-9]{3}$)")

# a log's or a record's identifier key right before the number: "call_id=7719203", "sessionId: 4471 2291"
# (an underscore, a dash or camel case before "id": not "David:", "Valid:"; a caller's or callee's id is theirs,
# and so is WhatsApp's "wa_id")
_ID_KEY = re.compile(
    r"(?<![A-Za-z])(?![Cc]all(?:er|ee)|[Ww][Aa]_?[Ii][Dd])[A-Za-z]+(?:[_\-][Ii][Dd]|[a-z]Id|ID)[\"']?[ \t]*[=:][ \t]*[\"']?$"
)


# a time key right before the number: an epoch ("created_at": 1722411822, "iat": 1722411822, "ts=1722411822")
_TIME_KEY = re.compile(
    r"(?:(?<![A-Za-z0-9])(?:exp|iat|nbf|ts|epoch|time|timestamp|date)|[A-Za-z0-9](?:_at|At|_time|Time|_ts|_date|Date|"
    r"_timestamp|Timestamp))[\"']?[ \t]*[=:][ \t]*[\"']?$"
)


_DE_MOBILE = frozenset(("015", "016", "017"))


def _decimalish(s: str) -> bool:
    """Dotted shapes that are decimals, coordinates or versions, not phone numbers."""
    parts = _SPACES.split(s)
    for p in parts:
        if "." in p:
            groups = p.split(".")
            if len(groups) == 2 and len(groups[1]) != len(groups[0]) and len(groups[1]) >= 3 and len(parts) > 1:
                return True  # 52.5200 13.4050, -33.8688 151.2093
            if any(len(g) == 1 for g in groups) and len(groups) >= 3:
                return True  # 10.0.19045.3448
    # 3.14159265, 0110115.50 (not 06.47025021: an area code and its trunk prefix, then the subscriber's number)
    if " " in s or "-" in s or s.count(".") != 1:
        return False
    head, tail = s.split(".")
    # (a German mobile's five-digit prefix too: "01512.3453189"; not a zero-padded coordinate, "04807.038247")
    return not (s[0] == "0" and s[1].isdigit() and (len(head) <= 4 or head[:3] in _DE_MOBILE) and len(tail) >= 6)


_IDD = re.compile(r"(011|0011|8[ -]?10)[ .\-]")
# "or" between two numbers, in the languages the phone words cover
_OR_JOIN = re.compile(
    # (or a web page's middle dot between two numbers: "963 74 29 18 · 650 218 447"; or a slash: "+44 131 496 0215 / +44
    # 7700 900876")
    r"[ \t]*(?:[·•/]|,?[ \t]*(?:or|ou|o|oder|of|eller|lub|albo|или|або|veya|ya da|atau|hoặc|หรือ|tai|vagy|sau|nebo|"
    r"alebo|ή|או|یا|أو|او|或|或者|또는|または|अथवा|या)[ \t]*:?)[ \t]*",
    re.IGNORECASE,
)
_OR_REACH = 16
# ...or a label's few words after the comma or the "or" ("099 721 641 o a la secretaría 2784 1453", "+227 96 14 15 37,
# bureau 20 21 69 27", "+509 3746 0769 oswa biwo pawas la nan 2958 2239"): a second contact's number
_OR_WORDS = (
    r"or|ou|o|oder|of|eller|lub|albo|или|або|veya|ya da|atau|hoặc|หรือ|tai|vagy|sau|nebo|alebo|ή|או|یا|أو|او|或|或者|또는|"
    r"または|अथवा|या|oswa|jew|po o|ან|ou bien|oppure|ovvero|bzw|ali|ili|или же"
)
_OR_LABEL = re.compile(
    r"[ \t]*(?:[,،][ \t]*(?:(" + _OR_WORDS + r")[ \t]+)?|(" + _OR_WORDS + r")[ \t]+)"
    # (a word may hold a hyphen: "or the co-op office on 2799 6117")
    r"(?:[^\W\d_][^\W\d_'’.-]{0,20}(?:-[^\W\d_]{1,12})?[ \t]+){0,3}[^\W\d_][^\W\d_'’.-]{0,20}(?:-[^\W\d_]{1,12})?"
    r"[ \t]*:?[ \t]*",
    re.IGNORECASE,
)
# ...whose words name a contact's place or line (not "Stammkapital 2 500 000", "Registered in England 08123456")
_CONTACT_LABEL = re.compile(
    r"(?<![^\W\d_])(?:office|oficina|bureau|büro|ufficio|escritório|kantoor|kontor|toimisto|iroda|офис|оффис|"
    r"secretar[ií]a|secr[ée]tariat|sekretariat|secretariaat|segreteria|biwo|ofisa|fax|mobile|mobil|móvil|movil|cell|"
    r"home|work|landline|switchboard|reception|recepción|accueil|zentrale|centralita|desk|hotline|línea|linea|"
    r"whatsapp|instituto|institut|agency|agence|agencia|agenzia|parroquia|paroisse|parrocchia|pfarrbüro|mairie|"
    r"clinic|clinique|clínica|clinica|praxis|portable|celular|handy|domicile|casa|festnetz)(?![^\W\d_])",
    re.IGNORECASE,
)
_OR_LABEL_REACH = 44
_NUMBER_WORDS = frozenset(
    [
        "number",
        "numbers",
        "no",
        "nr",
        "nº",
        "num",
        "id",
        "ref",
        "code",
        "número",
        "numero",
        "numéro",
        "nummer",
        "numer",
        "номер",
        "numara",
        "numarası",
    ]
)
_THREE_GROUPS = re.compile(r"[0-9][^0-9]+[0-9]+[^0-9]+[0-9]")
_HTTP_BEFORE = re.compile(r"HTTP/[0-9](?:\.[0-9])?\" $")
_PORT_BEFORE = re.compile(r"(?<![^\W\d_])(?:port|Port|PORT)\.[ \t]?(?:[:：][ \t]?)?$")  # (and "Port. : 07 …")
# a delimited record's state and ZIP fields right before the number: an address's phone ("…|Duluth|MN|55802|2183157490|")
_STATE_ZIP_FIELDS = re.compile(r"(?<![A-Za-z])[A-Z]{2}([|,;\t])[0-9]{5}(?:-[0-9]{4})?\1$")


# a number's word right before it ("नागरिकता नं.: ", "Pension/SI no. ", "tespit no. "): the number is another record's
_NUMBER_WORD_BEFORE = re.compile(
    r"(?<![^\W\d_])(?:no|nr|nº|n°|num|número|numero|nummer|numéro|number|№|नं)\.?[ \t]*[:#]?[ \t]*$"
)


def _after_own(before: str, after: str) -> str:
    """What follows the number that may name it: all of ``after``, but only its own line's part when a number's word
    stands right before it -- a phone word after a line break labels the next line's value then
    ("नागरिकता नं.: 13-96-02-55150\nमोबाइल: 98…"; not "Témoin : M. Diop, 78 076 80 88\nNuméro d'urgence …", nor "Driver
    no.: 9123 4567\nCall on arrival")."""
    if "\n" in after and _NUMBER_WORD_BEFORE.search(before[-12:].lower()) is not None and _NEXT_LABEL.match(after):
        words = _TOKEN.findall(before[-40:].lower())
        if len(words) > 1 and (words[-2] in _NEG_SET or words[-2] in _RECORD_NOUNS):
            return after.split("\n", 1)[0]
    return after


# (the nouns of records a number's word may follow, beside the negative words: a citizenship certificate's, a pension's,
# a damage assessment's -- not "Alternate no.: 9123 4567\nFax: …", a phone list's)
_RECORD_NOUNS = frozenset(["नागरिकता", "pension", "si", "tespit"])


# the next line a label and its value ("\nमोबाइल: 98…"; not "\nWhatsApp only", "\n(mobile)")
_NEXT_LABEL = re.compile(r"[^\n]*\n[^\n0-9:：]{1,20}[:：][ \t]*[+(0-9]")


def _score(
    t, s, digits, a, b, before, after, nanp, header_of, neg, hints, shapes, budget, min_score, seen=(), joined=False
) -> float:
    ctx = True if joined else None  # (joined: "or" after a phone number is the number's phone word)

    def has_ctx() -> bool:
        nonlocal ctx
        if ctx is None:
            ctx = (
                _ctx(before.lower(), _after_own(before, after)[:16].lower(), header_of(a))
                or _HP.search(before[-16:]) is not None
                or (("–" in before[-4:] or "-" in before[-4:] or "—" in before[-4:]) and _roster_line(before[-90:]))
                or (before[-1:] in "=:\"' " and _keyed(before) and _PARTY_KEY.search(before[-32:].lower()) is not None)
                or (_keyed(before) and _named_phone_key(before))  # ('"PhoneNumber": "', "mCallIncomingNumber=")
                or (before[-1:] in "\"'" and _SETTER.search(before[-40:]) is not None)  # ('dto.setCelular("')
                or (_ROW_TIME.search(before) is not None and _call_row(t, a, b))
            )
        return ctx

    if _pn is None or budget[0] <= 0:
        score = shapes(s, digits)
        if score > 0 and has_ctx():
            score += 0.25 if score < 0.5 else 0.1
        return score
    if s.startswith("(+"):
        s = "+" + s[2:].replace(")", "", 1)
    if s.startswith("+"):
        if s.startswith("+1") and nanp(s, digits) > 0:
            return 0.9  # North American: the area / exchange rules, no library call
        budget[0] -= 1
        v = _valid_intl(s)
        if v == 2:
            return 0.9
        dial = _DIRECT_DIAL.fullmatch(s) if v == 1 or not v else None
        if dial is not None and _valid_intl(dial.group(1)) == 2:
            return 0.9  # a direct-dial extension after a dash, the number spaced ("+41 21 026 48 40-67")
        if v == 1:
            return 0.6 if has_ctx() else 0.35
        return 0.0
    idd = _IDD.match(s)
    n_idd = len(idd.group(1).translate(_KEEP_DIGITS)) if idd is not None else 0
    if idd is None and s == digits and len(digits) >= 13 and digits.startswith("011") and has_ctx():
        # North America's 011 glued to the number, as a switch's record writes the dialled digits, under a phone's
        # column or key ("01113035344876"; a national number led by an 011 area code has at most 11 digits)
        n_idd = 3
    if n_idd and len(digits) >= n_idd + 9:
        # an international prefix set apart: North America's 011 ("from the US dial 011 44 20 7183 3059"),
        # Australia's 0011, Russia's 8 10; a national number led by an 011 area code (Delhi, Johannesburg,
        # Sapporo) has at most 11 digits
        budget[0] -= 1
        if _valid_intl("+" + digits[n_idd:]) == 2:
            return 0.75 if has_ctx() else 0.55
    if s.startswith("00") and not s.startswith("000"):
        budget[0] -= 1
        v = _valid_intl("+" + s[2:])
        if v == 2:
            return 0.75 if has_ctx() else 0.55
        return 0.0
    base = nanp(s, digits)
    if base > 0:
        # (a North American number written in groups beside one written with its +1 reads as one, as a phone word
        # would make it; not a run of ten digits, an id as often: "request 6174821930"; but one right after a record's
        # state and ZIP fields, with no header naming its column, is the address's phone)
        near = (s != digits and ("US" in seen or "CA" in seen)) or (
            before[-1:] in "|,;\t"
            and _STATE_ZIP_FIELDS.search(before[-16:]) is not None
            and (not (head := header_of(a)).strip() or _DIGIT.search(head) is not None)  # (no header, or a row's)
        )
        score = base + (0.25 if base < 0.5 else 0.1) if near or has_ctx() else base
        if score >= 0.5 or not seen or "US" in seen or "CA" in seen or s == digits or _THREE_GROUPS.search(s):
            return score
        # (in two groups, not North America's three, in a text whose own numbers are another country's: read as that
        # country's national number below, "Sig.ra Morelli   339-8725002" beside "+39 335 612 7788"; not an id's
        # "2134567890" or "345 678-9012")
    if neg:
        return 0.0  # (a national number after "order", "Rechnung" ...: not worth the library call)
    if s == digits and digits[0] != "0" and 10 <= len(digits) <= 15 and msg_keyed(before):
        # a calling code without its "+" as a sender's or recipient's key holds it (SMS and messaging gateways,
        # webhooks: "to":"6285710229384", from=447723094461, "wa_id":"447459018832")
        budget[0] -= 1
        if _valid_intl("+" + digits) == 2:
            return 0.6
    seps = len(s) - len(digits)
    shape = -0.15 if seps == 0 else 0.0 if _THOUSANDS.fullmatch(s) else 0.1
    # (a mobile written in threes, "512 385 163", "926 196 582": as a mobile is, not as an amount; see below)
    threes = shape == 0.0 and len(digits) == 9 and " " in s and not _word_after(after)
    if (0.55 if digits[0] in "018" else 0.4) + shape + 0.1 * threes + 0.3 * (bool(seen) or has_ctx()) < min_score:
        return 0.0  # it could not reach min_score even if valid: no library call
    budget[0] -= 1
    regions = seen + hints(a) if seen else hints(a)
    region, trunk = _valid_national(s, regions)
    if region == "IN" and not trunk and "IN" not in seen and _IN_GROUPS.fullmatch(s) is None and not has_ctx():
        # an Indian mobile is written without its trunk prefix, as ten digits, in fives or 3-3-4; grouped otherwise,
        # with no phone word, it is no Indian number ("ID: 7740-118329", "330-21-1880"), maybe another country's
        # ("Support 1800 126 622", Australia's)
        region, trunk = _valid_national(s, tuple(r for r in regions if r != "IN"))
        if region is None:
            return 0.0
    hinted = True
    if region is None:
        # no hinted country takes it: any country, if a phone word or a trunk prefix and grouping say "phone"
        if not ((digits[0] == "0" and len(s) > len(digits)) or has_ctx()):
            return 0.0
        if len(digits) < 9 and not has_ctx():
            return 0.0  # (eight digits or fewer fit some country's short numbers, Vienna's "01 801 100": not alone)
        # (a place the text names, beside a phone word, names the country: "La Paz … cel. 71548327"; not without one,
        # where a place's country would make any eight digits a number: "Misa por la paz. Colecta: 2231 4476")
        places = place_hints(t[max(0, a - 256) : b + 256]) if has_ctx() else ()
        region, trunk = _valid_national(s, places) if places else (None, False)
        if region is None:
            region, trunk = _valid_national(s, _ALL_TARGETS)
            if region is None and has_ctx():
                region, trunk = _valid_national(s, _WORD_TARGETS)
            if region is None:
                return 0.6 if _calling_code(s, digits, has_ctx) else 0.0
            hinted = False
    score = (0.55 if trunk else 0.4) + shape
    if threes and hinted and (region in seen or region == regions[0]) and _mobile(s, region):
        score += 0.1  # (the text's own country's mobile in threes: a phone's grouping there, not thousands)
    if not hinted:
        score -= 0.15
    if region in seen or has_ctx():
        score += 0.3
    if score < 0.6 and not hinted and _calling_code(s, digits, has_ctx):
        return 0.6  # (read as another country's national number, whose country the text does not hint at)
    return score


_AFTER_WORD = re.compile(r"[ \t]+([^\W\d_]{2,})")
_CONJUNCTIONS = frozenset(
    ("or", "ou", "lub", "albo", "nebo", "anebo", "alebo", "oder", "of", "og", "eller", "och", "или")
)


def _word_after(after: str) -> bool:
    """A lower-case word right after a number (not "or"): what it counts ("612 345 678 euros", "… egz.")."""
    m = _AFTER_WORD.match(after)
    return m is not None and m.group(1).islower() and m.group(1) not in _CONJUNCTIONS


@lru_cache(maxsize=4096)
def _mobile(s: str, region: str) -> bool:
    """Whether the valid national number ``s`` of ``region`` is a mobile number."""
    assert _pn is not None
    try:
        kind = _pn.number_type(_pn.parse(s, region))
    except _pn.NumberParseException:
        return False
    return kind in (_pn.PhoneNumberType.MOBILE, _pn.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _calling_code(s: str, digits: str, has_ctx) -> bool:
    """A calling code without its "+", after a phone word, as systems write it ("caller=48600405831",
    "phone=84912483705")."""
    if not (10 <= len(digits) <= 13 and digits[0] != "0") or not has_ctx():
        return False
    # written in groups: the first group is the calling code ("48 517 437 946" in a "MobilePhone" column)
    if s != digits:
        first = _FIRST_GROUP.match(s)
        if first is None or _pn is None or _pn.region_code_for_country_code(int(first.group())) == "ZZ":
            return False
    return _valid_intl("+" + digits) == 2


_FIRST_GROUP = re.compile(r"[1-9][0-9]{0,2}(?=[ .\-])")
