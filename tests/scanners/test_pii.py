"""PII scanner: positives, look-alike negatives, Unicode tricks, offsets."""

import pytest

from leash_cli.scanners import Finding, PiiScanner, mask, redact
from leash_cli.scanners.normalize import normalize
from leash_cli.scanners.pii import card_brand, iban_ok, luhn_ok

SC = PiiScanner()


def types(text, scanner=SC):
    return [(f.type, f.text) for f in scanner.scan(text)]


def one(text, typ):
    found = [f for f in SC.scan(text) if f.type == typ]
    assert len(found) == 1, (text, SC.scan(text))
    f = found[0]
    assert text[f.start : f.end] == f.text
    return f.text


# ---------------------------------------------------------------- EMAIL
@pytest.mark.parametrize(
    "email",
    [
        "john@example.com",
        "john.doe+tag@mail.example.co.uk",
        "a_b-c@sub-domain.io",
        "X@Y.ORG",
        "first.last@université.fr".replace("é", "e"),
    ],
)
def test_email_positive(email):
    assert one(f"write to {email}, thanks", "EMAIL") == email


def test_email_after_a_url_fragment_or_a_user_without_password_is_an_email():
    assert one("see https://example.org/faq#contact ann@example.com", "EMAIL") == "ann@example.com"
    assert one("https://docs.example.org/#ann@example.com", "EMAIL") == "ann@example.com"


@pytest.mark.parametrize(
    "text",
    [
        "git@github.com:leash/leash.git",
        "icon@2x.png",
        "user@localhost",
        "@mention someone",
        "npm i left-pad@1.3.0",
        "foo@bar",
        "a@b.c",
        "postgres://app:s3cret@db.example.com:5432/app",
        "postgres://billing:Xk9#pL2v@db.example.com:5432/billing",  # an unescaped "#" in the password
    ],
)
def test_email_negative(text):
    assert not [t for t in types(text) if t[0] == "EMAIL"]


# ---------------------------------------------------------------- CREDIT_CARD
def _luhn_complete(prefix: str, length: int) -> str:
    body = prefix + "0" * (length - len(prefix) - 1)
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError


@pytest.mark.parametrize(
    "prefix,length,brand",
    [
        ("4", 13, "visa"),
        ("4", 16, "visa"),
        ("4", 19, "visa"),
        ("51", 16, "mastercard"),
        ("55", 16, "mastercard"),
        ("2221", 16, "mastercard"),
        ("2720", 16, "mastercard"),
        ("34", 15, "amex"),
        ("37", 15, "amex"),
        ("6011", 16, "discover"),
        ("65", 16, "discover"),
        ("644", 19, "discover"),
        ("3528", 16, "jcb"),
        ("3589", 19, "jcb"),
        ("36", 14, "diners"),
        ("300", 16, "diners"),
        ("62", 16, "unionpay"),
        ("62", 19, "unionpay"),
        ("6759", 16, "maestro"),
        ("6759", 19, "maestro"),
        ("5018", 16, "maestro"),
        ("9792", 16, "troy"),
        ("606282", 16, "hipercard"),
        ("506099", 19, "verve"),
        ("507865", 16, "verve"),
    ],
)
def test_card_brands(prefix, length, brand):
    num = _luhn_complete(prefix + "12345", length)
    assert card_brand(num) == brand
    assert one(f"card {num} ok", "CREDIT_CARD") == num


@pytest.mark.parametrize(
    "card",
    [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5500 0000 0000 0004",
        "3782 822463 10005",
        "6011 1111 1111 1117",
        "4111111111111111",
    ],
)
def test_card_separators(card):
    assert one(f"pay with {card} today", "CREDIT_CARD") == card


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # Luhn invalid
        "1234567812345678",  # Luhn valid? no + bad IIN
        "9999 9999 9999 9995",  # unknown IIN
        "order 2024-01-15-0001-9876-5432",
        "uuid 550e8400-e29b-41d4-a716-446655440000",
        "1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6",  # digits separated one by one
        "VAT no. 300012345600003",  # 15 digits from 300: no Diners number has 15 (a Saudi VAT number)
    ],
)
def test_card_negative(text):
    assert not [t for t in types(text) if t[0] == "CREDIT_CARD"]


def test_card_with_cvv_after():
    assert one("4111 1111 1111 1111 123", "CREDIT_CARD") == "4111 1111 1111 1111"


def test_card_fullwidth_digits_offsets():
    text = "card ４１１１ １１１１ １１１１ １１１１ end"
    f = [f for f in SC.scan(text) if f.type == "CREDIT_CARD"][0]
    assert (f.start, f.end) == (5, 24)
    assert text[f.start : f.end] == "４１１１ １１１１ １１１１ １１１１"


def test_card_zero_width_inside():
    text = "card 4111\u200b1111\u200b1111\u200b1111."
    f = [f for f in SC.scan(text) if f.type == "CREDIT_CARD"][0]
    assert text[f.start : f.end] == "4111\u200b1111\u200b1111\u200b1111"


# ---------------------------------------------------------------- US_SSN
@pytest.mark.parametrize("ssn", ["512-34-6789", "001-01-0001", "665-12-3456", "899-99-9999"])
def test_ssn_positive(ssn):
    assert one(f"SSN: {ssn}", "US_SSN") == ssn


def test_ssn_plain_digits_need_context():
    assert one("my social security number is 512346789", "US_SSN") == "512346789"
    assert not [t for t in types("id 512346789") if t[0] == "US_SSN"]


