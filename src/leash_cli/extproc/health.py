"""The standard gRPC health service (``grpc.health.v1.Health``) without a generated module.

``grpcio-health-checking`` is not a dependency: the two messages are declared
here as a descriptor (the wire format is the standard one), so Envoy's gRPC
health checks and ``grpc_health_probe`` work against the module host.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

SERVICE = "grpc.health.v1.Health"
UNKNOWN, SERVING, NOT_SERVING, SERVICE_UNKNOWN = 0, 1, 2, 3


def _messages() -> tuple[Any, Any]:  # classes made at run time: their fields are not in the type stubs
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name="leash/grpc/health/v1/health.proto", package="grpc.health.v1", syntax="proto3"
    )
    req = fdp.message_type.add(name="HealthCheckRequest")
    req.field.add(name="service", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    resp = fdp.message_type.add(name="HealthCheckResponse")
    enum = resp.enum_type.add(name="ServingStatus")
    for name, num in (("UNKNOWN", 0), ("SERVING", 1), ("NOT_SERVING", 2), ("SERVICE_UNKNOWN", 3)):
        enum.value.add(name=name, number=num)
    resp.field.add(
        name="status",
        number=1,
        type=F.TYPE_ENUM,
        label=F.LABEL_OPTIONAL,
        type_name=".grpc.health.v1.HealthCheckResponse.ServingStatus",
    )
    pool = descriptor_pool.DescriptorPool()  # private: no clash with grpcio-health-checking
    pool.Add(fdp)
    get = message_factory.GetMessageClass
    return (
        get(pool.FindMessageTypeByName("grpc.health.v1.HealthCheckRequest")),
        get(pool.FindMessageTypeByName("grpc.health.v1.HealthCheckResponse")),
    )


HealthCheckRequest, HealthCheckResponse = _messages()


class Health:
    """Serving status per service name ("" is the whole server)."""

    def __init__(self, services: tuple[str, ...] = ("", "envoy.service.ext_proc.v3.ExternalProcessor")) -> None:
        self._status = {s: SERVING for s in services}
        self._changed = asyncio.Event()

    def set(self, status: int) -> None:
        for s in self._status:
            self._status[s] = status
        self._changed.set()
        self._changed = asyncio.Event()

    def status(self, service: str = "") -> int:
        return self._status.get(service, SERVICE_UNKNOWN)

    async def check(self, request, context: grpc.aio.ServicerContext):
        st = self._status.get(request.service)
        if st is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        return HealthCheckResponse(status=st)

    async def watch(self, request, context: grpc.aio.ServicerContext):
        last = None
        while True:
            st = self._status.get(request.service, SERVICE_UNKNOWN)
            if st != last:
                last = st
                yield HealthCheckResponse(status=st)
            await self._changed.wait()

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Check": grpc.unary_unary_rpc_method_handler(
                    self.check,
                    request_deserializer=HealthCheckRequest.FromString,
                    response_serializer=HealthCheckResponse.SerializeToString,
                ),
                "Watch": grpc.unary_stream_rpc_method_handler(
                    self.watch,
                    request_deserializer=HealthCheckRequest.FromString,
                    response_serializer=HealthCheckResponse.SerializeToString,
                ),
            },
        )
