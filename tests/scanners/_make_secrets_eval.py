"""Rebuild secrets_eval.jsonl: every secret family the scanner claims, in prose, code, shell, env,
INI, JSON, YAML, URLs and logs, plus hard negatives (hashes, UUIDs, base64 blobs, digests, ids).

    python tests/scanners/_make_secrets_eval.py > tests/scanners/secrets_eval.jsonl

Tokens are random (seeded) and shaped like each provider's real credentials; none is live.
The ``dev`` split uses one set of wrappers, the ``test`` split a different set (and fresh tokens):
tune on dev, report test.
"""

import base64
import hashlib
import json
import random
import string
import uuid

A62 = string.ascii_letters + string.digits


def rs(rng, n, alphabet=A62):
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64url(obj):
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")


def tokens(rng):
    """(type, value, conventional variable name) for one credential of each family."""
    aws_secret = rs(rng, 40, A62 + "/+")
    while not (any(c.isupper() for c in aws_secret) and any(c.islower() for c in aws_secret)
               and any(c.isdigit() for c in aws_secret)):
        aws_secret = rs(rng, 40, A62 + "/+")
    pem_body = base64.b64encode(rng.randbytes(300)).decode()
    pem = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(
        pem_body[i:i + 64] for i in range(0, len(pem_body), 64)) + "\n-----END RSA PRIVATE KEY-----"
    jwt = (b64url({"alg": "HS256", "typ": "JWT"}) + "." + b64url({"sub": rs(rng, 8), "iat": rng.randrange(1_600_000_000, 1_800_000_000)})
           + "." + base64.urlsafe_b64encode(rng.randbytes(32)).decode().rstrip("="))
    return [
        ("OPENAI_API_KEY", "sk-proj-" + rs(rng, 48, A62 + "_-") + "T3BlbkFJ" + rs(rng, 48, A62 + "_-"), "OPENAI_API_KEY"),
        ("OPENAI_API_KEY", "sk-svcacct-" + rs(rng, 64, A62 + "_-"), "OPENAI_API_KEY"),
        ("ANTHROPIC_API_KEY", "sk-ant-api03-" + rs(rng, 93, A62 + "_-") + "AA", "ANTHROPIC_API_KEY"),
        ("AWS_ACCESS_KEY_ID", "AKIA" + rs(rng, 16, string.ascii_uppercase + "234567"), "AWS_ACCESS_KEY_ID"),
        ("AWS_SECRET_ACCESS_KEY", aws_secret, "AWS_SECRET_ACCESS_KEY"),
        ("GITHUB_TOKEN", "ghp_" + rs(rng, 36), "GITHUB_TOKEN"),
        ("GITHUB_TOKEN", "github_pat_11" + rs(rng, 20, string.ascii_uppercase + string.digits) + "_" + rs(rng, 59), "GH_TOKEN"),
        ("GITLAB_TOKEN", "glpat-" + rs(rng, 20, A62 + "_-"), "GITLAB_TOKEN"),
        ("SLACK_TOKEN", f"xoxb-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**12, 10**13)}-{rs(rng, 24)}", "SLACK_BOT_TOKEN"),
        ("SLACK_WEBHOOK", f"https://hooks.slack.com/services/T{rs(rng, 8, string.ascii_uppercase + string.digits)}/"
                          f"B{rs(rng, 10, string.ascii_uppercase + string.digits)}/{rs(rng, 24)}", "SLACK_WEBHOOK_URL"),
        ("STRIPE_KEY", "sk_live_51" + rs(rng, 97), "STRIPE_SECRET_KEY"),
        ("STRIPE_KEY", "rk_live_51" + rs(rng, 97), "STRIPE_RESTRICTED_KEY"),
        ("GOOGLE_API_KEY", "AIza" + rs(rng, 35, A62 + "_-"), "GOOGLE_API_KEY"),
        ("HUGGINGFACE_TOKEN", "hf_" + rs(rng, 34), "HF_TOKEN"),
        ("SENDGRID_API_KEY", "SG." + rs(rng, 22, A62 + "_-") + "." + rs(rng, 43, A62 + "_-"), "SENDGRID_API_KEY"),
        ("JWT", jwt, "ACCESS_TOKEN"),
        ("PRIVATE_KEY", pem, "PRIVATE_KEY"),
    ]


# wrappers: {v} value, {n} variable name, {lo} lower-case name, {d} what it is in words
# (split, context kind, template)
WRAPPERS = [
    ("dev", "prose", "Here is the {d} I use, {v} - can you tell me why the API rejects it?"),
    ("dev", "shell", "export {n}={v}\n./deploy.sh --region eu-west-1"),
    ("dev", "env", "# .env\nDEBUG=false\n{n}=\"{v}\"\nPORT=8080\n"),
    ("dev", "json", '{{"service": "billing", "{lo}": "{v}", "retries": 3}}'),
    ("dev", "yaml", "credentials:\n  {lo}: {v}\n  region: us-east-1\n"),
    ("dev", "code", "client = Client({lo}=\"{v}\", timeout=30)"),
    ("dev", "log", "2024-06-01T10:22:31Z DEBUG auth config set {lo}={v} user=42"),
    ("dev", "ini", "[default]\n{lo} = {v}\nregion = eu-central-1\n"),
    ("test", "prose", "My colleague pasted our {d} {v} into the ticket; is that dangerous?"),
    ("test", "shell", "$ {n}='{v}' python app.py\n"),
    ("test", "env", "{n}={v}\nNODE_ENV=production"),
    ("test", "json", '{{\n  "env": {{\n    "{n}": "{v}"\n  }}\n}}'),
    ("test", "yaml", "env:\n  - name: {n}\n    value: \"{v}\"\n"),
    ("test", "code", "const cfg = {{ {lo}: '{v}' }};\nmodule.exports = cfg;"),
    ("test", "log", "[2024-06-01 10:22:31,118] WARNING config: loaded {lo}={v} from environment"),
    ("test", "ini", "[profile prod]\n{lo}={v}\n"),
    ("test", "docker", "docker run --rm -e {n}={v} ghcr.io/acme/worker:1.4"),
]
URL_WRAPPERS = [
    ("dev", "url", "GET https://api.example.net/v1/items?limit=10&{lo}={v} HTTP/1.1"),
    ("test", "url", "curl 'https://hooks.example.org/ingest?source=ci&{lo}={v}&retry=1'"),
]

