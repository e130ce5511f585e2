"""The OTLP trace messages, declared here from the specification (field numbers and types of
``opentelemetry/proto/{common,resource,trace}/v1/*.proto`` and ``collector/trace/v1``), so the
tests decode what leash exports with protobuf's own parser, not with leash's code.

The declarations go into a private descriptor pool under a package of their own: the copies of
these files that ``xds-protos`` installs (and that may have replaced ``opentelemetry-proto``'s) are
never touched.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto
PKG = "leash_test_otlp.v1"

# message -> [(name, number, type, label, type_name or None, oneof index or None)]
_OPT, _REP = F.LABEL_OPTIONAL, F.LABEL_REPEATED
_MESSAGES: dict[str, list[tuple[str, int, int, int, str | None, int | None]]] = {
    "AnyValue": [
        ("string_value", 1, F.TYPE_STRING, _OPT, None, 0),
        ("bool_value", 2, F.TYPE_BOOL, _OPT, None, 0),
        ("int_value", 3, F.TYPE_INT64, _OPT, None, 0),
        ("double_value", 4, F.TYPE_DOUBLE, _OPT, None, 0),
        ("array_value", 5, F.TYPE_MESSAGE, _OPT, "ArrayValue", 0),
        ("kvlist_value", 6, F.TYPE_MESSAGE, _OPT, "KeyValueList", 0),
        ("bytes_value", 7, F.TYPE_BYTES, _OPT, None, 0),
    ],
    "ArrayValue": [("values", 1, F.TYPE_MESSAGE, _REP, "AnyValue", None)],
    "KeyValueList": [("values", 1, F.TYPE_MESSAGE, _REP, "KeyValue", None)],
    "KeyValue": [("key", 1, F.TYPE_STRING, _OPT, None, None), ("value", 2, F.TYPE_MESSAGE, _OPT, "AnyValue", None)],
    "InstrumentationScope": [
        ("name", 1, F.TYPE_STRING, _OPT, None, None),
        ("version", 2, F.TYPE_STRING, _OPT, None, None),
        ("attributes", 3, F.TYPE_MESSAGE, _REP, "KeyValue", None),
        ("dropped_attributes_count", 4, F.TYPE_UINT32, _OPT, None, None),
    ],
    "Resource": [
        ("attributes", 1, F.TYPE_MESSAGE, _REP, "KeyValue", None),
        ("dropped_attributes_count", 2, F.TYPE_UINT32, _OPT, None, None),
    ],
    "Event": [
        ("time_unix_nano", 1, F.TYPE_FIXED64, _OPT, None, None),
        ("name", 2, F.TYPE_STRING, _OPT, None, None),
        ("attributes", 3, F.TYPE_MESSAGE, _REP, "KeyValue", None),
        ("dropped_attributes_count", 4, F.TYPE_UINT32, _OPT, None, None),
    ],
    "Link": [
        ("trace_id", 1, F.TYPE_BYTES, _OPT, None, None),
        ("span_id", 2, F.TYPE_BYTES, _OPT, None, None),
        ("trace_state", 3, F.TYPE_STRING, _OPT, None, None),
        ("attributes", 4, F.TYPE_MESSAGE, _REP, "KeyValue", None),
        ("dropped_attributes_count", 5, F.TYPE_UINT32, _OPT, None, None),
        ("flags", 6, F.TYPE_FIXED32, _OPT, None, None),
    ],
    "Status": [("message", 2, F.TYPE_STRING, _OPT, None, None), ("code", 3, F.TYPE_INT32, _OPT, None, None)],
    "Span": [
        ("trace_id", 1, F.TYPE_BYTES, _OPT, None, None),
        ("span_id", 2, F.TYPE_BYTES, _OPT, None, None),
        ("trace_state", 3, F.TYPE_STRING, _OPT, None, None),
        ("parent_span_id", 4, F.TYPE_BYTES, _OPT, None, None),
        ("name", 5, F.TYPE_STRING, _OPT, None, None),
        ("kind", 6, F.TYPE_INT32, _OPT, None, None),
        ("start_time_unix_nano", 7, F.TYPE_FIXED64, _OPT, None, None),
        ("end_time_unix_nano", 8, F.TYPE_FIXED64, _OPT, None, None),
        ("attributes", 9, F.TYPE_MESSAGE, _REP, "KeyValue", None),
        ("dropped_attributes_count", 10, F.TYPE_UINT32, _OPT, None, None),
        ("events", 11, F.TYPE_MESSAGE, _REP, "Event", None),
        ("dropped_events_count", 12, F.TYPE_UINT32, _OPT, None, None),
        ("links", 13, F.TYPE_MESSAGE, _REP, "Link", None),
        ("dropped_links_count", 14, F.TYPE_UINT32, _OPT, None, None),
        ("status", 15, F.TYPE_MESSAGE, _OPT, "Status", None),
        ("flags", 16, F.TYPE_FIXED32, _OPT, None, None),
    ],
    "ScopeSpans": [
        ("scope", 1, F.TYPE_MESSAGE, _OPT, "InstrumentationScope", None),
        ("spans", 2, F.TYPE_MESSAGE, _REP, "Span", None),
        ("schema_url", 3, F.TYPE_STRING, _OPT, None, None),
    ],
    "ResourceSpans": [
        ("resource", 1, F.TYPE_MESSAGE, _OPT, "Resource", None),
        ("scope_spans", 2, F.TYPE_MESSAGE, _REP, "ScopeSpans", None),
        ("schema_url", 3, F.TYPE_STRING, _OPT, None, None),
    ],
    "ExportTraceServiceRequest": [("resource_spans", 1, F.TYPE_MESSAGE, _REP, "ResourceSpans", None)],
}


def _build() -> dict[str, Any]:
    fd = descriptor_pb2.FileDescriptorProto(name="leash_test_otlp.proto", package=PKG, syntax="proto3")
    for name, fields in _MESSAGES.items():
        m = fd.message_type.add(name=name)
        if any(f[5] is not None for f in fields):
            m.oneof_decl.add(name="value")
        for fname, number, ftype, label, tname, oneof in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if tname:
                f.type_name = f".{PKG}.{tname}"
            if oneof is not None:
                f.oneof_index = oneof
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return {n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PKG}.{n}")) for n in _MESSAGES}


MESSAGES = _build()
ExportTraceServiceRequest = MESSAGES["ExportTraceServiceRequest"]
