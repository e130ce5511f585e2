"""Phone numbers in 20 locales (national, international, E.164, extensions), look-alikes kept
out, SSNs in structured layouts.  Quality bars on held-out text: test_pii_eval.py."""

import phonenumbers as pn
import pytest

from leash_cli.scanners import PiiScanner, SecretsScanner, phones

SC = PiiScanner()

# a sentence asking to call, in each locale's language ({} = the number)
PROSE = {
    "US": "Call me at {} tonight.",
    "GB": "Ring me on {} please.",
    "DE": "Sie erreichen mich unter {} bis 18 Uhr.",
    "FR": "Vous pouvez me joindre au {} demain.",
    "ES": "Llámame al {} cuando puedas.",
    "IT": "Chiamami al {} domani.",
    "NL": "Bel me op {} na vijf uur.",
    "PL": "Zadzwoń do mnie pod numer {} jutro.",
    "PT": "Liga-me para o {} amanhã.",
    "BR": "Me liga no {} amanhã.",
    "RU": "Позвоните мне по номеру {} завтра.",
    "SA": "اتصل بي على {} غدا.",
    "AE": "اتصل بنا على {} من فضلك.",
    "EG": "رقم الهاتف {} متاح.",
    "CN": "请拨打{}联系我。",
    "KR": "{}로 연락 주세요.",
    "JP": "{}までお電話ください。",
    "IN": "Please call me on {} today.",
    "TR": "Beni {} numarasından arayın.",
    "MX": "Llámame al {} por favor.",
}
FORMATS = {
    "national": pn.PhoneNumberFormat.NATIONAL,
    "international": pn.PhoneNumberFormat.INTERNATIONAL,
    "e164": pn.PhoneNumberFormat.E164,
}
CASES = [(r, kind, fmt) for r in PROSE for kind in ("FIXED_LINE", "MOBILE") for fmt in FORMATS]


def phones_in(text):
    return [f.text for f in SC.scan(text) if f.type == "PHONE"]


@pytest.mark.parametrize("region,kind,fmt", CASES, ids=["-".join(c) for c in CASES])
def test_libphonenumber_examples_in_local_prose(region, kind, fmt):
    number = pn.example_number_for_type(region, getattr(pn.PhoneNumberType, kind))
    written = pn.format_number(number, FORMATS[fmt])
    assert phones_in(PROSE[region].format(written)) == [written]


# what the three blind writers' sets showed (tests/scanners/test_pii_secrets_blind.py): new examples of each kind
BLIND_WRITERS_PHONES = [
    ("Zavolejte mi prosím na 603 123 456, děkuji.", "603 123 456"),
    ("Ring til mig på 20 12 34 56, venlig hilsen Mette", "20 12 34 56"),
    ("Hei! Ring meg på 912 34 567 i morgen, hilsen Ola", "912 34 567"),
    ("Soita minulle numeroon 040 123 4567, kiitos", "040 123 4567"),
    ("お届け先電話番号：090-1234-5678", "090-1234-5678"),
    ("Cep: +90 533 345 62 02", "+90 533 345 62 02"),  # Turkish "cep (telefonu)": an international number
    ("Contact no.: 6838 3991 (after 6 pm)", "6838 3991"),  # Hong Kong, with a phone word
    ("Call my mobile 9835 4669 if the office is closed.", "9835 4669"),  # Singapore
    ("Kontakt na řidiče: 736 849 033", "736 849 033"),
    ("Tu peux me texter au 514 998-1584 ce soir.", "514 998-1584"),
    ("Mme Girard        06 81 52 97 29     69003  1 249,50", "06 81 52 97 29"),  # a fixed-width row
    ("hafðu samband við afgreiðsluna í síma 562 3722 alla virka daga", "562 3722"),
    ("Biroja tālrunis: 67 885 871. Dalības maksa 25 EUR", "67 885 871"),
    ("PH 0151 23456789 (mobil)", "0151 23456789"),  # "PH" abbreviates phone: no code's prefix
    ("Kontakt: DE +49 151 23456789", "+49 151 23456789"),
    ("Join by phone: +1 646-555-0193,,84211903377# United States", "+1 646-555-0193"),  # not the meeting id
    ("לפרטים נוספים התקשרו ל-054-7712345 עד יום חמישי.", "054-7712345"),  # Hebrew "to" joined by a hyphen
    ("אפשר להשיג אותי ב-03-6091234 בשעות העבודה", "03-6091234"),  # "at"
    ("Call us: 1300 655 506 for support", "1300 655 506"),  # Australia writes 1300 / 1800 without its 0
    ("Ring 1800 123 456 anytime", "1800 123 456"),
    ("고객센터 1588-1234 (평일 09:00~18:00)", "1588-1234"),  # ...and Korea its 1588 numbers
    ("Telefon: 0711 / 725 04 38", "0711 / 725 04 38"),  # an area code, then a slash with spaces
    ("llamame al 011 15-4123-4567 después de las 18", "011 15-4123-4567"),  # Argentina's mobile "15"
    ("Tel. 089 1234567 Durchwahl -12", "089 1234567 Durchwahl -12"),
    ("Lūdzu, zvaniet pa tālruni 26 123 456", "26 123 456"),
    ("Za naročila nas pokličite na 041 123 456 ali pišite.", "041 123 456"),  # Slovenian
    ("Naam,Telefoon,Plaats\nAnna de Vries,0612345678,Utrecht", "0612345678"),
    ("للتواصل: 01012345678", "01012345678"),  # Arabic "to get in touch"
    ("INSERT INTO contacts (name, phone) VALUES ('Jan', '0612345678');", "0612345678"),  # an SQL column
    ("For queries, call 022-2296-2978 (10 AM – 1 PM on working days).", "022-2296-2978"),  # not "(10"
    ("कोठा भाडामा। सम्पर्क: 9812345678", "9812345678"),  # Nepali, in Devanagari
    ("電話：03-5634-9885 内線 215", "03-5634-9885 内線 215"),  # a Japanese extension
    ("Saygılarımla,\nEmre Yıldız\nCep: 0532 379 18 21", "0532 379 18 21"),  # Turkish "cep (telefonu)"
    ("Helistage mulle numbril 5123 4567.", "5123 4567"),  # Estonian
    ("Jānis: vai tev ir viņa numurs?\nLīga: jā, 2612 3456", "2612 3456"),  # Latvian "numurs", the line before
    ('<a href="https://wa.me/351932700996">WhatsApp</a>', "351932700996"),  # a WhatsApp link
    # words that end in "id", and short words, before a phone are no identifier keys or negative words
    ("Call Ingrid: 07700 900123", "07700 900123"),
    ("Confirm your booking with 020 7946 0958", "020 7946 0958"),
    ("Tel. 24 hs 0800 333 4444", "0800 333 4444"),  # Spanish "hs", hours (not "HS code")
    ("0711 / 725 04 38", "0711 / 725 04 38"),  # an area code and a slash at the very start
]
BLIND_WRITERS_LOOK_ALIKES = [
    "注文番号：090-1234-5678",
    "Réservation n° 7781-2204-35 confirmée",
    "el pedido es el 4500-2291-07, gracias",
    "Factura n.º 2024/000123, de fecha 05/03/2024",
    "Meeting ID: 842 1190 3377",
    "Je vous remercie du 12 34 56 78 reçu",  # French "du" hints at no Nordic country
    "請求書 No. 2024-0611-03\n発行日：2024年6月11日",  # a document number led by its year
    "Codice cliente 00412297, contratto n. 8801-44-2207.",
    "Carrier: UPS   Tracking: 1Z 4F7 83W 03 9921 0475",  # the rest of a letters-and-digits code
    "رقم الشحنة 55021873 وسيتم التوصيل خلال يومين",
    "会議ID：512 884 2093、パスコード：7QX4k9",
    "indicando nel soggetto il numero di RG 4471/2023.",  # a case number and its year
    "Art. 0415-3371  Set punte HSS 19 pezzi",
    "| コード | 品名 |\n|---|---|\n| 0415-2209 | 電動ドリル |",  # a column named "code"
    "| Order | Date |\n|---|---|\n| 2405118734 | 11.06.2024 |",
    "děkujeme za Vaši objednávku č. 2024/118734 ze dne 3. 6. 2024.",
    "[3] Statistical Office (2023). Table 0417-2209: Households by size",
    "Numéro d'entreprise : BE 0417.882.093.",  # a VAT id with its country prefix
    "Wasserkocher (Art.-Nr. 412-37-0915-B, EAN 4005637072320)",
    "ref-054-7712345",  # a hyphen after a Latin letter still ends an identifier, not a prefix
    "Bill of lading: BOL 5512-3381-07, 14 pallets",
    "Harbour Dental Pty Ltd, ABN 12 345 678 901",
    "Unser Zeichen: 089 5521 3380/KL, Ihr Schreiben vom 3. Mai",
    "Date:   Tue Apr 9 17:42:18 2024 -0700",  # a time's seconds, a year and a zone offset
    "rtp port range 49160-65000",
    "Ondernemingsnummer 0412.345.678",
    "HS code 8517.62.0090, gross weight 12 kg",
    "DUNS 15-048-3782",
    "Réf. client : 3 18 44 27 905",
    "P.O. Box 2738-40100, Kisumu",
    "Sodium chloride (CAS 7647-14-5) in water (CAS 7732-18-5)",
    "Ügyszám: 4471-22/2024.",
    "Rx: Ibuprofen 400 mg, NDC 0904-5853-61, #30",
    "NHS No.: 943 476 5919",
    "Viitenumero 2024 05521 7",
    "číslo smlouvy 44-7122-9118",
    "Tilauksesi numero on 4471-2291-1183.",
    "2024-05-30 08:16:03 INFO ivr call_id=7719204 menu=1",
    "〒105-0011 東京都港区芝公園2-4-1",  # a Japanese postal code
    "Número de billete electrónico: 0752154879630. Asiento 23A.",
    "ورقم الطلب هو 2024-06-11-0077، والشحنة رقم 4471-8820-11.",
    "CEP 01310100",  # a Brazilian postal code, unseparated
]


@pytest.mark.parametrize(
    "text,phone",
    [
        ("Office: 617-555-0110 ext. 204, ask for Dana.", "617-555-0110 ext. 204"),
        ("Leave a voicemail at 1 (415) 555-0126 x31 please", "1 (415) 555-0126 x31"),
        ("Телефон приёмной +7 (812) 234-56-78 доб. 123", "+7 (812) 234-56-78 доб. 123"),
        ("Rückruf bitte an 0711/2345678, danke", "0711/2345678"),
        ("Telefon: +49 (0)89 123456-0", "+49 (0)89 123456-0"),
        ("Puedes reservar en el (+34) 963 52 18 40.", "(+34) 963 52 18 40"),
        ("如有问题请拨打电话13800138000或发邮件", "13800138000"),
        ("사무실 전화번호는 02-312-3456입니다.", "02-312-3456"),
        ("رقم الهاتف: ٠٥٠١٢٣٤٥٦٧", "٠٥٠١٢٣٤٥٦٧"),
        ("WhatsApp: +55 (31) 98765-4321", "+55 (31) 98765-4321"),
        ("Llámame al +52 1 33 1234 5678.", "+52 1 33 1234 5678"),
        ("teléfono 0034 912 345 678", "0034 912 345 678"),
        *BLIND_WRITERS_PHONES,
    ],
)
def test_phone_formats(text, phone):
    assert phones_in(text) == [phone]


@pytest.mark.parametrize(
    "text",
    [
        "Die Rechnung vom 03.12.2026 ist fällig am 17.12.2026.",
        "Bestellnummer 4501234567, Lieferung am 2026-12-03.",
        "Koordynaty: 52.2297, 21.0122 oraz -33.8688 151.2093",
        "Upgrade from 10.0.19045.3448 to 10.0.22631.2861.",
        "Timestamp 1733221337 corresponds to 2024-12-03 10:22:17.",
        "Transfer to DE89 3704 0044 0532 0130 00 by Friday.",
        "ИНН 7707083893, КПП 773601001.",
        "Население города составляет 12 655 050 человек.",
        "订单号：20241203123456，金额 1,299.00 元。",
        "Kundennummer: 0301234567",
        "ISBN 978-3-16-148410-0",
        "Matrix row: 0 1 2 3 4 5 6 7 8 9",
        "Tracking number 1Z 999 AA1 01 2345 6784 shipped.",
        "Der Umsatz stieg auf 15 678 901 €.",
        "Card 4111 1111 1111 1111 exp 12/28",
        *BLIND_WRITERS_LOOK_ALIKES,
    ],
)
def test_look_alikes_are_not_phones(text):
    assert phones_in(text) == []


def test_region_hints_follow_script_and_language():
    assert phones.region_hints("문의 사항은 연락 주세요")[0] == "KR"
    assert phones.region_hints("Звоните по телефону")[0] == "RU"
    assert phones.region_hints("Sie erreichen mich unter der Nummer")[0] == "DE"
    assert phones.region_hints("Proszę dzwonić pod numer")[0] == "PL"
    assert phones.region_hints("just some English words")[0] == "GB"


def test_mir_cards():
    found = [f.text for f in SC.scan("предоплату на карту Мир 2202 4643 1113 5313") if f.type == "CREDIT_CARD"]
    assert found == ["2202 4643 1113 5313"]


def test_part_numbers_and_barcodes_are_not_ssns_or_cards():
    text = "drive belt PN 412-37-0915-B, gasket kit PN 118-20-4471-C"
    assert ssns(text) == []
    assert [f for f in SC.scan("| A-10294 | 4901234567894 | ボールペン |") if f.type == "CREDIT_CARD"] == []
    assert [f.text for f in SC.scan("card 4111 1111 1111 1111") if f.type == "CREDIT_CARD"] == ["4111 1111 1111 1111"]


def test_brazilian_postal_code_is_not_a_phone():
    assert phones_in("Endereço: Rua Chile 22; Salvador; BA; 40020-000; tel. (71) 3321-4455") == ["(71) 3321-4455"]


def test_two_numbers_separated_by_a_slash():
    text = "Tél. : +33 1 42 68 53 00 / 06 12 34 56 78"
    assert phones_in(text) == ["+33 1 42 68 53 00", "06 12 34 56 78"]
    # a fullwidth slash after a bracket (NFKC: "/"), not a path
    assert phones_in("聯絡電話：(02)2345-6789（市話）／0912-345-678（手機）") == ["(02)2345-6789", "0912-345-678"]
    assert phones_in("GET /api/0912-345-678") == []


def test_the_texts_own_international_number_names_the_country():
    """A national number beside an international one of the same country is that country's, with a phone
    word's weight (no word here says "phone", and Indonesian is no language the hints read)."""
    assert phones_in("Sede: +351 21 340 2200 · Emergência: 912 345 678") == ["+351 21 340 2200", "912 345 678"]
    assert phones_in("Jakarta: +62 21 5790 1234 | Bandung: (022) 87654321") == ["+62 21 5790 1234", "(022) 87654321"]
    assert phones_in("Emergência: 912 345 678") == []


def test_a_calling_code_without_its_plus_in_a_phone_field():
    log = "INFO ivr call_id=7719204 caller=48600405831 menu=1 queue=sprzedaz"
    assert phones_in(log) == ["48600405831"]
    assert phones_in("INFO ivr job=48600405831 menu=1") == []


def test_a_swedish_org_nr_is_no_phone_but_the_tel_after_it_is():
    assert phones_in("Org.nr: 556036-0793 · Tel: 08-123 456 78") == ["08-123 456 78"]
    assert phones_in("mail: info@example.org, tel 08-123 456 78") == ["08-123 456 78"]


def test_a_postal_code_and_its_town_beside_the_texts_phone():
    text = "Morada: Rua de Santa Catarina 512, 4000-446 Porto · Tel. +351 22 240 9672"
    assert phones_in(text) == ["+351 22 240 9672"]


def test_trunkless_thousands_shape_needs_a_phone_word():
    assert phones_in("Zadzwoń pod numer 512 345 678.") == ["512 345 678"]
    assert phones_in("Wynik: 512 345 678 punktów") == []


# ---------------------------------------------------------------- SSNs in structured layouts
def ssns(text):
    return [f.text for f in SC.scan(text) if f.type == "US_SSN"]


def test_ssn_column_of_a_markdown_table():
    rows = "\n".join(f"| Person {i} | {500 + i} {10 + i} {4000 + i} | 2020-01-{10 + i} |" for i in range(40))
    text = "| Name | SSN | Hired |\n|---|---|---|\n" + rows
    found = ssns(text)
    assert len(found) == 40 and found[-1] == "539 49 4039"


def test_ssn_column_of_csv_and_tsv():
    assert ssns("name,ssn,dob\n" + "\n".join(f"P{i},{512346000 + i},1980-01-02" for i in range(30))) == [
        str(512346000 + i) for i in range(30)
    ]
    assert ssns("name\tsocial_security_number\nJo\t601224431\n") == ["601224431"]


def test_ssn_word_at_the_end_of_the_line_before_and_my_social():
    chat = "agent: I'll need the full social security number on file.\ncustomer: sure, it's 512 44 7781"
    assert ssns(chat) == ["512 44 7781"]
    assert ssns("ok my social is 512447781, dob 3/4/88") == ["512447781"]
    assert ssns("follow my social media: 512 44 7781 likes") == []


def test_ssn_with_dots_and_in_an_sql_insert():
    assert ssns("Social Security Number: 512.44.7781") == ["512.44.7781"]
    assert ssns("version 512.44.7781") == []
    sql = "INSERT INTO staff (id, name, ssn) VALUES (1, 'Ana', '512447781'), (2, 'Bo, Jr.', '601224431');"
    assert ssns(sql) == ["512447781", "601224431"]  # (the comma inside 'Bo, Jr.' is no column)
    assert ssns("INSERT INTO staff (id, badge) VALUES (1, '512447781');") == []
    # one tuple a line (the lines would read as CSV rows, the first as their header)
    rows = "".join(f"  ({6700 + i}, 'N{i}', '5124{i:05d}'),\n" for i in range(1, 9))
    assert len(ssns("INSERT INTO staff (id, name, ssn) VALUES\n" + rows)) == 8


def test_an_ssn_word_belongs_to_the_number_after_it_not_past_it():
    assert ssns("SSN on file: 512-45-6789. Member number: 412 55 1234") == ["512-45-6789"]


def test_three_spaces_in_a_csv_cell_keep_it_csv():
    text = "name,ssn,notes\nAmy,512 45 6701,ok\nZed,512 45 6799,moved   abroad\n"
    assert ssns(text) == ["512 45 6701", "512 45 6799"]


def test_ssn_touching_cjk_text():
    assert ssns("我的社会安全号码是512-44-7781，正确的名字应该是 Wang") == ["512-44-7781"]


def test_ssn_key_names_with_underscores():
    assert ssns('{"employee_ssn": "601224431"}') == ["601224431"]
    assert ssns("SocialSecurityNumber: 601 22 4431") == ["601 22 4431"]


def test_ssn_column_of_a_fixed_width_report():
    """A fixed-width table: a rule of dash groups under the header gives each column its name."""
    head = "Name            SSN            Filing  Dependents\n--------------  -------------  ------  ----------\n"
    rows = "".join(f"Person {i:<8} {500 + i} {10 + i} {4000 + i}    Single  {i % 3}\n" for i in range(12))
    assert len(ssns(head + rows)) == 12
    assert ssns(head.replace("SSN     ", "Account ") + rows) == []
    assert ssns(head + "\n" + rows) == []  # an empty line ends the table


def test_ssn_column_of_a_fixed_width_report_without_a_rule():
    """No rule under the header: the nearest line above the rows with two or more cells and no number, whose
    cells start where the row's do, names the columns (names with commas are no CSV here)."""
    report = (
        "PAYROLL DEDUCTIONS                                   PAGE 2\n"
        "EMPLOYEE                  SSN            PLAN       RATE\n"
        "OKAFOR, CHIDI N           601-22-4431    401K       6%\n"
        "LINDQVIST, ASTRID         512447781      HSA        2%\n"
    )
    assert ssns(report) == ["601-22-4431", "512447781"]
    assert ssns(report.replace("SSN ", "ACCT")) == ["601-22-4431"]  # (a dashed SSN needs no column)
    form = (
        "Dependents:\n"
        " (1) First name  Last name    (2) SSN        (3) Relationship\n"
        "     MAYA        ORTEGA       512 44 7781    daughter\n"
    )
    assert ssns(form) == ["512 44 7781"]
    assert ssns(form.replace("(2) SSN", "(2) Ref")) == []


def test_other_columns_are_not_ssns():
    text = "| Employee ID | Badge |\n|---|---|\n| 512346789 | 4431 |\n| 601224431 | 7788 |"
    assert ssns(text) == []


def test_without_phonenumbers_the_shape_rules_still_apply(monkeypatch):
    monkeypatch.setattr(phones, "_pn", None)
    assert phones_in("call +44 20 7946 0958 now") == ["+44 20 7946 0958"]
    assert phones_in("call me at (415) 555-0134") == ["(415) 555-0134"]
    assert phones_in("téléphone : 01 23 45 67 89") == ["01 23 45 67 89"]
    assert phones_in("Die Rechnung vom 03.12.2026") == []


def test_validation_budget_then_shapes(monkeypatch):
    # a pasted contact list: past MAX_VALIDATIONS numbers are scored by shape (a phone word is needed)
    monkeypatch.setattr(phones, "MAX_VALIDATIONS", 5)
    text = "name,phone\n" + "\n".join(f"P{i},030 {1234567 + i}" for i in range(40))
    found = phones_in(text)
    assert len(found) == 40 and found[-1] == "030 1234606"


@pytest.mark.slow
def test_long_lines_are_not_table_rows():
    # one 600 KB line of 9-digit numbers: no per-candidate scan of the whole line (linear)
    text = ",".join(str(512346000 + i % 999) for i in range(60_000))
    assert SC.scan("ssn,x\n" + text[:50]) is not None
    assert [f for f in SC.scan(text) if f.type in ("US_SSN", "PHONE")] == []


def test_a_row_with_no_number_is_no_header_of_the_rows_below():
    """A data row whose cells hold no number ("n/a") sits under a row that does, aligned with it: it is a row,
    and the header that names the SSN column is the line above the table's first row."""
    report = (
        "EMPLOYEE                  SSN            PLAN       RATE\n"
        "OKAFOR, CHIDI N           601-22-4431    401K       6%\n"
        "DOE, ANNA                 n/a            HSA        2%\n"
        "LINDQVIST, ASTRID         512447781      HSA        2%\n"
    )
    assert ssns(report) == ["601-22-4431", "512447781"]
    titled = "PAYROLL REPORT 2024                           PAGE 002\n" + report
    assert ssns(titled) == ["601-22-4431", "512447781"]


def test_a_fixed_width_cell_ends_before_its_own_trailing_separator():
    """Two spaces end a fixed-width cell; a dash, dot or slash the cell ends with is not the number's."""
    for t in ("Tel 7130161512-  12 Main St", "Tel 713-016-1512 -  45 Oak", "Tel 713-016-1512.  45 Oak"):
        got = [t[f.start : f.end] for f in PiiScanner().scan(t) if f.type == "PHONE"]
        assert got and got[0][-1].isdigit(), (t, got)


def test_north_americas_international_prefix():
    """011, set apart and followed by a whole international number, is dialled from the US or Canada; an 011
    area code (Delhi, Johannesburg, Sapporo) leads a national number of at most 11 digits."""
    assert phones_in("From Chicago dial 011 49 30 9016 2244 for the Berlin desk.") == ["011 49 30 9016 2244"]
    assert phones_in("Paris office, from Toronto: 011-33-1-42-68-53-00.") == ["011-33-1-42-68-53-00"]
    assert phones_in("Delhi office: 011 2345 6789") == ["011 2345 6789"]


def test_ocr_spacing_is_no_fixed_width_cell():
    """A letter OCR'd with two spaces between every word: two spaces inside a number do not end it."""
    letter = "Bei  Rückfragen  erreichen  Sie  uns  montags  bis  freitags\nunter  0221  4711  0815  oder  schriftlich."
    assert phones_in(letter) == ["0221  4711  0815"]
    table = "Name      Durchwahl    Raum\nKrause    0221 4711    12  0815\n"
    assert "0221 4711    12  0815" not in phones_in(table)


def test_two_numbers_joined_by_a_dash_or_by_or():
    """ " - " between a whole number and a trunk prefix separates two numbers; a second number joined by "or"
    (in the text's language) to a phone number is one too, with no phone word of its own."""
    assert phones_in("Praxis Dr. Lenz: 030 1234567 - 0171 2345678") == ["030 1234567", "0171 2345678"]
    assert phones_in("Reservas: 91 123 45 67 o 612 345 678 (de 9 a 14 h)") == ["91 123 45 67", "612 345 678"]
    # (no phone word, no number before it: a landline in threes reads as thousands; a mobile in threes is one)
    assert phones_in("Reservas: 912 345 678 (de 9 a 14 h)") == []
    assert phones_in("Reservas: 612 345 678 (de 9 a 14 h)") == ["612 345 678"]
    assert phones_in("Sorteo 07 - 18 - 22 - 35 - 41") == []


def test_more_shapes_and_words_no_phone_takes():
    for text in (
        "Fecha de emisión: 2023. 11. 5.",  # a Korean / Hungarian date
        "Zolltarifnummer laut Liste: HS 8504.40.9090, 8504.40.3000",  # customs tariff codes
        "Proveedor: Comercial Andina S.A.S., NIT 901.234.567-1",  # a Colombian tax id
        "Kostenstelle 4471-220-118 / Projekt 24-0318",
        "Charge to cost center 4471 220 118 please",
        "批次 20231105-03  数量 1,200 件",
        "Lot 20231105-03 released",
    ):
        assert phones_in(text) == [], text


def test_a_number_sign_cells_back_is_not_the_numbers():
    """A unit number "#07-02" two cells before a phone number in a tab-separated row is no "#" of the phone's."""
    sheet = "Name\tUnit\tContact\nTan Wei Ming\t#07-02\t6221 4407\n"
    assert phones_in(sheet) == ["6221 4407"]


def test_a_tenth_writers_phone_words_and_extensions():
    """Spanish "llámeme", Vietnamese "gọi" / "Zalo", and Peru's "anexo" (an extension)."""
    assert phones_in("Para coordinar la visita, llámeme al 987 654 321.") == ["987 654 321"]
    assert phones_in("Anh cần gì cứ gọi em 0903 412 567 nhé.") == ["0903 412 567"]
    assert phones_in("Mesa de partes: (01) 4217788 anexo 315") == ["(01) 4217788 anexo 315"]


def test_a_tenth_writers_look_alikes():
    for text in (
        "Číslo zásilky: Z 5521 0937 44, doručení zítra.",  # a parcel code's one-letter prefix
        "Snedker Ole Bak ApS · CVR 29184756 · Odense",  # a Danish company number
        "Dr A. Naidoo, Practice no. 0738291",  # a South African practice number
        "Numer biletu elektronicznego: 125-2188765432",  # an e-ticket
        "Cégjegyzékszám: 13-09-204511",  # a Hungarian company number
    ):
        assert phones_in(text) == [], text


def test_the_letter_before_a_number_is_no_code_prefix_in_a_header():
    """Two prose lines with a comma each read as a CSV block name a "column" ending "CIF B-…": the "B" there is
    no one-letter prefix before the number."""
    text = "Reformas Lopez, S.L. - CIF B-12345678\nC/ Mayor 3, 28013 Madrid · Tel. 91 523 44 10 · x"
    assert phones_in(text) == ["91 523 44 10"]


def test_an_eleventh_writers_phone_words_prefixes_and_extensions():
    assert phones_in("Santral: 0212 344 55 66 Dahili 2210") == ["0212 344 55 66 Dahili 2210"]  # Turkish extension
    assert phones_in("Qualquer dúvida, ligue para o telemóvel 912 345 678.") == ["912 345 678"]
    assert phones_in("Si tu as un souci appelle-moi au 77 512 34 56.") == ["77 512 34 56"]
    assert phones_in("Vous pouvez me contacter au 98 765 432 demain.") == ["98 765 432"]
    assert phones_in("From Sydney she dials 0011 44 20 7946 0958.") == ["0011 44 20 7946 0958"]
    assert phones_in("Звоню со стационарного: 8 10 49 30 901820") == ["8 10 49 30 901820"]
    assert phones_in("Amministratore: Studio Neri 06.69912345") == ["06.69912345"]  # Rome, a dot after the area code
    assert phones_in("pt will call back, best # 212-555-0143 after 6") == ["212-555-0143"]
    assert phones_in("Great stay! Call me for details, (876) 927-1234. 5/5 stars.") == ["(876) 927-1234"]


