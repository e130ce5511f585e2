"""Secrets scanner: every type, placeholders, Unicode tricks, offsets."""

import base64
import json

import pytest

from leash_cli.scanners import SecretsScanner, redact

SC = SecretsScanner()

# realistic-looking (random, non-functional) tokens
OPENAI_PROJ = "sk-proj-Q3vJ8xR2mN5tK7wL1pZ4yH6cB9dF0gS2aE4uI8oT3BlbkFJx7Yq2Wm5Zn8Rk1Tp4Vs6Uc9Ld3Jf0Hg"
OPENAI_SVC = "sk-svcacct-Hq7Lm2Rt9Xv4Bn8Kc3Wd6Pz1Fj5Gs0Ay2Ue7Io4T3BlbkFJr8Ns3Qm6Lp9Zk2Vb5Xc1"
OPENAI_ADMIN = "sk-admin-Zp4Lq8Wn2Rv6Tx1Bm5Kc9Hd3Jf7Gs0Ya2Ue4Io8Nr6"
OPENAI_LEGACY = "sk-" + "Ab3dE6gH9jK2mN5pQ8rS1tU4"[:20] + "T3BlbkFJ" + "vW7xY0zA3bC6dE9fG2hJ"
ANTHROPIC = "sk-ant-api03-" + "Xq9Lm2Rt7Vb4Nc8Kd3Wf6Pz1Gj5Hs0Ay2Ue7Io4Tr8Bn3Mc6Qd9Lf2Kh5Jg8Vp1Zx4Ws7-Ab3_Cd6EfGhAA"
ANTHROPIC_ADMIN = "sk-ant-admin01-Rt7Vb4Nc8Kd3Wf6Pz1Gj5Hs0Ay2Ue7Io4Tr8Bn3Mc6Qd9Lf2Kh5Jg"
ANTHROPIC_OAT = "sk-ant-oat01-Vb4Nc8Kd3Wf6Pz1Gj5Hs0Ay2Ue7Io4Tr8Bn3Mc6Qd9Lf2Kh5"
AWS_ID = "AKIAZ3MSJXLQ7TP2VKR4"
AWS_SECRET = "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"
GHP = "ghp_7mQ2xL9pR4sT8vW1yZ3bC6dF0gH5jK2nM4qP"
GHO = "gho_Lq7Xw4Vn8Bt1Mc5Hd3Jf6Gs0Ya2Ue7Io4Pz9K"
GITHUB_PAT = (
    "github_pat_11ABCDE2Y0" + "aB3cD6eF9gH2jK5mN8pQ1r_" + "S4tU7vW0xY3zA6bC9dE2fG5hJ8kL1mN4pQ7rS0tU3vW6xY9zA2bC5dE8fG1"
)
GLPAT = "glpat-Xq9Lm2Rt7Vb4Nc8Kd3Wf"
SLACK_BOT = "xoxb-2847561930-5830174629-Hq7Lm2Rt9Xv4Bn8Kc3Wd6Pz1"
SLACK_APP = "xapp-1-A02BCDEFG-3456789012345-a1b2c3d4e5f60718293a4b5c6d7e8f90"
SLACK_HOOK = "https://hooks.slack.com/services/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"
STRIPE_LIVE = "sk_live_51Hq7Lm2Rt9Xv4Bn8Kc3Wd6Pz1Fj5Gs0Ay"
STRIPE_RK = "rk_live_51Zp4Lq8Wn2Rv6Tx1Bm5Kc9Hd3Jf7Gs0"
STRIPE_TEST = "sk_test_51Vb4Nc8Kd3Wf6Pz1Gj5Hs0Ay2Ue7Io"
GOOGLE = "AIzaSyB3xQ9Lm2Rt7Vb4Nc8Kd3Wf6Pz1Gj5Hs0A"
HF = "hf_Xq9Lm2Rt7Vb4Nc8Kd3Wf6Pz1Gj5Hs0Ay2Ue"
SENDGRID = "SG.Xq9Lm2Rt7Vb4Nc8Kd3Wf6P.z1Gj5Hs0Ay2Ue7Io4Tr8Bn3Mc6Qd9Lf2Kh5Jg8Vp1Zx4"


