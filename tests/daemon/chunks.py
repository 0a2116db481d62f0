"""A second, independent reader of the store's compressed raw chunks
(userspace/store/store_chunk.h describes the layout), so that the daemon
tests can read what kpulse stored straight from the database file."""

HIST_SLOTS = 40


class _Bits:
    def __init__(self, data):
        self.v = int.from_bytes(data, "big")
        self.n = len(data) * 8
        self.pos = 32  # after the 4-byte header

    def get(self, k):
        if k > self.n - self.pos:
            raise ValueError("chunk ends early")
        self.pos += k
        return (self.v >> (self.n - self.pos)) & ((1 << k) - 1)

    def varbits(self):
        if not self.get(1):
            return 0
        return self.get(self.get(6) + 1)


def _signed(v, k):
    return v - (1 << k) if v >> (k - 1) else v


def _unzigzag(z):
    return (z >> 1) ^ -(z & 1)


def decode(data):
    """[(ts_ms, value, hist_count or None)] of one chunk; raises ValueError
    on a damaged one."""
    import struct

    data = bytes(data)
    if len(data) < 4 or data[0] != 1 or data[1] > 1:
        raise ValueError("not a chunk")
    hist = data[1] == 1
    count = data[2] | data[3] << 8
    b = _Bits(data)
    out = []
    t = d = 0
    v = 0
    lead = trail = None
    hcount = 0
    for i in range(count):
        if i == 0:
            t = _signed(b.get(64), 64)
        else:
            ones = 0
            while ones < 5 and b.get(1):
                ones += 1
            dod = 0
            if ones:
                k = (7, 9, 12, 20, 64)[ones - 1]
                dod = _signed(b.get(k), k)
            d += dod
            if d <= 0:
                raise ValueError("time does not increase")
            t += d
        if i == 0:
            v = b.get(64)
        elif b.get(1):
            if not b.get(1):
                if lead is None:
                    raise ValueError("no XOR window")
                v ^= b.get(64 - lead - trail) << trail
            else:
                lead = b.get(5)
                sig = b.get(6) + 1
                if lead + sig > 64:
                    raise ValueError("bad XOR window")
                trail = 64 - lead - sig
                v ^= b.get(sig) << trail
        if hist:
            hcount = (hcount + _unzigzag(b.varbits())) & (2**64 - 1)
            if b.get(1):
                n = b.get(6)
                if n > HIST_SLOTS:
                    raise ValueError("too many slots")
                for _ in range(n):
                    b.varbits()
        value = struct.unpack(">d", v.to_bytes(8, "big"))[0]
        out.append((t, value, hcount if hist else None))
    return out


MAX_SAMPLES = 120
SPAN_MS = 120000


def _encode_one(samples):
    import struct

    acc = 0
    nbits = 0

    def put(v, k):
        nonlocal acc, nbits
        acc = (acc << k) | (v & ((1 << k) - 1))
        nbits += k

    t_last = d_last = 0
    v_last = 0
    lead_w = trail_w = None
    for i, (t, value) in enumerate(samples):
        bits = struct.unpack(">Q", struct.pack(">d", value))[0]
        if i == 0:
            put(t, 64)
            put(bits, 64)
        else:
            d = t - t_last
            dod = d - d_last
            if dod == 0:
                put(0, 1)
            else:
                for prefix, plen, k in ((2, 2, 7), (6, 3, 9), (14, 4, 12), (30, 5, 20)):
                    if -(1 << (k - 1)) <= dod < (1 << (k - 1)):
                        put(prefix, plen)
                        put(dod, k)
                        break
                else:
                    put(31, 5)
                    put(dod, 64)
            d_last = d
            x = bits ^ v_last
            if x == 0:
                put(0, 1)
            else:
                lead = min(64 - x.bit_length(), 31)
                trail = (x & -x).bit_length() - 1
                if lead_w is not None and lead >= lead_w and trail >= trail_w:
                    put(2, 2)
                    put(x >> trail_w, 64 - lead_w - trail_w)
                else:
                    sig = 64 - lead - trail
                    put(3, 2)
                    put(lead, 5)
                    put(sig - 1, 6)
                    put(x >> trail, sig)
                    lead_w, trail_w = lead, trail
        t_last = t
        v_last = bits
    pad = (-nbits) % 8
    n = len(samples)
    body = (acc << pad).to_bytes((nbits + pad) // 8, "big")
    return bytes([1, 0, n & 0xFF, n >> 8]) + body


def encode(samples):
    """Counter or gauge samples [(ts_ms, value)], strictly increasing in
    time, as the store's chunks: [(start_ms, end_ms, n, data)]."""
    out = []
    cur = []
    for t, v in samples:
        if cur and (len(cur) >= MAX_SAMPLES or t - cur[0][0] >= SPAN_MS):
            out.append((cur[0][0], cur[-1][0], len(cur), _encode_one(cur)))
            cur = []
        cur.append((t, v))
    if cur:
        out.append((cur[0][0], cur[-1][0], len(cur), _encode_one(cur)))
    return out