def test_a_number_that_starts_the_next_cell():
    """A match running over a tab into the next cell is cut there; the number the next cell starts with is
    read on its own (an extension column, then the outside line)."""
    sheet = "氏名\t部署\t内線\t外線\n佐藤 健\t総務課\t2104\t03(3581)4111\n"
    assert phones_in(sheet) == ["03(3581)4111"]


def test_an_eleventh_writers_look_alikes():
    for text in (
        "Lotto: my lines 04 11 19 23 37 42 / 02 08 15 29 33 47",  # six two-digit numbers
        "NIP Wynajmującego: 521-301-72-28, REGON 012345678",  # a Polish tax id a word after its name
        "EIN on the W-2 is 91-1144442, box 1 wages",
        "رقم المعاملة: ٥٥٣٢١٩/٢٤",  # a transaction number
        "Para agendar la visita de su solicitud 2024-00917, comuníquese con nosotros.",
        "0000031    DOE JOHN              0110115.50",  # an amount in a fixed-width record
    ):
        assert phones_in(text) == [], text


def test_x12_elements_name_their_ssns_and_phones():
    """An X12 EDI enrolment (834): REF*0F and an NM1 id of qualifier 34 hold the member's SSN, PER's
    communication qualifiers (HP, WP, TE, CP, FX) phone numbers."""
    edi = "INS*Y*18*021*28*A***FT~\nREF*0F*512447781~\nNM1*IL*1*DOE*JANE****34*601224431~\nPER*IP**HP*2125550143~\n"
    found = [(f.type, f.text) for f in SC.scan(edi)]
    assert ("US_SSN", "512447781") in found and ("US_SSN", "601224431") in found
    assert ("PHONE", "2125550143") in found


def test_an_x12_n1_segment_of_qualifier_34_holds_an_ssn():
    """A customs entry's N1 segment names a sole-proprietor importer by its SSN (id code qualifier 34); other
    qualifiers (an EIN's 24, a DUNS number's 1) hold no SSN."""
    edi = "ISA*00*~\nST*309*0001~\nN1*IM*PHAM VAN LONG*34*063755161~\nN3*2290 JACKSON ST~\n"
    assert ssns(edi) == ["063755161"]
    assert ssns(edi.replace("*34*", "*24*")) == []
    assert ssns(edi.replace("*34*", "*1*")) == []
    # (a party loop pasted on its own, no envelope or other segment before it)
    assert ssns("N1*IM*PHAM VAN LONG*34*063755161~\nN3*2290 JACKSON ST~\nN4*SAN FRANCISCO*CA*94109~") == ["063755161"]


def test_a_staff_lists_phone_after_the_rows_ssn():
    """An SSN's word with its own SSN after it names no more: the next number on the row is the next field's."""
    rows = (
        "1) Rosa Delgado – SSN 071-73-9747 – (206) 623-8645 – TB test done\n"
        "2) Brandon Miles, SSN: 815-26-8967, 614-496-7800, TB test pending\n"
    )
    assert phones_in(rows) == ["(206) 623-8645", "614-496-7800"]
    assert ssns(rows) == ["071-73-9747", "815-26-8967"]
    # (its word still claims a number its own SSN does not stand before, nor a second one in the SSN's shape)
    assert phones_in("Employee SSN – 614-496-7800 on file") == []
    assert ssns("SSN 512-45-6789, 512-45-6790") == ["512-45-6789", "512-45-6790"]
    assert phones_in("Juana Ruiz, SSN 612-45-6789, 612 45 6789, alta 2023") == []  # (the SSN again, a second way)


def test_ssn_shaped_part_numbers_under_a_sku_column():
    csv = "SKU,Description,Qty\n417-22-0938,Brass elbow 15mm,240\n512-08-1174,PTFE tape,1500\n"
    assert ssns(csv) == []
    assert ssns(csv.replace("SKU", "SSN")) == ["417-22-0938", "512-08-1174"]


@pytest.mark.parametrize(
    "text,want",
    [
        ("Tlf. 00 45 33 12 34 56", ["00 45 33 12 34 56"]),  # "00" and five pairs: no lottery line
        ("btw my number is 07911 123456", ["07911 123456"]),  # English "btw" is no Dutch VAT number
        ("Holiday Inn Express 020 7946 0958", ["020 7946 0958"]),
        ("Acme Ltd | VAT 123 4567 89 | Office 020 7946 0958", ["020 7946 0958"]),  # the VAT's number is between
        ("Kancelaria Weinberg, tel. 22-6284567", ["22-6284567"]),  # "ein" inside a word is no EIN
        ("Acme Trading Company\nT 0161 496 0000", ["0161 496 0000"]),  # "T" for telephone is no code letter
        ("Visite sur demande : 01 42 68 53 00", ["01 42 68 53 00"]),  # "sur demande": on request
        ("Tel (0161) 496 - 0000", ["(0161) 496 - 0000"]),  # a dash inside one number
        ("Tel. +49 30 1234 - 0", ["+49 30 1234 - 0"]),  # a switchboard's "- 0"
        ("Tel: 0161  496 0000", ["0161  496 0000"]),  # two spaces after an area code
        ("please  call  the  office  on  020  8771   3493  12  Main  Street", ["020  8771   3493"]),
        ("$GNGGA,083559.00,4807.03812,N,01131.91565,E,1,08,1.0,545.4,M,46.9,M,,*47", []),  # GPS minutes
    ],
)
def test_what_a_second_reader_found(text, want):
    assert phones_in(text) == want


def test_a_twelfth_writers_phone_words():
    assert phones_in("Hi po! Contact no. ko po 0918 234 5678. Salamat po!") == ["0918 234 5678"]  # Tagalog "po"
    assert phones_in("Para qualquer questão ligue-me: 912 654 321.") == ["912 654 321"]
    assert phones_in("Secrétariat : 26 12 34 56, GSM 621 345 678.") == ["26 12 34 56", "621 345 678"]
    assert phones_in("PO 4471 2290 18 approved") == []  # a purchase order, in capitals


def test_a_twelfth_writers_look_alikes():
    for text in (
        "Point retrait : Relais 69003-1174, ouvert 9h–19h",  # a pick-up point's code
        "Zip: 94107-2231",  # a US ZIP+4
        "Siniestro: 2025-004417 — perito asignado",  # an insurance claim
        "رقم الزيارة: ٢٥٠٤١١٠٠٣٢",  # a hospital visit number
        "Груз по накладной № 24-0611-5520 прибыл",  # a waybill after its "№"
        "Код товара по ТН ВЭД ЕАЭС: 8471 30 000 0",  # a customs code
    ):
        assert phones_in(text) == [], text


def test_a_time_zone_is_no_tax_code():
    assert phones_in("Support hours 9-5 MST 303-555-0143") == ["303-555-0143"]


def test_a_thirteenth_writers_look_alikes():
    for text in (
        "Historia clínica 2023-007215. TA 118/76",  # a record led by its year
        "Laborbefund, Auftragsnr. 2311-204-517, CRP 3,1 mg/l",
        "Sachnummer 0 986 452 061, Zeichnung 4711",  # a part number
        "Rute 310: billettnr. 5512 0937 41",  # a Norwegian ticket
        "Varukod 8517 62 00 90, tulldeklaration",  # a Swedish commodity code
        "commodity code 8471 30 00 00, value GBP 1,200",
        "Hóa đơn số 0000412, MST 0312345678.",  # a Vietnamese tax code
        "SSS 34-2345678-9, RDO 044",  # a Philippine social security number
        "Numéro d'entreprise 0457.123.456",  # a Belgian company number
        "فاتورة ضريبية 2024-0412",  # a tax invoice
    ):
        assert phones_in(text) == [], text


def test_a_fourteenth_writers_gateway_numbers():
    # a calling code without its "+" under a sender's or recipient's key (SMS gateways, webhooks)
    assert phones_in('{"to":"6281345678901","from":"SHOPKU"}') == ["6281345678901"]
    assert phones_in("MT submit dst=447911123456 dcs=0 len=88") == ["447911123456"]
    assert phones_in('"contacts":[{"wa_id":"4917612345678"}]') == ["4917612345678"]  # WhatsApp's id is the number
    assert phones_in("zalo send phone=84912345678 ok") == ["84912345678"]  # not Brazil's national 8491…
    # ...and a SIP address's user after a path's "/"
    assert phones_in("New Channel sofia/external/+34912345678@sip.carrier.example") == ["+34912345678"]
    # a key that names a phone beside its negative word; Indonesian "HP" (a mobile)
    assert phones_in('{"relais": "Lyon 3", "contact_relais": "04 72 11 22 33"}') == ["04 72 11 22 33"]
    assert phones_in("atas nama Budi Santoso, HP 0813-2345-6789, alamat Jl. Melati") == ["0813-2345-6789"]


def test_call_records_name_their_parties_numbers():
    # a call detail record's calling and called party, a calling code without its "+" (CDRs, switch logs, SIP
    # gateways' JSON)
    assert phones_in("calling_number=447911123456 called_number=442079460018 dur=63") == [
        "447911123456",
        "442079460018",
    ]
    assert phones_in('{"cli": "447911123456", "cdpn": "4930901820", "cause": 16}') == ["447911123456", "4930901820"]
    assert phones_in("callingPartyNumber: 4930901820") == ["4930901820"]
    # ...not after a key that names no party, nor a national-looking number with no such key
    assert phones_in("callId=447911123456 trunk=4") == []
    assert phones_in("calling_number=12345") == []


def test_a_german_msisdn_is_no_thirteen_digit_visa():
    # "4915112345678" passes Luhn and starts with a 4: under an MSISDN's key it is the number, not a card
    scanner = PiiScanner()
    for text in ('"msisdn": "4915112345678"', "MSISDN: 4915112345678", "msisdn=4915112345678"):
        assert [(f.type, f.text) for f in scanner.scan(text)] == [("PHONE", "4915112345678")], text
    # ...and in a modem's SMS listing it is no card (a 13-digit Visa is one only after a card's word)
    assert scanner.scan('+CMGL: 2,"REC UNREAD","4915112345678",,"24/05/14,08:00:02+08"') == []
    assert [f.type for f in scanner.scan("card=4915112345678")] == ["CREDIT_CARD"]
    assert [f.type for f in scanner.scan('"brand":"visa","number":"4915112345678"')] == ["CREDIT_CARD"]


def test_a_fourteenth_writers_look_alikes():
    for text in (
        '{"contact": "+919876543210", "created_at": 1733412822}',  # an epoch under a time key
        "ts=1733412822 level=info msg=started",
        "isbn,title\n0-306-40615-2,Handbook",  # an ISBN-10, its check digit a group of its own
        '{"order_id": "0478421806"}',
    ):
        assert phones_in(text) == [t for t in ("+919876543210",) if t in text], text


@pytest.mark.parametrize(
    "text,want",
    [
        ("ফোন: ০১৭১১-২৩৪৫৬৭", "০১৭১১-২৩৪৫৬৭"),  # Bengali digits and phone word (Bangladesh)
        ("โทร. ๐๘๑ ๒๓๔ ๕๖๗๘", "๐๘๑ ๒๓๔ ๕๖๗๘"),  # Thai digits
        ("ទូរស័ព្ទ ០១២ ៣៤៥ ៦៧៨", "០១២ ៣៤៥ ៦៧៨"),  # Khmer (Cambodia)
        ("ဖုန်း ၀၉ ၂၅၀ ၁၂၃ ၄၅၆", "၀၉ ၂၅၀ ၁၂၃ ၄၅၆"),  # Myanmar
        ("برای خرید فقط تماس: ۰۹۱۲۳۴۵۶۷۸۹", "۰۹۱۲۳۴۵۶۷۸۹"),  # Persian letters point at Iran
        ("موبائل: ۰۳۰۰۱۲۳۴۵۶۷ — ڈاکٹر", "۰۳۰۰۱۲۳۴۵۶۷"),  # Urdu's at Pakistan
        ("ბინა ქირავდება. დარეკეთ: 555 12 34 56", "555 12 34 56"),  # Georgian
        ("Машин зарна. Утас: 9911 2345", "9911 2345"),  # Mongolian
        ("رقم الجوال: 0501234567", "0501234567"),
    ],
)
def test_a_fifteenth_writers_scripts_and_digits(text, want):
    assert phones_in(text) == [want]


def test_a_fifteenth_writers_look_alikes():
    for text in (
        "رقم العقد: 3127 4486 02",  # an Arabic record's number: "رقم" alone is any number
        "تم تجديد هوية مقيم رقم 2398745610 بنجاح",
        "رقم السجل التجاري: 4030298173",
        "联系客服QQ：2847163095",  # a QQ account
        "ITIN супруга: 912-78-4410",  # a US taxpayer number
        "за номером договору 0412-5578-9021.",
        "बीजक नं.: ०८१/८२-०४५२१",  # a Nepali invoice
    ):
        assert phones_in(text) == [], text


def test_a_sixteenth_writers_official_numbers():
    for text in (
        "Bill number 812 447 3301\nBilling period 01 Jul",  # a bill's, a notice's, a group's number
        "Notice number: 02-4418-11827-3",
        "Member ID: W188427730   Group no. 0884127-10-001",
        "Polisnummer 18.8427.7301",
        "Medarbejder: Mads Kristensen, CPR 140582-2217",  # national and tax ids
        "Unique Taxpayer Reference (UTR): 84217 36592",
        "PAYER'S TIN: 94-3381276",
        "IRD number: 049-091-850",
        "Social insurance number: 046 454 286",
        "Numéro d'assurance sociale : 130 692 544",
        "Zaměstnanec: Petr Dvořák, rodné číslo 850614/4417",
        "Pacient: Mária Horváthová, r. č. 855412/4418",
        "Matricule CNAM : 7718-441827",
        "Banco de la Nación con el código 1011 y número de orden 781942330.",
        "Position tarifaire 8418.10.00.90 Réfrigérateurs",  # a four-part tariff code
        "Código de barras: 83640000002-6 61370048001-2 03018477210-3",  # a payment slip's fields
        "Patient's name: NGUYEN, THANH V   3 DOB 07 14 1982 M",  # a date of birth, spaced
        "18/09 AZUL LINHAS AEREAS 03/05 ........... 412,18",  # leader dots before an amount
        "SUNAT — Resolución de Determinación N° 023-003-0145821",  # a number sign and no phone word
    ):
        assert phones_in(text) == [], text
    assert phones_in("GSM 0478.12.34.56") == ["0478.12.34.56"]  # (a Belgian mobile, dotted like a tariff code)
    assert phones_in("Tel. 040 12 14 1982") == ["040 12 14 1982"]
    assert phones_in("Teléfono N° 01 4412233") == ["01 4412233"]
    # (a second reader's: a name or a word that is a record's only with its number word; a phone word first)
    for text, want in (
        ("Call Bill 415-555-0132", "415-555-0132"),
        ("Contact: Bill 212-555-0199", "212-555-0199"),
        ("WhatsApp group: 0917 123 4567", "0917 123 4567"),
        ("reachable_at: 415-555-0132", "415-555-0132"),  # (a time key takes an epoch, not a grouped number)
        ("Mobile: 07 14 1982", "07 14 1982"),
        ("للاستفسار عن رقم العقد جوال: 0551234567", "0551234567"),
        ("+ channel sofia/external/+34912345678@sip.carrier.example", "+34912345678"),
    ):
        assert phones_in(text) == [want], text
    for text in ("Engine: 150 hp 2012345678", "المؤلفون: 9781234567", "โทรทัศน์ รุ่น 0812345678"):
        assert phones_in(text) == [], text


def test_a_seventeenth_writers_chat_words():
    assert phones_in("Hi can deal at Tampines MRT tmr 7pm? My HP 9173 2208") == ["9173 2208"]  # (Singapore's "HP")
    assert phones_in("Me chama no zap (21) 99671-3042 que a gente combina") == ["(21) 99671-3042"]
    for text in ("Engine: 150 hp 2012345678", "HP LaserJet 1020 serial 1234567890"):  # (horsepower, a printer)
        assert phones_in(text) == [], text


def test_an_eighteenth_writers_scraped_pages():
    """A web page scraped without its layout glues a number to its labels; the labels named in
    ``phones._GLUED_LABELS`` / ``_GLUED_AFTER`` may touch it, nothing else (a part number after a word stays
    out, and a decimal is no number after a dot)."""
    assert phones_in("Via Roma 3, Amalfi\nTel.+39 089 871 220|Fax089 871 229|Cell.+39 347 118 2294\n") == [
        "+39 089 871 220",
        "089 871 229",
        "+39 347 118 2294",
    ]
    assert phones_in("Marktplatz 4 · 24103 KielTel.:0431 5566 21Fax:0431 5566 22E-Mail:post@example.de") == [
        "0431 5566 21",
        "0431 5566 22",
    ]
    assert phones_in("Atendimento 24hTelefone(11) 3051-4482WhatsApp(11) 99517-2290Urgência") == [
        "(11) 3051-4482",
        "(11) 99517-2290",
    ]
    assert phones_in("Γραφείο ΑθήναςΤηλ.210 33 18 441Fax210 33 18 442\n") == ["210 33 18 441", "210 33 18 442"]
    for text in ("ModelXR0431556621 in stock", "Serie Z0612345678Fax", "pi is 3.0431556621 roughly"):
        assert phones_in(text) == [], text


def test_an_eighteenth_writers_web_pages():
    # a middle dot between two numbers joins the second to the first, as "or" does
    assert phones_in("Fontanería Pérez\nC/ Mayor 3, 46001 Valencia\nTel. 963 51 22 08 · 650 441 287\n") == [
        "963 51 22 08",
        "650 441 287",
    ]
    assert phones_in("Sans frais : 1 888 432-7710\nTélécopieur : 418 643-2291") == ["1 888 432-7710", "418 643-2291"]
    assert phones_in("Linha grátis: 800 201 339") == ["800 201 339"]
    assert phones_in("FAX番号\u3000\u3000 06-6344-2219") == ["06-6344-2219"]  # (a fax's "番号" is a phone's)
    assert phones_in("电话：021-6288 4410 转 8023") == ["021-6288 4410 转 8023"]  # (an extension)
    for text in (
        "این ٹی این: 3318214-6 · ایس ٹی آر این: 3277876133418",  # Pakistani tax numbers
        "CUIT 30-71533288-9 · IIBB 0-7153328-1",  # an Argentine gross-income tax number
        "Код ЄДРПОУ 41827736 · ІПН 418277326514",
        "Matična številka: 6314417000",
        "AGB-code praktijk: 04-061122",
        "Numéro d'entreprise du Québec (NEQ) : 1171 4428 11",
        "Hersteller-Nr.: 0214-551-18",
        "CVR-nr. 38420117",
        "상품번호: 7714420583 · 매물번호 2231884410",
        "匯款帳號：0512-3301-8842",
        "เลขประจำตัวผู้เสียภาษี 0105561022714",
        "Sanduku la Posta 2210-80100, Mombasa",
        "immatriculée au RCS de Nantes sous le numéro 814 227 330",
        "Cédula jurídica: 3-101-552871",
        "Объявление № 2718830415 · 88 просмотров",
        "Do, 14.11. 19.30 Uhr: Lesung im Saal",
    ):
        assert phones_in(text) == [], text


def test_html_table_columns_name_their_values():
    """An HTML table's header cells name the values of their columns, as a CSV header does."""
    t = (
        "<table><tr><th>Name</th><th>Phone</th><th>SSN</th><th>Order</th></tr>\n"
        "<tr><td>Ann Lee</td><td>(602) 555-0144</td><td>526 90 1847</td><td>412 55 1234</td></tr></table>"
    )
    got = [(f.type, t[f.start : f.end]) for f in PiiScanner().scan(t)]
    assert ("US_SSN", "526 90 1847") in got and ("US_SSN", "412 55 1234") not in got, got


def test_a_second_ssn_joined_by_and():
    def ssns(t):
        return [t[f.start : f.end] for f in PiiScanner().scan(t) if f.type == "US_SSN"]

    # (not another id's number after "and", nor after an SSN whose word is far before it)
    assert ssns("SSN: 523-41-8876 and passport 512 45 6789") == ["523-41-8876"]
    assert ssns("the social security administration form, case 523-41-8876 and 541 07 2249") == ["523-41-8876"]

    assert ssns("Our SSNs: mine is 523-41-8876 and my husband's is 541 07 2249.") == ["523-41-8876", "541 07 2249"]
    assert ssns("SSN 512-45-6789 and order 412 55 1234") == ["512-45-6789"]
    assert ssns("SSN 512-45-6789. Member no. 412 55 1234") == ["512-45-6789"]


@pytest.mark.parametrize(
    "text,want",
    [
        # (a second reader's inputs for the eighteenth writer's rules: what must stay a phone number)
        ("Tél. 04 78 12 34 56 Hôtel Bellecour", ["04 78 12 34 56"]),  # (no "h" or "Uhr" unit after a number)
        ("Numero verde 800 123 456 h24", ["800 123 456"]),
        ("Tel. +48 22 123 45 67 godz. 8-16", ["+48 22 123 45 67"]),
        ("Tel. 030 1234567 Uhr", ["030 1234567"]),
        ("Vous pouvez nous joindre sous le numéro 01 42 68 53 00.", ["01 42 68 53 00"]),
        ("NDIS registered provider, call 1300 123 456", ["1300 123 456"]),
        ("Автор объявления 8 900 123 45 67", ["8 900 123 45 67"]),
        ("Tel 089 871 220Fax 089 871 229", ["089 871 220", "089 871 229"]),  # (a glued label is no code)
        ("Telefone(51) 3015-6076WhatsApp(51) 99438-2458", ["(51) 3015-6076", "(51) 99438-2458"]),
        # ...and what must not be
        ("(212) 555-0188 · 4 500 000 downloads", ["(212) 555-0188"]),  # (a count after a middle dot)
        ("Annulation sans frais jusqu'au 2 345 678", []),
        ("Model: TEL2079460958", []),  # (a capital label glued to digits, or a label inside a code)
        ("MOTEL+442079460958", []),
        ("XTel2079460958", []),
        ("AGB-code: 04-054321", []),
    ],
)
def test_what_a_second_reader_found_in_the_web_page_rules(text, want):
    assert phones_in(text) == want, text


def test_html_headers_stay_in_their_table():
    """A header row names the columns of its own table only, and a row of data cells under a row header is no
    header row (a second reader's inputs)."""

    def found(t):
        return [(f.type, t[f.start : f.end]) for f in PiiScanner().scan(t)]

    pad = "<p>" + "Shipping and returns are handled by our partner in Leipzig. " * 3 + "</p>"
    assert ("PHONE", "030 1234567") in found(
        "<table><tr><th>Order number</th></tr><tr><td>A-1</td></tr></table>"
        + pad
        + "<table><tr><td>Call us: 030 1234567</td></tr></table>"
    )
    assert (
        found(
            "<table><tr><th>Social Security Number</th></tr><tr><td>x</td></tr></table>"
            + pad
            + "<table><tr><td>Route</td><td>531 07 2249</td></tr></table>"
        )
        == []
    )
    rows = "<table><tr><th>Name</th><th>SSN</th></tr><tr><th>A</th><td>526 90 1847</td></tr>"
    rows += "<tr><th>B</th><td>Seat 531 07 2249</td></tr></table>"
    assert found(rows) == [("US_SSN", "526 90 1847")]


def test_an_open_html_header_row_is_read_to_the_next_row():
    """HTML5 leaves ``</tr>`` out: a header row ends at the next ``<tr>``, and its cells are its own (before, the
    4 KB after it were read as its cells for every header row: a second reader's 64 KB of open rows took 7-14x
    longer)."""
    from leash_cli.scanners.pii import _Headers

    t = "<tr><th>SSN<th>Phone\n<tr><td>531 07 2249<td>030 1234567\n" * 200
    h = _Headers(t)
    assert h.header_of(t.index("531")) == "ssn" and h.header_of(t.index("030")) == "phone"
    assert h.heads_html == {0: ["ssn", "phone"]}


def test_an_html_header_cell_may_hold_the_word_table():
    """A header cell's own text ("Timetable", "Table no.") is no table boundary."""
    from leash_cli.scanners.pii import _Headers

    t = "<table><tr><th>SSN</th><th>Timetable</th></tr><tr><td>526 90 1847</td><td>Mon</td></tr></table>"
    assert _Headers(t).header_of(t.index("526")) == "ssn"
    assert [(f.type, t[f.start : f.end]) for f in PiiScanner().scan(t)] == [("US_SSN", "526 90 1847")]