def _b64url(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


JWT = (
    _b64url({"alg": "RS256", "typ": "JWT", "kid": "k1"})
    + "."
    + _b64url({"sub": "u_8812", "iat": 1717171717, "scope": "admin"})
    + ".Zk9Lm2Rt7Vb4Nc8Kd3Wf6Pz1Gj5Hs0Ay2Ue7Io4Tr8"
)
PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACDh5Nf2Q3w9kL0pXr7Yc1Vb8Mn4Ts6Ua2Ue7Io4Tr8Bn3AAAAJgAAAAAAAAA\n"
    "-----END OPENSSH PRIVATE KEY-----"
)

POSITIVES = [
    ("OPENAI_API_KEY", OPENAI_PROJ),
    ("OPENAI_API_KEY", OPENAI_SVC),
    ("OPENAI_API_KEY", OPENAI_ADMIN),
    ("OPENAI_API_KEY", OPENAI_LEGACY),
    ("ANTHROPIC_API_KEY", ANTHROPIC),
    ("ANTHROPIC_API_KEY", ANTHROPIC_ADMIN),
    ("ANTHROPIC_API_KEY", ANTHROPIC_OAT),
    ("AWS_ACCESS_KEY_ID", AWS_ID),
    ("AWS_ACCESS_KEY_ID", "ASIAY34FZKBOKMUTVV7A"),
    ("GITHUB_TOKEN", GHP),
    ("GITHUB_TOKEN", GHO),
    ("GITHUB_TOKEN", GITHUB_PAT),
    ("GITLAB_TOKEN", GLPAT),
    ("GITLAB_TOKEN", "GR1348941Zq8Lm2Rt7Vb4Nc8Kd3Wf"),  # a runner registration token
    ("GITLAB_TOKEN", "glpat-Xq9Lm2Rt7Vb4Nc8Kd3Wf6P.01.k7q2mz9wa"),  # a routable token, dotted
    ("SLACK_TOKEN", SLACK_BOT),
    ("SLACK_TOKEN", SLACK_APP),
    ("SLACK_TOKEN", "xoxp-2847561930-5830174629-7Hq7Lm2Rt9Xv4"),
    ("SLACK_WEBHOOK", SLACK_HOOK),
    ("STRIPE_KEY", STRIPE_LIVE),
    ("STRIPE_KEY", STRIPE_RK),
    ("STRIPE_KEY", STRIPE_TEST),
    ("GOOGLE_API_KEY", GOOGLE),
    ("HUGGINGFACE_TOKEN", HF),
    ("SENDGRID_API_KEY", SENDGRID),
    ("JWT", JWT),
    ("PRIVATE_KEY", PEM),
]


@pytest.mark.parametrize("typ,tok", POSITIVES, ids=[p[0] + str(i) for i, p in enumerate(POSITIVES)])
@pytest.mark.parametrize("wrap", ["{}", "key={}\n", '{{"token": "{}"}}', "Authorization: Bearer {}", "`{}`"])
def test_positive(typ, tok, wrap):
    text = "prefix " + wrap.format(tok) + " suffix"
    found = SC.scan(text)
    assert [(f.type, f.text) for f in found] == [(typ, tok)], found
    f = found[0]
    assert text[f.start : f.end] == tok
    assert 0.5 <= f.score <= 1.0


def test_a_gitlab_token_ends_where_its_routable_suffix_does():
    tok = "glpat-Xq9Lm2Rt7Vb4Nc8Kd3Wf6P"
    assert [f.text for f in SC.scan(f"token {tok}.Rotate it today")] == [tok]


def test_aws_secret_needs_context():
    text = f"aws_access_key_id = {AWS_ID}\naws_secret_access_key = {AWS_SECRET}\n"
    got = [(f.type, f.text) for f in SC.scan(text)]
    assert got == [("AWS_ACCESS_KEY_ID", AWS_ID), ("AWS_SECRET_ACCESS_KEY", AWS_SECRET)]
    assert not SC.scan(f"random blob {AWS_SECRET} here")


def test_aws_secret_not_a_git_sha():
    assert not SC.scan("aws deploy commit 9f1c2e7a4b8d3f60e5a1c7b9d2e4f6a8b0c1d3e5")


def test_url_password_span_is_password_only():
    text = "DATABASE_URL=postgres://app:Xk9pL2vQ7r@db.internal:5432/app"
    f = SC.scan(text)[0]
    assert (f.type, f.text) == ("URL_PASSWORD", "Xk9pL2vQ7r")
    assert redact(text, [f]) == "DATABASE_URL=postgres://app:[URL_PASSWORD]@db.internal:5432/app"