NEGATIVES = [
    "commit {sha1} fixed the aws deploy script",
    "sha256: {sha256}",
    "AWS request id {uuid} returned 403 for the secret",
    "The secret rotation job {uuid} finished; digest sha1:{sha1}",
    "integrity \"sha512-{b64_88}\"",
    "image: ghcr.io/acme/api@sha256:{sha256}",
    "ETag: \"{md5}\" for s3://bucket/secret-report.csv",
    "aws s3 cp s3://backups/{sha1}.tar.gz . --region us-east-1",
    "thumbnail (base64): {b64_60}",
    "AWS_SECRET_ACCESS_KEY is read from the environment; never commit it.",
    "Set aws_secret_access_key in ~/.aws/credentials (see the AWS docs).",
    "export AWS_SECRET_ACCESS_KEY=$(vault read -field=secret aws/creds/app)",
    "AWS_SECRET_ACCESS_KEY=${{AWS_SECRET_ACCESS_KEY}}",
    "aws_secret_access_key = <your-secret-key>",
    "secretName: {lo_word}-tls-{hex8}",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-{b62_6}",
    "git log --oneline: {sha1_7} aws: rotate secret handling",
    "nonce={hex32} state={b62_22}",
    "Cache key {sha256} for user {uuid}",
    "The AKIA prefix marks long-term AWS access key ids.",
    "cert fingerprint SHA1 {sha1_colon}",
    "pip install boto3==1.34.{n2}  # aws sdk",
    "-----BEGIN PUBLIC KEY-----\n{b64_64}\n{b64_64}\n-----END PUBLIC KEY-----",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{b64_43} deploy@ci",
    "aws secret rotated at 2024-06-01; new version id {uuid}",
]


def negatives(rng, split):
    out = []
    for tmpl in NEGATIVES:
        for _ in range(2):
            sha1 = hashlib.sha1(rng.randbytes(16)).hexdigest()
            vals = dict(
                sha1=sha1, sha1_7=sha1[:7], sha256=hashlib.sha256(rng.randbytes(16)).hexdigest(),
                md5=hashlib.md5(rng.randbytes(16)).hexdigest(), uuid=str(uuid.UUID(bytes=rng.randbytes(16))),
                b64_88=base64.b64encode(rng.randbytes(64)).decode(), b64_60=base64.b64encode(rng.randbytes(45)).decode(),
                b64_64=base64.b64encode(rng.randbytes(48)).decode(), b64_43=rs(rng, 43, A62 + "+/"),
                hex8=rng.randbytes(4).hex(), hex32=rng.randbytes(16).hex(), b62_22=rs(rng, 22), b62_6=rs(rng, 6),
                lo_word=rng.choice(["api", "web", "billing"]), n2=rng.randrange(10, 99),
                sha1_colon=":".join(sha1[i:i + 2].upper() for i in range(0, 40, 2)),
            )
            out.append({"split": split, "kind": "negative", "text": tmpl.format(**vals), "entities": []})
    return out


def describe(typ):
    return {"AWS_SECRET_ACCESS_KEY": "AWS secret access key", "AWS_ACCESS_KEY_ID": "AWS access key id",
            "PRIVATE_KEY": "private key", "JWT": "session token"}.get(typ, "API key")


def main():
    rows = []
    for split, seed in (("dev", 1), ("test", 2)):
        rng = random.Random(seed)
        for kind_split, kind, tmpl in WRAPPERS + URL_WRAPPERS:
            if kind_split != split:
                continue
            for typ, value, name in tokens(rng):
                if kind == "url" and typ == "PRIVATE_KEY":
                    continue  # a PEM block does not travel in a query string
                if typ == "PRIVATE_KEY" and kind in ("env", "ini", "shell", "docker", "log", "url", "code", "json", "yaml"):
                    value_in = value.replace("\n", "\\n") if kind in ("json", "code", "log", "env", "docker", "shell") else value
                else:
                    value_in = value
                if kind == "yaml" and typ == "PRIVATE_KEY":
                    text = tmpl.split("{v}")[0].format(n=name, lo=name.lower(), d=describe(typ)) + "|\n    " + value.replace("\n", "\n    ") + "\n"
                    start = text.index("-----BEGIN")
                    end = text.index("PRIVATE KEY-----", start + 20) + len("PRIVATE KEY-----")
                    rows.append({"split": split, "kind": kind, "text": text,
                                 "entities": [{"type": typ, "start": start, "end": end}]})
                    continue
                pre, post = tmpl.split("{v}")
                pre = pre.format(n=name, lo=name.lower(), d=describe(typ)).replace("{{", "{").replace("}}", "}")
                post = post.format(n=name, lo=name.lower()) if "{" in post and "{{" not in post else post.replace("{{", "{").replace("}}", "}")
                text = pre + value_in + post
                rows.append({"split": split, "kind": kind, "text": text,
                             "entities": [{"type": typ, "start": len(pre), "end": len(pre) + len(value_in)}]})
        rows.extend(negatives(rng, split))
    for r in rows:
        print(json.dumps(r, ensure_ascii=False))


if __name__ == "__main__":
    main()