@pytest.mark.parametrize(
    "text,want",
    [
        # a house, suite or unit number before a bracketed area code is no part of the number (before, the run
        # "12 (415) 555-0132" failed validation whole and the number was lost, or "12. (1) 385 2217" passed)
        ("Suite 12 (415) 555-0132", ["(415) 555-0132"]),
        ("Unit 4. (02) 9876 5432", ["(02) 9876 5432"]),
        ("ul. Długa 12. (22) 628 40 12", ["(22) 628 40 12"]),
        (
            "1052 Budapest, Váci utca 12. (1) 385 2217",
            [],
        ),  # (no country for "(1) 385 2217": no number, not a wrong one)
        ("Mo-Fr 9-17 (22) 628 40 12", []),
        # ...while one digit before the bracket is a trunk or country prefix
        ("Звоните 8 (495) 123-45-67", ["8 (495) 123-45-67"]),
        ("Call 1 (800) 555-0199", ["1 (800) 555-0199"]),
        ("Arayın 0 (212) 345 67 89", ["0 (212) 345 67 89"]),
    ],
)
def test_a_house_number_before_a_bracketed_area_code(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the nineteenth writer's spoken and scheduled texts taught: transcripts, voicemails, dictations,
        # calendar invitations, IVR logs)
        # a short answer turn takes its meaning from the question it answers
        ("Agent: Could I have your customer number?\nCaller: Yes, it's 512-447-903.", []),
        ("[00:00:28] Ana: ¿Tiene a mano su número de contrato?\n[00:00:36] Luis: Sí, es el 833-910-653.", []),
        ("Speaker 1  00:31\nVotre numéro de client ?\nSpeaker 2  00:47\nOui, c’est le 6221024887.", []),
        ("상담원: 고객번호 알려주시겠어요?\n고객: 네, 632-600-372입니다.", []),
        ("佐藤: お客様番号をお願いできますか。\n田中: はい、6662365812です。", []),
        ("Agent: What's the best phone number to reach you?\nCaller: 020 7946 0018.", ["020 7946 0018"]),
        ("Speaker 1 (00:46): Best number to text updates to?\nSpeaker 2 (00:50): 3035550117.", ["3035550117"]),
        ("The number to call is 3035550117.", ["3035550117"]),
        # ...not a line that is no answer ("Not you? SMS BLOCK …" is no question the next line answers)
        ("Not you? SMS BLOCK 4471 to the registered number.\nAD-IRCTC: PNR 4523887109, Train 12951", []),
        # a number read out digit by digit after a phone word
        ("Voicemail: please call me back on 0 6 1 2 5 7 9 2 0 0, thanks.", ["0 6 1 2 5 7 9 2 0 0"]),
        ("Перезвоните мне, пожалуйста, по номеру 8 9 1 5 3 7 2 9 3 8 6. Спасибо.", ["8 9 1 5 3 7 2 9 3 8 6"]),
        ("Digits entered: 0 6 1 2 5 7 9 2 0 0", []),  # (no phone word: a list of digits)
        # an invitation's meeting id, conference id and password, in its language, and after an escaped line break
        ("DESCRIPTION:Einwahl: +43 1 2894 2233\\nKonferenz-ID: 01312870075\\nKennwort: 01995090", ["+43 1 2894 2233"]),
        ("Por teléfono: +51 1 113 2736\nID de reunión: 2167874195\nCódigo de acceso: 558120", ["+51 1 113 2736"]),
        ("Join by phone +254 20 5509011\\nMeeting ID: 9702858518\\nPasscode: 8119", ["+254 20 5509011"]),
        ("Next call Tue 10/14 at 11:00 CT, dial-in code 771 204 9981.", []),
        # a log line's key after the value says what it was
        ("2025-11-07T16:21:05Z call=xh736koq event=dtmf digits=2208971220 purpose=customer_no", []),
        # a case, a file, a request, a ticket
        ("Diktat für Akte 8307-953526. Termin zur mündlichen Verhandlung.", []),
        ("Dictation for file 9867-026864. Client reachable at (613) 555-0115.", ["(613) 555-0115"]),
        ("Jeg har oprettet sag 3739-456827. Du bliver ringet op.", []),
        ("Я создала заявку 6510-874391. Мастер свяжется с вами.", []),
        ("Dobrze, założyłam zgłoszenie 9877-999022.", []),
        ("Em đã tạo yêu cầu 1228-605504, kỹ thuật viên sẽ liên hệ.", []),
        ("Trả lời C để xác nhận. Mã 189-698-915", []),
        ("ยืนยันนัด ห้อง 3 รหัส 6291887891", []),
        # a number on file is still a phone number
        ("Please call the patient back; pharmacy on file (256) 238-2403.", ["(256) 238-2403"]),
        # a customer number's check part after a slash, a spaced day-month-year before a time
        ("Atsakykite TAIP. Nr. 906389/63", []),
        ("Příští porada: 21. 5. 2025 16:15, připojit se online.", []),
    ],
)
def test_what_spoken_and_scheduled_texts_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (a second reader's inputs for the nineteenth writer's rules: what must stay a phone number)
        ("Questions about your order?\nPhone: 0161 496 0000", ["0161 496 0000"]),  # (a label, not a speaker)
        ("Fragen zu Ihrem Vertrag?\nTelefon: 0711 1234567", ["0711 1234567"]),
        ("Questions about your account?\nCustomer Service: 1-800-555-0199", ["1-800-555-0199"]),
        ("A: What's the phone number on your account?\nB: It's (415) 555-0132.", ["(415) 555-0132"]),
        ("A: Which number is on the account?\nB: 0171 2345678.", ["0171 2345678"]),
        ("Agent: What is the callback number for this ticket?\nCaller: 212-555-0188", ["212-555-0188"]),
        ("Agent: Quel est le numéro de téléphone du compte ?\nClient : 06 12 34 56 78.", ["06 12 34 56 78"]),
        ("Customer: Is there a number I can ring?\nAgent: Yes: 0161 496 0000", ["0161 496 0000"]),
        ("Kunde: Welche Nummer hat die Hotline?\nAgent: 0800 1234567", ["0800 1234567"]),
        ("オペレーター：お客様のお電話番号をお願いできますか。\n田中：03-1234-5678", ["03-1234-5678"]),
        ("고객님 전화번호 알려주시겠어요?\n고객: 010-1234-5678", ["010-1234-5678"]),
        ("A: Chiamo per conto di Mario, a che numero posso richiamarla?\nB: 333 123 4567", ["333 123 4567"]),
        ('{"name": "Anna Weber", "phone": "030 1234567", "type": "customer"}', ["030 1234567"]),
        ("phone=07700900123 type=customer", ["07700900123"]),
        ("event=form_submit value=0171 2345678 field=customer_phone", ["0171 2345678"]),
        ("Tel: 022-26598888/99", ["022-26598888/99"]),
        ("Telefon: 0711 12345/6", ["0711 12345/6"]),
        ("Mọi yêu cầu xin liên hệ 0912 345 678", ["0912 345 678"]),
        ("Lost your access code? Call 0800 123 4567.", ["0800 123 4567"]),
        ("For your profile no call 020 7946 0958", ["020 7946 0958"]),
        ("Заявки: 8 (495) 123-45-67", ["8 (495) 123-45-67"]),
        ("Zgłoszenia: 22 123 45 67", ["22 123 45 67"]),
        ("Liên hệ chị Mã 0912 345 678", ["0912 345 678"]),
        (r"\phone{0171 2345678}", ["0171 2345678"]),  # (a LaTeX macro is no escaped line break)
        ("Tel.: 0049 (30) 1234567", ["0049 (30) 1234567"]),  # (an international prefix is no house number)
        ("Ph: 91 (22) 2659 8888", ["91 (22) 2659 8888"]),
        # ...and what must not be
        ("Your phone verification code is 4 8 2 9 1 7 3 5", []),
        ("A: Which phone model do you have?\nB: 2 0 2 3 1 1 2 4 5", []),
        ("A: Did you call us yesterday?\nB: Yes, at 10.30 about 4711 2345", []),
    ],
)
def test_what_a_second_reader_found_in_the_spoken_text_rules(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the twentieth writer's exports, records and interchange formats taught)
        # a query tool's box: the header over its rule line names the column
        (
            "+-----------+--------------+\n| NAME      | PHONE        |\n|-----------+--------------|\n"
            "| Emma      | 3068323232   |",
            ["3068323232"],
        ),
        ("  id   |  이름  |     전화\n-------+--------+-----------\n 30442 | 이수민 | 01039321851", ["01039321851"]),
        # columns that name a phone as databases and call records write them
        ("MemberID,HomePhone\n9918240,2168992536", ["2168992536"]),
        ("seq|dur_s|a_number|b_number\n00918827|128|2348021232380|447417509145", ["2348021232380", "447417509145"]),
        (
            '"accountcode","src","dst","lastdata","billsec"\n"","4410","01113035344876","PJSIP/trunk,60",32',
            ["01113035344876"],
        ),
        # a currency that starts the next cell's amount, a VAT id's cell before, SAP's TELF1
        ("Naam\tTelefoon\tBedrag\nSterk\t010 191 8338\t€ 640,00", ["010 191 8338"]),
        ("BTW\tTelefoon\nNL859012784B01\t010 191 8338", ["010 191 8338"]),
        ("NAME1 Bernasconi Luca  TELF1 022 126 25 84  TELFX 021 234 31 83", ["022 126 25 84", "021 234 31 83"]),
        # a phone word before "on the account"; a preposition in capitals
        ("Customer's real mobile on the account is 07400 434238, email", ["07400 434238"]),
        ("NTE|1||CRITICAL VALUE CALLED TO DR. LEBLANC AT 403-215-0984 BY S.MARTIN", ["403-215-0984"]),
        # EDIFACT, a UPI address, labels glued to a number, a calling code in groups, an extension word
        ("CTA+PD+:Frau Nadine Kessler'\nCOM+004930123225:TE'", ["004930123225"]),
        ('{"method":"upi","vpa":"8123242483@ybl"}', ["8123242483"]),
        (
            "SIRET 441 882 019 00024Tél.01 28 41 70 04Port.06 12 50 92 23contact@x.fr",
            ["01 28 41 70 04", "06 12 50 92 23"],
        ),
        ('"Name","MobilePhone"\n"Magdalena","48 517 437 946"', ["48 517 437 946"]),
        ('"Name","OfficePhone"\n"Tomasz","12 348 25 02 wewn. 214"', ["12 348 25 02 wewn. 214"]),
        ("TEL;TYPE=WORK:+86 10 1234 9615 内线 8021", ["+86 10 1234 9615 内线 8021"]),
        # ...and what is no phone there
        ('"평점":{"doubleValue":4.87},"사업자번호":{"stringValue":"441-88-20144"}', []),  # a typed value's key
        ('{"phone": {"S": "4155550132"}, "order": {"S": "4155550133"}}', ["4155550132"]),
        ('<cbc:EndpointID schemeID="0208">0459183427</cbc:EndpointID>', []),  # an id's element
        (
            "MSH|^~\\&|LAB|UKSH\nPID|1||4711||Muster^Max||19800101|M|||Hauptstr. 1^^Kiel^^24103^D||030 755366^PRN^PH~"
            "01512 3452653^PRN^CP||DE|M|EV|8812044711\nPV1|1|O",
            ["030 755366", "01512 3452653"],  # (not the next field's id: the code "CP" is its own field's)
        ),
        (
            "MSH|^~\\&|LAB\nPID|1||4711||Muster^Max||19800101|M|||Hauptstr. 1^^Kiel^^24103^D||030 755366^PRN^PH",
            ["030 755366"],
        ),
        ("NIT/CC|Nombre\n900441882-1|Distribuidora Andina", []),  # a Colombian NIT's check digit
        ("error  phone: too few digits   work_phone  (312) 555-01\n", []),  # a number cut short
        ("Swish-nummer kopplat: 123 441 88 20 (företag)", []),
        ("2231 Mission St^Apt 4^San Francisco^CA^94110-1847^USA", []),  # a ZIP+4 after its state
    ],
)
def test_what_exports_and_interchange_formats_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the twenty-first writer's telecom, mobile-device and IoT text taught)
        # a call's row in a bill or a log: a time before the number, a duration or a charge after it
        # (a bill's or a log's calls are a table: one line alone is no call's row)
        (
            "20.05.2024 07:37:06  Исх.  79428906223  Тверь  283 сек  0,07 ₽\n"
            "11.05.2024 09:58:07  Вх.  79418026315  Москва  762 сек  3,10 ₽",
            ["79428906223", "79418026315"],
        ),
        ("20.05.2024 07:37:06  Исх.  79428906223  Тверь  283 сек  0,07 ₽", []),
        (
            "2024-04-14 11:53:46  被叫  15616631999  杭州  国内漫游  1457秒  0.86\n"
            "2024-04-22 18:48:02  被叫  17394280302  上海  国内长途  1219秒  0.63",
            ["15616631999", "17394280302"],
        ),
        (
            "2024/08/12 16:16,27760103926,105,Inbound,Answered,00:00:01\n"
            "2024/08/24 17:17,27741004021,104,Inbound,Unanswered,00:00:06,00:26",
            ["27760103926", "27741004021"],
        ),
        (
            "08 oct.  11 h 52  Ottawa ON  2166796668  30 min  Interurbain 0,35 $\n"
            "29 oct.  19 h 58  Sherbrooke QC  5193897964  4 min  Incl.",
            ["2166796668", "5193897964"],
        ),
        (
            "07/08  16:02  SAO PAULO SP  (13) 3680-1982      Longa dist. (VC3)  08:33  R$ 0,54\n"
            "14/08  08:42  SAO PAULO SP  (17) 93159-9205     Longa dist. (VC3)  01:01  R$ 2,72",
            ["(13) 3680-1982", "(17) 93159-9205"],
        ),
        (
            "2024-05-01 12:31:07 INFO processed batch 4155550123 in 2 s\n2024-05-01 12:31:09 INFO batch 4155550124 in 3 s",
            [],
        ),
        # keys of modems, SIP proxies, Android's telephony dumps, call-record attributes in Portuguese
        ("Numbers  |               own: 420605649338", ["420605649338"]),
        ("new INVITE from 185.87.103.159:5060 fU=40793438413 rU=0217770190 ci=1c7e", ["40793438413", "0217770190"]),
        ('"Imei": "359254069444974", "PhoneNumber": "15817908135"', ["15817908135"]),
        ("mRingingCallState=1 mCallIncomingNumber=5512911603501", ["5512911603501"]),
        ('<b seq="44714" origem="2018" destino="5511961234323"/>', ["5511961234323"]),
        # a forwarding code before "#", a modem's dial command, a list's numbers
        ("Forward everything:       **21*+17204054903#   then press Call", ["+17204054903"]),
        ("> ATD0630600256;\nOK", ["0630600256"]),
        (
            "Numbers to be ported:\n  1. 510-520-8921   Main line\n  2. 510-520-8922   Line 2",
            ["510-520-8921", "510-520-8922"],
        ),
        ("Kostenstelle 4117\n  2. 079 385 89 27    ICCID 8941014030665098271", ["079 385 89 27"]),
        ("・代表番号 03-2343-9868 への着信 → ハントパイロット 8000", ["03-2343-9868"]),
        # ...and what is no phone there
        ("ハントリスト：受付（内線 8001-8004）→ 総務（8010-8015）", []),  # ranges of extensions
        (
            "  • +45 33 76 20 95  (SIM-kortnr. 16070001)\n  • 39 86 16 97  (SIM-kortnr. 40162922)",
            ["+45 33 76 20 95", "39 86 16 97"],
        ),
        ("Paybill 888880 akaunti 0110334492 (KPLC)", []),
        ("Mã số thuế: 0314417720", []),
        ("Numéro client : 0488-441-877 (référence figurant sur ma facture)", []),
        ("ЕГН: 8812044417", []),
        ("D-U-N-S:             08-441-7720", []),
        ("Isikukood: 48907140441\nMobiilinumber: 5269 7382", ["5269 7382"]),
        ("E079474917551503  9867,135  5592,063  G0203140088821150  6866,098  26-02-2024 00:17", []),
        ("[2024-05-30 08:16:03,902] INFO ivr call_id=7719204 caller=48600405831 dur=12s", ["48600405831"]),
    ],
)
def test_what_telecom_and_device_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text",
    [
        # (a second reader of writers T's and U's rules: what they made of numbers that are no phones)
        "Transfer from: 4471229031 to: 2145550188 amount 500",  # a sender's or recipient's key is no phone word
        "Shipment to: 3035550143",
        "Origen: 2145550188",
        "ou=4155550123,dc=example,dc=com",  # an LDAP name
        '{"src": 4155550123, "dst": 2145550188}',
        "12:18 Order 4155550123 shipped, total $45.00",  # one line with a time is no call's row
        "09:00 Kundennummer 0171 2345678 Betrag 12,00 €",
        "Shift 09:00 employee 4155550123 until 17:30",
        '{"smartphone_sales": 4155550123}',  # a key with a phone word inside another word
        '{"iPhoneUnitsSold": 2145550188}',
        '"phoneModelNumber": "2145550188"',
        '"PhoneSerial": "4155550123"',
        "src,dst,bytes\n3232235777,3232235778,1500",  # addresses stored as integers (no call record's columns)
        "nome,ano,valor\nJoão,2145550188,12",  # Portuguese "ano" (year) is no "a_no"
        "Order ID\tdestino\tpeso\n1\t3035550143\t5",
        "Kundennummer:\n  1. 0171 2345678",  # a list's item number is no number of the word's own
        "Asphalt #: 2145550188",
        "01113035344876",  # 011 glued to a number, with no phone word
    ],
)
def test_what_a_second_reader_of_the_telecom_rules_found_no_phones(text):
    assert phones_in(text) == [], text


@pytest.mark.parametrize(
    "text,want",
    [
        ("Tel: 2234-2256", ["2234-2256"]),  # four and four digits after a phone word: a number, not a range
        ("Call 6123/6145", ["6123/6145"]),
        ("Contact #:  (254) 272-1958   Alt #: 2544141433", ["(254) 272-1958", "2544141433"]),
        ('"mobilePhone": "2145550188"', ["2145550188"]),
        ("voice_mail.number.1 = 01613926220", ["01613926220"]),
    ],
)
def test_what_a_second_reader_of_the_telecom_rules_kept(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the twenty-fifth writer's travel, logistics and hospitality text taught)
        # a reservation system's passenger tag glued after the number
        ("  7 APM +44 7911 123456/P2\n  8 APE j.doe@example.com", ["+44 7911 123456"]),
        # a flight segment's departure and arrival times after its date are no number
        ("  2  BA 456 Y 14MAR 3 LHRCDG HK1  0915 1130\n  3  BA 461 Y 21MAR 5 CDGLHR HK1  1740 1805", []),
        ("Tel 0915 1130 22", ["0915 1130 22"]),
        # a document's number and its date
        ("Factură seria CJ nr. 0512 / 03.04.2025", []),
        # Vietnam's premium-rate hotlines are written without the trunk prefix
        ("Đặt vé qua tổng đài 1900 6868 (8:00–22:00)", ["1900 6868"]),
        # a loyalty programme's, a ticket's, a passport's, a customs tariff's and a document's number
        ("Réservation AF1680\nFlying Blue : 2048 117 653\nSiège 14C", []),
        ("VALIDATING CARRIER AA  TKT NUMBER 001 2406889478", []),
        ("Biljettnummer 0448 2139 0771", []),
        ("Reisepass 4471 120 933", []),
        ("Goederencode: 6109 10 00 00", []),
        ("Plaćanje: poziv na broj 448-2024\nKontakt: +385 20 418 227", ["+385 20 418 227"]),
        ("Číslo dokladu: 4482139077", []),
        ("Пассажир: СМИРНОВ А.И. · паспорт РФ 45 08 448213\nТелефон: +7 916 482-33-17", ["+7 916 482-33-17"]),
        # an id's own label alone on its line; a code's letters after a negative word's label
        ("Nowa rezerwacja (Hostelworld) — Hostel Rynek Kraków\nID: 7740-118329\nGość: Anna Nowak", []),
        ("Flyg SK 1415 ARN–CPH\nEuroBonus-nummer: EBG 612 473 889\nMobilnummer: 070-412 38 96", ["070-412 38 96"]),
        ("Kontakt: GSM 0612 473 889", ["0612 473 889"]),
        ("Adquirente: NIF 224 815 600", []),
        # an Indian mobile read only as the English-speaking fallback in another language's text, no phone word
        ("Gość: Lucas Martin (FR) · 3 noce · zaliczka pobrana · 7740-118329", []),
        ("Call me on 98450 12345", ["98450 12345"]),
        # a form's placeholder of zeros
        ("Fax: 030 / 0000 0000 (keine Angabe)", []),
        # the country of an international number followed by a bracket reads the national numbers beside it
        ("مرحبا\nCall +57 601 2344150 (24/7).\nDirect: 321 1283264", ["+57 601 2344150", "321 1283264"]),
        # Spanish words hint at Spanish-speaking countries even beside a French-looking accent
        ("Organiza estos contactos por ciudad.\n- Andrés (Bogotá) (601) 122 4441", ["(601) 122 4441"]),
        # a North American toll-free number written with a space and then a dash after the trunk's 1, as Canada writes
        # them; without the 1 that grouping needs a phone word, as before, but after one of Quebec's area codes
        ("Renseignements : 1 877 394-2210", ["1 877 394-2210"]),
        ("Info : 312 398-1234", []),
        ("Info : 514 398-1234", ["514 398-1234"]),
    ],
)
def test_what_travel_logistics_and_hospitality_text_taught(text, want):
    assert phones_in(text) == want, text


def test_a_report_title_over_an_aligned_table_is_no_row_of_it():
    # a pick list's title shares the first column and one more with the header by chance; the SKU column's numbers
    # are no phones (a header-less key-value block above a row keeps its own reading)
    t = (
        "PICK LIST  WV-DE-2025-118330   Wave 03   Zone A   Picker: #0522\n"
        "Line  Location     SKU              Qty  Lot          Exp\n"
        "1     A-01-02-03   4006381 333931   12   L2501A       2026-03\n"
        "2     A-02-11-01   0194252 721346    2   L2501C       2026-05\n"
    )
    assert phones_in(t) == []


@pytest.mark.parametrize(
    "text,want",
    [
        # (what a second reader of the travel rules found: each rule's reach held to what it was written for)
        ("Ravi Kumar, head of operations, 98765 43210", ["98765 43210"]),  # an Indian mobile in fives, in English
        ("Do me a favour and ping Priya on 98765 43210", ["98765 43210"]),
        ("Support 1800 126 622", ["1800 126 622"]),  # Australia's toll-free number, not an Indian one grouped oddly
        ("Company: IBM 0171 1234567", ["0171 1234567"]),  # a name after a label that names no number
        ("Room: VIP 020 7946 0958", ["020 7946 0958"]),
        ("Arrive HKG 12JUN, hotel front desk phone 2123 1845", ["2123 1845"]),  # a phone word before two "times"
        ("The shipment weighed 212 345-6789 grams in total.", []),
        ("Scores: 312 555-1234", []),
    ],
)
def test_what_a_second_reader_of_the_travel_rules_found(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the twenty-sixth writer's public-sector, school and health-administration text taught)
        ("Bearbeitungsnummer 0417 2203 8815 09 – bitte bei Rückfragen angeben.", []),
        ("matricula,nome,celular\n2024100123,Beatriz Lima,(11) 98765-4321", ["(11) 98765-4321"]),
        ("Žadatel: Petr Dvořák, r.č. 780312/4417\nKontakt: +420 602 118 447", ["+420 602 118 447"]),
        ("TC Kimlik No: 12345678950\nCep telefonu: 0532 412 88 19", ["0532 412 88 19"]),
        ("Asmens kodas: 48504120215\nTelefonas: +370 612 34567", ["+370 612 34567"]),
        ("Kennitala: 120485-1189\nSími: +354 611 1234", ["+354 611 1234"]),
        ("N.º de identificação civil: 12345678 9 ZZ1", []),
        ("Geschäftsnummer und Kassenzeichen 0311 1187 2044 angeben.", []),
        ("Prescriptor: n.º colegiado 28/1187204", []),
        ("Пацієнт: декларація № 0311-1187-2044", []),
        ("OMB No. 0960-0623", []),
        ("Ondernemingsnummer werkgever: 0118.720.447", []),
        # a North American number beside one written with its +1; a national number beside an international one
        # written after its 00
        ("Coordonnées : 514 982-3437 / cellulaire +1 438 555 0172", ["514 982-3437", "+1 438 555 0172"]),
        (
            "Diretora: ana.pires@escola.pt / 218 118 720\nEmergência: 00351 96 118 7204",
            ["218 118 720", "00351 96 118 7204"],
        ),
    ],
)
def test_what_public_sector_and_school_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what a second reader of the public-sector rules found: each rule's reach held to what it was written for)
        ("Сот. № 8 912 345 67 89", ["8 912 345 67 89"]),  # "№" after a phone word of its own
        ("Tel.: +351 21 345 6789. Marcações no 912 345 678", ["+351 21 345 6789", "912 345 678"]),
        ("Telefone para identificação: 912 345 678", ["912 345 678"]),  # an id word after a phone word
        ("Call omb 202-395-3080", ["202-395-3080"]),
        ("OMB Control Number 0938-1051", []),
        ("Support: +1 (212) 736-5000\nINFO request 6174821930", ["+1 (212) 736-5000"]),  # ten digits: an id as often
        ("Factura 0034912345678, importe 912 345 678", []),  # an invoice's id gives no country
        (
            "".join(f"Record {i}: 0012345{i:02d}\n" for i in range(20))
            + "Clínica: +351 21 148 9984 · Urgências: 938 853 587",
            ["+351 21 148 9984", "938 853 587"],  # (zero-padded ids do not crowd the real number out of the look)
        ),
    ],
)
def test_what_a_second_reader_of_the_public_sector_rules_found(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the twenty-seventh writer's insurance, property and vehicle text taught)
        ("Agent: Can you confirm the phone number on the account?\nCustomer: (628) 822-7909.", ["(628) 822-7909"]),
        ("Oggetto: denuncia sinistro polizza RCA n. 380012774", []),
        ("Tryggingarnúmer: 8812-4410", []),
        ("Energielabel woning – Registratienummer 0412-8877-1203-44", []),
        ("Valuación fiscal: $ 41.208.877 – Partida ABL 4412088-07", []),
        ("Номер бланка 0004412, код агента 12-0887", []),
        ("Klient: polisa 901-8877-412, tel. +48609915099", ["+48609915099"]),
        ("Kundenummer 441208877, AutoPASS-brikke 4412 0887 12", []),
    ],
)
def test_what_insurance_property_and_vehicle_text_taught(text, want):
    assert phones_in(text) == want, text


def test_a_key_split_over_two_lines_still_names_its_number():
    # (a speaker's label takes no negative word from the line above; a number word's label does)
    assert phones_in("Invoice\nNumber: 0612 345 678") == []


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the twenty-eighth writer's HR, recruiting and payroll text taught)
        ("Bristol BS7 8AA\n07400 126230 | oliver@example.com", ["07400 126230"]),  # a postcode ends the line above
        ("Bewerber-ID;E-Mail;Telefon\nB-24-0771;deniz@example.de;01512.3453189", ["01512.3453189"]),
        ("Timeliste uke 23 – Avdeling Lager\nLeder: Hans Eriksen, 40 61 23 72", ["40 61 23 72"]),
        ("Row 52  EMP10911  A/c 00112233445566  IFSC SBIN0004321", []),
        ("SSS ER No.: 03-9123456-7-000   PhilHealth PEN: 001234567890", []),
    ],
)
def test_what_hr_and_payroll_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what a second reader of the insurance and payroll rules found: each rule's reach held to what it was written
        # for -- "A/c" as a word of its own, a phone word's compound, an answer under a question only, a German mobile's
        # prefix only, a VAT id's country on the line above)
        ("A/C Repair: (602) 555-0143", ["(602) 555-0143"]),
        ("Casa/Celular: 0991 234 567", ["0991 234 567"]),
        ("Telefon-Bestellung: 030 12345678", ["030 12345678"]),
        ("Your order number\nis 0612 345 678", []),
        ("Order no.\nCustomer: (628) 822-7909", []),
        ("N° police municipale : 04 93 12 34 56", ["04 93 12 34 56"]),
        ("Call RCA (212) 930-4000", ["(212) 930-4000"]),
        ("lon=01131.000000 lat=04807.038247", []),
        ("VAT: BE\n0123.456.749", []),
        ("Informes anuales 2019-2023", []),
    ],
)
def test_what_a_second_reader_of_the_insurance_and_payroll_rules_found(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the twenty-ninth writer's utilities, field-service, construction and farm text taught)
        ("고객번호 0118220741 · 계약종별 주택용(저압) · 계기번호 22-0418827", []),
        ("고객번호,계기번호,검침일\n0118220741,22-0418827,2024-06-15", []),
        ("停電範圍：福科路118號至220號（電號 07-41-2207-18-8 等用戶）", []),
        ("不动产权证号 浙(2021)杭州市不动产权第0188220号", []),
        ("الاستهلاك 212 ك.و.س · رقم الإيصال 0441-2207", []),
        ("कृषि उपज मंडी समिति — अनुबंध पर्ची क्रमांक 0441/22071", []),
        ("Präqualifikation PQ-Nr. 010.044172, Freistellung", []),
        ("Nachzahlung 412,77 € (Buchungsnr. 0441-7728-12)", []),
        ("Kundenr. 5512078 · Målernr. 30208874 · Aflæst 2.118 kWh", []),
        ("Lieferantennr. 04417   Betriebsnr. (HIT) 09 777 044 1772", []),
        ("Fernwärme · Abnahmestelle 4417-0009", []),
        ("     46,000  St   712,00    32.752,00\n04.01.0120  Druckprobe nach DVGW", []),
        ("Ablesung 28.03.2024\nHT: 012 018.7 kWh   NT: 008 441.2 kWh", []),
        ('Service address: Unit 4   Meter 5/8" #61377204, reading 0418 277 gal', []),
        ("Cell: 082 418 3307\nMeter no. 04104417882   Token entered", ["082 418 3307"]),
        ("Substation MNP-11. Prepaid meters: 0410 4417 882.", []),
        ("Point de livraison (PDL/PRM) : 09 124 417 728 305 — compteur Linky", []),
        ("Servicio — No. de servicio (RPU) 382 190 664 015\nDomicilio", []),
        ("ul. Długa 18 m. 4, 31-147 Kraków · Nr klienta 4017722083", []),
        ("Biuro Obsługi Klienta 12 261 43 00", ["12 261 43 00"]),
        ("Vinohradská 118, 120 00 Praha 2 · Zákaznické číslo 8801229437", []),
        ("RAČUN št. 24-1182207 · Datum 04.03.2024", []),
        ("Кадастровый номер участка 03-047-118-220\nКонтактное лицо", []),
        ("Codice catasto impianti (CURIT) 4417728301177 — PDR 00881204417728\n", []),
        ("PDR;Matricola;Data lettura\n00881204417728;44177283;31/01/2024", []),
        ("nascita 18/06/2024\nModello 4 n. 0441772/2024 — Macello", []),
        ("Fringe paid to plan: IBEW Local 82 H&W, plan no. 501-3317-02.", []),
        ('Concrete: 212 CY 4000 psi, tickets 88412-88439, slump 4.5"', []),
        ("MPRN: 7314482906   Supply no. top line 01 801 100\nRemoved", []),
        (
            "Pour nous joindre : 1 800 790-2424 ou, pour les clients d'affaires, 514 385-7252.",
            ["1 800 790-2424", "514 385-7252"],
        ),
        ("Apoio ao cliente 220 441 772 · Avarias 800 506 506", ["220 441 772", "800 506 506"]),
        ("Product: FTTH 1G/1G + voice (port TN (815) 434-0077 from Frontier", ["(815) 434-0077"]),
        (
            "Loan: $27,950 / 25 yr / 3.99% APR, ACH from routing 063107513 acct 1100448921\n"
            "Installer: Treasure Coast Solar, FL license CVC57112, (772) 879-1406",
            ["(772) 879-1406"],
        ),
        # (a number word's compound whose first part names a phone is the phone's)
        ("Rufnummer: 0441 772 2083", ["0441 772 2083"]),
        ("Gratisnummer 0800 112 247", ["0800 112 247"]),
        ("Festnetznummer 0441 772208", ["0441 772208"]),
        ("महाराष्ट्र — अधिक माहितीसाठी संपर्क क्रमांक ०२० २५५० १२३४", ["०२० २५५० १२३४"]),
    ],
)
def test_what_utilities_field_service_and_farm_text_taught(text, want):
    assert phones_in(text) == want, text