def test_url_password_with_an_unencoded_at_sign():
    # (writer Z's: the host is after the last "@"; "Gr" alone was read as the password, then dropped as too plain)
    text = 'db_url = "postgresql://grants_admin:Gr@nts-2024-Prod!x7@grants-prod.db.example:5432/grants"'
    assert [(f.type, f.text) for f in SC.scan(text)] == [("URL_PASSWORD", "Gr@nts-2024-Prod!x7")]
    assert [f.text for f in SC.scan("postgres://app:Xk9pL2vQ7r@db.internal/a@b.example")] == ["Xk9pL2vQ7r"]
    # (a second reader's: the part after an "@" holds no host's dot, nor a query's, a port's or a list's mark)
    for text in (
        "https://u:Secr3tPw@api.example.org?email=jane@corp.com",
        "https://deploy:Secr3tPw@api.acme.io#owner@acme.io",
        "ftp://admin:Secr3tPw@ftp.corp.com,backup@ftp2.corp.com",
        "redis://:Secr3tPw@cache:6379?client=svc@prod",
    ):
        assert [f.text for f in SC.scan(text)] == ["Secr3tPw"], text
    assert SC.scan("https://user:password@db.internal?notify=a@b.io") == []
    assert [f.text for f in SC.scan("mongodb://app:Pa55@w0rd@db1.internal:27017")] == ["Pa55@w0rd"]


@pytest.mark.parametrize(
    "text",
    [
        "https://user:password@example.com",
        "postgres://user:${DB_PASSWORD}@db/app",
        "redis://:$REDIS_PASS@cache:6379",
        "mysql://root:<password>@localhost",
        "amqp://guest:****@rabbit",
        "https://example.com/path?x=1",
        "ftp://anonymous:xxx@ftp.example.org",
        "postgres://u:your_password@h/db",
        "https://a:{password}@h",
        "Format: mysql://benutzer:passwort@host:3306/datenbank",  # "password" in another language
        "postgresql://usuario:contraseña@servidor/base",
    ],
)
def test_url_password_placeholders(text):
    assert not SC.scan(text)


@pytest.mark.parametrize(
    "text",
    [
        "OPENAI_API_KEY=sk-...",
        "sk-xxxx",
        "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "YOUR_API_KEY",
        "<api-key>",
        "${OPENAI_API_KEY}",
        "$OPENAI_API_KEY",
        "sk-proj-XXXXXXXX",
        "sk-proj-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "sk-proj-your-key-here-xxxxxxxxxxxxxxxxx",
        "sk-ant-api03-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "ghp_************************************",
        "AKIAIOSFODNN7EXAMPLE",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "sk_live_" + "0" * 24,
        "hf_" + "a" * 34,
        "AIza" + "X" * 35,
        "xoxb-your-token-here-xxxxxxxxxxxx",
        "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "sk-proj-EXAMPLEKEY1234567890abcdefghijklmn",
        "sk_test_dummy_key_1234567890abcdef",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
        ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
        "files starting with -----BEGIN PRIVATE KEY----- are private keys",
        "sk-1234567890abcdefghijklmnopqrstuvwxyz1234567890ab",
        # ("insert your key here" in other languages: writer BQ's Home Assistant sample file)
        'openai_api_key: "sk-proj-INSERISCI_LA_TUA_CHIAVE"',
        "OPENAI_API_KEY=sk-proj-INSERTA_AQUI_TU_CLAVE_DE_API_0000",
        "OPENAI_API_KEY=sk-proj-HIER_DEINEN_SCHLUESSEL_EINFUEGEN_00",
    ],
)
def test_placeholders_are_not_secrets(text):
    assert not SC.scan(text), SC.scan(text)


@pytest.mark.parametrize(
    "text",
    [
        "task_id = 42",
        "the desk-lamp",
        "risk_level",
        "eyJ is how base64 JSON starts",
        "SG.1.2",
        "commit 9f1c2e7a4b8d3f60e5a1c7b9d2e4f6a8b0c1d3e5",
        "uuid 550e8400-e29b-41d4-a716-446655440000",
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 user@host",
        "xoxo gossip girl",
        "AKIA is the AWS prefix",
        "mask-proj-Q3vJ8xR2mN5tK7wL1pZ4yH6cB9dF0gS2aE4uI8o",  # sk- inside a word
    ],
)
def test_lookalikes_are_not_secrets(text):
    assert not SC.scan(text), SC.scan(text)