@pytest.mark.parametrize(
    "ssn",
    [
        "000-12-3456",
        "666-12-3456",
        "900-12-3456",
        "999-12-3456",
        "512-00-6789",
        "512-34-0000",
        "078-05-1120",
        "219-09-9999",
        "123-45-6789",  # specimens (documented)
        "512-34 6789",  # mixed separators
    ],
)
def test_ssn_negative(ssn):
    assert not [t for t in types(f"SSN: {ssn}") if t[0] == "US_SSN"]


# ---------------------------------------------------------------- IBAN
VALID_IBANS = [
    "DE89370400440532013000",
    "GB82WEST12345698765432",
    "FR1420041010050500013M02606",
    "ES9121000418450200051332",
    "NL91ABNA0417164300",
    "BE68539007547034",
    "CH9300762011623852957",
    "IT60X0542811101000000123456",
    "NO9386011117947",
    "PL61109010140000071219812874",
]


@pytest.mark.parametrize("iban", VALID_IBANS)
def test_iban_positive_compact_and_grouped(iban):
    assert iban_ok(iban)
    assert one(f"IBAN {iban}.", "IBAN") == iban
    grouped = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    assert one(f"pay to {grouped} please", "IBAN") == grouped


@pytest.mark.parametrize(
    "text",
    [
        "DE89370400440532013001",  # bad checksum
        "DE8937040044053201300",  # wrong length
        "XX89370400440532013000",  # unknown country
        "ABCD12345678901234",
    ],
)
def test_iban_negative(text):
    assert not [t for t in types(text) if t[0] == "IBAN"]


# ---------------------------------------------------------------- IP_ADDRESS
@pytest.mark.parametrize(
    "ip",
    [
        "192.168.1.10",
        "10.0.0.1",
        "8.8.8.8",
        "255.255.255.255",
        "127.0.0.1",
        "2001:db8::1",
        "fe80::1",
        "::1",
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        "::ffff:192.0.2.128",
        "2001:db8:85a3::8a2e:370:7334",
    ],
)
def test_ip_positive(ip):
    assert one(f"host {ip} is down.", "IP_ADDRESS") == ip


@pytest.mark.parametrize(
    "text",
    [
        "256.1.1.1",
        "1.2.3",
        "01.02.03.04",
        "version 1.2.3.4",
        "v1.2.3.4",
        "release 10.0.0.1 notes",
        "1.2.3.4-beta",
        "1.2.3.4+build5",
        "OID 1.3.6.1.4.1.311",
        "std::vector<int>",
        "dead::beef",
        "12:30:45",
        "00:1A:2B:3C:4D:5E",
        "Foo::Bar::baz()",
        "per clause 4.2.1.7 of the agreement",  # a document's numbered parts
        "see section 12.3.4.1 and appendix 3.1.2.4",
        "worked examples in appendix A-9.8.8.1",
        "Release notes — Atlas Agent 4.2.0.1 (build 20240611.3)",
    ],
)
def test_ip_negative(text):
    assert not [t for t in types(text) if t[0] == "IP_ADDRESS"]


# ---------------------------------------------------------------- PHONE
@pytest.mark.parametrize(
    "text,phone",
    [
        ("call me at (415) 555-0134", "(415) 555-0134"),
        ("office: 415-555-0134", "415-555-0134"),
        ("office: 415.555.0134", "415.555.0134"),
        ("+1 415 555 0134", "+1 415 555 0134"),
        ("+1-415-555-0134", "+1-415-555-0134"),
        ("+44 20 7946 0958", "+44 20 7946 0958"),
        ("+49 30 12345678", "+49 30 12345678"),
        ("+33 1 23 45 67 89", "+33 1 23 45 67 89"),
        ("+34 912 345 678", "+34 912 345 678"),
        ("Telefon: 030 1234567", "030 1234567"),
        ("téléphone : 01 23 45 67 89", "01 23 45 67 89"),
        ("phone 4155550134", "4155550134"),
        ("teléfono 0034 912 345 678", "0034 912 345 678"),
    ],
)
def test_phone_positive(text, phone):
    assert one(text, "PHONE") == phone


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-15 10:30:45",
        "2024-01-15T10:30:45Z",
        "timestamp 1700000000123",
        "order #415-555-0134",
        "Order number: 415-555-0134",
        "invoice 2024-555-0134",
        "ISBN 978-3-16-148410-0",
        "ISBN-10: 0-306-40615-2",
        "version 4.15.555.0134",
        "uuid 550e8400-e29b-41d4-a716-446655440000",
        "sha 9f1c2e7a4b8d3f60e5a1c7b9d2e4f6a8b0c1d3e5",
        "4111 1111 1111 1112",
        "pages 123-456",
        "1234567890",
        "ratio 3.14159265",
        "12/25/2024",
        "build 20240115.1234",
        "port 8080 8443 9090",
        "+28 1234 5678",
        "+0 1234 5678",
    ],
)
def test_phone_negative(text):
    assert not [t for t in types(text) if t[0] == "PHONE"]


# ---------------------------------------------------------------- options / API
def test_entity_filter_and_custom_patterns():
    sc = PiiScanner(entities=["EMAIL"], custom_patterns={"EMPLOYEE_ID": r"\bEMP-\d{6}\b"})
    text = "john@example.com EMP-123456 call (415) 555-0134"
    assert [f.type for f in sc.scan(text)] == ["EMAIL", "EMPLOYEE_ID"]


def test_custom_pattern_value_group():
    sc = PiiScanner(entities=[], custom_patterns={"TICKET": r"ticket=(?P<value>[A-Z]{3}-\d+)"})
    text = "see ticket=ABC-42 now"
    f = sc.scan(text)[0]
    assert (f.type, f.text) == ("TICKET", "ABC-42")