def test_an_undashed_ssn_under_dashed_ones_in_a_fixed_width_table():
    text = (
        "(1) NAME AND INDIVIDUAL IDENTIFYING NUMBER | (4) CLASS | TOTAL\n"
        "Pham, Kevin           201-19-0857   Equip. Oper.   | 39.0\n"
        "Bright, Shawna L.     410274011  Apprentice 3      | 40.0\n"
    )
    found = [text[f.start : f.end] for f in PiiScanner().scan(text) if f.type == "US_SSN"]
    assert found == ["201-19-0857", "410274011"]
    # (not in a delimited row: its header names the column)
    rows = '10532,"Lin",704-62-5230,205320608,3266984864\n53876,"Rahul",588321751,191575952,44424688493\n'
    assert "191575952" not in [rows[f.start : f.end] for f in PiiScanner().scan(rows)]


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the thirtieth writer's security-operations, fraud and trust-and-safety text taught)
        (
            "Kommunikation: Krisenstab unter +43 316 656 695-0, Bereitschaft IT 0664 / 190 00 95.",
            ["+43 316 656 695-0", "0664 / 190 00 95"],
        ),
        ("Son numéro : 0475 46 58 80. Pouvez-vous bloquer ? Numéro de client : 1284-5502-71.", ["0475 46 58 80"]),
        ("| Kiinteistötunnus | 91-17-56-12 | |", []),
        ("Ikiteisminio tyrimo Nr. 01-1-04417-24\nTyrėjas: V. Petrauskas", []),
        ("Pak mi volali z +420 604 017 799. Jsem na 603 120 582.", ["+420 604 017 799", "603 120 582"]),
        ("[09:13] Bence: TAJ 044 187 292, adóazonosító 8412345678", []),
        (
            "Informacijski pooblaščenec je bil obveščen. Za vprašanja: 080 14 68 ali dpo@trgovina-primer.si.",
            ["080 14 68"],
        ),
        ("Расчётный счёт: 40817810099910004312, БИК 044525225, корр. счёт", []),
        ("رقمي: 054 869 0335، وهاتف المكتب 011 250 5869 تحويلة 318.", ["054 869 0335", "011 250 5869 تحويلة 318"]),
        ("詐欺師の折返し番号：050-9736-8013\n振込先", ["050-9736-8013"]),
        ("เบอร์ของผม 087-490-6551 เบอร์ออฟฟิศ 02-176-8452 ต่อ 2231\n", ["087-490-6551", "02-176-8452 ต่อ 2231"]),
        ('Isi: "Transaksi di luar aplikasi saja, WA 0878-0576-0905, email', ["0878-0576-0905"]),
        (
            "Ang number ko ay 0917 066 3102, opisina (02) 8999 9987 loc. 214.",
            ["0917 066 3102", "(02) 8999 9987 loc. 214"],
        ),
        (
            "  4654127934788490|09|26|***|Harold Jensen|1184 Pine St|Duluth|MN|55802|2183157490|hj@example.net",
            ["2183157490"],
        ),
        ("1715856023.004415 Ch1o8Qq2nRt 53 udp login.microsoftonline.com A NOERROR 0 300 20.190.159[.]2", []),
        # (what a number's own words keep: a phone's compound, a customer's answer under a question, a record's key)
        ("puhelinnumero 040 123 4567", ["040 123 4567"]),
        ("¿Me confirma su nuevo número?\nCliente: Es el 3334904778", ["3334904778"]),
        (
            '{"cliente_id": 88213,\n "telefono": "+52 81 4941 5876",\n "telefono_oficina": "81-6683-6246"}',
            ["+52 81 4941 5876", "81-6683-6246"],
        ),
    ],
)
def test_what_security_operations_and_fraud_text_taught(text, want):
    assert phones_in(text) == want, text


def test_a_card_number_is_written_from_a_group_of_four():
    # (a case's date, time and sequence, sixteen digits that pass Luhn with a Mastercard prefix, is no card)
    assert PiiScanner().scan("Vorgangsnummer 230219-1630-028114.") == []
    text = "Karte 5300 7215 4431 8626 belastet"
    assert [text[f.start : f.end] for f in PiiScanner().scan(text)] == ["5300 7215 4431 8626"]


@pytest.mark.parametrize(
    "text,want",
    [
        # (what a second reader of the utilities and security-operations rules found: each rule held to what it was
        # written for -- a record's compound only, meter and customer words unless a phone word is near, supply
        # points' abbreviations in capitals only, utilities' units as written, a state and ZIP not under a header)
        ("Tlfnr.: 20 12 34 56", ["20 12 34 56"]),
        ("Doorkiesnummer: 020-5551234", ["020-5551234"]),
        ("Notdienstnummer: 0171 2345678", ["0171 2345678"]),
        ("Huvudnummer: 08-555 123 45", ["08-555 123 45"]),
        ("Työnumero 050 987 6543, kotinumero 09 876 5432", ["050 987 6543", "09 876 5432"]),
        ("Call for tickets: 020 7946 0958", ["020 7946 0958"]),
        ("Numero verde guasti contatore 800 900 800", ["800 900 800"]),
        ("Dépannage compteur : 09 72 67 50 75", ["09 72 67 50 75"]),
        ("Hotel Taj: 0522 2711000", ["0522 2711000"]),
        ("Call Mike's PDR 214-555-0199 for hail damage.", ["214-555-0199"]),
        ("Nazovite nas zbog računa: 01 4567 890", ["01 4567 890"]),
        ("Interesados en el lote: 55 1234 5678", ["55 1234 5678"]),
        ("Mi contador 55 2345 6789 me ayuda con la declaración", ["55 2345 6789"]),
        ("Volejte na zákaznické číslo 800 123 456", ["800 123 456"]),
        ("Appelez notre service client, numéro 01 23 45 67 89", ["01 23 45 67 89"]),
        ("Atención al cliente número 900 123 456", ["900 123 456"]),
        ("Ligue para o número do cliente 11 98765-4321", ["11 98765-4321"]),
        ("दूरभाष क्रमांक: 011-23456789", ["011-23456789"]),
        ("Hof Müller, Tel. privat 07071 123456, Betrieb 07071 654321", ["07071 123456", "07071 654321"]),
        ("Call 0800 123 4567 Gal", ["0800 123 4567"]),
        ("Ansprechpartner Netz: 0711 289 47110 KVA-Anlage", ["0711 289 47110"]),
        ("Bereitschaft 0700 - 1900 Uhr", []),
        ("provider_name,city,state,zip,npi\nLakeside Clinic,Duluth,MN,55802,2183157493\n", []),
        ("Contact SOC 020 7946 0958[.] done", ["020 7946 0958"]),
        ("للاستفسار اتصل على رقم الاشتراك 0501234567", ["0501234567"]),
    ],
)
def test_what_a_second_reader_of_the_utilities_and_security_rules_found(text, want):
    assert phones_in(text) == want, text


def test_what_a_second_reader_found_in_the_card_ssn_and_header_rules():
    scan = PiiScanner().scan
    # (a card's word before it lifts the group-of-four rule)
    for text, card in (
        ("PAN 541333 0089604111 declined", "541333 0089604111"),
        ("Kartennummer: 54133300 89604111", "54133300 89604111"),
        ("Amex 378282 246310005", "378282 246310005"),
    ):
        assert [text[f.start : f.end] for f in scan(text) if f.type == "CREDIT_CARD"] == [card], text
    # (an SSN above must be one, under a word of SSNs: not a specimen, not an invoice's part numbers)
    for text in (
        "A-100       123-45-6789   3\nB-200       234567891     5",
        "Invoice items:\n  Widget    412-55-1234   x3\n  Gadget    512345678     x5",
    ):
        assert "US_SSN" not in [f.type for f in scan(text) if text[f.start : f.end].isdigit()], text
    # (a header's date inside a column name is no account number: the CSV's header still names the SSN column)
    text = "name,ssn,balance_20240131\nJohn Smith,123456789,500.00\nMary Jones,234567891,125.10"
    assert "234567891" in [text[f.start : f.end] for f in scan(text) if f.type == "US_SSN"]


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the thirty-first writer's retail, e-commerce, marketplace and restaurant text taught)
        ("Lieferung an Packstation 204 (Postnummer 9918 2231 04)", []),
        (
            "Bestellung 100-442871, Lieferung an Packstation 204 (Postnummer 9918 2231 04)\n"
            "Kunden-IP laut Shop-Log: 46.114.8.203, hinterlegte Telefonnummer 01590 1248873",
            ["01590 1248873"],
        ),
        ("ULTIMA OP.: ****  ****  ****  5517   AUT. 0B44Z1\nESITO: CHIUSURA ESEGUITA  RIF. 339 229 6842", []),
        ("Bankkártya ************5521   Eng.sz.: 489427\nNYUGTASZÁM: 0672/05335   2025.03.15 15:08", []),
        ("Kortti ************8813\nViitenumero laskulle: 77487 47398", []),
        ("ใบเสร็จรับเงิน/ใบกำกับภาษีอย่างย่อ\nเลขที่ 03099/2568   POS ID E020644840447", []),
        ("HÓA ĐƠN GIÁ TRỊ GIA TĂNG\nKý hiệu: 1C25TAA   Số: 02105481\nNgày 15 tháng 03", []),
        (
            "retrait le 24/12 (créneau n° 7)\nTél. 03 20 55 18 74 / port. 06 14 92 37 05\n",
            ["03 20 55 18 74", "06 14 92 37 05"],
        ),
        (
            "20:00  tav. 11  6 pers.  Rinaldi +39 335 612 7788\n20:00  tav. 2   4 pers.  Sig.ra Morelli   339-8725002 (celiaca)",
            ["+39 335 612 7788", "339-8725002"],
        ),
        ("Marko Saar. Helistada võib 5628 1599, tööl 641 2725", ["5628 1599", "641 2725"]),
        # (what they keep: a Vietnamese number after "số" without a label's colon, a Hungarian call number)
        ("Vui lòng xác nhận qua số 0210 1233 906", ["0210 1233 906"]),
        ("Hívószám: 06 20 471 7674", ["06 20 471 7674"]),
        ("212 345-6789 grams", []),
    ],
)
def test_what_retail_and_restaurant_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the thirty-second writer's university, research and science text taught)
        ("Studentennummer: r0912467\nRijksregisternummer: 02.11.07-233.41\nOpleiding", []),
        ("Student ID: 2148817 · HESA ID: 1811324470519\nUCAS Personal ID: 143-556-8921\nHost", []),
        ("Lysregime 16/8 t\nDatalogger S/N 20 48 71 33 · firmware 3.1.18", []),
        ("Ime i prezime: Luka Horvat · JMBAG 0119241847\nMobitel: +385 91 574 6201", ["+385 91 574 6201"]),
        ("서울대학교 생명윤리위원회 승인번호 IRB No. 2403/001-017\n연구책임자", []),
        ("标本号:PE 01844722 采集号:王 2024-118\n采集地", []),
        ("NIK        : 3404124107950003\nNPWP       : 09.418.227.4-541.000\nProgram", []),
        ("Pour toute question sur l'étude : 514 343-7418 ou julie@example.ca", ["514 343-7418"]),
        ("After the 20th I'm back at Université Laval, 418 656-2131 poste 47928.", ["418 656-2131 poste 47928"]),
        # (what they keep: a passenger's name glued after its title, "S/NOAH", is no serial number's word)
        ("MANSOUR/SAMI MR S/NOAH 14FEB23\n\nze belt vanaf 020-5718 422", ["020-5718 422"]),
        ("Kundendienstnummer: 0711 9876543", ["0711 9876543"]),
    ],
)
def test_what_university_and_research_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what a second reader of the retail and research rules found: a serial number's and a personal id's words
        # right before the number only, new id words unless a phone word is near or written as the id is, -szám only
        # after a record's word, "port." as a word, "Số:" on an e-invoice only, another country's reading for two groups)
        ("Museo Nacional, Paseo del Prado s/n 28014 Madrid. Tel. 913 30 28 00", ["913 30 28 00"]),
        ("Please bring a personal ID. Questions? Call 020 7946 0958", ["020 7946 0958"]),
        ("Call Nik 07700 900123 about the delivery", ["07700 900123"]),
        ("W razie problemów kontakt z nim 601 234 567", ["601 234 567"]),
        ("Questions about your rights? Contact the IRB, 319-335-6564.", ["319-335-6564"]),
        ("Track & Trace: 0300 123 4567", ["0300 123 4567"]),
        ("Recapito di rif.: 347 123 4567", ["347 123 4567"]),
        ("Zöldszám: 06 80 123 456", ["06 80 123 456"]),
        ("Segélyszám: 06 1 311 1666", ["06 1 311 1666"]),
        ("TAJ-szám: 041 718 226", []),
        ("Details are in the annual report. 2 145 890 visitors came in 2023.", []),
        ("Liên lạc với chị Lan, số: 0912 345 678", ["0912 345 678"]),
        ("Atendimento: +55 11 3333-4444\nCódigo de rastreio: 2134567890", ["+55 11 3333-4444"]),
        ("Docente +39 06 4991 1234, codice corso 345 678-9012", ["+39 06 4991 1234"]),
    ],
)
def test_what_a_second_reader_of_the_retail_and_research_rules_found(text, want):
    assert phones_in(text) == want, text


def test_monthly_columns_in_a_csv_header_keep_it_a_header():
    # (a header of YYYYMM columns or account codes is a header: only a sentence with a long number in it is prose)
    for text in (
        "name,ssn,202401,202402,202403\nJohn Smith,536228745,160,152,168\nJane Doe,412883920,120,128,140",
        "employee,ssn,GL 60100,GL 60200\nJohn Smith,536228745,1200.00,300.00\nJane Doe,412883920,900.00,0.00",
    ):
        found = sorted(text[f.start : f.end] for f in PiiScanner().scan(text) if f.type == "US_SSN")
        assert found == ["412883920", "536228745"], text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the thirty-third writer's media, entertainment, sport and events text taught)
        ("Tijd | Barcode | Vak | Rij\n19:02:11 | 0612 3345 8890 15 | 104 | 9", []),
        ("Meldung Nr. 2024-41-0378 · Spielstellennr. 03771 2245\nKassenabschluss", []),
        ("Cartonașe: 44' nr. 6, 79' nr. 14 · Cod meci 0744-2024-11\nUrmătorul meci", []),
        ("Sarı kart: 18' #6, 74' #11 · Maç kodu 0532-2024-1208\nHakem", []),
        ("Varningar: 23' nr 8, 68' nr 19 · Matchnummer 031-711-2024\nNästa match", []),
        ("Próxima jornada: sábado 15/02 a las 18:30 · Partido n.º 0201-2025-0944\nEntradas", []),
        ("Recaudación: $ 182.440.000 · Expediente AFA 11-4471-2024 · Socio", []),
        ("Játékvezetői igazolvány 06-30-4182 · TAJ-szám ellenőrizve: 044 218 557\n", []),
        ("放映場次表 10:30 信義威秀 5廳 片長 108分 · 場次代碼 0912-0620-05\n", []),
        ("Thẻ vàng: phút 31 (số 8) · Mã trận 0912-2411-09\nVòng 10", []),
        ("ضربة البداية ٨:٠٠ مساءً\nرقم المباراة 0100-1224-12 · الحكم", []),
        ('נציג הקבוצה: ת"ז 123456782\nמספר משחק 052-4118-11 · המחזור הבא', []),
        ("23h59 Concert symphonique – code programme 0149 2203 58\nAudiences", []),
        ("MEDIA CONTACT\nRachel Nguyen, Brightwater PR\n512.474.6620 (office)", ["512.474.6620"]),
        ("Jess Armitage, Red Brick PR\n0161 832 7740 / 07940 551 287\n", ["0161 832 7740", "07940 551 287"]),
        ("Directrice de production : Claire Vasseur 06 81 44 29 07\nRégie", ["06 81 44 29 07"]),
        # (what they keep: a year-like group in a phone number after a phone word, or in a North American one)
        ("My real number is (480) 945-2027", ["(480) 945-2027"]),
        ("Tel. 030 2024 5566", ["030 2024 5566"]),
        ("VAT: BE\n0123.456.749", []),
    ],
)
def test_what_media_and_sport_text_taught(text, want):
    assert phones_in(text) == want, text


def test_addresses_of_this_network_are_no_hosts():
    text = "router  model=VR-128   tally bus address 0.0.0.12\nlisten 0.0.0.0:8080, peer 10.1.1.1, sw=10.0.0.2"
    found = [text[f.start : f.end] for f in PiiScanner().scan(text) if f.type == "IP_ADDRESS"]
    assert found == ["0.0.0.0", "10.1.1.1", "10.0.0.2"]  # (a switch's "sw=" address is one)


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the thirty-fourth writer's manufacturing, automotive-service and aviation-maintenance text taught)
        ("Quote Q-24-3318 for AOG requirement\nP/N 3214552-4 Pressure regulating valve", []),
        ("Pos 1  Bremsscheibe vorne  0 986 479 S21  2 St.\nPos 2  Bremsbeläge vorne   0 986 494 104  1 Satz", []),
        ("Maschine: Mikron Multistar, Masch.-Nr. 3017-412\nProblem", []),
        ("Equipamento: torno CNC Romi GL 240, série 018-049157\nProblema", []),
        ("Record 18  2022-03-04  Odom 89,776  Midway Auto Care, Joliet IL (815) 725-4402 - fluid", ["(815) 725-4402"]),
        (
            "Schadensbild: Kühlmittelverlust, AGR-Kühler undicht (Teilenr. 11 71 8 580 435)\n"
            "Schadenscode 11 71 05 00, Arbeitswert 42 AW\nKunde: Herr Dr. Stefan Reiter, Tel. 0171 8832019",
            ["0171 8832019"],
        ),
        # (what they keep: a Ukrainian toll-free number written with its lone 0, a code's abbreviation in brackets)
        ("Кол-центр 0 800 300 015", ["0 800 300 015"]),
        ("Employer identification number (EIN): 04-3319872", []),
    ],
)
def test_what_manufacturing_and_maintenance_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what a third reader of the media and manufacturing rules found: a year-like group in a phone number after a
        # phone's compound or any number word, phone stems right before the number word, Turkey's area code)
        ("Kontaktnummer 030 2024 5567", ["030 2024 5567"]),
        ("Number: 0412 2019 556", ["0412 2019 556"]),
        ("My no. is 081-234-2567", ["081-234-2567"]),
        ("מספר הנייד שלי 050-123-2019", ["050-123-2019"]),
        ("Rückruf-Nr.: 0171 2345678", ["0171 2345678"]),
        ("Bedrijfsgsm-nr: 0475 12 34 56", ["0475 12 34 56"]),
        ("Firmentel-Nr.: 089 1234567", ["089 1234567"]),
        ("Alan kodu: 0216 555 12 34 (İstanbul Anadolu)", ["0216 555 12 34"]),
        ("Masch 0171 2345678", ["0171 2345678"]),
    ],
)
def test_what_a_third_reader_of_the_media_and_manufacturing_rules_found(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the thirty-fifth writer's law-firm, notarial, court and immigration text taught)
        ("Cliënt: Van den Broeck BV (KBO 0244.431.463)\nContactpersoon", []),
        ("IND-aanvraag kennismigrant – V-nummer 1587393887, zaaknummer 1946-77", []),
        (
            "Werknemer: Arjun Mehta, tel. +91 98095 12792 / in NL 06-27639373\nSalarisnorm",
            ["+91 98095 12792", "06-27639373"],
        ),
        (
            "Cudzoziemiec: Oleksandr Tkachenko, paszport FX592386, tel. PL 624 103 754, tel. UA +380 67 331 2233",
            ["624 103 754", "+380 67 331 2233"],
        ),
        ("Bên ủy quyền: Ông Nguyễn Văn Hùng, CCCD số 016391564824, điện thoại +84 912 345 678", ["+84 912 345 678"]),
        ("Partner's mobile +64 9 822 5485.\nApplication no. 1661447357, fee NZD 2,750 paid", ["+64 9 822 5485"]),
        ("Mimi, Wanjiru Kamau, wa S.L.P. 99726-00100 Nairobi, simu +254 712 345 678", ["+254 712 345 678"]),
        ("موکل: علی رضایی، کد ملی 5163346196، تلفن همراه +98 21 8830 1234", ["+98 21 8830 1234"]),
        ("Demandeuse : Mme Aminata Diallo, n° AGDREF 7148472475, tél. +33 (0)4 79 00 12 34", ["+33 (0)4 79 00 12 34"]),
        ("Client: Sr. Jordi Puig i Ferrer, telèfon 622 435 165, correu jordi@example.cat", ["622 435 165"]),
        ("사건번호 2023가단232446, 변론기일 2024. 6. 11. 14:00, 법정 제264호", []),
        # (what they keep: a VAT id after its country's code, dotted or unseparated, even after a phone word)
        ("Tel. 030 1234567, USt-IdNr. DE 123456789", ["030 1234567"]),
        ("Tel. 02 123 45 67 — BTW BE 0417.882.093", ["02 123 45 67"]),
    ],
)
def test_what_law_and_immigration_text_taught(text, want):
    assert phones_in(text) == want, text


def test_another_ids_word_right_before_an_ssn_shaped_number_outweighs_an_ssn_word_further_back():
    text = "spouse ITIN 916-74-3956 (not an SSN – ITINs start with 9). DUNS 573941566. Alien registration"
    assert [f.type for f in PiiScanner().scan(text) if f.type == "US_SSN"] == []
    text = "Employee SSN: 536-22-1947"
    assert [f.type for f in PiiScanner().scan(text)] == ["US_SSN"]


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the thirty-sixth writer's consumer-lending, collections and credit-bureau text taught)
        ("Acct 154513443 - Tried (905) 213-0247 x3, vm full. Debtor", ["(905) 213-0247"]),
        ("Office (905) 213-0247 x204", ["(905) 213-0247 x204"]),
        ("Plan sur 84 mois, taux 0 %. Numéro fiscal 04 42 262 737 904. Code postal", []),
        (
            "Paiement sur BE24 4981 6877 1562. Numéro de registre national 02.04.17-604.88 (non communiqué)",
            [],
        ),
        ("Consta em aberto o contrato de empréstimo nº 748573236-7, com 51 dias", []),
        ("THM 18,9 %. Adóazonosító jel 0689052619, TAJ szám 063 603 650. Számlaszám", []),
        ("Maksa tilille viitteellä 2507 66166 tai soita 050-123 4567", ["050-123 4567"]),
        ("kisti Tk 550 missed twice. Mobile 01825151384 (bKash). NID 2692294683.", ["01825151384"]),
        ("[빠른대출] 김민수 고객님, 대출번호 4539550268의 이번 달 상환금 412,000원", []),
        ("Rückruf erbeten: Herr Gruber, Kreditkonto 021-054702, erreichbar unter 0664 123 4567", ["0664 123 4567"]),
        ("Batch runtime 00:14:52. Vendor job id 01251405-7346. Records", []),
        ("Code de paiement : 27 25 88 96 48", []),
        (
            "Pague a PT57 4608 7565 6313 4673 9700 9 ou contacte-nos pelo 211 597 381 / cobrancas@example.pt",
            ["211 597 381"],
        ),
        ("Zaplaťte prosím nebo nás kontaktujte na 798 827 629, vymahani@example.cz", ["798 827 629"]),
        ("Sumokėkite į sąskaitą LT29 6110 1167 4819 3053 arba skambinkite 866511773.", ["866511773"]),
        # (what they keep -- a fourth reader's inputs: a loan's word and a phone word after the number, a VAT id's word
        # before its country's code, a record's word after a sentence with a phone word)
        ("Call about your loan 0800 123 4567", ["0800 123 4567"]),
        ("Loan: 415-555-0132 (cell)", ["415-555-0132"]),
        ("Tel. +32 2 555 12 34 - BTW BE 0456 789 123", ["+32 2 555 12 34"]),
        ("Jei turite klausimų, skambinkite. Sutarties Nr. 1234 5678 90", []),
    ],
)
def test_what_lending_and_collections_text_taught(text, want):
    assert phones_in(text) == want, text