def test_jwt_requires_alg_header():
    bad = _b64url({"foo": "bar"}) + "." + _b64url({"sub": "x"}) + ".Zk9Lm2Rt7Vb4Nc8Kd3Wf6Pz1"
    assert not SC.scan(bad)


def test_unterminated_private_key_still_detected():
    text = "oops:\n" + "\n".join(PEM.splitlines()[:-1]) + "\n(truncated)"
    f = SC.scan(text)[0]
    assert f.type == "PRIVATE_KEY"
    assert f.text.startswith("-----BEGIN") and "b3BlbnNzaC1" in f.text


def test_json_escaped_private_key():
    text = json.dumps({"private_key": PEM})
    f = SC.scan(text)[0]
    assert f.type == "PRIVATE_KEY" and f.text.endswith("PRIVATE KEY-----")


def test_zero_width_inside_key_offsets():
    tok = GHP[:10] + "\u200b" + GHP[10:20] + "\u2060" + GHP[20:]
    text = "token: " + tok + " end"
    f = SC.scan(text)[0]
    assert f.type == "GITHUB_TOKEN"
    assert (f.start, f.end) == (7, 7 + len(tok))
    assert f.text == tok


def test_fullwidth_key_chars():
    fw = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in AWS_ID)
    f = SC.scan("id " + fw)[0]
    assert f.type == "AWS_ACCESS_KEY_ID" and f.text == fw


def test_tag_chars_inside_key():
    tok = HF[:8] + "\U000e0020\U000e0041" + HF[8:]
    f = SC.scan(f"[{tok}]")[0]
    assert f.type == "HUGGINGFACE_TOKEN" and f.text == tok


def test_type_filter_and_custom():
    sc = SecretsScanner(types=["GITHUB_TOKEN"], custom_patterns={"INTERNAL_TOKEN": r"itk_[a-z0-9]{16}"})
    text = f"{GHP} {HF} itk_0123456789abcdef"
    assert [f.type for f in sc.scan(text)] == ["GITHUB_TOKEN", "INTERNAL_TOKEN"]
    with pytest.raises(ValueError):
        SecretsScanner(types=["NOPE"])


def test_multiple_secrets_redacted():
    text = f"a={OPENAI_PROJ} b={ANTHROPIC} c={STRIPE_LIVE}"
    assert redact(text, SC.scan(text)) == "a=[OPENAI_API_KEY] b=[ANTHROPIC_API_KEY] c=[STRIPE_KEY]"


# ---------------------------------------------------------------- AWS secret keys next to their names
@pytest.mark.parametrize(
    "wrap",
    [
        "export AWS_SECRET_ACCESS_KEY={}",
        'export AWS_SECRET_ACCESS_KEY="{}"',
        "AWS_SECRET_ACCESS_KEY={}\nAWS_DEFAULT_REGION=eu-west-1\n",
        "[default]\naws_access_key_id=" + AWS_ID + "\naws_secret_access_key={}\n",
        "[profile prod]\naws_secret_access_key = {}\n",
        "set AWS_SECRET_ACCESS_KEY={}",
        '$env:AWS_SECRET_ACCESS_KEY="{}"',
        "docker run -e AWS_SECRET_ACCESS_KEY={} img",
        "aws configure set aws_secret_access_key {}",
        "AWS_SECRET_KEY={}",
        "credentials:\n  aws_secret_access_key: {}\n",
        '{{"AccessKeyId": "' + AWS_ID + '", "SecretAccessKey": "{}"}}',
        "secretAccessKey: '{}'",
        "--aws-secret-access-key {}",
        "2024-06-01 WARN loaded aws_secret_access_key={} from env",
    ],
)
def test_aws_secret_next_to_its_name(wrap):
    text = wrap.format(AWS_SECRET)
    got = [(f.type, f.text) for f in SC.scan(text) if f.type == "AWS_SECRET_ACCESS_KEY"]
    assert got == [("AWS_SECRET_ACCESS_KEY", AWS_SECRET)], text