def test_unknown_entity_and_bad_regex_rejected():
    with pytest.raises(ValueError):
        PiiScanner(entities=["NOPE"])
    with pytest.raises(ValueError):
        PiiScanner(custom_patterns={"X": "("})


def test_min_score():
    text = "ref 415-555-0134"
    assert PiiScanner(min_score=0.0).scan(text)
    assert not PiiScanner(min_score=0.99).scan("call 415-555-0134")


def test_findings_are_frozen_and_sorted():
    fs = SC.scan("b@example.com then a@example.com")
    assert [f.text for f in fs] == ["b@example.com", "a@example.com"]
    with pytest.raises(Exception):
        fs[0].start = 3  # type: ignore[misc]
    assert isinstance(fs[0], Finding)


# ---------------------------------------------------------------- Unicode tricks
def test_zero_width_inside_email_offsets():
    text = "mail: jo\u200bhn@exa\u200dmple.com!"
    f = SC.scan(text)[0]
    assert f.type == "EMAIL"
    assert (f.start, f.end) == (6, 24)
    assert f.text == "jo\u200bhn@exa\u200dmple.com"


def test_tag_characters_and_soft_hyphen():
    text = "x john\U000e0041@exam\u00adple.com y"
    f = SC.scan(text)[0]
    assert f.type == "EMAIL" and f.text == "john\U000e0041@exam\u00adple.com"


def test_fullwidth_at_and_digits_in_phone():
    text = "tel ＋４４ ２０ ７９４６ ０９５８ and ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ"
    got = {f.type: f.text for f in SC.scan(text)}
    assert got["PHONE"] == "＋４４ ２０ ７９４６ ０９５８"
    assert got["EMAIL"] == "ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ"


def test_separators_nbsp_in_card():
    text = "4111\u00a01111\u00a01111\u00a01111"
    assert [f.type for f in SC.scan(text)] == ["CREDIT_CARD"]


def test_normalize_offset_map():
    s = "a\u200bb\uff11c\ufb01d"  # zero width, fullwidth 1, "fi" ligature
    n = normalize(s)
    assert n.text == "ab1cfid"
    assert n.span(0, 2) == (0, 3)
    assert n.span(2, 3) == (3, 4)
    assert n.span(4, 6) == (5, 6)  # inside the ligature -> whole ligature
    assert n.span(4, 7) == (5, 7)
    nf = normalize("ІGNORE Ρrevious", fold=True)
    assert nf.text == "ignore previous"


# ---------------------------------------------------------------- mask / redact
def test_mask_never_reveals():
    assert mask("john.doe@example.com") == "j***@example.com"
    m = mask("sk-proj-abcdefghijklmnopqrstuvwxyz0123456789")
    assert m.startswith("sk-p") and len(m) < 10
    assert mask("512-34-6789") == "5…89"
    assert mask("secret") == "***"


def test_redact_right_to_left_and_merge():
    text = "a john@example.com b 4111 1111 1111 1111 c"
    out = redact(text, SC.scan(text))
    assert out == "a [EMAIL] b [CREDIT_CARD] c"
    f1 = Finding("x", "EMAIL", 2, 10, 0.9, text[2:10])
    f2 = Finding("x", "PHONE", 5, 18, 0.5, text[5:18])
    assert redact(text, [f1, f2], placeholder="<{type}>") == "a <EMAIL> b 4111 1111 1111 1111 c"


@pytest.mark.parametrize(
    "text",
    [
        "client_ip=68.44.190.12 build=4.18.2",  # only "(build 123)" after a dotted quad makes it a version
        "10.0.0.12 (build server)",
        "Mude o DNS para 8.8.8.8",  # Portuguese "para", for
        "Routing table: 10.0.0.1",
        "gw-10.0.0.1",  # a host's name and a dash (a lone capital and a dash is an appendix: A-9.8.8.1)
    ],
)
def test_ip_beside_version_and_section_words(text):
    assert [t for t in types(text) if t[0] == "IP_ADDRESS"]


def test_section_sign_before_a_dotted_number():
    assert not [t for t in types("see § 4.2.1.7") if t[0] == "IP_ADDRESS"]


def test_numbered_sections_in_lists_and_their_siblings_are_no_ip_addresses():
    sc = PiiScanner()
    text = "Clause 5.3.1.2 holds where 5.3.1.1 is met; see also sections 2.4.1.1 and 9.1.2.4."
    assert [f for f in sc.scan(text) if f.type == "IP_ADDRESS"] == []
    # an address beside a section of other numbers is still an address
    net = "As section 10.0.1.1 says, the resolver at 10.0.0.53 answers first."
    assert [net[f.start : f.end] for f in sc.scan(net) if f.type == "IP_ADDRESS"] == ["10.0.0.53"]


def test_a_us_tax_form_is_an_ssn_word():
    sc = PiiScanner()
    text = "The W-2 is fine. My husband's number on the 1040 should read 512 44 7781, not what the preparer typed."
    assert [text[f.start : f.end] for f in sc.scan(text) if f.type == "US_SSN"] == ["512 44 7781"]


def test_an_assemblys_version_after_its_namespace_is_no_ip_address():
    sc = PiiScanner()
    log = "[restore]   Newtonsoft.Json 13.0.0.0 -> resolved 13.0.3\n[restore]   host db.internal 10.1.2.3"
    assert [log[f.start : f.end] for f in sc.scan(log) if f.type == "IP_ADDRESS"] == ["10.1.2.3"]