def test_an_ssn_word_and_another_word_of_the_same_phrase():
    # (a card's, a member's or an account's word in the SSN's own phrase is no other id's: "SSN (as shown on your card)")
    scan = PiiScanner().scan
    for text in (
        "SSN (exactly as shown on your card): 523 41 8876",
        "Social security number of the insured member: 523 41 8876",
        "SSN on file for this account: 523 41 8876",
    ):
        assert [f.type for f in scan(text)] == ["US_SSN"], text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the thirty-seventh writer's pharmacy, veterinary and dental text taught)
        ("Rp. n.º colegiado 28/28/12345, tarjeta sanitaria BBBB 1234 5678 90", []),
        ("šarža B54B332, rodné číslo 905512/1234, poistenec č. 0123456789, dávka 3 x 10", []),
        ("nächste Impfung 19.06.2025\nTierarzt-Stempel Nr. 0891 2345 67", []),
        ('GET /portal/appointments?patient=375348 HTTP/1.1" 200 5120', []),
        ("Loomakliinik – arve 5522992\nOmanik: Mart S.", []),
        ("Lieferschein Großhandel Nr. 0664753/208856\nKunden-Nr. 441", []),
        ("Subject: Order 8169334 – urgent\n\nPlease deliver 10 x PZN 36639221 before Friday.", []),
        ("Apoteka Zdravlje – recept 0767452\nPacijent: Nikola", []),
        # (a reference before an appointment's cancellation line is no phone: the cancellation word is no phone word)
        ("Referanse 4418-207. Avbestilling via appen.", []),
    ],
)
def test_what_pharmacy_veterinary_and_dental_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the thirty-eighth writer's community, club, religious and residential-building text taught)
        ("P-016 vrij. Pasnummer toegangspas 0550 670 352. Kenteken 12-ABC-3", []),
        ("Assessment $327.50/qtr.\nParcel no. 286-502-502. Emergency?", []),
        ("folio de pago 3155123067, referencia bancaria 002039311076, CP 03100", []),
        ("Acudiente: Diana Herrera, C.C. 4302302879\nCelular: +57 310 555 1234", ["+57 310 555 1234"]),
        ("Derneğimizin kütük numarası 34-838-983. Üye no 458474", []),
        ("07:12:44  Tür Haus A  Transponder 0628059033  OK", []),
        ("04.03.24 08:10  Schlüssel Nr. 0855-037 (Heizraum) an Hausmeister", []),
        ("관리비 고지서: 동호수 103-1502, 고객번호 41526213", []),
    ],
)
def test_what_community_and_building_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what a fifth reader of the pharmacy and building rules found: a vet's stamp and an association register's
        # word are surnames too, an Estonian invoice a Norwegian first name -- they need their number word, or lower case)
        ("Kontakt: Arve 412 34 567", ["412 34 567"]),
        ("Hilsen Arve\n412 34 567", ["412 34 567"]),
        ("Spørsmål om borettslaget? Kontakt Arve, 22 33 44 55", ["22 33 44 55"]),
        ("Praxis Dr. Stempel 030 12345678", ["030 12345678"]),
        ("Mit freundlichen Grüßen\nPraxis Dr. Stempel\n030 1234567", ["030 1234567"]),
        ("Termin bei Frau Stempel: 0171 2345678", ["0171 2345678"]),
        ("İletişim: Ayşe Kütük 0532 123 45 67", ["0532 123 45 67"]),
        ("Saygılarımızla,\nOsman Kütük\n0532 123 45 67", ["0532 123 45 67"]),
        # (a prescription's line and the Polish PZN and CNK: a phone word on the line names the number)
        ("Tel. ricetta 06 1234 5678", ["06 1234 5678"]),
        ("Teléfono receta 912 345 678", ["912 345 678"]),
        ("Telefon für Rezept 030 1234567", ["030 1234567"]),
        ("Infolinia recepta 22 123 45 67", ["22 123 45 67"]),
        ("Kontakt: Okręg Mazowiecki PZN 22 831 22 71", ["22 831 22 71"]),
        # (a compound whose first part is a phone word; a phrase's word, then a phone word; a question before the
        # filler words; a delivery note's word without its number word)
        ("Fax-ID no. 030 1234567", ["030 1234567"]),
        ("WhatsApp-ID Nr. 0171 2345678", ["0171 2345678"]),
        ("Telefon-Bestellung Nr. 030 1234567", ["030 1234567"]),
        ("Pérdida de tarjeta sanitaria: llame al 900 123 456", ["900 123 456"]),
        ("Dudas con su referencia bancaria? Tel. 55 1234 5678", ["55 1234 5678"]),
        ("Lost parcel? The number is 020 7946 0958", ["020 7946 0958"]),
        ("Bei Fragen zum Lieferschein: Disposition 0711 123456", ["0711 123456"]),
        # (what they keep)
        ("Loomakliinik – arve 5522992", []),
        ("Arve nr 11820394 · Kuupäev 05.04.2024", []),
        ("Derneğimizin kütük numarası 34-838-983.", []),
        ("Gyógyszertári kiadási napló 2025.12.09.: recept 8222227, TAJ 123 456 789", []),
        ("Parcel no. 286-502-502. Emergency?", []),
    ],
)
def test_what_a_fifth_reader_of_the_pharmacy_and_building_rules_found(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the thirty-ninth writer's personal and family admin taught: a mobile written in threes in its own
        # country's text; Hebrew, Amharic and after-hours phone words; mobile wallets; Swahili text hints at Kenya)
        ("☐ firma przeprowadzkowa: PrzeprowadzkiEXPRESS – 512 385 163, sobota 8:00, 800 zł", ["512 385 163"]),
        ("גזבר: אבי אברהם, נייד 0509876443", ["0509876443"]),
        ("ለበለጠ መረጃ በ 0911287429 ይደውሉ።", ["0911287429"]),
        ("Vet: Oakfield Veterinary (out of hours 01248322057)", ["01248322057"]),
        ("زینب: میزان بینک، یا جاز کیش 03019103158", ["03019103158"]),
        ("Send via GCash 09171234567 po", ["09171234567"]),
        ("Musa: Asanteni sana! Tafadhali piga simu 0712 345 678", ["0712 345 678"]),
        # (a family allowance's and a mutual insurer's member numbers, a Persian postcode, a Hebrew id and account,
        # a lottery draw)
        (
            "L-4010 Esch-sur-Alzette\nNuméro allocataire : 5784769\nVous pouvez me joindre au +352 628 537 107",
            ["+352 628 537 107"],
        ),
        (
            "- rappeler la mutuelle (n° adhérent 697015597) pour le remboursement lunettes, 189,90 €\n"
            "- RDV contrôle technique samedi 11h00 – plaque LB-769-CX",
            [],
        ),
        ("تلفن ثابت منزل: ۰۲۱ ۲۲۰۲ ۱۳۵۴\nکد پستی: 5058307504 – پلاک 7، واحد 5", ["۰۲۱ ۲۲۰۲ ۱۳۵۴"]),
        ("מספר זהות: 012345674\nטלפון נייד: 050-2345678", ["050-2345678"]),
        ("מספר חשבון (לא IBAN): סניף 802, חשבון 44712-09, בנק 12\nטלפון: 03-5551234", ["03-5551234"]),
        ("Lotto 6/42: 05-11-19-23-34-40", []),
        # (what they keep: a member's phone after "adhérent :"; an amount in threes; another country's mobile in a
        # French company's registration)
        ("Contact silo : 02 38 34 44 17 — adhérent : 06 84 41 77 20", ["02 38 34 44 17", "06 84 41 77 20"]),
        ("Kaucja 512 385 163 zł do zapłaty", []),
        ("Les Ateliers Réunis — capital social de 50 000 € — RCS Lyon 732 829 320", []),
    ],
)
def test_what_personal_and_family_admin_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the fortieth writer's emergency-service and transit text taught: an incident's and a rescue
        # operation's numbers, a rail booking's, Swedish grid coordinates, a Dutch extension, a Georgian callback)
        (
            'HKFSD Fire Services Communication Centre – incident 2407-1183\n14:18 call, "person collapsed" at the pier',
            [],
        ),
        (
            "SAME 107 – Ciudad de Buenos Aires, incidente 24-0622-3318\n"
            "Llamada 19:12, solicitante: Sr. Martín Gómez, tel. de contacto 03878 15-41-7436",
            ["03878 15-41-7436"],
        ),
        (
            "Varsling: 12:41 melding til AMK Tromsø (113) fra turfølge på fire. Videre til HRS Nord-Norge (aksjon "
            "24-0314-07), politiets operasjonssentral Troms (hendelse 24-2204118).",
            [],
        ),
        ("رقم البلاغ: ٢٤-٠٩١٤-١١٨٣   وقت الاتصال: ٢٢:١٤", []),
        ("Passenger: Ms. Sneha Kulkarni, PNR 8412211830\nMobile: +91 89246 11073", ["+91 89246 11073"]),
        ("Position sista kontakt: SWEREF 99 TM N 7 006 420 E 383 150", []),
        ("Backoffice OCCR (24/7): 0174 899 603 tst. 40", ["0174 899 603 tst. 40"]),
        ("ზარი 11:44:20, აბონენტი: ნინო ბერიძე, უკუკავშირის ნომერი 591 97 66 12", ["591 97 66 12"]),
        # (an id's word nearer the number than a phone word: the phone was stolen, the id card's number is no phone)
        ("Tài sản: điện thoại, ví, CCCD số 079190004417", []),
        # (what they keep: an incident line's phone)
        ("Incident hotline: 0800 123 4567", ["0800 123 4567"]),
    ],
)
def test_what_emergency_service_and_transit_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the forty-first writer's community, gaming, dating and creator text taught: a group's word before
        # "is" is no record's number word; texting, Portugal's MB WAY; a game's match and a platform's user id)
        (
            "please ban him, his number from the trade group is 519-664-2059",
            ["519-664-2059"],
        ),
        ("my mum said it's ok to share her email for any replies, or you can text 8128 8480.", ["8128 8480"]),
        ("MBWay: 912.139.572", ["912.139.572"]),
        (
            'minha conta NightOwl3430 (ID 8949665015) foi banida por "uso de programas de terceiros" depois da partida '
            "347624346695. Eu jogo do celular, nunca usei hack.\nSegue meu contato: +55 11-98692-3992 (WhatsApp)\n"
            "O IP da minha casa é 36.236.159.117 se precisarem conferir. Já tentei pelo formulário 3 vezes, protocolo "
            "34292549286608.",
            ["+55 11-98692-3992"],
        ),
        ("平台ID：983472259（直播间 5778090）\n手机号码：5120 3506", ["5120 3506"]),
        ("ٹیم کا نام: Shaheen7749\nفیس: 1215 روپے (جاز کیش ٹرانزیکشن 62389438527)", []),
        # (what they keep: a group's number word, "Bill number is …")
        ("Group no. 286-502-502 for the booking", []),
        ("Bill number is 812 447 3301", []),
    ],
)
def test_what_community_gaming_and_creator_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the forty-second writer's marketing, sales and CRM text taught: an ad platform's customer, manager and
        # campaign ids are shaped as North American numbers, "123-456-7890", in every language)
        ("Informe mensual de pauta — 18/03/2024\nCuenta de Google Ads 556-279-0732: 302 conversiones, CPA S/5,46", []),
        ("Paid search (Google Ads 948-418-3129): 221 conversions at CA$14,16", []),
        ("2024-03-24T19:35:37Z,TRK4625,+57 604 454 8578,441,google_ads / 537-703-7278,true", ["+57 604 454 8578"]),
        ('"source":{"gclid":"Cj0KCQ16000899","campaign":"904-788-4802"},"sla_minutes":15}', []),
        ("  step 3  Ads › Offline conversion  customer=157-974-1931  value=2.021.900 ₫  status=200", []),
        ("hinta per liidi 13 570,00 €, konversio 20,99 %. Google Ads -tili 420-939-8053, Meta-tili act_3093", []),
        ("Origine : Google Ads, compte 529-282-2301", []),
        (
            "주간 광고 리포트: 리드 293건, CPA ₩1,052,000, 전환율 31.14%. 구글 애즈 계정 365-270-9786, 메타 광고 계정",
            [],
        ),
        ("تكلفة العميل 16 450,25 EGP، معدل التحويل 17.4%. حساب إعلانات جوجل 939-085-5204. تم استخدام رمز الخصم", []),
        ("リード数：213件\u3000CPA：¥1,939,100\u3000CVR：10.0%\nGoogle広告アカウント 792-308-2935、Metaピクセル", []),
        ("# 날짜: 2024. 2. 20. – 2025. 3. 6. · MCC 133-847-5976", []),
        # (a quoted CSV field between commas, an amount with its thousands' comma, leaves the columns in place)
        (
            "Customer ID,Campaign ID,Source,Impr.,Clicks,CTR,Cost,Conv.\n"
            '579-794-2270,35387677804,Search_DSA_KR_1,240984,2694,1.12%,"₩770,400",37',
            [],
        ),
        # (a company register's number; extensions in Swedish, Bulgarian and Danish)
        (
            "Driftwood 股份有限公司\tVAT 481455782\tReg. 32631207\t林淑芬\t+886 2 2540-9715 分機 791",
            ["+886 2 2540-9715 分機 791"],
        ),
        ("Contact: Priya Morrison, CMO\nPhone: +46 8 852 760 77 ankn. 225", ["+46 8 852 760 77 ankn. 225"]),
        ("Десислава Ангелов\t02 912 2147 вътр. 504\tdesislava@example.bg", ["02 912 2147 вътр. 504"]),
        (
            "Greyhound Marketing ApS\tDK40723089\tLine Kjær\t88 85 27 19 lokal 688\tlkjaer@example.dk",
            ["88 85 27 19 lokal 688"],
        ),
        # (phone words: a Spanish "call me" without its accent, "texts to", Icelandic mobile)
        ("[17:30] Andrés: y si es más fácil llamame a este mismo, 901 149 335", ["901 149 335"]),
        (
            "From: Marcus Morrison <marcusmorrison@singnet.com.sg>\n\nI already replied STOP to your 44399 number "
            "twice. You are still sending promo texts to 94059613 every Friday.",
            ["94059613"],
        ),
        ('phones:\n    - label: "Farsími"\n      number: "798 7007"', ["798 7007"]),
        # (what they keep: a phone word after the ad platform's name; "Reg" as a name)
        ("Google Ads support: call 1-866-246-6453", ["1-866-246-6453"]),
        ("Reg 07700 900123", ["07700 900123"]),
    ],
)
def test_what_marketing_sales_and_crm_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what a sixth reader of the rules of writers AM to AP found: the emergency, travel and game words give way to
        # a phone word on the line; the ad platform's words name only an id in its shape, 123-456-7890)
        ("Caller's phone for the incident 0412 555 123, ambulance dispatched.", ["0412 555 123"]),
        ("Contacto del incidente: 612 345 678", ["612 345 678"]),
        ("Callback for the incident: 07700 900123", ["07700 900123"]),
        ("Mobile number on the PNR: 98765 43210", ["98765 43210"]),
        ("رقم هاتف مقدم البلاغ: 0551234567", ["0551234567"]),
        ("Tracking phone number for this campaign: 020 7946 0958", ["020 7946 0958"]),
        ("Campaign 07700 900123", ["07700 900123"]),
        ("New lead via Facebook Ads — 07911 123456, wants a quote for a kitchen.", ["07911 123456"]),
        ("Call Google Ads at 1-866-246-6453 for billing help.", ["1-866-246-6453"]),
        ("Google Ads Deutschland 0800 589 3024 (Mo-Fr 9-18 Uhr)", ["0800 589 3024"]),
        ("Customer ID 48213, Jo Bloggs, 07700 900123", ["07700 900123"]),
        # (an id's word after a phone word: the phone word is the nearer's)
        ("Phone the ABN team 02 9374 1111", ["02 9374 1111"]),
        ("Telefon firmy (NIP poniżej) 22 628 11 22", ["22 628 11 22"]),
        # (an amount in threes with its word after it; a phone phrase inside a word; a laptop)
        ("La facturación fue de 612 345 678 euros según el informe.", []),
        ("Budżet miasta na 2024 rok to 512 385 163 złotych.", []),
        ("Nakład łączny: 512 385 163 egz.", []),
        ("Monitor text output 512 385 163", []),
        ("מחשב נייד Lenovo, מספר סידורי 512 385 163", []),
        # (a shop's sign, a name; a wallet's transaction and a payment's operation)
        ("Bar Tabac Loto 01 42 33 44 55", ["01 42 33 44 55"]),
        ("Reg. 07700 900123", ["07700 900123"]),
        ("JazzCash TID 021234567890", []),
        ("MB WAY – ID da operação 912345678", []),
        # (what they keep)
        ("Lotto 6/42: 05-11-19-23-34-40", []),
        ("Paid search (Google Ads 948-418-3129): 221 conversions", []),
        ("firma przeprowadzkowa: Przeprowadzki – 512 385 163 lub mail, sobota 8:00", ["512 385 163"]),
    ],
)
def test_what_a_sixth_reader_of_the_marketing_emergency_and_community_rules_found(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the forty-third to forty-fifth writers' hospital, help-desk and small-business text taught: a patient's,
        # a stay's, a health-service user's, an insurer's member, a GP declaration's and a booking's numbers; a tax
        # number, a tax account, a GST number, a bank account, a payment slip's own number)
        ("Пацієнт: Тарас Коваленко, дата народження 14.11.1975, номер декларації 0853-4104-1848", []),
        (
            "Clinique Bohler-Est — Service de Cardiologie\nCompte rendu d'hospitalisation\n\nPatient : M. Gilles Schmit, né le 18/07/1949 — IPP 522.734.38 — N° de séjour 420966572\nHospitalisé du 16/02/2024 au 20/02/2024 — Médecin traitant : Dr Claude Thill\n\nMotif : décompensation cardiaque globale sur fibrillation atriale rapide.\nAntécédents : cardiopathie ischémique (stent IVA en 2019), HTA, BPCO stade 2.\nÉvolution : bonne réponse au furosémide IV (perte de 7 kg), ralentissement de la FA par bisoprolol, introduction d'apixaban 5 mg x2/j. NT-proBNP 5410 → 1691 pg/ml. ETT : FEVG 40 %.\nTA de sortie 151/103 mmHg, FC 83/min, poids de sortie 57,9 kg.\n\nTraitement de sortie : furosémide 40 mg le matin, bisoprolol 5 mg, apixaban 5 mg matin et soir, ramipril 2,5 mg.\nSuivi : consultation de cardiologie dans 6 semaines ; ionogramme à J7 au laboratoire de ville.\n\nPour toute question, l'interne de garde est joignable au 23 96 34 40 poste 4108 et le secrétariat au +35229978735 (secretariat.cardio@bohler-est.lu).\n\nDr Paule Hoffmann, praticien hospitalier",
            ["23 96 34 40 poste 4108", "+35229978735"],
        ),
        (
            "Bookingnummer: 75790639. CPR-nr.: 131277-9563\n\nså ring til sekretariatet på 0045 30 41 81 41",
            ["0045 30 41 81 41"],
        ),
        ("Cartão SUS / n.º de utente: 959-471-808", []),
        (
            "Account 15677867 | Patient P. Kinsella | Medicare/health no. 886-616-399 | Health fund member 431047161\nGap owing: $313.00 (theatre fee, item 03860). BPAY biller code 828108, ref 2640304904.\nCard on file: XXXX XXXX XXXX 0600 — do not re-key, pt to call Accounts (ext 5372).",
            [],
        ),
        (
            "Uw zorgverzekeraar heeft de nota 089935876 (behandeling 11/03/2025, DBC 221945131941) niet volledig vergoed vanwege uw eigen risico.\nBetalen kan binnen 30 dagen op BE75 5817 4467 2051.\nEen betalingsregeling nodig? Neem contact op met de afdeling Debiteuren: +32 10 01 78 13",
            ["+32 10 01 78 13"],
        ),
        (
            "  Patient ID:      97-80-2044\n  Visit type:      Follow-up, 20 min\n  Join link:       https://visit.krgh.com.sg/room/9VKSS662BY",
            [],
        ),
        ("Tené a mano tu credencial de la obra social/prepaga (afiliado 83 543632 39) y tus últimos estudios.", []),
        ("مریض: عمران شیخ، عمر 53 سال، ایم آر نمبر 728.007.54", []),
        (
            "【預約成功通知】陳淑芬 您好，您已預約 2024/10/09 17:00 遠距視訊門診（新陳代謝科，林志明 醫師），預約號碼 14，病歷號 54793127。看診連結將以簡訊傳送至 0939-855-699。如需取消請來電 +886 2 3236 9897 。",
            ["0939-855-699", "+886 2 3236 9897"],
        ),
        ("Broneeringu number: 52155445.\nAja tühistamiseks helistage +3723223473", ["+3723223473"]),
        ("Valor: R$ 890,00 · Nosso número: 96261638-1", []),
        ("Vergi Dairesi: Kadıköy · VKN 9347442633 · Tel: 0534 612 39 58", ["0534 612 39 58"]),
        ("Fälligkeit 15.09.2024, Abgabenkonto 09 849/8454, Finanzamt Österreich", []),
        ("Any problems call Hemi on 027 253 87700. GST no. 939-004-231.", ["027 253 87700"]),
        ("Greiðsla: banki 0133-26-002172", []),
        # (phone words: Latvian mobile, Portuguese "telm." and "ligar", "I'm on"; pairs after a phone word's label are
        # a phone number, not an address; a direct-dial extension after a dash)
        ("Pacienta mobilais: 24 601 582.", ["24 601 582"]),
        (
            "NIF 255116170 · Telm. 968 109 757 · ines.carvalho.traducao@gmail.com",
            ["968 109 757"],
        ),
        ("Podem ligar-me para o 924 204 926 ou para a extensão 5270.", ["924 204 926"]),
        (
            "Old one can be closed from next month.\n\nI'm on 07945178465 if you need to verify it's really me",
            ["07945178465"],
        ),
        ("Téléphone : 27.14.71.62 – portable 628 168 807", ["27.14.71.62", "628 168 807"]),
        ("Erreichbar: +41 21 026 48 40-67 oder mobil 078 172 09 31", ["+41 21 026 48 40-67", "078 172 09 31"]),
        # (a chat's timestamped lines with a comma each are no CSV: its first line is no header)
        (
            "[15:53] Marcus: hey, benefits portal says my account is locked and the reset wants my SSN + zip\n"
            "[16:07] Marcus: sorry! yes open it please, my cell is (207) 906-2173",
            ["(207) 906-2173"],
        ),
        # (what they keep: an address after a phone word that is no label, and with a port)
        ("POST /hooks/twilio/sms from 81.61.61.54 sig=valid", []),
        ("Contact: <sip:+4930419055@94.75.78.51:5089;transport=udp>", ["+4930419055"]),
    ],
)
def test_what_hospital_help_desk_and_small_business_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the forty-sixth writer's science and operations data taught: a weather station's WIGOS identifier;
        # Maltese "mobile")
        (
            "STATION METADATA SHEET\nWMO index: 92805    WIGOS ID: 0-20509-0-92805\nPosition: 5°31'30.2\"N 0°06'01\"W",
            [],
        ),
        ("5.7 °C; riħ Majjistral 3 Bft\nUffiċjal tax-xift: Nicole Galea, mowbajl 7988 5898", ["7988 5898"]),
    ],
)
def test_what_science_and_operations_data_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what a seventh reader of the rules of writers AQ to AS found: a health-service user's, an insurer member's,
        # a patient's and a stay's words give way to a phone word; "Nota:" is a note's label; GST after opening hours
        # is a time zone; "nosso número" is "our number" unless a boleto's own; whole words only; "I'm on" right before)
        ("Telefone do utente: 912 345 678", ["912 345 678"]),
        ("Teléfono del afiliado: 11 4567-8901", ["11 4567-8901"]),
        ("Urgence pendant le séjour : 06 12 34 56 78", ["06 12 34 56 78"]),
        ("Tél. IPP 04 72 11 22 33", ["04 72 11 22 33"]),
        ("Nota: 333 123 4567 è il numero del centralino notturno.", ["333 123 4567"]),
        ("Call centre open 9am–6pm GST: 04 330 1234", ["04 330 1234"]),
        ("Ligue para o nosso número 0800 123 4567", ["0800 123 4567"]),
        ("Public Health Notice 0800 123 4567", ["0800 123 4567"]),
        ("I'm on incident 4471229035 right now, will call you back.", []),
        ("I'm onboarding Jo; submission 4471229035 is pending.", []),
        # (two-digit pairs after a phone word that are an address: a private one, a prefix length, an IP's word)
        ("Phone: 10.20.30.40", []),
        ("IP del teléfono: 27.14.71.62", []),
        ("Phone 10.20.30.40/24", []),
        # (what they keep)
        ("Valor: R$ 890,00 · Nosso número: 96261638-1", []),
        ("Any problems call Hemi on 027 253 87700. GST no. 939-004-231.", ["027 253 87700"]),
        ("Téléphone : 27.14.71.62 – portable 628 168 807", ["27.14.71.62", "628 168 807"]),
    ],
)
def test_what_a_seventh_reader_of_the_hospital_and_small_business_rules_found(text, want):
    assert phones_in(text) == want, text


def test_seventh_reader_ips_and_template_passwords():
    scan = PiiScanner().scan
    for text in ("Phone: 10.20.30.40", "IP del teléfono: 27.14.71.62"):
        assert [f.type for f in scan(text)] == ["IP_ADDRESS"], text
    # (a template's host and a constant's name as the password: a placeholder, not a secret)
    secrets = SecretsScanner().scan
    for text in (
        "mongodb://admin:__MONGO_PASSWORD__@${MONGO_HOST}:27017",
        "postgres://app:REPLACE_WITH_DB_PASSWORD@${DB_HOST}:5432/app",
        "http://admin:ADMIN_PASSWORD@$HOST/",
    ):
        assert secrets(text) == [], text
    text = "postgres://app:Xk9#mQ2!pL7v@${DB_HOST}:5432/app"
    assert [text[f.start : f.end] for f in secrets(text)] == ["Xk9#mQ2!pL7v"]


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the forty-seventh to forty-ninth writers' humanitarian, care and classified-ad text taught: phone words
        # in Bulgarian, Latvian, Hebrew, Swahili, Finnish; a phone's sign right before the number, not after it)
        ("Бележки: IBAN BG07QHGN91411425799220 / Факс 02 113 904", ["02 113 904"]),
        ("21:00 - Jānis — Lūdzu, piezvaniet dēls Jānis uz 21 260 050 pirms vakara apgaitas.", ["21 260 050"]),
        ("טל'  = 0502550519", ["0502550519"]),
        ("Simu  = 0621215127", ["0621215127"]),
        ("Puh.: 0412345125", ["0412345125"]),
        ("☎ (0-312) 94438", ["(0-312) 94438"]),
        ("Contactez Élodie, agent commercial (RSAC Bordeaux 891 204 773)\n📞 06 74 13 79 97", ["06 74 13 79 97"]),
        # (a Mexican social-security number, a listing's, a user's and a ward's numbers)
        ("Andrés Iglesias, F. nac. 1929-05-24, NSS 27 893322 A 868.\nTeléfono: 200 929 8954", ["200 929 8954"]),
        ("listing 7309933613 · 253 views\nТел. 00380 50 180 3938", ["00380 50 180 3938"]),
        (
            "N.º de usuario|Name|Código de la caja de llaves|Contact|Menu\n"
            "0180514|Andrés Salgado|1512|0052 224 408 4168|20:10-13:45",
            ["0052 224 408 4168"],
        ),
        (
            "№ подопечного|Name|Код ключницы|Contact|Slot\n0686385|Николай Смирнова|70796|8 (771) 557 3012|14:50-08:45",
            ["8 (771) 557 3012"],
        ),
        # (a CSV column named as an id's key)
        ("ad_id,title,price,city,posted,contact\n596156468,Piano tutor  75 min,230 Kč,Plzeň,2024-03-02,", []),
        # (what they keep: a serial number's letters are no word, "R38MA4AD661")
        (
            "Lp | Model | Nr seryjny | IMEI | Numer telefonu | Grupa\n"
            " 2 | SM-A346B | R38MA4AD661 | 866031051522959 | 48579968483 | Magazyn Gliwice",
            ["48579968483"],
        ),
    ],
)
def test_what_humanitarian_care_and_classified_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what an eighth reader of the rules of writers AU to AW found: a ward's and a social-security number's words give
        # way to a phone word; a listing's and a user's only on the number's line; an id's column over bare digits only;
        # "puh" and "simu" only as labels)
        ("Телефон подопечного 8 912 345 67 89", ["8 912 345 67 89"]),
        ("Tel NSS 55 1234 5678", ["55 1234 5678"]),
        ("Enquire about this listing\n0412 345 678", ["0412 345 678"]),
        ("Listing agent: 0412 345 678", ["0412 345 678"]),
        ("name,contact_id\nJane,(02) 9876 5432\n", ["(02) 9876 5432"]),
        ("id,name,user_id\n1,Jane,0412 345 678\n", ["0412 345 678"]),
        ("Puh, 2024 war hart: Umsatz 4882050017 Euro", []),
        ("SIMU motor 4882050017", []),
        # (what they keep)
        ("Puh.: 0412345125", ["0412345125"]),
        ("Simu  = 0621215127", ["0621215127"]),
        ("ad_id,title,price,city,posted,contact\n596156468,Piano tutor  75 min,230 Kč,Plzeň,2024-03-02,", []),
    ],
)
def test_what_an_eighth_reader_of_the_care_and_classified_rules_found(text, want):
    assert phones_in(text) == want, text


def test_a_url_password_before_a_template_host():
    # (Nagios's "$HOSTADDRESS$" as the host: the password is a password)
    scan = SecretsScanner().scan
    text = (
        'command_line  $USER1$/check_http -H $HOSTADDRESS$ -u "http://admin:t2tdpj!Rl6terHV@$HOSTADDRESS$/status.xml"'
    )
    assert [text[f.start : f.end] for f in scan(text)] == ["t2tdpj!Rl6terHV"]


def test_a_hebrew_prefix_joined_to_an_email_address():
    scan = PiiScanner().scan
    text = "התחיל לשלוח לי הודעות ושלח מייל מ-omer.peretz95@walla.co.il עם צילומי מסך"
    assert [text[f.start : f.end] for f in scan(text) if f.type == "EMAIL"] == ["omer.peretz95@walla.co.il"]
    text = "see docs-omer@example.com"  # (a hyphen inside a Latin name still joins it: the address is the whole name)
    assert [text[f.start : f.end] for f in scan(text) if f.type == "EMAIL"] == ["docs-omer@example.com"]