def test_aws_secret_url_encoded_in_a_query():
    enc = AWS_SECRET.replace("/", "%2F")
    text = f"https://example.net/cb?aws_secret_access_key={enc}&x=1"
    assert [(f.type, f.text) for f in SC.scan(text)] == [("AWS_SECRET_ACCESS_KEY", enc)]


@pytest.mark.parametrize(
    "text",
    [
        "aws_secret_access_key = 9f1c2e7a4b8d3f60e5a1c7b9d2e4f6a8b0c1d3e5",  # sha1 hex
        "AWS_SECRET_ACCESS_KEY=9F1C2E7A4B8D3F60E5A1C7B9D2E4F6A8B0C1D3E5",  # upper-case hex
        "aws secret sha256 3b7e9c1f4a2d8e6b0c5f7a9d1e3b5c7f9a1d3e5b7c9f1a3d5e7b9c1f3a5d7e9b",
        "aws request 550e8400-e29b-41d4-a716-446655440000 for the secret",
        "export AWS_SECRET_ACCESS_KEY=$(vault read -field=secret aws/creds/app)",
        "AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY}",
        "aws_secret_access_key = <your-secret-key>",
        "secret blob: " + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5eg==",
    ],
)
def test_aws_secret_look_alikes(text):
    assert not [f for f in SC.scan(text) if f.type == "AWS_SECRET_ACCESS_KEY"], SC.scan(text)


def test_aws_secret_context_is_before_and_near():
    far = "aws " + "x" * 200 + " " + AWS_SECRET
    assert not SC.scan(far)
    assert [f.type for f in SC.scan("the AWS key pair: " + AWS_ID + " / " + AWS_SECRET)] == [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ]


def test_aws_key_id_with_repeated_characters_is_a_key():
    """A random 16-character key id body falls under 3 bits of entropy about once in 700: still a key."""
    found = SecretsScanner().scan("aws_access_key_id = AKIAOJNRL2RORFTF2FV2")
    assert [(f.type, f.text) for f in found] == [("AWS_ACCESS_KEY_ID", "AKIAOJNRL2RORFTF2FV2")]
    assert SecretsScanner().scan("aws_access_key_id = AKIAABCABCABCABCABCA") == []


def test_url_password_without_a_user():
    found = SecretsScanner().scan("REDIS_URL=redis://:Kq7pZr29xLmW@cache.internal:6379/0")
    assert [(f.type, f.text) for f in found] == [("URL_PASSWORD", "Kq7pZr29xLmW")]


def test_default_broker_credentials_are_not_a_secret():
    assert SecretsScanner().scan("broker:\n  url: amqp://guest:guest@localhost:5672//") == []
    assert SecretsScanner().scan("TEST_DATABASE_URL=postgres://postgres:postgres@localhost:5433/test") == []


def test_an_illustrated_slack_token_is_no_token():
    """A slide's "xoxb-1234-5678-abcdef" is far shorter than any real token (two ids and 24 characters)."""
    from leash_cli.scanners import SecretsScanner

    assert SecretsScanner().scan("Slack bot tokens look like xoxb-1234-5678-abcdef.") == []


def test_a_redacted_url_password_is_no_secret():
    from leash_cli.scanners import SecretsScanner

    for text in ("SMTP_URL=smtp://mailer:[REDACTED]@smtp.example.net:587", "amqp://svc:pw_redacted@mq:5672/"):
        assert SecretsScanner().scan(text) == [], text
    # (a redaction's mark in another language, letters in brackets: writer CT's Spanish "[REDACTADO]")
    for text in (
        "MONGO_URI = mongodb+srv://app:[REDACTADO]@cluster0.x7k2p.mongodb.net/",
        "redis://:(oculto)@cache:6379",
    ):
        assert SecretsScanner().scan(text) == [], text
    # (a password in brackets with a digit or a sign in it is still one, and so is a passphrase: a reader's)
    for text in (
        "postgres://app:[Xk9pL2v]@db:5432/app",
        "postgres://app:(Xk9#pL2v)@db:5432/app",
        "postgres://admin:(SuperSecretPassword)@db.internal:5432/app",
        "mongodb://root:(Horse-Battery-Staple-Correct)@mongo:27017",
    ):
        assert [f.type for f in SecretsScanner().scan(text)] == ["URL_PASSWORD"], text