def test_requirement_numbers_and_clause_headings_are_no_ip_addresses():
    sc = PiiScanner()
    for text in (
        "Scope: PCI DSS v4.0.1 req. 8.3.1.2 and 6.4.1.1",
        "14.2 Limits\n14.2.1.3 Liability is capped at the fees",  # (a text of numbered headings)
    ):
        assert [f for f in sc.scan(text) if f.type == "IP_ADDRESS"] == [], text
    log = "10.0.0.12 GET /health 200\n192.168.10.4 Gateway reachable"
    assert [log[f.start : f.end] for f in sc.scan(log) if f.type == "IP_ADDRESS"] == ["10.0.0.12", "192.168.10.4"]


@pytest.mark.parametrize(
    "text,want",
    [
        ("10.0.0.1 Router admin page\nDNS 10.0.0.2", ["10.0.0.1", "10.0.0.2"]),  # no numbered headings around
        ("Failed login for J.Smith 192.168.1.10", ["192.168.1.10"]),  # a name is no namespace
        ("DC01.CONTOSO.LOCAL 10.0.0.10", ["10.0.0.10"]),
        ("Remote control 192.168.1.50", ["192.168.1.50"]),
        ("Incoming req: 10.1.2.3", ["10.1.2.3"]),
        ("Router firmware 1.0.0.12 installed. DNS servers: 1.1.1.1 and 1.0.0.1", ["1.1.1.1", "1.0.0.1"]),
    ],
)
def test_ip_addresses_a_second_reader_found(text, want):
    assert [text[f.start : f.end] for f in PiiScanner().scan(text) if f.type == "IP_ADDRESS"] == want


def test_a_tax_form_does_not_outweigh_an_order_word():
    text = "Filed with the 1040. Order no. 417-22-0938"
    assert [f for f in PiiScanner().scan(text) if f.type == "US_SSN"] == []


def test_a_version_in_another_language_or_after_its_products_name_is_no_ip_address():
    for text in ("Versión MIUI: 14.0.11.0 (UMOEUXM)", "versão 3.2.1.9 instalada", "Firmware RT-AX58U: 3.0.0.4"):
        assert [f for f in PiiScanner().scan(text) if f.type == "IP_ADDRESS"] == [], text


def test_more_versions_and_masks_are_no_ip_addresses():
    for text in (
        "versão do app 2.18.4.1, usuário 4471",
        "connexion suspecte (version client 3.12.1.4)",
        "schema_version: 2.5.29.17",
        "tested on kernel 6.1.0.18",
        "subnet mask 255.255.255.0 default",
    ):
        assert [f for f in PiiScanner().scan(text) if f.type == "IP_ADDRESS"] == [], text


def test_a_medical_record_number_is_no_ssn():
    assert [f for f in PiiScanner().scan("ICD-10 E11.65, MRN 004-47-1220.") if f.type == "US_SSN"] == []


@pytest.mark.parametrize(
    "text",
    [
        'ua="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"',
        'sip REGISTER ua="Grandstream GXP2170 1.0.11.23"',  # a desk phone's firmware in its User-Agent
        "user_agent='Acme-Updater 2.4.0.17 (Windows)'",
        "Node 20.11.1, pnpm 8.15.4, terraform 1.7.5, consul 1.17.2.1",  # a list of products and versions
        "pushed registry.example/api:3.14.0.2 to the cluster",  # an image's tag
        "Server: Asterisk-18.20.1.2(18.20.1)",
        "release: checkout-web@7.3.11.2+731102",  # a release with its build
        "模板审核通过 版本号 4.1.0.22",
        "アプリのバージョン 2.3.0.11 を配信",
    ],
)
def test_versions_in_developer_artefacts_are_no_ip_addresses(text):
    assert [f for f in PiiScanner().scan(text) if f.type == "IP_ADDRESS"] == [], text


@pytest.mark.parametrize(
    "text,want",
    [
        ("GET /api/hosts/10.2.3.4 200", ["10.2.3.4"]),  # a path's segment
        ("ssh deploy@10.0.0.5", ["10.0.0.5"]),
        ("nginx 1.25.3, client 10.0.0.5", ["10.0.0.5"]),
        ("User-Agent: curl/8.4.0\nX-Forwarded-For: 203.0.113.9", ["203.0.113.9"]),
        ("proxy=http://10.0.0.1:3128/", ["10.0.0.1"]),
        # (a second reader's: a host name's or an interface's address, a decimal before, a header line's client)
        ("Connection refused: db01.internal/10.20.30.40:5432", ["10.20.30.40"]),
        ("permitted tcp outside/10.20.30.40(51234) -> inside/192.168.1.5(443)", ["10.20.30.40", "192.168.1.5"]),
        ("eth0/192.168.1.20", ["192.168.1.20"]),
        ("price 9.99, attacker 203.0.113.7", ["203.0.113.7"]),
        ("User-Agent: curl/8.4.0 from 10.20.30.40", ["10.20.30.40"]),
        ("ip 10.0.0.1+10.0.0.2", ["10.0.0.1", "10.0.0.2"]),
        ("gateway 10.20.30.40 (1.2)", ["10.20.30.40"]),
    ],
)
def test_addresses_beside_versions_still_found(text, want):
    assert [text[f.start : f.end] for f in PiiScanner().scan(text) if f.type == "IP_ADDRESS"] == want


