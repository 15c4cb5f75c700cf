"""`oms client`: interactive order entry against `oms serve` over the binary protocol.

    buy 100 AAPL 190.05 [day|gtc|ioc|fok] [account=FUND-A]  limit order (price `mkt`: market)
    sell 50 MSFT mkt
    sell 50 AAPL mkt stop=189.50          stop (with a price: stop limit); touch=PX: if touched
    sell 50 AAPL mkt trail=0.50           trailing stop by amount (trail=25bps: basis points)
    buy 500 AAPL 190 display=100 min=50 postonly expire=3600   iceberg, min qty, GTD in 1 h
    sell 50 AAPL 195 parent=7 oco=8       links to earlier orders by engine order id
    cancel 1003 | replace 1003 190.10 80 [stop=PX] | status 1003
    masscancel [SYMBOL]                                      this session's orders
    watch [SECONDS]                                          print executions as they arrive
    quit

Names come from the server's config (`--config`, default: the embedded one); ClOrdIDs are
numbered from 1 in the order typed, and every execution is printed as a blotter row.
"""

from __future__ import annotations

import getpass
import shlex
import time

from oms import blotter
from oms.client import BinaryClient, ClientError
from oms.config import px
from oms.layout import ExecInst, MassCancelScope, OrdType, Side, TimeInForce

HELP = __doc__.split("\n\n")[1]


class Session:
    def __init__(self, client: BinaryClient, engine_config, account: int, out=print):
        self.c = client
        self.config = engine_config
        self.names = blotter.Names(engine_config)
        self.symbols = {s.name.upper(): s.symbol_id for s in engine_config.symbols}
        self.accounts = {a.name.upper(): a.account_id for a in engine_config.accounts}
        self.account = account
        self.out = out
        self.next_id = 1

    def show(self, wait: float) -> None:
        events = self.c.read(wait)
        for line in blotter.format_events(events, self.names):
            self.out("  " + line)
        for r in self.c.rejects:
            self.out(f"  REJECT {r['text']}")
        self.c.rejects.clear()

    def command(self, line: str) -> bool:
        """Run one typed command; False to quit."""
        words = shlex.split(line)
        if not words:
            return True
        verb, args = words[0].lower(), words[1:]
        try:
            if verb in ("quit", "exit"):
                return False
            if verb == "help":
                self.out(HELP)
            elif verb in ("buy", "sell"):
                self.order(Side[verb.upper()], args)
            elif verb == "cancel":
                self.c.cancel(self._id(), orig_cl_ord_id=int(args[0]))
            elif verb == "replace":
                stop = [px(a.split("=", 1)[1]) for a in args[3:] if a.lower().startswith("stop=")]
                self.c.replace(self._id(), 0 if args[1].lower() == "mkt" else px(args[1]),
                               int(args[2]), orig_cl_ord_id=int(args[0]),
                               stop_price=stop[-1] if stop else 0)
            elif verb == "status":
                self.c.status(orig_cl_ord_id=int(args[0]))
            elif verb == "masscancel":
                if args:
                    self.c.mass_cancel(scope=MassCancelScope.SYMBOL, symbol=self._symbol(args[0]))
                else:
                    self.c.mass_cancel()
            elif verb == "watch":
                end = time.monotonic() + (float(args[0]) if args else 3600)
                while time.monotonic() < end:
                    self.show(0.5)
                return True
            else:
                self.out(f"unknown command {verb!r}; type help")
                return True
        except (IndexError, ValueError, KeyError) as exc:
            self.out(f"cannot read that: {exc!r}; type help")
            return True
        self.show(0.3)
        return True

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def _symbol(self, name: str) -> int:
        try:
            return self.symbols[name.upper()]
        except KeyError:
            raise KeyError(f"unknown symbol {name}; known: {', '.join(self.symbols)}") from None

    def order(self, side: Side, args: list[str]) -> None:
        qty, symbol, price = int(args[0]), self._symbol(args[1]), args[2]
        tif, account = TimeInForce.DAY, self.account
        market = price.lower() == "mkt"
        ord_type = OrdType.MARKET if market else OrdType.LIMIT
        kw: dict[str, int] = {}
        for extra in args[3:]:
            key, _, value = extra.partition("=")
            key = key.lower()
            if key == "account":
                account = self.accounts[value.upper()]
            elif key in ("stop", "touch"):
                kw["stop_price"] = px(value)
                ord_type = {("stop", True): OrdType.STOP, ("stop", False): OrdType.STOP_LIMIT,
                            ("touch", True): OrdType.MARKET_IF_TOUCHED,
                            ("touch", False): OrdType.LIMIT_IF_TOUCHED}[key, market]
            elif key == "trail":
                ord_type = OrdType.TRAILING_STOP
                if value.lower().endswith("bps"):
                    kw["trail_bps"] = int(value[:-3])
                else:
                    kw["trail_amount"] = px(value)
            elif key == "display":
                kw["display_qty"] = int(value)
            elif key == "min":
                kw["min_qty"] = int(value)
            elif key == "postonly":
                kw["exec_inst"] = ExecInst.POST_ONLY
            elif key == "expire":
                tif = TimeInForce.GTD
                kw["expire_time_ns"] = time.time_ns() + int(float(value) * 1e9)
            elif key in ("parent", "oco"):
                kw[f"{key}_order_id"] = int(value)
            elif not value:
                tif = TimeInForce[key.upper()]
            else:
                raise ValueError(f"unknown order option {extra!r}")
        cl = self._id()
        self.c.new_order(cl, symbol, side, qty, 0 if market else px(price), ord_type, tif,
                         account, **kw)
        self.out(f"  sent ClOrdID {cl}")


def run_client(args) -> int:
    import msgspec
    from oms.gateway.config import load_config
    try:
        config = load_config(args.config)
    except (OSError, msgspec.ValidationError, msgspec.DecodeError) as exc:
        print(f"oms client: bad config {args.config}: {exc}")
        return 2
    from oms.gateway.config import BinarySessionConfig
    session = next((s for s in config.sessions
                    if isinstance(s, BinarySessionConfig) and s.user == args.user), None)
    names = args.account or (session.accounts[0] if session and session.accounts else None)
    accounts = {a.name: a.account_id for a in config.engine.accounts}
    if names not in accounts:
        print(f"oms client: unknown account {names!r}; pass --account")
        return 2
    password = args.password if args.password is not None else getpass.getpass("password: ")
    try:
        client = BinaryClient(args.host, args.port, args.user, password).connect()
    except (OSError, ClientError) as exc:
        print(f"oms client: {exc}")
        return 1
    print(f"logged in as {args.user} (session {client.session_id}); type help")
    s = Session(client, config.engine, accounts[names])
    try:
        while True:
            try:
                line = input("oms> ")
            except EOFError:
                break
            if not s.command(line):
                break
    except KeyboardInterrupt:
        pass
    except ClientError as exc:
        print(f"oms client: {exc}")
        return 1
    finally:
        client.close()
    return 0