def test_a_url_password_that_is_a_word_of_another_script_is_a_placeholder():
    from leash_cli.scanners import SecretsScanner

    assert SecretsScanner().scan("ডাটাবেস: `postgres://admin:পাসওয়ার্ড@db:5432/app`") == []
    for text in ("postgres://admin:Zx9пароль7Q@db:5432/app", "postgres://admin:Überwachung@db.internal/app"):
        (f,) = SecretsScanner().scan(text)  # (a word that is not "password" is a password)
        assert f.type == "URL_PASSWORD", text


def test_a_change_me_url_password_is_a_placeholder():
    from leash_cli.scanners import SecretsScanner

    assert SecretsScanner().scan("DATABASE_URL=postgres://billing:CHANGE_ME@localhost:5432/billing") == []
    assert [f.type for f in SecretsScanner().scan("postgres://app:Xk9_pL2v-q@db/x")] == ["URL_PASSWORD"]


def test_a_key_after_an_escaped_line_break_in_a_logged_body():
    # (the twenty-second writer's: a JWT after "\n\n" in a JSON string, read as two line breaks, not as "neyJ…")
    from leash_cli.scanners import SecretsScanner

    jwt = (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyXzU5NTg1OCIsImlhdCI6MTczNTk3NTE2MX0."
        "6ZLUMDs0iTlObqnuWCtlHZmCk9uPV5cnPd_8AARAUkO"
    )
    text = '{"messages": [{"content": "\\u30ed\\u30b0\\u30a4\\u30f3 401\\n\\n' + jwt + '"}]}'
    found = [(f.type, f.text) for f in SecretsScanner().scan(text)]
    assert found == [("JWT", jwt)]


def test_backslashes_that_are_no_json_escapes_and_php_escaped_slashes():
    # (a second reader's: a URL password holding "\t" in a plain .env line; PHP's json_encode escapes every "/")
    from leash_cli.scanners import SecretsScanner

    sc = SecretsScanner()
    assert [(f.type, f.text) for f in sc.scan(r"DATABASE_URL=postgres://app:Xk9\tQ7r2Lm@db.internal/app")] == [
        ("URL_PASSWORD", r"Xk9\tQ7r2Lm")
    ]
    text = r'{"aws_secret_access_key":"aB3\/dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z\/A5C7"}'
    assert [(f.type, f.text) for f in sc.scan(text)] == [
        ("AWS_SECRET_ACCESS_KEY", r"aB3\/dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z\/A5C7")
    ]
    text = r'{"url": "postgres:\/\/admin:Zq9x7Lp2@db.example.com\/app"}'
    assert [(f.type, f.text) for f in sc.scan(text)] == [("URL_PASSWORD", "Zq9x7Lp2")]


def test_an_aws_secret_key_without_digits_beside_its_name():
    # (one random key in a thousand has no digit: its own name right before it, and a / or +, still make it one)
    s = SecretsScanner()
    for text in (
        "    env:\n      AWS_ACCESS_KEY_ID: AKIAHC5FHD4TWBFAR6DP\n      AWS_SECRET_ACCESS_KEY: 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\n",
        "aws_secret_access_key = HhqMfdfJ+GXZvSJqnenA/o/KkJfVkMQ/FtylFxGy\n",
        '{"SecretAccessKey": "HhqMfdfJ+GXZvSJqnenA/o/KkJfVkMQ/FtylFxGy"}',
    ):
        assert "AWS_SECRET_ACCESS_KEY" in [f.type for f in s.scan(text)], text
    # (without digits, a / or +, or its name right before it: a word run, a path)
    for text in (
        "AWS_SECRET_ACCESS_KEY: ThisIsNotARealKeyJustAPlaceholderValueXx\n",
        "aws secret docs: see src/Components/AuthProviderSettingsPageView/Index for the form\n",
        "aws_secret_access_key: vault/kv/data/team/Platform/awsSecretKey\n",  # (a secret store's path)
    ):
        assert "AWS_SECRET_ACCESS_KEY" not in [f.type for f in s.scan(text)], text


def test_stripes_documentation_test_key_is_no_secret():
    s = SecretsScanner()
    assert s.scan("curl https://api.stripe.com/v1/refunds -u sk_test_4eC39HqLyjWDarjtT1zdp7dc: -d charge=ch_1") == []
    assert [f.type for f in s.scan("STRIPE_SECRET_KEY=sk_test_51Hx2kLmQpR7vT9wZ3yB5nC8dF1gJ4hK6")] == ["STRIPE_KEY"]