def test_message_call_and_event_ids_are_no_email_addresses():
    sc = PiiScanner()
    for text in (
        "Message-ID: <CAB4xK2p9Lm@mail.example.com>",
        "In-Reply-To: <a1b2@mx.example.org> <c3d4@mx.example.org>",
        "postfix/cleanup[2211]: 4QbX: message-id=<20240611.88@shop.example>",
        "Call-ID: 5521_88213@pbx-edge.example.net",
        "BEGIN:VEVENT\nUID:20240611T0900-4471@calendar.example.fr\nSUMMARY:Review",
        'From: "Front desk" <sip:2001@pbx.example.co.za>',
    ):
        assert [f for f in sc.scan(text) if f.type == "EMAIL"] == [], text
    text = "Message-ID: <x1@mail.example.com>\nFrom: ana.souza@example.com.br"
    assert [text[f.start : f.end] for f in sc.scan(text) if f.type == "EMAIL"] == ["ana.souza@example.com.br"]
    for text, want in (  # (a second reader's: an address the header's line holds besides its ids)
        ("References: Jane Roe, jane.roe@acme.com, (555) 123-4567", "jane.roe@acme.com"),
        ("In-Reply-To: your mail. Please write to support@acme.com", "support@acme.com"),
        ("Message-ID: <x@h.example> from bob@example.com", "bob@example.com"),
        ("Teams SIP address: sip:jane.doe@contoso.com", "jane.doe@contoso.com"),  # (a person's SIP address)
    ):
        assert [f.text for f in sc.scan(text) if f.type == "EMAIL"] == [want], text


def test_a_card_number_glued_to_letters_is_an_id():
    sc = PiiScanner()
    assert [f for f in sc.scan("submit ok ref=TBS4111111111111111 to=SENDER") if f.type == "CREDIT_CARD"] == []
    assert [f for f in sc.scan("sha deadbeef4111111111111111cafe") if f.type == "CREDIT_CARD"] == []
    for text in ("card: 4111111111111111", "card4111111111111111", "4111111111111111abc"):  # (no one-letter evasion)
        assert [f.text for f in sc.scan(text) if f.type == "CREDIT_CARD"] == ["4111111111111111"], text


def test_ssns_in_a_postgres_copy_block():
    text = (
        "COPY hr.staff (id, name, ssn, phone) FROM stdin;\n"
        "11\tAna Ruiz\t512447781\t3125550143\n12\tBo Lee\t623118904\t7735550101\n\\.\n"
    )
    assert [f.text for f in PiiScanner().scan(text) if f.type == "US_SSN"] == ["512447781", "623118904"]


def test_an_iranian_iban_and_an_ipv6_address_after_a_labels_colon():
    sc = PiiScanner()
    assert [f.text for f in sc.scan("شماره شبا: IR11 0170 0000 0012 3456 7890 01")] == [
        "IR11 0170 0000 0012 3456 7890 01"
    ]
    for text, want in (
        ("- ステージング：2001:db8:a0b:12f0::1", "2001:db8:a0b:12f0::1"),
        ("ip:2001:db8::7", "2001:db8::7"),
    ):
        assert [f.text for f in sc.scan(text) if f.type == "IP_ADDRESS"] == [want]
    assert [f for f in sc.scan("12:30:45 abc::def") if f.type == "IP_ADDRESS"] == []


def test_a_diners_card_with_a_short_last_group():
    sc = PiiScanner()
    text = "Forma de pago: tarjeta Diners Club 3056 9309 0259 04 (registrada por la paciente)"
    assert [f.text for f in sc.scan(text) if f.type == "CREDIT_CARD"] == ["3056 9309 0259 04"]
    assert [f for f in sc.scan("ref 4111 1111 1111 11 x") if f.type == "CREDIT_CARD"] == []  # (a card needs Luhn)


@pytest.mark.parametrize(
    "text,want",
    [
        ("E-mailcontato@padaria-exemplo.com.br | WhatsApp", "contato@padaria-exemplo.com.br"),  # scraped, label glued
        ("Emailinfo@firma.example", "info@firma.example"),
        ("E-MAILvendas@loja.example", "vendas@loja.example"),
        ("Email@example.com", "Email@example.com"),  # (the label alone is the local part)
        ("e-mailbox.jo@host.example", "e-mailbox.jo@host.example"),  # (lower case: may be the address's own)
    ],
)
def test_a_mail_label_glued_to_its_address(text, want):
    assert [text[f.start : f.end] for f in PiiScanner().scan(text) if f.type == "EMAIL"] == [want]


# (what the twentieth writer's exports, records and interchange formats and the twenty-first's telecom, device and
# IoT text taught)
@pytest.mark.parametrize(
    "text",
    [
        "Versión del conector: 6.4.0.12, servidor etl-prod-02",  # a bare version with nothing of an address
        "Export TK-Suite 4.2.1.0",
        "versi adaptor 2.3.0.11",
        "Ticket\tFirmware\tSite\nINC-1\t4.2.1.0\tMain Campus",  # a version's column
        "Versión de software: 11.0.2.5(H110SP2C05)",  # a firmware's build glued after it
        "모뎀 SW: 22.40.1.3 (버전 번호)",
        "User-Agent: Yealink SIP-T46U 108.86.0.45",  # an unquoted SIP header
        "version WebUI : 1.0.3.112 → 1.0.3.118",  # a change of versions
        "firmware-paketti 4.1.0.7, boot 1.0.3.11",
        "1-0:1.8.0.255   (energia czynna pobrana)  = 184 223.71 kWh",  # a meter's OBIS register code
        "0x5bd1  8a:e7:c2:9e:fb:be:cb:37  人体传感器",  # a Zigbee device's EUI-64
    ],
)
def test_versions_and_codes_of_devices_are_no_ip_addresses(text):
    assert [f.text for f in PiiScanner().scan(text) if f.type == "IP_ADDRESS"] == [], text