@pytest.mark.parametrize(
    "text,want",
    [
        # (what property and buildings text taught (writer AY): a building's desk is a phone's label; a property-tax
        # account, a cadastral key, a taxpayer's number, a Greek tax number, an abbreviated bank account and an Arabic
        # subscription's number are none)
        ("Portería: 601 6247718 — Administradora: 310 482 9017", ["601 6247718", "310 482 9017"]),
        ("Conserjería: 915 48 22 71", ["915 48 22 71"]),
        ("Cuenta predial: 045-128-17-004-9\nClave catastral: 14-039-118-022", []),
        ("Número do contribuinte (SQL): 041.112.0318-4", []),
        ("Εκμισθωτής: Γεώργιος Παπαδόπουλος, ΑΦΜ 041877220, τηλ. 697 418 2273", ["697 418 2273"]),
        ("Pay to Standard Bank, branch code 051001, acc 072 418 331, ref S17.", []),
        ("رقم الاشتراك: 0418-7722-09", []),
        # (what they keep, and what a second reader found: a phone word after "acc", New Zealand's ACC, a taxpayers' and
        # a cadastre's helpline, a year and a dash before a record's number, a gate's code after "Portaria")
        ("colegiado n.º 954 41 82 27", []),
        ("Acc. manager tel. 072 418 3310", ["072 418 3310"]),
        ("ACC: 0800 101 996", ["0800 101 996"]),
        ("Central de Atendimento ao Contribuinte: 0800 123 4567", ["0800 123 4567"]),
        ("Oficina de Catastro y Predial 55 5658 1111", ["55 5658 1111"]),
        ("Rechnung Nr. 2024 / 0815 4711 22", []),
        ("Order 2023 — 0412 555 123, shipped", []),
        ("Portaria: senha do portão 4471 2290", []),
    ],
)
def test_what_property_and_building_text_taught(text, want):
    assert phones_in(text) == want, text


def test_an_ssn_after_its_word_and_a_tax_forms_number():
    # (the number of a US tax form between the word and the number is no other number the word names)
    scan = PiiScanner().scan
    text = "Confirmed new direct deposit; gave SSN for 1099 update: 518 40 2279 (was on old W-9 as EIN)"
    assert [text[f.start : f.end] for f in scan(text) if f.type == "US_SSN"] == ["518 40 2279"]
    # (another number between, the form's number not named as a form: its word is not the SSN's)
    for text in (
        "SSN on file; invoice 2041 update: 518 40 2279",
        "SSN ends in 1040, ticket 518-40-2279",
        "SSN checked. Paid $1099, tracking 518 40 2279",
        "SSN 1099 518402279",
    ):
        assert [text[f.start : f.end] for f in scan(text) if f.type == "US_SSN"] == [], text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what education text taught (writer AX): a student's and a notice's numbers in Chinese and Korean, a Canadian
        # immigration client's number, a Brazilian academic record's (after a phone word of the sentence before), a Czech
        # registration's and a Bulgarian incoming number's table columns are none; Rioplatense "llamás" names a phone)
        ("学生姓名：王思远   学号：2022011834\n联系电话：138 1047 6623", ["138 1047 6623"]),
        ("학사지원팀 공지번호 2025-0137", []),
        ("- Study permit expires 2025-08-31 (UCI 11-2287-4410)", []),
        ("Por segurança, recomendo entrar em contato com o banco. Seu RA é 2023104417, correto?", []),
        ("Pořadí | Registrační číslo | Body\n1      | 2025-0417         | 47\n2      | 2025-0233         | 45", []),
        (
            "Входящ номер | БЕЛ – точки | БЕЛ – оценка\n2503-0412    | 71,50       | Мн. добър 5,18\n"
            "2503-0413    | 54,25       | Добър 4,11",
            [],
        ),
        ("Escribinos o llamás a la sede al 2902 5160.", ["2902 5160"]),
        # (what they keep: a phone word in the RA's own sentence, UC Irvine's line)
        ("Seu RA é 2023104417 e o telefone 11 94418-2730", ["11 94418-2730"]),
        ("Call UCI 949-824-5011 for admissions.", ["949-824-5011"]),
        ("UCI 949-824-5011", ["949-824-5011"]),
        ("Service agrément : 01 42 33 44 55", ["01 42 33 44 55"]),
    ],
)
def test_what_education_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what farm and food text taught (writer AZ): a herd register's ear tag and farm of origin, a Belgian farmer's,
        # a Uruguayan producer's (DICOSE), a Korean farm household's number and a Mexican registered orchard are no phones)
        (
            "| Ohrmarke          | Geburtsdatum | Rasse | Herkunftsbetrieb   | Gewicht |\n"
            "|-------------------|--------------|-------|--------------------|---------|\n"
            "| DE 03 594 21877   | 02.01.2024   | 01    | 03 354 017 0412    | 48 kg   |",
            [],
        ),
        ("De aanvraag (dossiernummer VLM-2023-118704, landbouwernummer 0123.456.781) werd goedgekeurd.", []),
        ("Productor DICOSE: 01.204.0887   Fecha de muestreo: 02/05", []),
        ("농가번호: 44-210-0883   품종: 신동진", []),
        ("920 cajas de 10 kg   Huerta registrada: 14-108-0221\nDestino: Los Ángeles, CA", []),
        # (what they keep: a farm's phone after its name)
        ("Herkunftsbetrieb Hof Meyer, Tel. 05121 403 118", ["05121 403 118"]),
    ],
)
def test_what_farm_and_food_text_taught(text, want):
    assert phones_in(text) == want, text


def test_a_version_word_at_the_end_of_a_compound():
    # ("Systeemversie", "Softwareversion": the quad after it is a version; a gateway's is an address)
    scan = PiiScanner().scan
    assert [f for f in scan("Systeemversie 6.12.0.244 · Tankmelk 3.402 l") if f.type == "IP_ADDRESS"] == []
    assert [f for f in scan("Softwareversion 4.12.0.7 installiert") if f.type == "IP_ADDRESS"] == []
    assert [f.text for f in scan("Gateway 6.12.0.244") if f.type == "IP_ADDRESS"] == ["6.12.0.244"]
    # (a tenth reader: a word that only ends in "versie" is no version's, Dutch for NAT)
    assert [f.text for f in scan("Adresconversie: 192.168.1.10") if f.type == "IP_ADDRESS"] == ["192.168.1.10"]


@pytest.mark.parametrize(
    "text,want",
    [
        # (what civic, religious and volunteer text taught (writer BA): a Portuguese company's tax number (NIPC), a Danish
        # quote's number, a Hungarian registry's number ("szám" is a number word) and an amount in rupiah are no phones)
        ("Com os melhores cumprimentos, telemóvel +351 916 482 730.\nNIPC 501 288 341", ["+351 916 482 730"]),
        ("4. Orgelrenovering – tilbud nr. 2026-4417 fra Marcussen & Søn", []),
        ("Nyilvántartási szám: 06-02-0004417.", []),
        ("Saldo akhir: Rp 20.527.500\nNomor rekening masjid", []),
        # (what they keep, and what a tenth reader found: a phone word before "szám", a call for a quote, a number after
        # "Rp" that is no amount)
        ("Mobil szám: 06 30 418 2277", ["06 30 418 2277"]),
        ("Telefonszám: 06 30 418 2277", ["06 30 418 2277"]),
        ("Ring for et gratis tilbud: 22 33 44 55", ["22 33 44 55"]),
        ("Kontak: Rp 0812 3456 7890", ["0812 3456 7890"]),
        ("Tel: RP +44 7700 900123", ["+44 7700 900123"]),
    ],
)
def test_what_civic_and_volunteer_text_taught(text, want):
    assert phones_in(text) == want, text


def test_civic_texts_ssn_jwt_and_url_password():
    pii, secrets = PiiScanner().scan, SecretsScanner().scan
    # (a tenth reader: "my new social" is as often an app, a housing flat or an enterprise as a number; not read)
    for text in ("my new social app has 536228741 downloads", "their new social housing ref 536228741"):
        assert [f.text for f in pii(text) if f.type == "US_SSN"] == [], text
    # (a sample's claims and a word where the signature goes is an illustration; a real token whose signature alone
    # was redacted is not: its claims are someone's)
    assert secrets("token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJFWEFNUExFIn0.SIGNATURE") == []
    text = "token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1LTg4NDEiLCJuYW1lIjoiS2FyaW4gT2xzZW4ifQ.SIGNATURE"
    assert [f.type for f in secrets(text)] == ["JWT"]
    text = "token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.Xk3v9q2Lw8ZpR0sT4uV6yB1cD5eF7gH9"
    assert [f.type for f in secrets(text)] == ["JWT"]
    # (an apostrophe inside a URL's password, between letters; not a quote that closes a string)
    text = "old registrations: mysql://sundayschool:Noah'sArk77@old-server.stjohns.local/db"
    assert [f.text for f in secrets(text)] == ["Noah'sArk77"]
    assert secrets("dsn = 'mysql://u:'+pw+'@h.example.com'") == []


@pytest.mark.parametrize(
    "text,want",
    [
        # (what public services' text taught (writer BB): a payee's company number, a Norwegian case's number and library
        # card, a property's registration, a Korean disposal number, a Bulgarian tax account's, a Serbian payment
        # reference and a receipt's number are no phones)
        ("Numéro BCE du bénéficiaire : 0207.373.429", []),
        ("Klagen gjelder avgiftsendring (saksnummer 24/887123), men", []),
        ("Lånekort: 0301 0008 8471 20\n2024-09-18 15:42", []),
        ("IPTU 2024 referente ao imóvel de inscrição 047.112.0882-3, na Rua Harmonia 412", []),
        ("민원내용: 대형폐기물 수거 지연 (배출번호 24-118823)\n신청인 연락처: 010-4471-8823", ["010-4471-8823"]),
        ("Партиден номер: 4471288230", []),
        ("Такса: 4.712 РСД (уплаћено, позив на број 97 44712882)", []),
        ("Monto: RD$ 3,000.00\nNúmero de recibo: 0447128823", []),
        # (writer BC's: a savings account)
        ("Pagar en Bancolombia, cuenta de ahorros 031-445812-07.\nTel: 310 582 4417", ["310 582 4417"]),
        # (what they keep: a phone word on the payee's line, a savings bank's phone)
        ("Téléphone du bénéficiaire : 06 12 34 56 78", ["06 12 34 56 78"]),
        ("Caja de Ahorros, tel. 0800 222 7623", ["0800 222 7623"]),
    ],
)
def test_what_public_services_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what funeral, estate and family-history text taught (writer BD): an extension glued to the number, a
        # Levantine "mobile", a Georgian "contact", a Latvian "call"; an assessor's parcel number is no phone)
        ("please ring our office on 0161 496 0554ext. 214.", ["0161 496 0554ext. 214"]),
        ("Attorney's office (Susan Park) is at (206) 555-0123x204.", ["(206) 555-0123x204"]),
        ("مكتب دفن الموتى: 01 749 235 أو على الخليوي 76 737 369.", ["01 749 235", "76 737 369"]),
        ("საბურთალოს სასაფლაოზე. კონტაქტი: ნინო 557 69 44 94", ["557 69 44 94"]),
        ("palīdzību ar bēru mielastu, zvani man: 2997 1370. Apskauju", ["2997 1370"]),
        ("Item 1  Residence, 1882 Maple Dr., APN 041-227-118-000 ....", []),
        # (what manufacturing text taught (writer BE): a line item's part number beside its quantity, and the same
        # number where the report's subject names it)
        ("030  711.161.15  773 pcs  HS 7318.15.36", []),
        ("Subject: NCR RK711491 – 426.742.68 / CH9342768\n\nwe rejected 74 pcs of 426.742.68: bore Ø8 H7", []),
        # (what an eleventh reader found: a phone's word or a phone column beats the quantity beside the number, a count
        # before an ad's phone is no line item, an account manager's phone, a count after a slash)
        ("Name\tPhone\tQty\nJane Doe\t(206) 555-0142\t3 pcs", ["(206) 555-0142"]),
        ("Customer: Jane Doe  Tel 0161 496 0554  2 pcs", ["0161 496 0554"]),
        ("Sprzedam krzesła 4 szt. 501 234 567", ["501 234 567"]),
        ("Ship 2 ea to Jane Doe (phone 206-555-0142). Recipient: 206-555-0142  2 ea", ["206-555-0142", "206-555-0142"]),
        ("Gestionnaire de compte 06 12 34 56 78", ["06 12 34 56 78"]),
        ("(206) 555-0142 / 3 500 000", ["(206) 555-0142"]),
        ("Dispatcher: Tom — (206) 555-0142 / 2024 118 774 (case)", ["(206) 555-0142"]),
        # (what they keep: a hex number and a resolution are no extensions; a phone number beside a count of people)
        ("ring 0161 496 0554 for 2 pcs? no: call 0161 496 0554", ["0161 496 0554", "0161 496 0554"]),
        ("Kontakt 0171 2345678, 3 Stück", ["0171 2345678"]),
    ],
)
def test_what_funeral_estate_and_manufacturing_text_taught(text, want):
    assert phones_in(text) == want, text


def test_part_numbers_shaped_as_ssns_and_accented_mailboxes():
    pii = PiiScanner().scan
    for text in (
        "020  108-90-0270  2657 pcs  HS 9031.80.91",  # (a purchase order's line)
        "Subject: NCR QN 680997932 – 720-17-9363 / B35G4763\n\nwe rejected 60 pcs of 720-17-9363: bore 32.14",
        "Instrument: Micrometer 25-50 mm  S/N:558-88-3379",
        "Lathe 15 waiting for spare 755-56-7324, do not restart",
        "Product: Pump 613-50-2478  S/N 915375119",
        'Matthews "Rose Garden" 24x12, catalog 118-22-0917',
    ):
        assert [f.text for f in pii(text) if f.type == "US_SSN"] == [], text
    # (a line item's quantity does not hide the SSN a form asks for; nor does a product's or an agenda's label with an
    # SSN's word between, "SN" (a social number as often as a serial one), or a list's separator before "is my social")
    assert [f.text for f in pii("SSN: 523-41-8876\nItems: 2 pcs")] == ["523-41-8876"]
    for text in (
        "Employee: J. Smith  SSN 523-41-8876  2 ea",
        "Agenda item: John's SSN 523-41-8876 is wrong in payroll",
        "Product: Term Life, insured SSN 523-41-8876",
        "Order 412-33-8801, 523-41-8876 is my social",
        "Social (SN) 523-41-8876",
    ):
        assert [f.text for f in pii(text) if f.type == "US_SSN"] == ["523-41-8876"], text
    assert [f.text for f in pii("Álvaro Cano;sobrino;álvaro.cano39@gmail.com;Tanatorio")] == ["álvaro.cano39@gmail.com"]
    # (an e-discovery load file's quote character is no letter of the address)
    assert [f.text for f in pii("þþSmith, Johnþþjsmith@northwind-trade.comþþ")] == ["jsmith@northwind-trade.com"]


@pytest.mark.parametrize(
    "text,want",
    [
        # (what sport and beauty text taught (writers BF and BG): a number after a slash that follows a phone number is
        # one too; a Dutch member number and a Slovenian card's are no phones)
        (
            "Emergency contact: Fiona Reid, wife — +44 131 496 0215 / +44 7700 900876\nI confirm",
            ["+44 131 496 0215", "+44 7700 900876"],
        ),
        ("Spaaroverzicht Beauty Club — lidnummer 3300 7712 9\nDatum", []),
        ("Članarina 32,00 €. Izkaznica št. 0215/88-174, zavarovanje vključeno", []),
        # (what they keep: a slash between a number and a year is no second number)
        ("Rechnung 2024 / 0815", []),
    ],
)
def test_what_sport_and_beauty_text_taught(text, want):
    assert phones_in(text) == want, text


def test_the_next_number_of_a_list_whose_word_is_no_ssns():
    pii = PiiScanner().scan
    assert [
        f.text for f in pii("Helmet serials: 412-33-8801, 412-33-8802. Kickoff Fri 7 pm") if f.type == "US_SSN"
    ] == []
    # (a list of SSNs keeps its SSNs; a number after "and" and an SSN word is the SSN's)
    assert [f.text for f in pii("SSN: 523-41-8876, 531-07-2249")] == ["523-41-8876", "531-07-2249"]
    assert [f.text for f in pii("order 412-33-8801 and my SSN 523-41-8876")] == ["523-41-8876"]


@pytest.mark.parametrize(
    "text,want",
    [
        # (what farming and transport crews' text taught (writers BH and BI, written in new texts here): "call" in
        # Xhosa, Zulu, Quechua, Basque and Wolof, the Nguni "ku-" joined to a number, Spanish "will call", French
        # "reachable")
        ("Ukuze ufumane iinkcukacha tsalela uThandi ku-+27 82 417 6630.", ["+27 82 417 6630"]),
        ("Ngemininingwane shayela uBongani ku-083 214 7759.", ["083 214 7759"]),
        ("Astawan rimanakuypaq waqyay 984 112 307 nisqaman.", ["984 112 307"]),
        ("Galderak? Deitu 688 41 27 93 zenbakira.", ["688 41 27 93"]),
        ("Ngir xam lu ëpp, wool ci 77 508 13 64.", ["77 508 13 64"]),
        ("Un agente la llamará al 5481 3320 mañana.", ["5481 3320"]),
        ("Le capitaine est joignable au 77 312 54 08 jusqu'à 18 h.", ["77 312 54 08"]),
        # (and their numbers that are none: a container's serial after its owner code, a booking's, a deviation
        # report's and an air waybill's numbers, a lot's, a herd's, a landing note's, an Arabic farm card's, an
        # Icelandic personal id)
        ("컨테이너: TGHU 552018 7, 봉인번호 K5512093, 총중량 21,400kg", []),
        (
            "CFR Călători – legitimație de călătorie\nIR 1743 Cluj-Napoca 06:15 → Brașov 11:02, vagon 3, loc 18, clasa a"
            " II-a\nCod rezervare: 7203-44815, serie bilet 99 00 7203 448\nPreț: 89,00 lei. Plată cu card ****4410.",
            [],
        ),
        (
            "Avviksmelding – samband Arsvågen–Mortavika\nMF «Bastø» innstilt avgang kl. 09:40 pga. teknisk feil. Avvik"
            " nr. 2025-0871.\nNeste oppdatering kl. 10:30.",
            [],
        ),
        ("Flyfraktbrev 074-61550342 (KLM Cargo)\nOSL → AMS → NRT, KL 1144 / KL 861, 12MAR\nLaks, fersk, 30 kasser", []),
        ("Weizen, Partie 0512 7738 41, Feuchte 13,8 %", []),
        ("Exploitation, n° de troupeau 22.4518.3307, lait cru", []),
        ("Sluttseddel nr. 25-308812, kjøper Lofoten Fisk", []),
        ("رقم البطاقة الزراعية 0522 8841 3307، المساحة 3 أفدنة", []),
        ("Sæl! Pantanir í síma 845 2231. Greiðsla inn á reikning, kt. 070391-2249.", ["845 2231"]),
        # (what they keep: a number after a word joined by a hyphen is still no phone, nor after "ku" inside a word)
        ("SKU-072 630 5512 in stock", []),
        ("Buku-072 630 5512", []),
    ],
)
def test_what_farming_and_transport_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what research and charity text taught (writers BJ and BK, written in new texts here): a second contact's
        # number after "or" or a comma and a label's few words; an office's label and colon; "call me" in Galician,
        # Portuguese, Spanish, Icelandic, Georgian; "my number is"; a Hungarian case ending joined to the number)
        (
            "Escríbale a Marta al 099 318 442 o a la secretaría 2915 7730 en horario de oficina.",
            ["099 318 442", "2915 7730"],
        ),
        ("Distribution samedi. Mme Aïssa +227 96 41 52 07, bureau 20 73 14 88.", ["+227 96 41 52 07", "20 73 14 88"]),
        ("Despacho parroquial: 915 228 406, de martes a viernes.", ["915 228 406"]),
        ("Calquera dúbida, chámame ao 981 552 307 ou escribe.", ["981 552 307"]),
        ("Em caso de dúvida, contactem-me pelo 913 604 225.", ["913 604 225"]),
        ("Ef eitthvað kemur upp, hringdu í 845 3319.", ["845 3319"]),
        ("კითხვებისთვის დამირეკეთ: 555 21 47 83.", ["555 21 47 83"]),
        ("Receipts are attached. My number is 7921 4430.", ["7921 4430"]),
        ("Ha kérdés van, hívj a +36 20 517 3384-es számon.", ["+36 20 517 3384"]),
        # (and what they keep: a count in brackets after a label is no area code, a subject's id in a trial is no SSN)
        ("Sjåfører: Kari (4 plasser) 412 66 093, Lise (3) 958 41 226", ["412 66 093"]),
    ],
)
def test_what_research_and_charity_text_taught(text, want):
    assert phones_in(text) == want, text


def test_a_clinical_trials_subject_id_is_no_ssn():
    found = [f.text for f in PiiScanner().scan("Query 88412 | Subject 101-22-0047 | Visit V05") if f.type == "US_SSN"]
    assert found == []
    assert [f.text for f in PiiScanner().scan("Subject: SSN 523-41-8876 on file") if f.type == "US_SSN"] == [
        "523-41-8876"
    ]


@pytest.mark.parametrize(
    "text",
    [
        # (what small health-care practices' text taught (writer BL, written in new texts here): a lab's accession
        # number, a Korean receipt's number, a Brazilian health plan's card are no phones)
        "Lab summary for J. Ortiz. Ordering provider NPI 1538261947. Accession 0512-6630-27. Reviewed by Dr. Fenn.",
        "치과 진료 기록: #36 근관치료, #47 발치 예정. 면허번호 제24288호. 영수증 번호 2611-0725.",
        "Paciente: Ana Souza. Convênio: plano odontológico, carteirinha 0733 5120 4487 2\nQueixa: sensibilidade",
    ],
)
def test_what_health_care_practices_text_taught(text):
    assert phones_in(text) == [], text


def test_an_ipv6_address_right_after_its_labels_colon():
    # (the label's last character a hex digit: "IPv6:" -- the address was read as starting at the "6")
    for text in ("サーバ IPv6：fd12:3456:789a:1::25、検査機器", "IPv6:fd12:3456:789a:1::25"):
        found = [(f.type, text[f.start : f.end]) for f in PiiScanner().scan(text)]
        assert found == [("IP_ADDRESS", "fd12:3456:789a:1::25")], text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what legal services' text taught (writer BM, written in new texts here): after a slash, a number in the
        # groups of the phone before it; a Swedish court case's number)
        (
            "Contacts de l'étude : 33 821 47 09 / 77 638 21 54 – etude.diallo@huissier.example",
            ["33 821 47 09", "77 638 21 54"],
        ),
        ("KRONOFOGDEN – Beslut om utmätning\nMålnummer: 08-227301-24\nGäldenär: Anders Nilsson", []),
        # (and what they keep: counts after a slash)
        ("Population 3 500 000 / 4 200 000 in 2024", []),
    ],
)
def test_what_legal_services_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what a thirteenth reader found in the first versions of this stop's rules: a comma and any words joined a
        # company's capital, its registration or a date to the phone before; an office's hours after its label; a
        # prescriber's NPI hid the phone after it; a Korean cash receipt's mobile, a Romanian booking line's phone)
        ("+49 89 1234567, Stammkapital 2 500 000", ["+49 89 1234567"]),
        ("+44 20 7946 0958, Registered in England 08123456", ["+44 20 7946 0958"]),
        ("+1 212 555 0188 or mail check number 1234567890", ["+1 212 555 0188"]),
        ("+44 161 496 0000, closed on 24 12 2024", ["+44 161 496 0000"]),
        ("Office hours: 08 30 17 30", []),
        ("Office ID: 0412 5561", []),
        ("Dr. Lee, NPI 1902847365, 617-724-5500", ["617-724-5500"]),
        ("현금영수증 010-2345-6789", ["010-2345-6789"]),
        ("Rezervare: 0721 234 567", ["0721 234 567"]),
    ],
)
def test_a_thirteenth_readers_findings(text, want):
    assert phones_in(text) == want, text


def test_a_participants_ssn_is_an_ssn_and_a_trial_subjects_id_is_not():
    ssns = [f.text for t in ("Plan participant: 524-71-3398", "Subject: 523-41-8876") for f in PiiScanner().scan(t)]
    assert ssns == ["524-71-3398", "523-41-8876"]
    assert [f.text for f in PiiScanner().scan("Query 88412 | Subject 101-22-0047 | Visit V05")] == []


@pytest.mark.parametrize(
    "text,want",
    [
        # (what construction and utilities text taught (writers BN and BO, written in new texts here): a customer
        # service's, an emergency line's, an inquiry's, an information line's and an outside line's labels; "contact" in
        # Greek, "call" in Maltese)
        ("Servicio técnico de ascensores.\nAtención al cliente: 900 200 314", ["900 200 314"]),
        ("Corte de agua programado en Sopocachi.\nEmergencias: 71 530 284", ["71 530 284"]),
        ("Corte programado del servicio eléctrico. Consultas al 2010-4455 o al 8820-3391.", ["2010-4455", "8820-3391"]),
        ("Ndërprerje e energjisë elektrike. Për informacion: 0800 5050.", ["0800 5050"]),
        ("Munkavezető: Kiss Anna, mellék 2210, külső vonal 76 504 118", ["76 504 118"]),
        ("Προσφορά για θερμοσίφωνα. Επικοινωνία: 99 518 204", ["99 518 204"]),
        ("Għal aktar informazzjoni ċemplu lill-uffiċċju fuq 2133 4410.", ["2133 4410"]),
        # (and their numbers that are none: an amount before its currency's code, a cadastral account, an Icelandic
        # payment slip, a building licence a word before)
        # (a name after a number is no currency's code: "Bob" is no boliviano; nor is a currency's code after a phone
        # word or a "+" an amount's: a fourteenth reader's; nor is a fair's stand a meter's)
        ("Site contacts: call 020 7946 0958 Bob, or 020 7946 0411 Ana.", ["020 7946 0958", "020 7946 0411"]),
        ("Tel. 0800 123 4567 SAR per minute from abroad", ["0800 123 4567"]),
        ("Hotline +27 82 555 0123 ZAR rates apply", ["+27 82 555 0123"]),
        ("Visit our stand 0161 496 0000 at the fair", ["0161 496 0000"]),
        (
            "Devis pour un mur de clôture (42 ml, h=2,40 m) : 4 250 000 FCFA\nContact : M. Kouassi – 07 07 51 22 40",
            ["07 07 51 22 40"],
        ),
        ("Licencia de construcción, cuenta catastral 052-114-07-000-3, folio real 881204", []),
        ("Orkureikningur, greiðsluseðill 0552-31-90418, eindagi 15. maí", []),
        ("Cubicación No. 4 – Residencial Las Palmas, Santo Domingo Este\nLicencia MIVHED 0288-2026 · RNC 1-41-8", []),
    ],
)
def test_what_construction_and_utilities_text_taught(text, want):
    assert phones_in(text) == want, text


def test_a_card_inside_a_longer_run_of_groups_and_a_cost_centres_code():
    pii = PiiScanner().scan
    # (an NF-e's 44-digit access key, written in groups of four: a Mastercard-shaped run inside it is no card)
    key = "NF-e 552.114.380, chave 3526 0812 4418 9920 3310 5500 0000 0000 0004 7781 2206"
    assert [f.text for f in pii(key) if f.type == "CREDIT_CARD"] == []
    # (a fourteenth reader's: two cards written in one run, an order's number before a card and its expiry, are cards)
    for text in ("Test cards: 4111 1111 1111 1111 5555 5555 5555 4444", "Order 10023 4111 1111 1111 1111 0927 123"):
        assert [f.text for f in pii(text) if f.type == "CREDIT_CARD"] == ["4111 1111 1111 1111"], text
    assert [f.text for f in pii("Card: 5500 0000 0000 0004, exp 12/27") if f.type == "CREDIT_CARD"] == [
        "5500 0000 0000 0004"
    ]
    assert [f.text for f in pii("Labour 2.5 hr @ $118.00   Cost center 512-44-7780") if f.type == "US_SSN"] == []
    assert [f.text for f in pii("Cost center 7740; employee SSN 512-44-7780") if f.type == "US_SSN"] == ["512-44-7780"]


