"""Wire-format response samples (as the providers send them) for the history tests."""

from __future__ import annotations

from leash_cli.exchange import Exchange


def exchange(
    api: str = "openai", path: str = "chat/completions", stream: bool = False, body: bytes = b"", **kw
) -> Exchange:
    kind = kw.pop("kind", api)
    return Exchange(
        id=kw.pop("id", "req-1"),
        provider=kw.pop("provider", kind),
        kind=kind,
        api=api,
        method="POST",
        path=path,
        stream=stream,
        request_body=body,
        **kw,
    )


def split_sse(stream: bytes) -> list[tuple[str | None, bytes, bytes]]:
    """(event, joined data, raw) per SSE event, like the proxy's splitter."""
    stream = stream.replace(b"\r\n", b"\n")
    out = []
    for raw in stream.split(b"\n\n"):
        if not raw.strip():
            continue
        event, data = None, []
        for line in raw.split(b"\n"):
            if line.startswith(b"event:"):
                event = line[6:].strip().decode()
            elif line.startswith(b"data:"):
                v = line[5:]
                data.append(v[1:] if v.startswith(b" ") else v)
        out.append((event, b"\n".join(data), raw + b"\n\n"))
    return out


# -- OpenAI Chat Completions -----------------------------------------------------------

OPENAI_CHAT_JSON = b"""{
  "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
  "object": "chat.completion",
  "created": 1741569952,
  "model": "o3-mini-2025-01-31",
  "choices": [
    {
      "index": 0,
      "message": {"role": "assistant", "content": "Hello! How can I assist you today?", "refusal": null, "annotations": []},
      "logprobs": null,
      "finish_reason": "stop"
    }
  ],
  "usage": {
    "prompt_tokens": 1000,
    "completion_tokens": 500,
    "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 200, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 100, "audio_tokens": 0,
      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
  },
  "service_tier": "default",
  "system_fingerprint": "fp_3b9d"
}"""

_CHUNK = (
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1741569952,'
    b'"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_1","choices":[%s],"usage":null}\n\n'
)
OPENAI_CHAT_SSE_NO_USAGE = (
    _CHUNK
    % b'{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}'
    + _CHUNK % b'{"index":0,"delta":{"content":"Hel"},"logprobs":null,"finish_reason":null}'
    + _CHUNK % b'{"index":0,"delta":{"content":"lo!"},"logprobs":null,"finish_reason":null}'
    + _CHUNK % b'{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}'
)
OPENAI_CHAT_USAGE_CHUNK = (
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1741569952,'
    b'"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_1","choices":[],'
    b'"usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500,'
    b'"prompt_tokens_details":{"cached_tokens":200,"audio_tokens":0},'
    b'"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,'
    b'"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}\n\n'
)
OPENAI_CHAT_SSE = OPENAI_CHAT_SSE_NO_USAGE + OPENAI_CHAT_USAGE_CHUNK + b"data: [DONE]\n\n"

# -- OpenAI Responses API ----------------------------------------------------------------

OPENAI_RESPONSES_JSON = b"""{
  "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
  "object": "response",
  "created_at": 1741476542,
  "status": "completed",
  "model": "o4-mini-2025-04-16",
  "output": [
    {"type": "reasoning", "id": "rs_1", "summary": []},
    {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
     "content": [{"type": "output_text", "text": "In a peaceful grove.", "annotations": []}]}
  ],
  "usage": {
    "input_tokens": 1000,
    "input_tokens_details": {"cached_tokens": 200},
    "output_tokens": 500,
    "output_tokens_details": {"reasoning_tokens": 300},
    "total_tokens": 1500
  }
}"""

OPENAI_RESPONSES_SSE = b"""event: response.created
data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","created_at":1741290958,"status":"in_progress","model":"o4-mini-2025-04-16","output":[],"usage":null}}

event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":1,"output_index":1,"item":{"id":"msg_1","type":"message","status":"in_progress","role":"assistant","content":[]}}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":2,"item_id":"msg_1","output_index":1,"content_index":0,"delta":"In a "}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":3,"item_id":"msg_1","output_index":1,"content_index":0,"delta":"peaceful grove."}

event: response.output_text.done
data: {"type":"response.output_text.done","sequence_number":4,"item_id":"msg_1","output_index":1,"content_index":0,"text":"In a peaceful grove."}

event: response.completed
data: {"type":"response.completed","sequence_number":5,"response":{"id":"resp_1","object":"response","created_at":1741290958,"status":"completed","model":"o4-mini-2025-04-16","output":[],"usage":{"input_tokens":1000,"input_tokens_details":{"cached_tokens":200},"output_tokens":500,"output_tokens_details":{"reasoning_tokens":300},"total_tokens":1500}}}

"""

