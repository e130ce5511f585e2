"""Built-in policy modules.  Each file holds one module, named after its config key.

    rate-limiter      requests and tokens per window (GCRA), x-ratelimit-* headers, 429
    cost-tracker      budgets with worst-case reservations, alert thresholds
    content-filter    blocked keywords and patterns in message text
    model-policy      allowed/blocked providers and models, max_tokens cap, required params
    logger            JSON lines to stdout or a rotating file
    pii-detector      emails, phones, cards, SSNs, IBANs, IPs: block, redact or log
    secrets-detector  provider and cloud credentials pasted into prompts
    prompt-injection  heuristic injection score over normalised text

``tenant.py`` is not a module users enable: it enforces each tenant's own
``quotas``, ``allowed_providers`` and ``allowed_models`` (see docs/modules.md).
"""