def test_a_url_password_that_starts_with_a_dollar_sign():
    # (random letters of both cases and digits after the "$" are a password; a variable's name is a placeholder)
    s = SecretsScanner()
    text = 'broker_url = "redis://:$hsaOzAnUNBSa9KVzD3Z@10.0.3.7:6379/0"'
    assert [(f.type, text[f.start : f.end]) for f in s.scan(text)] == [("URL_PASSWORD", "$hsaOzAnUNBSa9KVzD3Z")]
    for text in (
        "redis://:$REDIS_PASSWORD@host:6379",
        "mysql://$user:$pass@db/x",
        "pg://u:${DB_PASS}@h/x",
        '$conn = "postgresql://admin:$AdminPassword1@db.internal:5432/app"',  # (a PowerShell variable)
    ):
        assert s.scan(text) == [], text


def test_a_jwt_cut_short_by_an_ellipsis_is_no_token():
    s = SecretsScanner()
    text = "for Authorization header starting with eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOi… (truncated)"
    assert s.scan(text) == []
    unsigned = "token: eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxMjM0NTY3ODkwIiwiYWRtaW4iOnRydWV9."
    assert [f.type for f in s.scan(unsigned)] == ["JWT"]


def test_a_url_password_that_starts_with_an_asterisk():
    s = SecretsScanner()
    text = "CELERY_BROKER_URL=redis://default:*GrAkzyfZerlR8@cache.internal:6379/0"
    assert [text[f.start : f.end] for f in s.scan(text)] == ["*GrAkzyfZerlR8"]
    assert s.scan("redis://default:********@cache.internal:6379/0") == []


def test_a_url_password_that_starts_with_a_percent_sign():
    s = SecretsScanner()
    text = "CELERY_BROKER=amqp://fobsync:%a!NT0kS2MhhlqOd77@mq.local:5672//"
    assert [text[f.start : f.end] for f in s.scan(text)] == ["%a!NT0kS2MhhlqOd77"]
    for text in ("mysql://u:%s@h/db", "pg://u:%(password)s@h/db", "x://u:%DB_PASS%@h"):
        assert s.scan(text) == [], text


def test_what_a_reader_found_in_the_asterisk_and_percent_password_rules():
    # a word in emphasis is a placeholder, and so is Symfony's env placeholder; a password whose first characters
    # after "%" read as hex is a password (only what starts a placeholder is read as an encoded character)
    s = SecretsScanner()
    for text in (
        "DATABASE_URL=postgres://app:*hidden*@db.internal:5432/app",
        "DATABASE_URL=postgres://app:*masked*@db.internal:5432/app",
        "url: postgres://app:%env(DB_PASSWORD)%@db/app",
        "url: mysql://app:%env(resolve:DATABASE_PASSWORD)%@db:3306/app",
        "pg://app:%3Cpassword%3E@db/app",
        "pg://app:%7BDB_PASS%7D@db/app",
    ):
        assert s.scan(text) == [], text
    for text, pw in (
        ("CELERY_BROKER=amqp://fobsync:%aBNT0kS2MhhlqOd77@mq.local:5672//", "%aBNT0kS2MhhlqOd77"),
        ("postgres://app:%23Kx9vLq2mT8wZ@db.internal:5432/app", "%23Kx9vLq2mT8wZ"),
        ("redis://default:*Kx9vLq2mT8wZ@cache:6379/0", "*Kx9vLq2mT8wZ"),
    ):
        assert [text[f.start : f.end] for f in s.scan(text)] == [pw], text


