"""The names the injection data sets share (data/injection/: dev, dev_extra, blind, team): the eight attack
families, the six benign kinds every evaluation set reports, and the three more the team's texts use."""

FAMILIES = frozenset(
    {"override", "delimiter", "indirect", "multilingual", "obfuscated", "roleplay", "extraction", "tool"}
)
EVAL_KINDS = frozenset(
    {"security_docs", "innocent_trigger", "roleplay_benign", "code", "multilingual_benign", "long_document"}
)
KINDS = EVAL_KINDS | {"everyday", "business", "agent_context"}