@pytest.mark.parametrize(
    "text,want",
    [
        ("host,ip\nweb1,4.2.2.1\nweb2,8.8.4.4", ["4.2.2.1", "8.8.4.4"]),  # an address's column
        ("nameserver 1.1.1.1", ["1.1.1.1"]),
        ("Use 2.3.4.5 as gateway", ["2.3.4.5"]),
        ("Cloudflare 1.1.1.1", ["1.1.1.1"]),  # a public resolver wherever it stands
        ("4.2.2.2:53 unreachable", ["4.2.2.2"]),
        ('reg.1.server.1.address="194.128.13.226" reg.1.server.1.port="5060"', ["194.128.13.226"]),  # not a phone
    ],
)
def test_small_addresses_beside_the_version_rules(text, want):
    assert [f.text for f in PiiScanner().scan(text) if f.type == "IP_ADDRESS"] == want, text


def test_an_iban_with_its_bic_glued_after_it():
    text = "C0187   DE27397705422653171633COBADEFFXXX  Meier, Thomas"
    assert [(f.type, f.text) for f in PiiScanner().scan(text)] == [("IBAN", "DE27397705422653171633")]


def test_cards_of_national_schemes_and_columns_of_other_numbers():
    # Brazil's Elo after a card's word; not without one
    assert types('"card":{"number":"5041758478410726","holder":"L M MOURA"}') == [("CREDIT_CARD", "5041758478410726")]
    assert types("ref 5041758478410726") == []
    # a column of SSCCs, one of which passes Luhn
    text = (
        " zending_id | postcode |        sscc\n------------+----------+--------------------\n"
        "  771204414 | 3431 EM  | 387124230000441910\n  771204415 | 3995 DA  | 387124230000441927\n"
    )
    assert [f for f in PiiScanner().scan(text) if f.type == "CREDIT_CARD"] == []


def test_addresses_glued_to_what_is_before_them():
    # a number's last group glued to the address after it (text pulled from a PDF), an EDIFACT segment's tag
    assert [
        f.text for f in PiiScanner().scan("Port.06 12 50 92 23contact@garnier-plomberie.fr") if f.type == "EMAIL"
    ] == ["contact@garnier-plomberie.fr"]
    assert [
        f.text for f in PiiScanner().scan("NAD+SU'\nCOM+einkauf@getraenke-kessler.de:EM'") if f.type == "EMAIL"
    ] == ["einkauf@getraenke-kessler.de"]
    # a Message-ID whose local part has an "=" is no address
    assert types("Message-ID: <CAF8x2=R9k0Qm4471ZpT@mail.gmail.com>") == []


def test_an_ach_files_entry_records_hold_ssns():
    batch = "5200ACME LOGISTICS                      1330522741PPDPAYROLL   250314250317   1091000010000441\n"
    entry = "622021000021000123456789     0000412550245201128      JAMES R WILLIAMS        0091000010000001\n"
    found = [(f.type, f.text) for f in PiiScanner().scan(batch + entry)]
    assert ("US_SSN", "245201128") in found
    # ...not without the batch's header, nor a number that no SSN is
    assert ("US_SSN", "245201128") not in [(f.type, f.text) for f in PiiScanner().scan(entry)]
    assert "US_SSN" not in [t for t, _ in types(batch + entry.replace("245201128", "945201128"))]


@pytest.mark.parametrize(
    "text,want",
    [
        # (a second reader of writers T's and U's rules: addresses the version rules took)
        ('3.14.15.92 - - [10/Oct/2023:13:55:36 +0000] "GET /login HTTP/1.1" 200 512', ["3.14.15.92"]),
        ("Connection refused 5.6.7.8", ["5.6.7.8"]),
        ("name,visitor\nbob,3.14.15.92", ["3.14.15.92"]),
        ("site,fw ip,notes\nNYC,1.2.0.8,edge", ["1.2.0.8"]),  # a column that names an address and a version word
        ("X-Forwarded-For: 3.14.15.92, 10.0.0.1", ["3.14.15.92", "10.0.0.1"]),
        ("firmware 4.1.0.7 from 192.168.1.20", ["192.168.1.20"]),  # a version does not make the next quad one
        ("build 1.0.3.112 to 10.0.0.5", ["10.0.0.5"]),
        ("Connected to 192.168.10.25(server01)", ["192.168.10.25"]),  # a host's name in brackets is no build
        ("client 85.214.132.117(Berlin) blocked", ["85.214.132.117"]),
        ("core sw 10.1.1.1", ["10.1.1.1"]),  # a switch
        ("PXE boot: 10.0.0.5", ["10.0.0.5"]),
        ("firmware update server : 172.16.5.4", ["172.16.5.4"]),
        ("user-agent: okhttp/4.9 | remote: 203.0.113.45", ["203.0.113.45"]),
    ],
)
def test_what_a_second_reader_of_the_version_rules_found(text, want):
    assert [f.text for f in PiiScanner().scan(text) if f.type == "IP_ADDRESS"] == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        ("Kreditkarte: 4222222222222", [("CREDIT_CARD", "4222222222222")]),  # a 13-digit Visa no phone can be
        ("4222222222222", [("CREDIT_CARD", "4222222222222")]),
        ("card_number,exp\n4915112345678,12/26", [("CREDIT_CARD", "4915112345678")]),  # a card's column
        ("cardholder,pan_clean\nBob,4111111111111111", [("CREDIT_CARD", "4111111111111111")]),  # "clean" is no EAN
        ("Room 12 3john@example.com", [("EMAIL", "3john@example.com")]),  # digits that start an address's own name
        ("ABC+john@example.com", [("EMAIL", "ABC+john@example.com")]),  # no EDIFACT segment before it
    ],
)
def test_what_a_second_reader_of_the_card_and_address_rules_found(text, want):
    assert types(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the twenty-second writer's LLM API traffic taught: JSON string escapes read as what they stand for)
        (
            '{"content": "\\u6211\\u7684\\u624b\\u673a\\u53f7 183 9059 2216\\uff0c\\u8c22\\u8c22"}',
            [("PHONE", "183 9059 2216")],
        ),
        ('"\\u90ae\\u7bb1\\uff1ahuangwei@xinyuan-elec.cn\\n2."', [("EMAIL", "huangwei@xinyuan-elec.cn")]),
        (
            '{"signature": "M +49 179 7834194\\nf.lang@hofmann-praezision.de\\nwww"}',
            [("PHONE", "+49 179 7834194"), ("EMAIL", "f.lang@hofmann-praezision.de")],
        ),
        ('  \\"name\\": \\"Carla M. Jimenez\\",\\n    \\"ssn\\": \\"838 19 3402\\",', [("US_SSN", "838 19 3402")]),
        # an IPv6 address and its port in a load balancer's log
        (
            "app/payments-prod/a27fa431558d3e8b 2001:db8:1406:6f27::90ff:60112 10.206.141.158:8443",
            [
                ("IP_ADDRESS", "2001:db8:1406:6f27::90ff"),
                ("IP_ADDRESS", "10.206.141.158"),
            ],
        ),
        # what is none of the types there
        ("score=0.8926 doc_id=3df7dd39 chars=19732-20756 page=112", []),
        ("Medicare No.: 2953 41187 2 / 1   Exp: 09/2027", []),
        ("Brown T. et al. Few-Shot Learners. NeurIPS 33 (2020) 1877–1901.", []),
        ('"upc": "0 85481 90017 3"', []),
        ("Faktura č. FA-2024-03311, variabilní symbol 202403311", []),
        ("Handwerkskammer Freiburg, Betriebsnr. 0418830", []),
        ("Ersatzteil Lüftermotor: 8738 2090 13", []),
    ],
)
def test_what_llm_api_traffic_taught(text, want):
    assert types(text) == want, text