OPENAI_EMBEDDINGS_JSON = b"""{
  "object": "list",
  "data": [{"object": "embedding", "index": 0, "embedding": [0.0023064255, -0.009327292, -0.0028842222]}],
  "model": "text-embedding-3-small",
  "usage": {"prompt_tokens": 8, "total_tokens": 8}
}"""

# -- Anthropic Messages ------------------------------------------------------------------

ANTHROPIC_JSON = b"""{
  "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
  "type": "message",
  "role": "assistant",
  "model": "claude-sonnet-4-20250514",
  "content": [{"type": "text", "text": "Hi! My name is Claude."}],
  "stop_reason": "end_turn",
  "stop_sequence": null,
  "usage": {"input_tokens": 500, "cache_creation_input_tokens": 300, "cache_read_input_tokens": 200,
            "output_tokens": 400, "service_tier": "standard"}
}"""

ANTHROPIC_SSE = b"""event: message_start
data: {"type":"message_start","message":{"id":"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-20250514","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":500,"cache_creation_input_tokens":300,"cache_read_input_tokens":200,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":400}}

event: message_stop
data: {"type":"message_stop"}

"""

# -- Gemini -----------------------------------------------------------------------------------

GEMINI_JSON = b"""{
  "candidates": [
    {"content": {"parts": [{"text": "thinking about it", "thought": true}, {"text": "The sky is blue."}], "role": "model"},
     "finishReason": "STOP", "index": 0}
  ],
  "usageMetadata": {
    "promptTokenCount": 1000,
    "candidatesTokenCount": 300,
    "totalTokenCount": 1500,
    "cachedContentTokenCount": 400,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1000}],
    "thoughtsTokenCount": 200
  },
  "modelVersion": "gemini-2.5-flash",
  "responseId": "abc"
}"""

GEMINI_SSE = (
    b'data: {"candidates": [{"content": {"parts": [{"text": "The sky"}],"role": "model"},"index": 0}],'
    b'"usageMetadata": {"promptTokenCount": 1000,"totalTokenCount": 1000,"cachedContentTokenCount": 400},'
    b'"modelVersion": "gemini-2.5-flash","responseId": "r1"}\r\n\r\n'
    b'data: {"candidates": [{"content": {"parts": [{"text": " is"}],"role": "model"},"index": 0}],'
    b'"usageMetadata": {"promptTokenCount": 1000,"candidatesTokenCount": 150,"totalTokenCount": 1350,'
    b'"cachedContentTokenCount": 400,"thoughtsTokenCount": 200},"modelVersion": "gemini-2.5-flash","responseId": "r1"}\r\n\r\n'
    b'data: {"candidates": [{"content": {"parts": [{"text": " blue."}],"role": "model"},"finishReason": "STOP","index": 0}],'
    b'"usageMetadata": {"promptTokenCount": 1000,"candidatesTokenCount": 300,"totalTokenCount": 1500,'
    b'"cachedContentTokenCount": 400,"thoughtsTokenCount": 200},"modelVersion": "gemini-2.5-flash","responseId": "r1"}\r\n\r\n'
)

GEMINI_JSON_ARRAY = b"""[{
  "candidates": [{"content": {"parts": [{"text": "The sky"}], "role": "model"}, "index": 0}],
  "usageMetadata": {"promptTokenCount": 1000, "totalTokenCount": 1000},
  "modelVersion": "gemini-2.5-flash"
}
,
{
  "candidates": [{"content": {"parts": [{"text": " is blue."}], "role": "model"}, "finishReason": "STOP", "index": 0}],
  "usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 300, "totalTokenCount": 1500,
                    "cachedContentTokenCount": 400, "thoughtsTokenCount": 200},
  "modelVersion": "gemini-2.5-flash"
}
]"""
