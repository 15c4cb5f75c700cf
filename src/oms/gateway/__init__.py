"""The gateways of `oms serve`: FIX 4.2/4.4 and binary TCP sessions in front of the engine.

- `config`: the TOML configuration (msgspec) and the embedded defaults;
- `gateway`: listeners, ingress into the engine, `Egress` out of it;
- `fix`: the FIX session layer over the compiled codec (`oms._fix`);
- `binary`: the binary protocol over its compiled codec (`oms._binary`);
- `auth`, `ratelimit`, `store`, `log`: credentials, token buckets, FIX session persistence,
  structured logs.

docs/protocols.md describes both protocols.
"""