def test_escaped_entities_map_back_to_the_escaped_text():
    text = '{"arguments": "{\\"to\\": \\"Jos\\u00e9\\", \\"phone\\": \\"+34 612 345 678\\"}"}\\n\\neyJ'
    f = [x for x in PiiScanner().scan(text) if x.type == "PHONE"]
    assert [(x.text, text[x.start : x.end]) for x in f] == [("+34 612 345 678", "+34 612 345 678")]


@pytest.mark.parametrize(
    "text,want",
    [
        # (a second reader of the JSON-escape reading: backslashes that are no JSON's, and what it made of the rest)
        (
            r"My OST file: C:\Users\jdoe\AppData\Local\Microsoft\Outlook\bob.smith@acme.com.ost (copy in C:\temp)",
            [("EMAIL", "bob.smith@acme.com.ost")],  # (as before: the file's name, whole)
        ),
        (r"\\fs01\users\tom.baker@acme.com\notes.txt", [("EMAIL", "tom.baker@acme.com")]),
        (r"\noindent \fbox{555-867-5309}", [("PHONE", "555-867-5309")]),  # LaTeX
        # JSON inside a JSON string: a tool call's arguments, read two levels down
        (
            r'{"tool_calls":[{"function":{"arguments":"{\"note\": \"\\u624b\\u6a5f 5119 4482\"}"}}]}',
            [("PHONE", "5119 4482")],
        ),
        (r'{"arguments": "{\"text\": \"hi\\nnancy@example.com\"}"}', [("EMAIL", "nancy@example.com")]),
        # the smaller rules: a German area code in brackets, words that hold a phone word's number, an EIN's TIN
        ("Tel.: +49 (2041) 70 88 0", [("PHONE", "+49 (2041) 70 88 0")]),
        ("Phone number (max 15 chars): 415-555-0132", [("PHONE", "415-555-0132")]),
        ("Contact phone for this submission: (415) 555-0132", [("PHONE", "(415) 555-0132")]),
        ("Call Medicare 1-800-633-4227", [("PHONE", "1-800-633-4227")]),
        ("बिल नम्बर 4471229033", []),  # a bill's number ("नम्बर" is any number)
        ("Employer TIN: 536224187", []),
        ("dead::beef:12345", []),
        ("rommon: 10.0.0.1", [("IP_ADDRESS", "10.0.0.1")]),
    ],
)
def test_what_a_second_reader_of_the_escape_rules_found(text, want):
    assert types(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the twenty-third writer's code, test fixtures and localisation files taught)
        ('    "666-87-7775",   # area 666\n    "613-79-0000", # serial 0000', []),  # an SSN's shape is no phone's
        ('  ["cpf"]=>\n  string(14) "390.533.447-05"', []),  # a Brazilian CPF
        ('"adoszam": "12345678-2-06",', []),  # a Hungarian tax number
        ("(z. B. `AT13 4110 5228 9222 3431` – die lehnt unser Validator ab)", []),  # an IBAN-shaped run
        ("['NL43 INGB 4955 6624 85', 'check digits altered']", []),
        ("1.3.6.1 = iso.org.dod.internet\n2.5.4.3 = id-at-commonName", []),  # OID arcs
        ("## 6.9.12.4 (2024-05-20)\n- Fixed crash", []),  # a release's heading
        ('"1:2:3:4:5:6:7:8:9",', []),  # a colon run with a one-digit "port"
        ("cartao: { numero: '5067 2275 7222 9654', validade: '01/28' }", [("CREDIT_CARD", "5067 2275 7222 9654")]),
        ('"POST /contact?email=m@x.edu&phone=%2B2015795839 HTTP/1.1"', [("EMAIL", "m@x.edu"), ("PHONE", "2015795839")]),
        ('dto.setCelular("(11) 90404-0138");', [("PHONE", "(11) 90404-0138")]),
        ('{ "Name": "PhoneNumber", "Value": 254712761157 }', [("PHONE", "254712761157")]),
        ('PatientName:  "HOLLOWAY*MARTIN",\n\t\tPatientSSN:   "204140396",', [("US_SSN", "204140396")]),
    ],
)
def test_what_code_fixtures_and_localisation_files_taught(text, want):
    assert types(text) == want, text


