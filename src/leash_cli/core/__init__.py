"""The adapter-neutral gateway core.

    admission   route -> provider, exchange, tenant, virtual key, body limit, JSON parse
    rejection   leash's own answers in the calling provider's error shape
    headers     the x-leash-* headers of every answer, and the overhead clock
    ids         request ids
    live        the live configuration: generations, reload, closing what a reload replaced
    relay       the response side: a buffered answer, a stream event by event, a response-cache hit
    transport   the protocol the upstream client implements
    gateway     GatewayCore: metrics, recorder, limits, keys, the pipeline run and the end of an exchange

The local proxy (``leash_cli.proxy``, ASGI) and the Envoy ext_proc host
(``leash_cli.extproc``) translate their protocol to these calls.  No web
framework and no gRPC here.
"""

from leash_cli.core.admission import Admission, admit, admit_body, wants_json
from leash_cli.core.gateway import GatewayCore, gateway_parts, reload_config
from leash_cli.core.headers import leash_headers, overhead
from leash_cli.core.ids import new_request_id
from leash_cli.core.live import GatewayState, LiveConfig
from leash_cli.core.rejection import Rejection, reject
from leash_cli.core.transport import Transport

__all__ = [
    "Admission",
    "GatewayCore",
    "GatewayState",
    "LiveConfig",
    "Rejection",
    "Transport",
    "admit",
    "admit_body",
    "gateway_parts",
    "leash_headers",
    "new_request_id",
    "overhead",
    "reject",
    "reload_config",
    "wants_json",
]