def test_a_placeholder_word_inside_a_random_body_leaves_the_key_a_key():
    # (writer CD's chat: a project key whose random body held "yOUr"; any long random body holds such a word often
    # enough for a bare substring to cost real keys)
    body = "q7Lm2ZtR0bWk9yOUrVc3Nd8HfEe1Jp4Ga6TsT3BlbkFJXy5Uo0Qi2hErEw7Rk9Zm3Bv1Nc6Dl4Fs8Gt0Hj2Pa5"
    for key in ("sk-proj-" + body, "sk-proj-" + body.replace("yOUr", "k9FAKEq2")):
        assert [f.type for f in SC.scan(f"[21:15] Otieno: {key}\n")] == ["OPENAI_API_KEY"], key
    # (the same words written as words stay placeholders: one case at an edge or next to a separator; and a reader's:
    # capitalised in camelCase, compounds in any case, capitals in a body of no small letters, "xxxx")
    for text in (
        "OPENAI_API_KEY=sk-proj-your-key-goes-in-this-place-0000",
        "sk-proj-Ab3xQ9FAKE",
        "AKIAQ7LM2ZTR0BWKFAKE",
        "AKIATESTFAKEKEY12345",
        "sk-proj-PasteYourKeyHereFromTheDashboard",
        "sk-proj-ThisIsAFakeKeyForTestingOnly9f8e7d6c",
        "sk_live_51AbCdEfYourStripeKeyHereXyz0987654",
        "sk-ant-api03-PlaceHolderKeyForLocalDev-9xQ2",
        "sk-proj-Ab3dxxxxxQ9zK2mP7qR4tV8wY1",
    ):
        assert not SC.scan(text), text


def test_the_alphabet_typed_in_one_case_is_a_placeholder():
    # (writer CL's log: a made-up restricted key whose body ends "aBcDeFgH", a key's own letters; "abcdefgh" typed in one
    # case is a placeholder's)
    body = "51NxQ7vLm2KpT4wZb8NcY3sHdJ6fGa1eUi5oKr0tVqMx7nB2yC9pL4wZaS8dF3gH6jK1lQ5zX0cV7bN2mPq4rT8vW00"
    assert [f.type for f in SC.scan(f'headers={{"Authorization":"Bearer rk_live_{body}aBcDeFgH"}}')] == ["STRIPE_KEY"]
    for text in (
        f"rk_live_{body}abcdefgh",
        f"rk_live_{body}ABCDEFGH",
        "sk_live_abcdefghQ7x2Lm9ZkR4t",
        "token: ghp_Abcdefgh7Qx2LmZp9RkT4vWn8YsB3cJd6FhG",  # (capitalised: a reader's)
    ):
        assert not SC.scan(text), text


def test_a_spanish_change_me_url_password_is_a_placeholder():
    assert SC.scan("DATABASE_URL=postgres://citas:CAMBIAME@localhost:5432/citas") == []
    # (writer CO's .env.example: "replace" in Spanish where a Stripe key goes)
    assert SC.scan("STRIPE_SECRET_KEY=sk_live_REEMPLAZAR\nOTHER=1") == []
    for text in ("sk_live_SUSTITUYEESTO", "sk-proj-SustituyeEstoPorLaClaveReal", "sk_live_SUBSTITUIR"):
        assert SC.scan(text) == [], text


def test_a_legacy_openai_key_a_few_characters_off_its_format_is_found_by_its_marker():
    # (writer CO's Rust constant and .env: "T3BlbkFJ", "OpenAI" in base64, with 23 and 22, 20 and 23 characters around
    # it instead of 20 and 20; a short run with the marker stays none)
    for key in (
        "sk-Qm8Zt3Vx6Rp1Lk9Wn4Bc7HyT3BlbkFJs2Df5Gj8Kl0Pq3Wr6Ty9Ux",
        "sk-Wd4Fh8Kj2Lp6Nr1Tv5YxT3BlbkFJBz9Cq3Gm7Hs1Jt5Mw8Qe2Ru",
    ):
        assert [f.type for f in SC.scan(f'const OPENAI_KEY: &str = "{key}";')] == ["OPENAI_API_KEY"], key
    assert SC.scan("sk-abcT3BlbkFJxyz") == []
    # (a key cut short before a redaction's mark: a reader's)
    for text in (
        "OPENAI_API_KEY=sk-Qm8Zt3Vx6Rp1Lk9Wn4BcT3BlbkFJs2Df5Gj8Kl0Pq3Wr…",
        "OPENAI_API_KEY=sk-Qm8Zt3Vx6Rp1Lk9Wn4BcT3BlbkFJs2Df5Gj8Kl0Pq3Wr****",
        "logged key prefix sk-Qm8Zt3Vx6Rp1Lk9Wn4BcT3BlbkFJs2Df5Gj8Kl0P[REDACTED]",
        "key: sk-Qm8Zt3Vx6Rp1Lk9Wn4BcT3BlbkFJs2Df5Gj8Kl0P... (truncated)",
    ):
        assert SC.scan(text) == [], text
