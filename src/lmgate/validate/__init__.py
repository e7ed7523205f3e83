"""Edge validation: one small module per client protocol, called by the inbound handlers on the parsed
body before anything is routed, so nothing structurally invalid ever reaches an upstream (a fragile one
would answer 500 and be counted unhealthy for the client's mistake).

Types and structure only, hand-written on the dict (checks.py), never pydantic: this runs on every
request. Unknown extra fields pass through untouched. A mistake is a `BadRequest` (400) naming the
parameter, rendered in the protocol the client spoke.

    openai.py      chat, completion, embedding
    ollama.py      chat, generate, embed, embeddings
    anthropic.py   messages      (for the Anthropic protocol)
    responses.py   create        (for the OpenAI Responses protocol)
"""