@pytest.mark.parametrize(
    "text,want",
    [
        # (what the twenty-fourth writer's finance operations taught)
        ("8=FIX.4.4|9=201|35=8|49=BUYSIDE1|56=EXECX|11=CSY2AJQLQLCF|37=3829276318|17=B1826B96AD80|55=BHP.AX|", []),
        ("20240412 05:12:31.540 INFO  [acceptor-3] logon", []),  # a compact date and an hour
        ("row 41: IP '269.82.76.859' -> out of range", []),
        (":86:INV 648223756 BANKGIRO 013-7744", []),
        ("Account ....... 882739185678 / ABA 056562783", []),
        (
            "Subject: Emily Tan, SSN 094 71 7573, phone +1 201-550-0677",
            [("US_SSN", "094 71 7573"), ("PHONE", "+1 201-550-0677")],
        ),
        ("<AcctSvcrRef>3574918881251105</AcctSvcrRef>", []),  # an XML reference element, no card
        (
            "?20EREF+9860O3QZLH6G?21SVWZ+Miete?30OFXHDEI5LLF?31DE04423470851888471999?32Sabine Öztürk",
            [("IBAN", "DE04423470851888471999")],
        ),  # an MT940 field 86's counterparty IBAN
        ('"-" "PaymentsSDK/3.14.2.7 (iOS 17.4.1)" rt=0.500', []),  # a quoted User-Agent's product version
    ],
)
def test_what_finance_operations_taught(text, want):
    assert types(text) == want, text


def test_an_ach_return_batch_holds_no_ssns():
    # a consumer batch's return entries name a return reason, not a person: their ids are no SSNs
    batch = "5220TIDEWATER SECURI                    4862437631PPDPAYROLL   2504092501101299637776698181\n"
    entry = "622375481875834582128310     0000718995157744566      RETURN R03              1663054440593184\n"
    assert "US_SSN" not in [t for t, _ in types(batch + entry)]


def test_ibans_printed_where_swifts_registry_lists_none():
    # (writer CD's Senegalese, Ivorian and Moroccan cooperatives' accounts: the franc zones' and the Maghreb's banks
    # print the IBAN format; the mod-97 check as for the registry's)
    sc = PiiScanner()
    for iban in (
        "SN58 SN01 0015 2000 0538 0000 7542",
        "CI93 CI00 8011 1301 1342 9120 0589",
        "MA64 0115 1900 0001 2050 0053 4921",
    ):
        assert [f.text for f in sc.scan(f"Règlement par virement sur {iban}.") if f.type == "IBAN"] == [iban]
        broken = iban[:-1] + ("1" if iban[-1] != "1" else "2")  # (the account's last digit: the check fails)
        assert [f for f in sc.scan(f"Règlement par virement sur {broken}.") if f.type == "IBAN"] == []
    # (their account numbers' shape is checked too: an airline's code in a booking line passes the length and, one time
    # in 97, the check -- a reader's)
    assert [f for f in sc.scan(" 1 TG895 Q 01FEB NBOJFK HK2 1830 2135") if f.type == "IBAN"] == []


def test_an_ssn_listed_after_a_dashed_one_is_an_ssn():
    # (writer CL's immigration paralegal, written anew here: a list of SSNs under its lead, the second without its
    # dashes; a client's children's numbers in one line, a comma and a name between)
    sc = PiiScanner()
    for text, want in (
        (
            "The agency needs the prior SSNs for the form. Please confirm:\n\n- Lena Ortiz (applicant): 655-27-4410\n"
            "- Marco Ortiz (spouse, for the cover letter only): 148 93 6075\n",
            ["655-27-4410", "148 93 6075"],
        ),
        ("Here are my kids ssn\nClient: Sofia 089-33-4471, Mateo 820 14 6637\n", ["089-33-4471", "820 14 6637"]),
        # (no SSN word before the list: a parts list's numbers; another id's word after the comma)
        ("Parts list\n- bolt: 655-27-4410\n- nut: 148 93 6075\n", ["655-27-4410"]),
        ("SSN 655-27-4410, Member no. 412 55 1234", ["655-27-4410"]),
        # (a reader's: the number's own label names a phone or another id)
        ("Applicant SSNs:\n- Priya Raman: 655-27-4410\n- Phone: 415 55 1234\n", ["655-27-4410"]),
        ("SSN 655-27-4410, Fax 548.21.3377", ["655-27-4410"]),
        ("Applicant SSNs:\n- Priya Raman: 655-27-4410\n- Passport: 548 21 3377\n", ["655-27-4410"]),
        # (names that begin as an id's word does: "Ida", "Casey", "Dlamini", "Einar")
        ("Applicant SSNs:\n- Priya Raman: 655-27-4410\n- Ida Raman: 148 93 6075\n", ["655-27-4410", "148 93 6075"]),
        ("SSN list: Sofia 089-33-4471, Casey 820 14 6637", ["089-33-4471", "820 14 6637"]),
        ("Applicant SSNs:\n- Einar Dlamini: 655-27-4410\n- Ida Dlamini: 148 93 6075\n", ["655-27-4410", "148 93 6075"]),
    ):
        assert [text[f.start : f.end] for f in sc.scan(text) if f.type == "US_SSN"] == want, text