@pytest.mark.parametrize(
    "text,want",
    [
        # (a place the text names hints at its country: a Bolivian mobile written without the "0" that selects a
        # carrier, a Fijian landline, a Costa Rican one, after their phone words)
        ("Mantenimiento de ascensores, Edificio Illimani, La Paz\nTécnico: Rubén Mamani, cel. 71620394", ["71620394"]),
        ("Water off on Tuesday in Lautoka. Caretaker Mr. Ratu Vosa, phone 924 3310.", ["924 3310"]),
        ("Cuadrilla de riego, finca en Alajuela. Oficina finca, tel. 2460 3318", ["2460 3318"]),
        # (and what they keep: the place hints only where a phone word is near, a fifteenth reader's -- not a mass's
        # collection in "la paz", nor Spanish mobiles in threes in a text that names Bolivia; an Estonian delivery
        # note's number and a Panamanian building permit's are no phones)
        ("Misa por la paz, parroquia San José. Colecta: 2231 4476 y 3345 1122", []),
        ("Grupo de viaje a Bolivia: Carmen Ruiz 612 345 678, Luis Gil 699 112 233", ["612 345 678", "699 112 233"]),
        ("Toidupank Tartu. Annetajad: saateleht 55120-24, kaal 3 842 kg.", []),
        ("Permiso de construcción No. 200-2026 – Municipio de Panamá", []),
    ],
)
def test_a_place_the_text_names_hints_at_its_country(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what media, sport and family text taught (writers BP and BQ, written in new texts here): "call" in Maltese
        # to one, Galician to several, Basque "at the telephone", Mongolian "contact by number" after the number; an
        # extension after "interno")
        ("Jekk hu tiegħek ċempel lil Ġorġ fuq 7942 6610.", ["7942 6610"]),
        ("Se precisades axuda, chamade a Breixo 698 330 517.", ["698 330 517"]),
        ("Bazkide berriek izena eman dezakete 943 41 27 55 telefonoan.", ["943 41 27 55"]),
        ("Club de Montevideo. Consultas: tel. 2408 3300 interno 115, de lunes a viernes.", ["2408 3300 interno 115"]),
        # (and their numbers that are none: a Maltese ticket, an Uzbek contract, a French ticket's check code, a Czech
        # company's number a word before; and the
        # phones a fifteenth reader found the first versions' words hid: a citizens' office's, a council's licences
        # department's, a trattoria's, a Japanese surname's, a call centre's after a code's own value, a Saudi mobile
        # before its currency, a phone column beside a currency column; a year's span is no phone)
        ("Biljett Nru. 0221 466 802 · Sezzjoni B", []),
        ("Tarif réduit, commission 2,50 € Code de contrôle : 33 12 58 07 44", []),
        ("IČO pořadatele 27812 847, tel. 777 123 456", ["777 123 456"]),
        ("Bürgeramt Mitte – Pass und Ausweis 030 901 2345", ["030 901 2345"]),
        ("Ayuntamiento de Getafe. Urbanismo y licencias 91 202 79 00", ["91 202 79 00"]),
        ("Trattoria Il Giro 06 6982 1234", ["06 6982 1234"]),
        ("Hiroshi Mita 090-1234-5678", ["090-1234-5678"]),
        ("Votre billet. Code de contrôle : 4829 - SAV 01 42 33 44 55", ["01 42 33 44 55"]),
        ("Ahmed 055 123 4567 SAR", ["055 123 4567"]),
        (
            "name\tphone\tcurrency\nWanjiku Kamau\t0722 123 456\tKES\nOtieno Odhiambo\t0733 987 654\tKES",
            [
                "0722 123 456",
                "0733 987 654",
            ],
        ),
        ("Consultas al 2024-2025", []),
        ("Εισαγωγή στην Επικοινωνία 2024-2025", []),
        ("To'y zali: Shartnoma raqami 0522/31-2025", []),
    ],
)
def test_what_media_sport_and_family_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what accountants' text taught (writer BR, written in new texts here): "inquiries to" in the singular, right
        # before the number; a loan contract's number, a German tax number's abbreviation, an Indonesian tax number a
        # word before are no phones; and what student services' text taught (writer BS): a Portuguese student's number, a French
        # registration's, a student's number, a Malaysian identity card's are no phones)
        ("Inscrito em Engenharia Biomédica (número de estudante 2025104873), Universidade de Coimbra", []),
        (
            "Convention de stage – ENIT\nStagiaire : Amine Trabelsi, n° d'inscription 2022-0419\nEncadrant entreprise : Mme Rim Gharbi, tél. 71 862 340, GSM 98 415 227, r.gharbi@techsud.tn\nGratification : 350 DT/mois, RIB/IBAN TN51 7105 2155 9513 7996 9756",
            ["71 862 340", "98 415 227"],
        ),
        (
            "Praktikumsvertrag – Liechtensteinische Landesverwaltung\nPraktikantin: Nadine Frommelt, Universität Liechtenstein (Stud.-Nr. 2024-0117)\nKontakt Amt für Personal: Tel. +423 236 64 18\nLohnzahlung auf LI25 7893 7631 9028 3381 5",
            ["+423 236 64 18"],
        ),
        ("Keputusan peperiksaan. Matrik: A21EC0418 · No. KP: 030512-14-4182", []),
        ("Club de judo de Rennes. Inscription : 06 12 34 56 78", ["06 12 34 56 78"]),
        # (and what a sixteenth reader found the first versions' words hid: an ordinal before "no.", a province's and
        # a party's abbreviations, a club's enrolment line, a tax number's own value before the phone; nor is a
        # customer's number after "consulta al cliente" a phone)
        ("Emergency contacts: 1st no. 0917 123 4567, 2nd no. 0918 765 4321", ["0917 123 4567", "0918 765 4321"]),
        ("Chief Secretary KP: 091-9210364", ["091-9210364"]),
        ("RNC headquarters: 202-863-8500", ["202-863-8500"]),
        ("Pour toute demande d'inscription : 06 12 34 56 78", ["06 12 34 56 78"]),
        ("St.Nr. 143/123/45678\n089 12345678", ["089 12345678"]),
        ("Consulta al cliente 4471229018", []),
        ("Cualquier consulta al 2258 3391 o al 8841 5502. Saludos, Contabilidad Mora.", ["2258 3391", "8841 5502"]),
        (
            "Jahresabschluss 2023 – Checkliste Mandant 10482 (Bäckerei Hübner GmbH)\n[x] Inventurliste zum 31.12.2023 (Rohstoffe 12.884,50 €)\n[x] Kassenbuch Januar–Dezember, Z-Bons lückenlos\n[ ] Saldenbestätigung Sparkasse, Konto 1002 457 881, BLZ 370 501 98\n[ ] Darlehensvertrag Nr. 4471-22-0093, Tilgungsplan\n[ ] Kfz-Fahrtenbuch K-HB 2214\n[x] Anlagenverzeichnis, AfA-Liste (Konto 0420 / 0490 SKR03)\nSteuernummer 217/5712/0443, USt-IdNr. DE 284 117 395\nFrist Abgabe: 31.07.2024 (mit Berater: 02.06.2025)",
            [],
        ),
        ("Bäckerei Vos, Hamburg. St.Nr. 040 217 55130", []),
        ("Faktur pajak · NPWP Pembeli 02.331.052.9-512.000", []),
    ],
)
def test_what_accountants_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what automotive text taught (writer BU, written in new texts here): a mobile after "Port. :"; and what a
        # seventeenth reader found the first version's words hid -- a card's, an inspection's, a tyre store's, a rental
        # agreement's and an OIB's words beside a phone word or a phone list's label: they were dropped)
        ("Tél. : 03 88 52 19 40 – Port. : 07 81 52 19 43", ["03 88 52 19 40", "07 81 52 19 43"]),
        ("Telefon Reifeneinlagerung Nr. 0664 1234567", ["0664 1234567"]),
        ("Zakažite pregled, broj: 064 123 4567", ["064 123 4567"]),
        ("Rezervace prohlídky: číslo 602 123 456", ["602 123 456"]),
        ("Телефон, карта №: 8 916 123-45-67", ["8 916 123-45-67"]),
        (
            "Växel: 08-555 123 00\nFelanmälan: 08-555 123 10\nHyresavtal: 08-555 123 20",
            [
                "08-555 123 00",
                "08-555 123 10",
                "08-555 123 20",
            ],
        ),
        ("OIB? Pozovite 01 4567 890", ["01 4567 890"]),
        # (and what they keep: a claims line, a claim's reporting line)
        ("Claims line 0800 559 1180", ["0800 559 1180"]),
        ("Report a claim: 0800 559 1181", ["0800 559 1181"]),
    ],
)
def test_what_automotive_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what travel and hospitality text taught (writer BW, written in new texts here): a range of guest cards'
        # numbers, a zero-padded invoice number after "número", a ticket's own number after its number word)
        ("Kurtaxe 2 Pers. x 7 Nächte (Gästekarten Nr. 0612204-0612205)", []),
        ("Número da nota fiscal: 00007781", []),
        ("Nº boleto: 4410-219937, asiento 12", []),
        ("Αρ. εισιτηρίου: 0571 2209 4418 31, θέση 14Α", []),
        # (...and what it keeps: consecutive lines after a phone word)
        ("Tel. 0612204-0612205", ["0612204-0612205"]),
        # (what public-sector text taught (writer BV): a cadastral number whose parts a colon joins)
        ("кадастровий номер 3222486200:03:002:0511, площа 0,25 га", []),
        ("тел. 044 234 56 78: приймальня", ["044 234 56 78"]),
        # (an eighteenth reader's, on the first version: an engine control unit's part number after "centralita" (a
        # switchboard's word too), a call log's counts and durations glued on by colons, a helpline's subject)
        ("Vendo centralita Bosch 0 281 010 822 de Seat León 1.9 TDI", []),
        ("Missed calls\n0412 345 678:2\n02 9876 5432:1", ["0412 345 678", "02 9876 5432"]),
        ("Call log\n0412345678:00:03:21\n0298765432:00:12:05", ["0412345678", "0298765432"]),
        ("Rufnummer 030 1234567:2", ["030 1234567"]),
        ("¿Olvidaste tu número de boleto? 800 123 4567", ["800 123 4567"]),
    ],
)
def test_what_travel_and_public_sector_text_taught(text, want):
    assert phones_in(text) == want, text


def test_a_plans_numbered_line_a_dossier_and_a_south_african_id():
    pii = PiiScanner().scan

    def of(kind, text):
        return [f.text for f in pii(text) if f.type == kind]

    # (a budget's or a programme's numbered line after its word is no address; a resolver and a client's are)
    assert of("IP_ADDRESS", "Imputation : ligne budgétaire 3.1.2.14 (formation)") == []
    assert of("IP_ADDRESS", "Partida 1.2.1.4: formación de promotores de salud") == []
    assert of("IP_ADDRESS", "Resolver 1.1.1.1, client 4.2.1.3 connected") == ["1.1.1.1", "4.2.1.3"]
    # (an eighteenth reader's: a threat report's indicators and a network's words are no plan's)
    for text in (
        "Indicator: 5.2.7.45",
        "Suspicious activity: 5.8.1.22",
        "Component 5.8.1.22 unreachable",
        "Línea: 9.9.9.9",
        "Baixe o programa 1.1.1.1 (WARP)",  # (a nineteenth reader's: "programa" names a program's resolver)
    ):
        assert len(of("IP_ADDRESS", text)) == 1, text
    # (a file's number after "dossier" is no SSN; an SSN after its word still is)
    assert of("US_SSN", "Numéro de dossier : 523-18-4410") == []
    assert of("US_SSN", "Client file: SSN 523-18-4410") == ["523-18-4410"]
    # (a South African identity number after an id's word is no 13-digit Visa; one after a card's word is a card, and so
    # is one with no id's word, a test card's "4111111111119")
    assert of("CREDIT_CARD", "Beneficiary IDs: 4806125084083, 4703035009088") == []
    assert of("CREDIT_CARD", "Test number (13 digits): 4111111111119") == ["4111111111119"]
    # (a twenty-first reader's: another field's id before it is no identity number's word)
    assert of("CREDIT_CARD", "Transaction ID 88123: charged 4111111111119 $42.00") == ["4111111111119"]
    assert of("CREDIT_CARD", "Visa card 4806125084083") == ["4806125084083"]
    # (an eighteenth reader's: one with its expiry or its code after it is a card)
    for text in ("Use 4111111111119 with any future expiry and CVV 123", "Jane Doe;4111111111119;12/27;123"):
        assert of("CREDIT_CARD", text) == ["4111111111119"], text
    # (a nineteenth reader's: a date's month and year after an identity number is no expiry)
    assert of("CREDIT_CARD", "Name: J. Mokoena, ID 4512150123081, Date: 15/03/2024") == []


@pytest.mark.parametrize(
    "text,want",
    [
        # (what banking and payments text taught (writer BX, written in new texts here): a time after a number whose
        # hour was read as the number's last group; a money transfer's control number, a Salvadoran identity document
        # in its shape, a Brazilian slip's document number)
        ("Kunden ringde från 08-555 123 40 09:15 och bad om återkoppling", ["08-555 123 40"]),
        ("Left a voicemail at (646) 555-0148 3:05pm ET", ["(646) 555-0148"]),
        ("Envío Western Union, MTCN 552 418 9930, cobrado en ventanilla", []),
        ("Solicitante: Ana Pérez, DUI 05512284-3", []),
        ("Número do documento: 2025031187  Vencimento: 10/04/2025", []),
        # (...and what they keep: a phone whose last group is no hour, a phone word's line; and what a nineteenth
        # reader found the first version lost: a defence lawyer's line after "DUI", a helpline after a question about a
        # document's number; the first version's Korean note, firmware column and Icelandic words were dropped for the
        # lines they lost: "ご注文（フリーダイヤル）0120-…", "Site,FW,Core" over firewalls' addresses, the telecom
        # company "Síminn hf 4602070880")
        ("Tel. 030 12 34 56 78:30", ["030 12 34 56 78"]),
        ("Tél. 01 42 68 53 00:24h/24", ["01 42 68 53 00"]),
        ("Call our DUI line 0800 123 456", ["0800 123 456"]),
        ("Criminal Defense | DUI\n213-555-0147 | jdoe@lawfirm.example", ["213-555-0147"]),
        ("Dúvidas sobre o número do documento? (11) 3003-1234", ["(11) 3003-1234"]),
        ("Síminn hf 4602070880", []),
    ],
)
def test_what_banking_and_payments_text_taught(text, want):
    assert phones_in(text) == want, text


def test_a_firewalls_column_and_two_lines_of_prose_hold_addresses():
    # (a nineteenth reader's, on a first version that read any quad under a version's header as a version: "FW" is a
    # firewall's column as often, and two lines with as many commas read as a table's)
    pii = PiiScanner().scan
    table = "Site,FW,Core\nHQ,10.0.0.1,10.0.0.2\nBranch,10.1.0.1,10.1.0.2"
    assert [f.text for f in pii(table) if f.type == "IP_ADDRESS"] == ["10.0.0.1", "10.0.0.2", "10.1.0.1", "10.1.0.2"]
    prose = "Hi Tom, quick firmware update\nAs discussed, the new box is 10.20.0.15"
    assert [f.text for f in pii(prose) if f.type == "IP_ADDRESS"] == ["10.20.0.15"]


@pytest.mark.parametrize(
    "text,want",
    [
        # (what retail text taught (writer BY, written in new texts here): a phone word's own label naming the order or
        # the file that holds it; an Estonian payment's reference; a Slovak document after "č."; Spanish "inquiries" as
        # a label)
        ("Email on order: r.lee@example.com\nPhone on order: 425-555-0187", ["425-555-0187"]),
        ("Teie kontaktandmed: +372 5312 7788\nPangaülekandel kasutage viitenumbrit 7716608.", ["+372 5312 7788"]),
        ("Dátum predaja: 02.05.2024, doklad č. 0512-3308-0047", []),
        ("Consultas: 2916 0471 o escribanos@example.com.uy", ["2916 0471"]),
        # (...and what they keep: a phone word before "č."; and what a twentieth and a twenty-first reader found first
        # versions lost or flagged, each narrowed or dropped: a helpline "numbered" so in Turkish, a payment app's
        # receipt with the payee's mobile, "č." after "na t.", a notification log's booking number, a call note's order
        # number, a phone on a transfer's row after its control number)
        ("Mobil č. 0905 123 456", ["0905 123 456"]),
        ("0850 222 33 44 numaralı kargo takip hattı", ["0850 222 33 44"]),
        ("Swish-kvitto: 070-123 45 67 Anna Svensson 150 kr", ["070-123 45 67"]),
        ("Objednávky přijímáme na t. č. 603 123 456.", ["603 123 456"]),
        ("2024-04-12 09:00 Confirmation SMS for booking: 4471229018 sent", []),
        ("Customer called about the charge on their order 8813372261 and asked for a refund.", []),
        ("MTCN 4185520937 | Ana Diaz | 0803 123 4567", ["0803 123 4567"]),
    ],
)
def test_what_retail_text_taught(text, want):
    assert phones_in(text) == want, text


def test_a_style_colour_and_size_column_holds_no_ssns():
    pii = PiiScanner().scan
    export = "order_id,sku,style_color_size,upc\nA-1,JKT-M,512-33-0917,030552034093\nA-2,TEE-S,331-04-0128,030565294132"
    assert [f.text for f in pii(export) if f.type == "US_SSN"] == []
    assert [f.text for f in pii("name,ssn,size\nJo Ray,512-33-0917,M") if f.type == "US_SSN"] == ["512-33-0917"]


@pytest.mark.parametrize(
    "text,want",
    [
        # (what insurance-claims and billing text taught (writer CA, written in new texts here): a statement period of
        # two six-digit dates, a Medicare supplier's PTAN and a Czech birth number are no phones)
        ("6 STATEMENT PERIOD 031524 032924\n8 PATIENT NAME", []),
        (
            "Supplier: Lakeside Medical Supply, Davenport IA   PTAN 6640218801   Supplier fax: 563-555-0171",
            ["563-555-0171"],
        ),
        ("Číslo pojištěnce: 905512/1234, pojišťovna 111", []),
        # (...and what a twenty-second reader found first versions flagged or lost: "Callback #2" is an attempt's counter
        # and "PH #" a form's box beside its NPI and account numbers, so they name no phone; "overslag" pushed a phone
        # word out of the line's window)
        ("Callback #2 - LVM, order # 1128847593", []),
        ("BILLING PROVIDER PH # 6142973350  NPI # 1942381123", []),
        ("Tlf. ved spørgsmål om overslag 28 91 44 10", ["28 91 44 10"]),
    ],
)
def test_what_claims_and_billing_text_taught(text, want):
    assert phones_in(text) == want, text


def test_what_a_second_hr_and_payroll_writer_taught():
    # (writer BZ's, written in new texts here: an HR export's job codes in the SSN's shape, a Spanish social-security
    # affiliation number)
    pii = PiiScanner().scan

    def of(kind, text):
        return [f.text for f in pii(text) if f.type == kind]

    jobs = "Job Code        Title                  FLSA   Grade\n410-22-0031     Payroll Specialist I   N      G07"
    assert of("US_SSN", jobs) == []
    assert of("US_SSN", "position_id|job_code|fte\nP-0179300|410-22-0031|1.00") == []
    assert of("US_SSN", "employee_id,ssn,job_title\nE-1001,523-41-8876,Analyst") == ["523-41-8876"]
    assert of("PHONE", "Trabajador: NIF 73878712K   Nº afiliación: 28/1184472018   Grupo: 08") == []
    # (and a twenty-third reader's: "Code" and "job" alone name other columns and a new hire's mail; "CCC" is a customer
    # care centre's line too)
    assert of("US_SSN", "Name,Employee Code,Dept\nJane Doe,523-41-8876,HR") == ["523-41-8876"]
    assert of("US_SSN", "Hi Tom, for the new job, here is the info.\nJane Doe, 523-41-8876, starts Monday.") == [
        "523-41-8876"
    ]
    assert of("PHONE", "Customer Care Centre (CCC): 1800 209 4999") == ["1800 209 4999"]


