"""`oms serve` configuration: a TOML file validated with msgspec, or the embedded defaults.

Every setting is documented in `oms.toml.example`.  A bad value is reported with the exact
path of the field (``Expected `int` >= 1, got 0 - at `$.server.fix_port```), and the
cross-field checks below name their path the same way.  With no file at all, `default_config()`
gives a working server: the demo reference data, FIX and binary listeners on localhost, demo
users and sessions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

import msgspec

from oms.config import DEMO_VENUES, EngineConfig, demo_venue_config
from oms.gateway.auth import check_hash_format

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]      # 0 = an ephemeral port
Seconds = Annotated[float, msgspec.Meta(gt=0)]
SessionId = Annotated[int, msgspec.Meta(ge=1, le=65535)]
CompId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[!-~]+$")]


class ServerSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: str = "127.0.0.1"
    fix_port: Port = 9878
    binary_port: Port = 9879
    state_dir: str = "journal"              # the engine journal, and FIX session stores in
                                            # <state_dir>/sessions
    journal: bool = True                    # journal the engine in state_dir unless
                                            # engine.journal_dir names another directory
    comp_id: CompId = "OMS"                 # our SenderCompID on every FIX session
    logon_timeout: Seconds = 5.0            # an unauthenticated connection is closed after it
    max_logon_failures: Annotated[int, msgspec.Meta(ge=1)] = 3
    output_buffer_limit: Annotated[int, msgspec.Meta(ge=65536)] = 8 << 20
    egress_idle_poll: Seconds = 0.005       # engine poll period when no command is in flight
    egress_wakeup: bool = True              # sleep on an eventfd the business thread writes
                                            # instead of polling while commands are in flight
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_file: str = ""                      # "" = standard error


class RateTier(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    orders_per_second: Annotated[float, msgspec.Meta(ge=0)] = 100.0   # 0 = unlimited
    orders_per_minute: Annotated[float, msgspec.Meta(ge=0)] = 1000.0  # 0 = unlimited
    burst_multiplier: Annotated[float, msgspec.Meta(ge=1)] = 2.0
    burst_seconds: Annotated[float, msgspec.Meta(ge=0)] = 10.0
    abuse_threshold: Annotated[int, msgspec.Meta(ge=1)] = 3     # throttle rejects ...
    abuse_window: Seconds = 10.0                                # ... within this window
    penalty_factor: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.5
    penalty_seconds: Seconds = 60.0


class User(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=16, pattern=r"^[!-~]+$")]
    password_hash: str
    tier: str = "default"


class FixSessionConfig(msgspec.Struct, tag_field="protocol", tag="fix",
                       forbid_unknown_fields=True, kw_only=True):
    session_id: SessionId
    sender_comp_id: CompId                  # the counterparty's SenderCompID
    begin_string: Literal["FIX.4.2", "FIX.4.4"] = "FIX.4.4"
    user: str = ""                          # "" = trusted by CompID alone
    accounts: list[str] = []
    tier: str = "default"
    drop_copy: bool = False                 # read-only: every execution report of its accounts
    reset_on_logon: bool = False
    reset_on_logout: bool = False
    reset_on_disconnect: bool = False
    check_latency: bool = True
    max_latency: Seconds = 120.0


class BinarySessionConfig(msgspec.Struct, tag_field="protocol", tag="binary",
                          forbid_unknown_fields=True, kw_only=True):
    session_id: SessionId
    user: str                               # logs in with this user's credentials
    accounts: list[str] = []
    tier: str = ""                          # "" = the user's tier
    drop_copy: bool = False
    allow_client_time: bool = False         # may set command time (replays, the demo)


SessionConfig = Union[FixSessionConfig, BinarySessionConfig]

TimeOfDay = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$")]
Millis = Annotated[float, msgspec.Meta(ge=0)]


class VenueHealthConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """When a connected venue counts as unhealthy (DEGRADED: the router passes it over).
    Every threshold is judged over the last one to two `window`s; 0 turns a check off."""
    window: Seconds = 30.0
    max_ack_latency_ms: Millis = 0.0        # p99 of request -> first answer
    max_rtt_ms: Millis = 0.0                # p99 of TestRequest -> Heartbeat
    max_reject_rate: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0  # rejects / answers
    min_answers: Annotated[int, msgspec.Meta(ge=1)] = 20   # ... over at least this many
    max_outstanding: Annotated[int, msgspec.Meta(ge=0)] = 0   # requests not yet answered
    max_timeouts: Annotated[int, msgspec.Meta(ge=0)] = 0      # response timeouts


class VenueSessionConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """How `oms serve` reaches an external venue (FIX 4.4, we are the initiator).  `name` is
    the venue of `engine.venues` (src/oms/config.py) this session speaks for."""
    name: str
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)]   # 0: only with simulate (any free)
    target_comp_id: CompId                  # the venue's CompID
    simulate: bool = False                  # start an `oms venue-sim` for it on host:port
                                            # (its CompID target_comp_id) with the server
    sender_comp_id: str = ""                # ours; "" = server.comp_id
    heartbeat: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 30   # HeartBtInt(108), seconds
    reconnect_interval: Seconds = 5.0       # first retry after a failed or lost connection;
    reconnect_max: Seconds = 60.0           # ... doubling up to this
    connect_timeout: Seconds = 5.0
    logon_timeout: Seconds = 10.0           # for the venue's Logon answer
    start_time: TimeOfDay | None = None     # UTC session window (both or neither): connect
    end_time: TimeOfDay | None = None       # only inside it; a new window resets sequences
    reset_on_logon: bool = False            # ResetSeqNumFlag(141)=Y on every Logon
    reset_on_logout: bool = False
    reset_on_disconnect: bool = False
    username: str = ""                      # Username(553) on the Logon ("": none)
    password_env: str = ""                  # Password(554) from this environment variable
    account: str = ""                       # Account(1) on every order ("": none)
    response_timeout: Seconds = 5.0         # no answer to a request in this time: an alert
    probe_interval: Annotated[float, msgspec.Meta(ge=0)] = 5.0   # TestRequest for the RTT; 0: off
    check_latency: bool = False             # reject a SendingTime more than max_latency off
    max_latency: Seconds = 120.0
    health: VenueHealthConfig = msgspec.field(default_factory=VenueHealthConfig)

    def __post_init__(self) -> None:
        if self.port == 0 and not self.simulate:
            raise msgspec.ValidationError(
                "port 0 (any free port) needs simulate = true - at `$.venues[].port`")


class ServerConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    engine: EngineConfig = msgspec.field(default_factory=lambda: demo_venue_config(
        max_orders=1 << 20, idem_capacity=1 << 22))
    rate_limits: dict[str, RateTier] = msgspec.field(
        default_factory=lambda: {"default": RateTier()})
    users: list[User] = []
    sessions: list[SessionConfig] = []
    venues: list[VenueSessionConfig] = []  # connections to the external venues of engine.venues

    def __post_init__(self) -> None:
        if self.server.journal and self.engine.journal_dir is None:
            self.engine = msgspec.structs.replace(self.engine, journal_dir=self.server.state_dir)
        elif self.engine.journal_dir is None:
            # no journal, so nothing would store a snapshot: do not take any
            self.engine = msgspec.structs.replace(self.engine, snapshot_every_events=0)

        def fail(msg: str, path: str):
            raise msgspec.ValidationError(f"{msg} - at `$.{path}`")

        if "default" not in self.rate_limits:
            self.rate_limits["default"] = RateTier()
        users = {}
        for i, user in enumerate(self.users):
            if user.name in users:
                fail(f"duplicate user {user.name!r}", f"users[{i}].name")
            problem = check_hash_format(user.password_hash)
            if problem:
                fail(problem, f"users[{i}].password_hash")
            if user.tier not in self.rate_limits:
                fail(f"unknown rate-limit tier {user.tier!r}", f"users[{i}].tier")
            users[user.name] = user
        accounts = {a.name for a in self.engine.accounts}
        ids, comp_ids, binary_users = set(), set(), set()
        for i, s in enumerate(self.sessions):
            path = f"sessions[{i}]"
            if s.session_id in ids:
                fail(f"duplicate session_id {s.session_id}", f"{path}.session_id")
            ids.add(s.session_id)
            for j, name in enumerate(s.accounts):
                if name not in accounts:
                    fail(f"unknown account {name!r}; known: {', '.join(sorted(accounts))}",
                         f"{path}.accounts[{j}]")
            if s.user and s.user not in users:
                fail(f"unknown user {s.user!r}", f"{path}.user")
            if s.tier and s.tier not in self.rate_limits:
                fail(f"unknown rate-limit tier {s.tier!r}", f"{path}.tier")
            if isinstance(s, FixSessionConfig):
                if s.sender_comp_id in comp_ids:
                    fail(f"two sessions for SenderCompID {s.sender_comp_id!r}",
                         f"{path}.sender_comp_id")
                comp_ids.add(s.sender_comp_id)
            else:
                if s.user in binary_users:
                    fail(f"user {s.user!r} already has a binary session", f"{path}.user")
                binary_users.add(s.user)

        venue_names = {v.name for v in self.engine.venues}
        seen = set()
        for i, v in enumerate(self.venues):
            path = f"venues[{i}]"
            if v.name not in venue_names:
                fail(f"unknown venue {v.name!r}: not in engine.venues"
                     + (f" ({', '.join(sorted(venue_names))})" if venue_names else ""),
                     f"{path}.name")
            if v.name in seen:
                fail(f"two sessions for venue {v.name!r}", f"{path}.name")
            seen.add(v.name)
            if (v.start_time is None) != (v.end_time is None):
                fail("start_time and end_time go together", f"{path}.start_time")
            if v.sender_comp_id and not v.sender_comp_id.isprintable():
                fail("sender_comp_id must be printable", f"{path}.sender_comp_id")

    # -- lookups --

    def user(self, name: str) -> User | None:
        return next((u for u in self.users if u.name == name), None)

    def tier(self, name: str) -> RateTier:
        return self.rate_limits[name or "default"]


def load_config(path: str | Path | None) -> ServerConfig:
    """The config at `path`, or the embedded defaults when `path` is None.  Raises
    msgspec.ValidationError / msgspec.DecodeError naming the bad field."""
    if path is None:
        return default_config()
    return msgspec.toml.decode(Path(path).read_bytes(), type=ServerConfig)


# The demo credentials (documented in README and oms.toml.example): user / password.
#   fund-a / fund-a-pass, mm-desk / mm-desk-pass, retail-7 / retail-7-pass, demo / demo,
#   bench / bench, dropcopy / dropcopy-pass, fix-fund / fix-fund-pass
_DEMO_USERS = {
    "fund-a": "scrypt$14$8$1$ba23639fae790b120fbbfa5da737a4ca$95253ee304efa3bcebcbf290782a746b9a7327328ba4293272850d2668449eac",
    "mm-desk": "scrypt$14$8$1$f15ddea860f575588f0efcef74a40f1b$b556c83576b0b28808a40cab1bba255041549fe0575fef9cfe20b4e4003ffce2",
    "retail-7": "scrypt$14$8$1$672c786eab87594d2fd6281168ecaace$b67642b13a36ba85c14b85b37cd42cb71046073d20154c6dc740798bf4a5f7dd",
    "demo": "scrypt$14$8$1$c6e0de624512089016cd58b9e12b2773$0c5e54312c98998c849c9acfd2ddf25e5f1ab5b5d8fe5259041cfe4e62c2eefa",
    "bench": "scrypt$14$8$1$b8c3e0887ec39ba1cb8606b688412618$03e2c33e8c8cf610234f5f6b9376c19bc1eb5019dd9c2ed1ffa756ead23e3e9c",
    "dropcopy": "scrypt$14$8$1$48961e73d290ec3ba4292d1a0f248b7d$69ffe0c223904faad89f0b70b8faebf942d99ec79f83e4527961f1d4ee4404f1",
    "fix-fund": "scrypt$14$8$1$e3b50f988c94f932825b709c3979d9e4$d7e06b0aed90cc4e20781856f43ac14052d49efb9179ae8b482902a59013413d",
}
_ALL = ["MM-DESK", "FUND-A", "RETAIL-7"]
DEMO_VENUE_PORTS = (9881, 9882)             # the embedded defaults' simulated venues


def default_config(engine: EngineConfig | None = None,
                   venue_ports: tuple[int, ...] = DEMO_VENUE_PORTS, **server) -> ServerConfig:
    """The embedded defaults: demo reference data, users and sessions, and the simulated
    venues SIM-A and SIM-B on `venue_ports` (0: any free port) when the engine has them (see
    oms.toml.example, which spells out the same).  `server` overrides ServerSettings
    fields."""
    unlimited = RateTier(orders_per_second=0, orders_per_minute=0)
    users = [User(name=n, password_hash=h, tier="unlimited" if n in ("demo", "bench") else "default")
             for n, h in _DEMO_USERS.items()]
    sessions: list[SessionConfig] = [
        FixSessionConfig(session_id=11, sender_comp_id="CLIENT1", accounts=["FUND-A"]),
        FixSessionConfig(session_id=12, sender_comp_id="CLIENT2", begin_string="FIX.4.2",
                         user="fix-fund", accounts=["FUND-A"]),
        FixSessionConfig(session_id=13, sender_comp_id="MMDESK", accounts=["MM-DESK"]),
        FixSessionConfig(session_id=14, sender_comp_id="BENCHFIX", accounts=_ALL,
                         tier="unlimited"),
        FixSessionConfig(session_id=19, sender_comp_id="DROPCOPY", user="dropcopy",
                         accounts=_ALL, drop_copy=True),
        BinarySessionConfig(session_id=21, user="fund-a", accounts=["FUND-A"]),
        BinarySessionConfig(session_id=22, user="mm-desk", accounts=["MM-DESK"]),
        BinarySessionConfig(session_id=23, user="retail-7", accounts=["RETAIL-7"]),
        BinarySessionConfig(session_id=24, user="demo", accounts=_ALL, allow_client_time=True),
        BinarySessionConfig(session_id=25, user="bench", accounts=_ALL),
        BinarySessionConfig(session_id=29, user="dropcopy", accounts=_ALL, drop_copy=True),
    ]
    engine = engine or demo_venue_config(max_orders=1 << 20, idem_capacity=1 << 22)
    # the engine's demo venues, each simulated by an `oms venue-sim` the server starts
    names = {v.name for v in engine.venues}
    venues = [VenueSessionConfig(name=n, port=port, target_comp_id=n, simulate=True,
                                 heartbeat=10, reconnect_interval=1.0, response_timeout=5.0)
              for n, port in zip(DEMO_VENUES, venue_ports) if n in names]
    return ServerConfig(server=ServerSettings(**server), engine=engine,
                        rate_limits={"default": RateTier(), "unlimited": unlimited},
                        users=users, sessions=sessions, venues=venues)
