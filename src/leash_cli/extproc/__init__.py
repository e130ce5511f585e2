"""leash behind Envoy: an ext_proc module host running the same pipeline as the local proxy.

``serve_ext_proc`` is what ``leash ext-proc`` runs; ``adapter`` maps Envoy's
messages to the exchange; ``envoy`` builds the routes and clusters of
``envoy.yaml``; ``health`` is the standard gRPC health service.
"""

from leash_cli.extproc.server import ExtProcServer, ExtProcThread, serve_ext_proc

__all__ = ["ExtProcServer", "ExtProcThread", "serve_ext_proc"]