@pytest.mark.parametrize(
    "text, want",
    [
        # (writer CD's farms and food chain, written anew here: a warehouse's goods received note, a returned pallet's
        # RMA and an ERP's number with a number's word, a Spanish registry's number, a Turkish receipt, a Polish land
        # parcel, a Korean match's number)
        ("Delivery checked in, GRN no 0217-5530-8, two pallets short.", []),
        ("Rejected pallet returned under RMA no. 0800-5123-47.", []),
        ("Número de registro: 07-331-0452   Vigencia: 2025-02-01", []),
        ("Makbuz No: 06-2025-0331472   Tarih: 02.08.2025", []),
        ("Działka ewidencyjna 0512 3-0044 obr. Nowa Wieś", []),
        ("Numéro ERP : 0487711203 · SIRET 812 447 032 00019", []),
        ("경기번호 2025-0633 관중 23,100", []),
        # (and a reader's: the same words where a phone stands -- a department's line, an ad, a civil registry)
        ("Returns (RMA): 0800 123 4567", ["0800 123 4567"]),
        ("Tel. RMA: 0800 123 4567", ["0800 123 4567"]),
        ("RMA no longer needed, call 0800 123 4567", ["0800 123 4567"]),
        ("RMA no longer needed: 0800 123 4567", ["0800 123 4567"]),
        ("GRN no longer printed. Stores 0161 496 0123", ["0161 496 0123"]),
        ("Hotline ERP: 089 1234 5678", ["089 1234 5678"]),
        ("Team leads: Anna (RMA) 07700 900123, Bob (ERP) 07700 900456", ["07700 900123", "07700 900456"]),
        ("Działka budowlana na sprzedaż – 601 234 567", ["601 234 567"]),
        ("Call the lab no later than 4pm on 0161 496 0123", ["0161 496 0123"]),
        ("Llame al número de registro civil 91 123 45 67", ["91 123 45 67"]),
        ("Makbuz için arayın: 0212 555 12 34", ["0212 555 12 34"]),
    ],
)
def test_what_a_second_farm_and_food_writer_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text, want",
    [
        # (writers CF's and CG's housing and clinical research, written anew here: a tab-separated row read cell by cell
        # past an SSN and an amount, a Malay extension, Brazilian "Fone", a Hungarian article number, a German customs
        # tariff's, an Indonesian business id, a lab sample's, a logger's)
        (
            "last_name\tssn\tytd_usd\tphone\nOkafor\t512-44-7781\t980.00\t479-555-0143\n"
            "Lindqvist\t523 41 8876\t1120.50\t(479) 555-0178\n",
            ["479-555-0143", "(479) 555-0178"],
        ),
        ("Penyelaras Kajian (03-7955 2000 samb. 2215)", ["03-7955 2000 samb. 2215"]),
        ("Fone: (31) 3270-5000 (loja)", ["(31) 3270-5000"]),
        ("COPY tetel (szamla_id, sor, cikkszam, megnevezes) FROM stdin;\n202500118\t1\t06201234567\tCsavar M6\n", []),
        ("Zolltarifnummer: 7214 20 00", []),
        ("NIB: 09.01.04.05.04418", []),
        ("Glucosa 142 mg/dL\nMuestra n.º 31-5520-0417, recibida 05/11/2025 07:42", []),
        ("Excursion 3,8–6,1 °C (logger 7714-0092)", []),
        # (the same words where a phone stands)
        ("Muestras: llame al 91 555 01 22", ["91 555 01 22"]),
        ("대상자 연락처: 010-2345-6789", ["010-2345-6789"]),
        # (and a reader's: a numeric row read to its last cell, a row of flags, headphones' model number, Australia's nib,
        # a text's recipients in Korean)
        (
            "10162    68865  8119.79  5  68496-7321  5603.94    556-57-1359  6373-0771  5284.61  06 12 34 79 33",
            ["06 12 34 79 33"],
        ),
        ("1\t0\t1\t0\t1\t0\t1\t0\t1\t0\t1\t415 555 0132", ["415 555 0132"]),
        ("1001\t0161  496 0000", ["0161  496 0000"]),
        ("Fone de ouvido sem fio TWS 9876-5432", []),
        ("Contact nib 02 4914 1100", ["02 4914 1100"]),
        ("발송 대상자: 010-1234-5678", ["010-1234-5678"]),
    ],
)
def test_what_housing_and_clinical_research_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text, want",
    [
        # (writer CH's telecoms and utilities, written anew here: a phone word's compound in German, Dutch and the Nordic
        # languages, a company's customer service as a label, Spanish "llamarnos", a phone on the account's label)
        ("Kontaktnummer for bekreftelse: 22 81 47 30\n", ["22 81 47 30"]),
        ("Servicenummer: 4412 8830", ["4412 8830"]),
        ("Festnetznummer 4412 8830", ["4412 8830"]),
        ("puede llamarnos al 2901 4412 o escribirnos", ["2901 4412"]),
        ("Mobile number on account: (407) 818-3342\n", ["(407) 818-3342"]),
        # (ids of the same bills: a Portuguese supply point's, a Mexican service number, a Czech identity card's, a
        # Swahili meter's, an Urdu reference's)
        ("Local de consumo: CIL 4412 8830 17 · Contador n.º 19B04471", []),
        ("Número de servicio 441880218774, medidor 8A4412.", []),
        (
            "Ověření totožnosti: OP č. 218447711 (zkontrolováno)\nKontaktní telefon pro SMS kód: +420 224 218 907",
            ["+420 224 218 907"],
        ),
        ("Namba ya mita: 0441 2882 0177", []),
        ("میرے بل (ریفرنس نمبر 04 14412 8820117) میں", []),
        # (and the words where a phone stands, or a record's compound that only holds a phone noun)
        ("número de servicio al cliente: 800 123 4567", ["800 123 4567"]),
        ("Piga simu 0712 345 678", ["0712 345 678"]),
        ("Dienstnummer 4412 8830", []),
        ("Serviceauftragsnummer 4412 883017", []),
        ("Supportnr. 4412-8830-17", []),
        ("Kundeservice (hverdager 8-16): 70 10 20 30", ["70 10 20 30"]),
        ("Linha de apoio: 4412 8830", ["4412 8830"]),
        ("Puede llamarnos indicando el N° de reclamo 4312-3456", []),
        ("Telefone CIL: 912 345 678", ["912 345 678"]),
        ("Número de servicio: 018001234567", ["018001234567"]),
        # (a reader's: the same words where a phone stands -- a French school's CPE, a Center for Independent Living, a
        # members' hotline, a referee in an Urdu CV, a Mexican toll-free service number -- and where a record's does)
        ("Vie scolaire / CPE : 01 43 22 17 90", ["01 43 22 17 90"]),
        ("Berkeley CIL: (510) 841-4776", ["(510) 841-4776"]),
        ("Community Infrastructure Levy (CIL): 020 7641 6000", ["020 7641 6000"]),
        ("Hotline für Mitgl. 0800 330 1234", ["0800 330 1234"]),
        ("ریفرنس: 0300-1234567", ["0300-1234567"]),
        ("Llámenos al número de servicio 800 123 4567", ["800 123 4567"]),
        ("Número de servicio 01 800 123 4567", ["01 800 123 4567"]),
        ("Hilsen\nKundeservice\nKundenummer: 22114478", []),
        ("Kundtjänst\nKundnr: 0701234567", []),
        ("Kundenservice: Ersatzteil 0 986 494 104", []),
        ("Geladeira linha Inox, n.º 213 456 789", []),
        ("Linha de crédito nº 213 456 789", []),
        ("Contribuinte n.º 234 567 890 — Linha de Apoio", []),
        ("linha 3 da tabela: 21 3456 7890", []),
    ],
)
def test_what_telecoms_and_utilities_text_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text, want",
    [
        # (writer CI's automotive and mobility, written anew here: a club member's abbreviated number, an Austrian
        # complaint's compound number word, an Argentine inspection sticker's, Portuguese "linha gratuita")
        ("Mitglied: Huber, Karin, Mitgl.-Nr. 5520 1874 09\nRückruf: 0664 2139 847", ["0664 2139 847"]),
        ("Beanstandungsnummer: 0938 1172 4408\n", []),
        ("Planta: 0418, La Matanza, línea 1   Oblea N°: 24-3301877", []),
        ("ligue-nos para a linha gratuita 800 201 344.", ["800 201 344"]),
        # (a phone word's label that names the record holding the number: a reference contact's, the file's)
        ("Celular: 099 217 6430\nTeléfono de referencia (madre): (02) 256 0931", ["099 217 6430", "(02) 256 0931"]),
        ("Numéro de téléphone au dossier : 418 529-3307", ["418 529-3307"]),
        ("Numéro de téléphone inscrit au dossier : 418 529-3307.", ["418 529-3307"]),
        ("Número de referencia: 0225 60931", []),
        ("Numéro de dossier : 418 529 3307", []),
    ],
)
def test_what_a_second_automotive_writer_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text, want",
    [
        # (writer CK's education, written anew here: an office as a number's label -- a hall's, a school's, Icelandic
        # "skrifstofa" -- and a Chinese exam's admission ticket, a Czech applicant's registration, a Ukrainian
        # certificate's numbers)
        ("Hall warden: Mr Tevita Lomu\nOffice: 323 2047\nEmail: halls@example.ac.fj", ["323 2047"]),
        ("Skrifstofa: 570 0412, netfang: skrifstofa@example.is", ["570 0412"]),
        ("准考证号：0112 0418 27\n姓名：（略）", []),
        ("Registrační číslo uchazeče: 25-0418-279\n", []),
        ("Номер сертифіката: 0418279   ПІН-код: 7930", []),
        # (the same words where an office's hours or id stand, and a phone after the certificate)
        ("Office hours: 08 30 17 30", []),
        ("Office ID: 0412 5561", []),
        ("Номер сертифіката: 0418279\nТелефон: 044 418 2790", ["044 418 2790"]),
        # (a reader's: the applicant's and the certificate's phones, an office's term, opening times and a tax office's
        # number)
        ("Telefon uchazeče: 603 123 456", ["603 123 456"]),
        ("Телефон для проверки сертификата: 8 800 555 35 35", ["8 800 555 35 35"]),
        ("Term of office: 2019 2023", []),
        ("Office open: 08 30 - 17 30", []),
        ("Tax office: 143 123 45678", []),
        ("Factory office: 532 1187\n", ["532 1187"]),
        ("Skrifstofa opin: 9 00 16 00", []),
        # (writer CJ's CSV export: an SSN's or an EIN's word, its own number, an amount and a count, then the phone)
        (
            "seller_id,legal_name,tin_type,tin,gross_usd,txn_count,phone\n"
            "S-771204,Marcus Trujillo,SSN,529-31-8846,48211.90,1312,505-266-1873\n"
            "S-771902,Blue Heron Apiary,EIN,27-3309158,57420.75,2104,919-641-2785\n",
            ["505-266-1873", "919-641-2785"],
        ),
        ("EIN 919-641-2785", []),
        ("SSN,529-31-8846,48211.90,04-2103580", []),  # (a W-2 row's employer EIN after the wages: a reader's)
        ("EIN,27-3309158,04-2103580", []),
        # (CK's Chinese parents' list: a relation before each mobile; CJ's Georgian "call me"; an air waybill's number
        # before a letter's salutation stays no phone)
        (
            "1. 陈一诺 妈妈 15921836047\n2. 刘子墨 爸爸 13601772588\n班主任 周老师 13917042263",
            ["15921836047", "13601772588", "13917042263"],
        ),
        ("გთხოვთ დამირეკოთ 599 43 57 92 ნომერზე", ["599 43 57 92"]),
        ("主旨：空運提單 160-54171628 – 香港國際機場提貨\n\n陳先生：", []),
        ("Skrifstofa safnsins: 530 2200", ["530 2200"]),
        ("Can you send them to me? Office: 6418 8227.", ["6418 8227"]),
        # (writer CJ's e-commerce: a billing phone on the order's label)
        ("Billing name: Kevin J. Morrow\nBilling phone on order: (424) 372-9051\n", ["(424) 372-9051"]),
        ("Billing for order: 4243729051\n", []),
        # (a JSON line's commas read as a CSV row's: its own "phone" key wins over the header a line above gives it)
        (
            '", "city": "Menomonee Falls", "province_code": "WI", "zip": "53051", "phone": "(262) 351-7740"},\n'
            '  "shipping_address": {"address1": "2209 S 62nd St", "city": "West Allis", "zip": "53219", "phone": '
            '"414-301-8852", "name": "Mark Pakulski"},',
            ["(262) 351-7740", "414-301-8852"],
        ),
    ],
)
def test_what_a_second_education_writer_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text, want",
    [
        # (writer CM's logistics, written anew here: an air waybill's master and house numbers, a freight bill's PRO
        # number and a customs declaration's DUA in capitals, Icelandic booking and order numbers, a Korean tariff code
        # under its label's note, a customs party between a company's number and its word)
        (
            "Betreff: AW: Zollabfertigung\nfür die Einfuhranmeldung zur MAWB 020-48837165 benötigen wir noch die "
            "Rechnung.\nTel. 069 690 12345",
            ["069 690 12345"],
        ),
        (
            "Betreff: AW: Zollabfertigung\nfür die Einfuhranmeldung zur HAWB 020-48837165 benötigen wir noch die "
            "Rechnung.\nTel. 069 690 12345",
            ["069 690 12345"],
        ),
        (
            "Freight claim – PRO 417-220118-3\nShipper: Lakeshore Cabinets, Toledo OH\nConsignee: Bay Builders, Mobile AL\n"
            "Claim amount: $6,412.80 (invoice INV-24-00871 attached)\nPhone: 419.555.2203",
            ["419.555.2203"],
        ),
        ("Contenedores en tránsito con DUA 24-0412887.\nContacto: 2916 4410 int. 22", ["2916 4410 int. 22"]),
        (
            "Við sendum kassana með skipi (bókunarnúmer 6652091) á föstudag. Tengiliður er Jón, sími 565 2240 eða gsm "
            "+354 862 4417.",
            ["565 2240", "+354 862 4417"],
        ),
        (
            "Pöntunarnúmer 5512877 fer með skipi á mánudag. Hringdu í Önnu, sími 565 2240 eða gsm +354 862 4417.",
            ["565 2240", "+354 862 4417"],
        ),
        ("품목번호(HSK): 8418.10-1000 | 원산지: CN", []),
        (
            "Aduana de Limón\nN° DUA: 005-2024-044128 | Cédula jurídica importador: 3-101-552093\nContacto: +506 2758 4410",
            ["+506 2758 4410"],
        ),
        # (the same words beside phones: a club's PRO, its public relations officer, Malay "dua" (two), an importer's
        # phone)
        ("PRO: 087 123 4567", ["087 123 4567"]),
        ("PRO: 202-555-0143", ["202-555-0143"]),
        ("Hubungi dua 0812 3456 7890 sekarang", ["0812 3456 7890"]),
        ("Teléfono importador: 2222 3333", ["2222 3333"]),
        # (a Spanish and a Portuguese extension's word; a duration's count after the number is no group of it)
        (
            "La persona de contacto es Raúl, 976 45 88 20 extensión 3, o al 617 30 94 22.",
            ["976 45 88 20 extensión 3", "617 30 94 22"],
        ),
        ("Ligue 21 3418 4473 extensão 12", ["21 3418 4473 extensão 12"]),
        ("Merci de prévenir le capitaine au +377 6 78 41 23 50 30 minutes avant l'arrivée.", ["+377 6 78 41 23 50"]),
        # (a reader's: a number in pairs keeps its last pair before a unit of time, as a label's or an office's hours;
        # HSK, a German district too; a club's or a college's PRO with its phone; Peru's "Telf.")
        ("Phone: +33 1 23 45 67 89 Hours: Mon-Fri 9-5", ["+33 1 23 45 67 89"]),
        ("Hotline +41 44 668 18 00 Minuten vor Abflug erreichbar", ["+41 44 668 18 00"]),
        ("Per info chiamare il 347 123 45 67 ore pasti.", ["347 123 45 67"]),
        ("Tél. : 01 23 45 67 89 jours ouvrés", ["01 23 45 67 89"]),
        ("Kreisverwaltung HSK 0291 941234", ["0291 941234"]),
        ("College PRO: 94440 12345", ["94440 12345"]),
        (
            "Chairman: 803 456 7890\nSecretary: 805 123 4567\nPRO: 803 123 4567",
            ["803 456 7890", "805 123 4567", "803 123 4567"],
        ),
        ("Telf. N.° 01 315 0800", ["01 315 0800"]),
        ("Timeticks: (418827113) 48 days, 11:24:31.13", []),
        # (writer CL's legal and public services: a Czech identity card's number, a Latvian cadastral number, an amount
        # in rupees, a Peruvian resolution's number after "N.°")
        ("oznámila ztrátu občanského průkazu č. 204718337 a mobilního telefonu", []),
        ("Kadastra numurs: 0100 018 4418\nAdrese: Brīvības iela 118", []),
        (
            "Merci de verser le solde de Rs 2 184 000 avant la signature.\n\nÉtude : +230 208 4418 – Mobile : 5741 8227",
            ["+230 208 4418", "5741 8227"],
        ),
        ("Resolución de Ejecución Coactiva N.° 021-006-0184472\n", []),
        ("Tel: RS 011 123 4567", ["011 123 4567"]),
        # (a Russian application's number in a mail's subject, an Azerbaijani receipt's, after "№"; their phones kept)
        ("Тема: Готовность документов по заявлению № 0418-2024-118447\n\nУважаемый заявитель!", []),
        ("Rüsum: 20 AZN (qəbz № 0418-2273)", []),
        ("Телефон для справок по заявлению: +7 495 123-45-67", ["+7 495 123-45-67"]),
        ("по заявлению звоните 8 495 123-45-67", ["8 495 123-45-67"]),
        ("Для заявления: 8 (495) 123-45-67", ["8 (495) 123-45-67"]),
        # (writer CN's Georgian listing: "contact us" before a mobile)
        ("ფასი 185 000 $.\nდაგვიკავშირდით: 599 41 22 87", ["599 41 22 87"]),
        # (a college's PRO with a dashed mobile; a number after "Rs." that is no amount)
        ("College PRO: 98450-12345", ["98450-12345"]),
        ("Contact Rs. 98450 12345", ["98450 12345"]),
    ],
)
def test_what_a_logistics_and_a_legal_writer_taught(text, want):
    assert phones_in(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (writer CO's banking messages, read again: an amount in ariary, a Hong Kong number after a full-width slash)
        ("Demande : 2 000 000 Ar.\nTél. : 034 41 827 76 ; magasin", ["034 41 827 76"]),
        ("Crédit accordé : 1 500 000 MGA, soit 3 500 000 Ar", []),
        ("聯絡電話：9418 2773／+852 2418 8836\n黃小姐", ["9418 2773", "+852 2418 8836"]),
        ("Tel: 0171 234 5678/+49 30 1234567", ["0171 234 5678", "+49 30 1234567"]),
        # (a slash between digits still groups one number, and a "+" after a word's slash is none of it)
        ("Tel. 0173/28154237", ["0173/28154237"]),
        ("Tel: 034 41 827 76 Ar", ["034 41 827 76"]),
    ],
)
def test_what_a_banking_writer_taught_when_read_again(text, want):
    assert phones_in(text) == want, text


def test_an_amount_or_a_security_code_after_a_grouped_card():
    pii = PiiScanner().scan
    for text in (
        "Salam, 14.05 tarixində kartımdan 4169 7388 1224 0517 389 AZN məbləğində ödəniş",
        "Card 4169 7388 1224 0517 389 CVV on the back",
        "Charged 4169 7388 1224 0517 389 € yesterday",
    ):
        assert [f.text for f in pii(text) if f.type == "CREDIT_CARD"] == ["4169 7388 1224 0517"], text
    # (a 19-digit card written in four fours and a three is one, with nothing after it or an amount after a word)
    assert [f.text for f in pii("Card 4169 7388 1224 0517 389 expires 09/28") if f.type == "CREDIT_CARD"] == [
        "4169 7388 1224 0517 389"
    ]


@pytest.mark.parametrize(
    "text,want",
    [
        # (writer CS's gig-economy texts: an office's label in Spanish, "my new number" in a rider's chat, an office in a
        # Mongolian list after a comma)
        ("Por consultas urgentes, Oficina: 2438 2744 (lunes a viernes de 10 a 17 h)", ["2438 2744"]),
        ("Oficina: 2438 2744", ["2438 2744"]),
        ("კურიერი: კარგი. ჩემი ახალი ნომერია 555 30 52 80", ["555 30 52 80"]),
        ("Холбоо барих: Бат-Эрдэнэ +976 9911 4287, оффис 7011 2240", ["+976 9911 4287", "7011 2240"]),
        # (and their numbers that are none: an office's hours or manager, a Belgian national number, a Tunisian
        # identity card's, a Jordanian national number, a Nepali citizenship certificate's)
        ("Office Hours: 0830 1730", []),
        ("Oficina Horario: 0830 1730", []),
        ("Office Manager: 2438 2744", []),
        # (a reader's: an office's label in other languages alone at a label's start, not after its head noun; "my new
        # number" with its copula, not a locker's or an album's)
        ("Gastos oficina: 2 450 000", []),
        ("Miete Büro: 2 450 000", []),
        ("my new number for the locker is 4417 2290", []),
        ("My new number one album sold 2 450 000 copies", []),
        ("Numéro national : 86.97.68-917.45\nVous pouvez me joindre au +32 470 12 34 56", ["+32 470 12 34 56"]),
        ("Nom : Sami Trabelsi\nCIN : 09579188\nTéléphone : +216 28 758 418", ["+216 28 758 418"]),
        ("الاسم: محمد يوسف الخطيب\nالرقم الوطني: 9861043716\nالهاتف: 079 690 1698", ["079 690 1698"]),
        ("नाम: सुनिल थापा\nनागरिकता नं.: 13-96-02-55150\nमोबाइल: 9862342888", ["9862342888"]),
        # (a number's word right before a number: a phone word on the next line labels the next line's value; with none,
        # a list of phones reads on)
        ("Pension/SI no. 4882050017.\nФакс: 8 0152 87-64-92", ["8 0152 87-64-92"]),
        ("Témoin : M. Ousmane Diop, 78 076 80 88\nNuméro d'urgence sapeurs-pompiers : 18", ["78 076 80 88"]),
    ],
)
def test_what_a_gig_economy_writer_taught(text, want):
    assert phones_in(text) == want, text


def test_a_payees_tin_and_a_tax_number():
    pii = PiiScanner().scan
    # (a 1099's payee TIN is an SSN as often as not; the payer's is an EIN)
    text = "REC PAYEE_TIN NAME\nB   409568213 ORTEGA LUIS A"
    assert [f.text for f in pii(text) if f.type == "US_SSN"] == ["409568213"]
    assert [f.text for f in pii("PAYER TIN 881879473 - PAYER PHONE") if f.type == "US_SSN"] == []
    # (a reader's: one named an EIN right after it is none; an EIN after an SSN names the next number)
    assert [f.text for f in pii("Payee TIN: 841234567 (EIN)") if f.type == "US_SSN"] == []
    assert [f.text for f in pii("SSN 412-55-0193 EIN 12-3456789") if f.type == "US_SSN"] == ["412-55-0193"]
    # (a taxpayer's number right after its label passes Luhn one time in ten: no card)
    for text in ("الرقم الضريبي: 39969646947763", "VAT no.: 4111111111111111"):
        assert [f for f in pii(text) if f.type == "CREDIT_CARD"] == [], text
    assert [f.text for f in pii("Tax card 4111111111111111") if f.type == "CREDIT_CARD"] == ["4111111111111111"]
    # (a reader's: a tax word with no label's colon or number word is none -- "btw", by the way; a name -- and a card's
    # expiry after it makes it a card)
    for text in (
        "ok btw 4532015112830366 exp 09/27 cvv 123",
        "Aung Tin 4532015112830366",
        "VAT: 4532015112830366 exp 09/27",
    ):
        assert [f.text for f in pii(text) if f.type == "CREDIT_CARD"] == ["4532015112830366"], text


def test_a_fixed_width_records_ssn_column_below_its_first_read_one():
    pii = PiiScanner().scan
    text = (
        "* 1099-NEC PAYEE EXTRACT - PAYER TIN 88-1879473\n"
        "REC PAYEE_TIN  NAME                      STATE BOX1_NEC\n"
        "B   409568213 ORTEGA LUIS A             CA    0003871250\n"
        "B   608253875 NGUYEN THANH HUONG        CA    0001294077\n"
        "B   675633529 OKAFOR CHIDI              NV    0000806312\n"
    )
    assert [f.text for f in pii(text) if f.type == "US_SSN"] == ["409568213", "608253875", "675633529"]
    # (a number's own word below one still names it; a column that is not the SSN's does not read on)
    text = "SSN: 409568213\nPIN: 608253875\n"
    assert [f.text for f in pii(text) if f.type == "US_SSN"] == ["409568213"]
    text = "SSN 409568213  ref\nZZZ 608253875  ref\n"
    assert [f.text for f in pii(text) if f.type == "US_SSN"] == ["409568213"]


@pytest.mark.parametrize(
    "text,want",
    [
        # (writers CP's, CQ's and CR's farms, garages and events: a contact list's "Role: Name – number" lines, an office
        # after "or" and a hyphenated word)
        (
            "Presidente: Sr. Ramiro Choque – 7357 4316\nEncargada de vestuario: Sra. Lidia Mamani – 7334 1060",
            ["7357 4316", "7334 1060"],
        ),
        ("Gate (11:00–13:30): Mr. Daniel Nguyen – 0474169912", ["0474169912"]),
        ("Conductor: Mr. Kagiso Molefe – 71 631 488", ["71 631 488"]),
        ("For samples contact Ms Rita Borg on 9975 8412 or the co-op office on 2799 6117.", ["9975 8412", "2799 6117"]),
        # (and their numbers that are none: a record's label before a name and a dash, a Danish field block, a Dubai
        # Makani code, a Turkish tariff code in capitals, a Finnish invoice, a Vietnamese bank account, a Dutch payment
        # reference, a Japanese shipping slip, a Ukrainian register's number)
        ("Invoice: Acme Ltd – 2025 0412", []),
        # (a reader's: a line of that shape with no title before the name is no contact, nor are several of them)
        ("Budget: Marketing Department – 2 450 000", []),
        ("Vendor: Acme Corp – 4417 2290", []),
        ("Budget: Marketing Department – 2 450 000\nBudget: Sales Department – 1 200 000", []),
        ("Vendor: Acme Ltd – 4417 2210\nVendor: Beta Corp – 4417 2211", []),
        ("Ansøger: Jens Kristensen, CPR: 180374-XXXX\nMarkblok 574418-22: 12,41 ha (vinterhvede)", []),
        ("Location: Al Aweer Central Market, unit B-14 (Makani 29014 88217)", []),
        ("Randıman: %51\nGTİP 0802.22.00.00.00 | Numune alma tarihi: 09.10.2024", []),
        ("Laskun numero: 25-11873 | Eräpäivä: 28.2.2025", []),
        (
            'Chuyển khoản Vietcombank STK 0938166622, nội dung "KIA 418.27".\nMọi thắc mắc gọi +84 906 318 854',
            ["+84 906 318 854"],
        ),
        (
            "Graag vóór aflevering overmaken naar NL87 TRIO 1454 6875 87 o.v.v. 2025-0412.\nContact: 06 12345678",
            ["06 12345678"],
        ),
        ("出荷伝票 No. 0417-22918\n出荷日：令和6年10月8日", []),
        ("Реєстраційний номер у реєстрі 24-0917-2208", []),
        # (a phone word still wins: an invoice's line to call, a Japanese phone's "No.")
        ("Lasku: soita 040 123 4567", ["040 123 4567"]),
        ("お問い合わせ 電話 No. 03-1234-5678", ["03-1234-5678"]),
    ],
)
def test_what_farms_garages_and_events_taught(text, want):
    assert phones_in(text) == want, text


def test_validating_numbers_compiles_no_pattern_twice(monkeypatch):
    # (phonenumbers compiles a region's pattern on each validation; past some two hundred regions' patterns re's own
    # cache of 512 thrashes: the scanner switches on the library's cache of compiled patterns when it warms up)
    import re

    def text(n: int) -> str:
        return " ".join(
            [
                f"Tel. +49 30 1234567{n}",
                f"Tél. 01 42 68 53 0{n}",
                f"Tel: +44 20 7946 095{n}",
                f"Тел.: +7 495 123-45-6{n}",
            ]
            + [
                f"Tel. +39 06 6982 123{n}",
                f"Tel: +34 912 345 67{n}",
                f"電話：03-1234-567{n}",
                f"Tel: +55 11 3003-400{n}",
            ]
        )

    pii = PiiScanner()
    assert len(phones_in(text(1))) == 8
    calls = []
    real = re.compile
    monkeypatch.setattr(re, "compile", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    assert len([f for f in pii.scan(text(2)) if f.type == "PHONE"]) == 8  # (new numbers: no memo of the scanner's)
    assert calls == []


@pytest.mark.parametrize(
    "text,want",
    [
        # (a reader's of the round's rules: a phone word on the next line that names no value of its own still names this
        # number; "numéro national" is France's word for a national phone number too; a phone word before "in the
        # register"; a booking's, a meeting's line with a note is a phone; "forfait" is a mobile plan too)
        ("Driver no.: 9123 4567\nCall on arrival", ["9123 4567"]),
        ("Nr.: 22 33 44 55\n(mobil)", ["22 33 44 55"]),
        ("Composez le numéro national 0 800 23 13 13", ["0 800 23 13 13"]),
        ("Numéro national : 09 69 32 15 15", ["09 69 32 15 15"]),
        ("Телефон, зазначений у реєстрі: 067 123 45 67", ["067 123 45 67"]),
        ("Hotel reservation number (direct): (212) 555-0143", ["(212) 555-0143"]),
        ("Booking no. (UK): 020 7946 0958", ["020 7946 0958"]),
        ("Le forfait 06 12 34 56 78 sera résilié le 30/04.", ["06 12 34 56 78"]),
        # (a second reader's: "in the register" after a contact's word, a phone list's own label before a number word,
        # a helpline's note after a record's number word)
        ("Контактний номер у реєстрі: 067 123 45 67", ["067 123 45 67"]),
        ("Мобільний, вказаний у реєстрі: 067 123 45 67", ["067 123 45 67"]),
        ("Alternate no.: 9123 4567\nFax: 9123 4568", ["9123 4567", "9123 4568"]),
        ("Policy number (24 hrs): 0800 123 456", ["0800 123 456"]),
    ],
)
def test_what_a_reader_of_the_round_kept(text, want):
    assert phones_in(text) == want, text


def test_a_card_with_a_currency_and_its_amount_after_it_and_a_ssn_column_under_a_rule():
    pii = PiiScanner().scan
    for text in (
        "UnionPay card 6250 9410 0652 8591 005 CNY 1280.00",
        "Card: 6250 9410 0652 8591 005 CVV 123 exp 09/27",
        "Paid by card 6250 9410 0652 8591 005 €45.00 on 12/03",
    ):
        assert [f.text for f in pii(text) if f.type == "CREDIT_CARD"] == ["6250 9410 0652 8591 005"], text
    # (a name is no tax label: "Iva:", "Tin:", "Holiday Inn:"; a dashed SSN keeps its shape whatever follows it)
    for text in (
        "12/03/24, 10:32 - Iva: 4532015112830366",
        "Aung Tin: 4532015112830366",
        "Holiday Inn: 4532015112830366",
    ):
        assert [f.text for f in pii(text) if f.type == "CREDIT_CARD"] == ["4532015112830366"], text
    assert [f.text for f in pii("Payee TIN: 412-55-1234 (EIN)") if f.type == "US_SSN"] == ["412-55-1234"]
    assert [f.text for f in pii("SSN  412-55-0193\n---  412550194") if f.type == "US_SSN"] == ["412-55-0193"]


@pytest.mark.parametrize(
    "text,want",
    [
        # (writers CU's and CT's charities and ports: a Persian extension in Persian numerals)
        ("پیگیری: 021 8864 5439 داخلی ۴ – واتساپ: 0912 418 6618", ["021 8864 5439 داخلی ۴", "0912 418 6618"]),
        ("الهاتف: 011 465 2200 داخلي ٢١٤", ["011 465 2200 داخلي ٢١٤"]),
        # (and their numbers that are none: a Portuguese social-security and company number, a Korean receipt's
        # serial, unique and designation numbers and its ordinal glued to a number, a Canadian SIN behind a note, a
        # UPC-A as printed under its bars on a line that names it)
        ("NIPC: 508 731 264\nNISS: 2 0004 1875 3\nHorário de atendimento: 9h30–12h30", []),
        ("일련번호: 2024-0418", []),
        ("고유번호: 117-82-61873 · 지정번호: 제2022-0418호", []),
        ("SIN (for estate gift file only): 046 454 286", []),
        ("SIN (estate): 046 454 286", []),
        ("Case pack UPC 0 41220 06418 7 (water), 0 30000 04187 3 (oatmeal).", []),
        (
            "Hinweis für Altbestandskunden der Reederei:\n"
            "In Ihren Unterlagen aus den 1990er Jahren finden Sie noch die alte Bankverbindung\n"
            "Kto.-Nr. 418 9648 00, BLZ 200 505 50 (Hamburger Sparkasse).\n"
            "Diese ist seit der SEPA-Umstellung nicht mehr gültig. Bitte verwenden Sie ausschließlich die Angaben auf der "
            "aktuellen Rechnung.\n"
            "Kundennummer: 00012822, Vertragskonto 5004 1822 65",
            [],
        ),
        # (a phone word still wins, and a reader's: "my number" in Korean, a Bengali label before "no.", the shekel's
        # and a Serbian city's NIS, an Indian mobile before a stray digit, a note about a person or opening hours after
        # an id's word)
        ("SIN (or call us instead): 1-800-959-8281", ["1-800-959-8281"]),
        ("전화번호: 02-2145-7788", ["02-2145-7788"]),
        ("제 번호: 010-1234-5678", ["010-1234-5678"]),
        ("আমার নং 01712-345678", ["01712-345678"]),
        ("Apartment for rent in Haifa, 3 rooms, 4500 NIS, 054-1234567", ["054-1234567"]),
        ("Kancelarija Nis: 018 523 456", ["018 523 456"]),
        ("Mobile: 0 98765 43210 2 BHK flat for rent in Pune", ["0 98765 43210 2"]),
        ("Incident (reported by neighbour Jane): 0412 555 123", ["0412 555 123"]),
        ("Medicare (Mon-Fri 8am-8pm): 1800 633 422", ["1800 633 422"]),
    ],
)
def test_what_charities_and_ports_taught(text, want):
    assert phones_in(text) == want, text


def test_a_tin_columns_row_whose_type_cell_says_ssn():
    """A 1099 list's TIN column: an undashed number whose type cell after it says SSN is one; an EIN's row, and a
    number before the next field's "SSN" label, are not."""
    table = (
        "RECIPIENT NAME             TIN          TIN TYPE  BOX1 NEC\n"
        "Hernandez, Luis A.         545187204    SSN       4,850.00\n"
        "Nguyen Interpreting LLC    611904418    EIN       7,125.00\n"
    )
    got = [(f.type, table[f.start : f.end]) for f in SC.scan(table) if f.type == "US_SSN"]
    assert got == [("US_SSN", "545187204")]
    for text in (
        "Member TIN 545187204   SSN: 523-41-8876",
        "Member TIN 545187204   SSN 523-41-8876",
        "Name     TIN          Note\nLuis     545187204    SSN  523-41-8876",
    ):
        got = [table for f in SC.scan(text) if f.type == "US_SSN" and text[f.start : f.end] == "545187204"]
        assert not got, text
    # (a reader's: an EIN in the next column is no type cell, and a header that names SSNs keeps its SSN)
    for text in (
        "Employee,SSN/TIN,Employer\nLuis Hernandez,545187204,EIN 61-1904418",
        "Name,SSN or TIN,Notes\nLuis Hernandez,545187204,EIN pending for his LLC",
        "Name,SSN/TIN,Type\nLuis,545187204,EIN",
    ):
        assert [text[f.start : f.end] for f in SC.scan(text) if f.type == "US_SSN"] == ["545187204"], text
