"""A simple exchange on QuickFIX (the `quickfix` package): a FIX 4.4 SocketAcceptor with the
FIX44.xml DataDictionary, run as a subprocess by tests/e2e/test_venue_quickfix.py so that our
venue initiator (src/oms/venues) is tested against a FIX engine we did not write.

    python tests/e2e/quickfix_venue.py --port 5001 --dir /tmp/qfx [--sender QFX --target OMS]
        [--quote SYM=BID/ASK ...] [--size 1000]

Exchange rules: every symbol has a fixed synthetic quote (default bid 99.95 / ask 100.05, a
level of `--size` shares each side, refreshed after every trade).  A NewOrderSingle is
acknowledged (150=0 39=0, our own OrderID); a buy priced at or above the ask (or a market
buy) fills against the ask, a sell at or below the bid against the bid, at most one level
per order (more than a level: a partial fill, the rest rests); IOC / FOK remainders are
cancelled.  OrderCancelRequest: cancelled (150=4), or OrderCancelReject (35=9,
CxlRejReason 0 "too late") when the order is already done (or 1 unknown order).
OrderCancelReplaceRequest: replaced (150=5), and filled if it now crosses.
OrderStatusRequest: 150=I with the order's status (unknown: 39=8, 37=NONE, 103=5).

Control, one command a line on standard input; each is answered on standard output with
"OK <command>" (or "ERR <text>"); "READY <port>" is printed once the acceptor listens:

    reject_next <OrdRejReason> <text...>   the next NewOrderSingle is rejected (150=8)
    trade <symbol|*|cl=PREFIX> [qty] [hold]
                                           trade every resting order of the symbol (or whose
                                           first ClOrdID starts with PREFIX) at its limit
                                           price, qty each (default all of it); with
                                           `hold` the reports are held back, "in flight":
                                           they go out just before the answer to the next
                                           message about that order, or on `release`
    cancel <selector> [text...]            cancel the orders (unsolicited, 150=4)
    bust <selector>                        bust the last fill of each order (150=H with
                                           ExecRefID naming the fill)
    release                                send every held report now
    silent on|off                          stop / resume answering application messages
                                           (the session layer still heartbeats); what comes
                                           in meanwhile is lost, as if never received
    unsupported_next                       the next application message is refused as an
                                           unsupported type (BusinessMessageReject 35=j)
    block on|off                           refuse / accept Logons (RejectLogon)
    disconnect                             drop the connection (no Logout); reports sent
                                           while it is down are stored by QuickFIX and come
                                           back in answer to the initiator's ResendRequest
    orders                                 print the orders as one JSON line
    ping                                   just "OK ping"
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import quickfix as fix


def find_data_dictionary() -> str:
    """FIX44.xml as the quickfix package installs it (<prefix>/share/quickfix), or from the
    sdist some builds leave in /tmp/qf."""
    candidates = [Path(sys.prefix) / "share" / "quickfix" / "FIX44.xml",
                  Path(sys.base_prefix) / "share" / "quickfix" / "FIX44.xml",
                  Path(fix.__file__).parent / "quickfix" / "FIX44.xml"]
    for c in candidates:
        if c.exists():
            return str(c)
    for c in Path("/tmp/qf").glob("**/spec/FIX44.xml"):
        return str(c)
    raise SystemExit("FIX44.xml not found (quickfix installs it in <prefix>/share/quickfix)")


def now_utc() -> str:
    t = time.time()
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}"


class Order:
    def __init__(self, cl: str, order_id: str, symbol: str, side: str, qty: int,
                 ord_type: str, price: Decimal | None, tif: str, account: str):
        self.cl, self.order_id, self.symbol, self.side = cl, order_id, symbol, side
        self.qty, self.ord_type, self.price, self.tif = qty, ord_type, price, tif
        self.account = account
        self.cum = 0
        self.notional = Decimal(0)
        self.status = "0"            # OrdStatus
        self.clordids = [cl]         # the chain, latest last
        self.fills: list[tuple[str, int, Decimal]] = []    # (ExecID, qty, px)

    @property
    def leaves(self) -> int:
        return 0 if self.status in "248C" else self.qty - self.cum

    @property
    def avg(self) -> Decimal:
        return (self.notional / self.cum).quantize(Decimal("0.0001")) if self.cum else Decimal(0)

    def done(self) -> bool:
        return self.status in "248C"

    def as_dict(self) -> dict:
        return dict(cl=self.cl, order_id=self.order_id, symbol=self.symbol, side=self.side,
                    qty=self.qty, price=str(self.price), status=self.status, cum=self.cum,
                    leaves=self.leaves, clordids=self.clordids)


class Exchange(fix.Application):
    def __init__(self, quotes: dict[str, tuple[Decimal, Decimal]], size: int):
        super().__init__()
        self.quotes = quotes
        self.size = size
        self.lock = threading.RLock()
        self.orders: dict[str, Order] = {}        # every ClOrdID of the chain -> order
        self.ids = itertools.count(1)
        self.exec_ids = itertools.count(1)
        self.session: fix.SessionID | None = None
        self.reject_next: tuple[int, str] | None = None
        self.silent = False
        self.block = False
        self.unsupported_next = False
        self.held: dict[str, list[fix.Message]] = {}   # order id -> reports in flight

    # -- fix.Application --

    def onCreate(self, sessionID):
        self.session = sessionID

    def onLogon(self, sessionID):
        self.session = sessionID
        print(f"LOGON {sessionID.toString()}", flush=True)

    def onLogout(self, sessionID):
        print(f"LOGOUT {sessionID.toString()}", flush=True)

    def toAdmin(self, message, sessionID):
        pass

    def fromAdmin(self, message, sessionID):
        if message.getHeader().getField(35) == "A" and self.block:
            raise fix.RejectLogon("logons blocked")

    def toApp(self, message, sessionID):
        pass

    def fromApp(self, message, sessionID):
        msg_type = message.getHeader().getField(35)
        with self.lock:
            if self.silent:
                return
            if self.unsupported_next:
                self.unsupported_next = False
                raise fix.UnsupportedMessageType()
            if msg_type == "D":
                self.on_new(message)
            elif msg_type == "F":
                self.on_cancel(message)
            elif msg_type == "G":
                self.on_replace(message)
            elif msg_type == "H":
                self.on_status(message)
            else:
                raise fix.UnsupportedMessageType()

    # -- helpers --

    @staticmethod
    def get(message, tag: int, default: str | None = None) -> str | None:
        return message.getField(tag) if message.isSetField(tag) else default

    def send(self, msg: fix.Message) -> None:
        fix.Session.sendToTarget(msg, self.session)

    def report(self, o: Order, exec_type: str, cl: str | None = None, orig: str | None = None,
               last_qty: int = 0, last_px: Decimal | None = None, text: str | None = None,
               rej_reason: int | None = None) -> fix.Message:
        m = fix.Message()
        m.getHeader().setField(fix.MsgType("8"))
        m.setField(37, o.order_id)
        m.setField(11, cl or o.clordids[-1])
        if orig:
            m.setField(41, orig)
        m.setField(17, f"E{next(self.exec_ids)}")
        m.setField(150, exec_type)
        m.setField(39, o.status)
        if o.account:
            m.setField(1, o.account)
        m.setField(55, o.symbol)
        m.setField(54, o.side)
        m.setField(38, str(o.qty))
        m.setField(40, o.ord_type)
        if o.price is not None:
            m.setField(44, str(o.price))
        if exec_type == "F":
            m.setField(32, str(last_qty))
            m.setField(31, str(last_px))
        m.setField(151, str(o.leaves))
        m.setField(14, str(o.cum))
        m.setField(6, str(o.avg))
        m.setField(60, now_utc())
        if rej_reason is not None:
            m.setField(103, str(rej_reason))
        if text:
            m.setField(58, text)
        return m

    def select(self, sel: str, live: bool = True) -> list[Order]:
        """Orders by symbol, "*" or "cl=PREFIX" (first ClOrdID), oldest first."""
        seen = {id(o): o for o in self.orders.values()}
        out = []
        for o in sorted(seen.values(), key=lambda o: int(o.order_id.split("-")[1])):
            if live and o.done():
                continue
            if sel.startswith("cl="):
                if not o.cl.startswith(sel[3:]):
                    continue
            elif sel != "*" and o.symbol != sel:
                continue
            out.append(o)
        return out

    def flush_held(self, o: Order | None = None) -> None:
        keys = [o.order_id] if o is not None else list(self.held)
        for k in keys:
            for m in self.held.pop(k, []):
                self.send(m)

    def cross(self, o: Order) -> tuple[int, Decimal] | None:
        """(qty, px) the order trades now against the synthetic quote, or None."""
        bid, ask = self.quotes.get(o.symbol, self.quotes["*"])
        if o.side == "1":
            if o.price is not None and o.price < ask:
                return None
            px = ask
        else:
            if o.price is not None and o.price > bid:
                return None
            px = bid
        q = min(o.leaves, self.size)
        return (q, px) if q > 0 else None

    def fill(self, o: Order, q: int, px: Decimal, hold: bool = False) -> None:
        o.cum += q
        o.notional += q * px
        o.status = "2" if o.cum >= o.qty else "1"
        m = self.report(o, "F", last_qty=q, last_px=px)
        o.fills.append((m.getField(17), q, px))
        if hold:
            self.held.setdefault(o.order_id, []).append(m)
        else:
            self.send(m)

    def work(self, o: Order) -> None:
        c = self.cross(o)
        if c is not None:
            self.fill(o, *c)
        if not o.done() and o.tif in ("3", "4"):          # IOC / FOK: the rest goes
            o.status = "4"
            self.send(self.report(o, "4", text="IOC remainder cancelled"))

    # -- messages --

    def on_new(self, m) -> None:
        cl = m.getField(11)
        if cl in self.orders:                      # a resend with the same ClOrdID
            o = self.orders[cl]
            self.send(self.report(o, "I" if o.cl == cl else "8", text="duplicate ClOrdID"))
            return
        ord_type = self.get(m, 40, "2")
        price = Decimal(m.getField(44)) if ord_type == "2" and m.isSetField(44) else None
        o = Order(cl, f"QFX-{next(self.ids)}", m.getField(55), m.getField(54),
                  int(Decimal(self.get(m, 38, "0"))), ord_type, price, self.get(m, 59, "0"),
                  self.get(m, 1, ""))
        if self.reject_next is not None:
            reason, text = self.reject_next
            self.reject_next = None
            o.status = "8"
            self.orders[cl] = o
            self.send(self.report(o, "8", text=text, rej_reason=reason))
            return
        self.orders[cl] = o
        self.send(self.report(o, "0"))
        self.work(o)

    def on_cancel(self, m) -> None:
        cl, orig = m.getField(11), m.getField(41)
        o = self.orders.get(orig)
        if o is not None:
            self.flush_held(o)
        if o is None or o.done():
            r = fix.Message()
            r.getHeader().setField(fix.MsgType("9"))
            r.setField(37, o.order_id if o else "NONE")
            r.setField(11, cl)
            r.setField(41, orig)
            r.setField(39, o.status if o else "8")
            r.setField(434, "1")
            r.setField(102, "0" if o else "1")
            r.setField(58, "too late to cancel: order already done" if o else "unknown order")
            self.send(r)
            return
        o.status = "4"
        o.clordids.append(cl)
        self.orders[cl] = o
        self.send(self.report(o, "4", cl=cl, orig=orig))

    def on_replace(self, m) -> None:
        cl, orig = m.getField(11), m.getField(41)
        o = self.orders.get(orig)
        if o is not None:
            self.flush_held(o)
        qty = int(Decimal(self.get(m, 38, "0")))
        if o is None or o.done() or qty <= o.cum:
            r = fix.Message()
            r.getHeader().setField(fix.MsgType("9"))
            r.setField(37, o.order_id if o else "NONE")
            r.setField(11, cl)
            r.setField(41, orig)
            r.setField(39, o.status if o else "8")
            r.setField(434, "2")
            r.setField(102, "1" if o is None else "0")
            r.setField(58, "unknown order" if o is None else "too late to replace")
            self.send(r)
            return
        o.qty = qty
        if m.isSetField(44):
            o.price = Decimal(m.getField(44))
        o.clordids.append(cl)
        self.orders[cl] = o
        o.status = "1" if o.cum else "0"
        self.send(self.report(o, "5", cl=cl, orig=orig))
        self.work(o)

    def on_status(self, m) -> None:
        cl = m.getField(11)
        o = self.orders.get(cl)
        if o is None:
            r = fix.Message()
            r.getHeader().setField(fix.MsgType("8"))
            r.setField(37, "NONE")
            r.setField(11, cl)
            r.setField(17, f"E{next(self.exec_ids)}")
            r.setField(150, "I")
            r.setField(39, "8")
            r.setField(55, self.get(m, 55, "?"))
            r.setField(54, self.get(m, 54, "1"))
            r.setField(151, "0")
            r.setField(14, "0")
            r.setField(6, "0")
            r.setField(103, "5")
            r.setField(58, "unknown order")
            self.send(r)
            return
        self.flush_held(o)
        self.send(self.report(o, "I", cl=cl))

    # -- control --

    def control(self, line: str) -> str:
        words = line.split()
        if not words:
            return "ERR empty"
        cmd = words[0]
        with self.lock:
            if cmd == "ping":
                pass
            elif cmd == "reject_next":
                self.reject_next = (int(words[1]), " ".join(words[2:]) or "rejected")
            elif cmd == "silent":
                self.silent = words[1] == "on"
            elif cmd == "unsupported_next":
                self.unsupported_next = True
            elif cmd == "block":
                self.block = words[1] == "on"
            elif cmd == "disconnect":
                fix.Session.lookupSession(self.session).disconnect()
            elif cmd == "release":
                self.flush_held()
            elif cmd == "orders":
                seen = {id(o): o for o in self.orders.values()}
                return "ORDERS " + json.dumps([o.as_dict() for o in seen.values()])
            elif cmd == "trade":
                qty = int(words[2]) if len(words) > 2 and words[2].isdigit() else 0
                hold = "hold" in words[2:]
                n = 0
                for o in self.select(words[1]):
                    q = min(qty or o.leaves, o.leaves)
                    px = o.price if o.price is not None else self.quotes.get(
                        o.symbol, self.quotes["*"])[0 if o.side == "2" else 1]
                    self.fill(o, q, px, hold)
                    n += 1
                return f"OK trade {n}"
            elif cmd == "cancel":                       # unsolicited: the venue's own cancel
                n = 0
                for o in self.select(words[1]):
                    o.status = "4"
                    self.send(self.report(o, "4", text=" ".join(words[2:]) or None))
                    n += 1
                return f"OK cancel {n}"
            elif cmd == "bust":                         # the last fill of each order
                n = 0
                for o in self.select(words[1], live=False):
                    if not o.fills:
                        continue
                    exec_id, q, px = o.fills.pop()
                    o.cum -= q
                    o.notional -= q * px
                    o.status = "1" if o.cum else "0"
                    m = self.report(o, "H", last_qty=q, last_px=px)
                    m.setField(19, exec_id)
                    self.send(m)
                    n += 1
                return f"OK bust {n}"
            else:
                return f"ERR unknown command {cmd}"
        return f"OK {cmd}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True, help="store and log directory")
    ap.add_argument("--sender", default="QFX", help="our SenderCompID")
    ap.add_argument("--target", default="OMS", help="the initiator's CompID")
    ap.add_argument("--quote", action="append", default=[], metavar="SYM=BID/ASK")
    ap.add_argument("--size", type=int, default=1000, help="shares at each quote level")
    args = ap.parse_args()
    quotes = {"*": (Decimal("99.95"), Decimal("100.05"))}
    for q in args.quote:
        sym, _, ba = q.partition("=")
        bid, _, ask = ba.partition("/")
        quotes[sym] = (Decimal(bid), Decimal(ask))
    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    cfg = d / "acceptor.cfg"
    cfg.write_text(
        "[DEFAULT]\n"
        "ConnectionType=acceptor\n"
        f"SocketAcceptPort={args.port}\n"
        "SocketReuseAddress=Y\n"
        f"FileStorePath={d / 'store'}\n"
        f"FileLogPath={d / 'log'}\n"
        "StartTime=00:00:00\nEndTime=00:00:00\n"
        "UseDataDictionary=Y\n"
        f"DataDictionary={find_data_dictionary()}\n"
        "ValidateUserDefinedFields=N\n"
        "\n[SESSION]\n"
        "BeginString=FIX.4.4\n"
        f"SenderCompID={args.sender}\n"
        f"TargetCompID={args.target}\n")
    app = Exchange(quotes, args.size)
    settings = fix.SessionSettings(str(cfg))
    acceptor = fix.SocketAcceptor(app, fix.FileStoreFactory(settings), settings,
                                  fix.FileLogFactory(settings))
    acceptor.start()
    print(f"READY {args.port}", flush=True)
    try:
        for line in sys.stdin:
            line = line.strip()
            if line == "quit":
                break
            try:
                out = app.control(line)
            except Exception as exc:            # a bad control line must not kill the venue
                out = f"ERR {type(exc).__name__}: {exc}"
            print(out, flush=True)
    finally:
        acceptor.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
