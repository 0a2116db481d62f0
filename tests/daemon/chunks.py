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


def _smallint(b):
    ones = 0
    while ones < 4 and b.get(1):
        ones += 1
    if ones == 0:
        return 0
    if ones < 4:
        return b.get((3, 7, 16)[ones - 1]) + (1, 9, 137)[ones - 1]
    return b.get(b.get(6) + 1)


WHOLE_MAX = 1 << 53


def _double(bits):
    import struct

    return struct.unpack(">d", bits.to_bytes(8, "big"))[0]


def _bits(value):
    import struct

    return struct.unpack(">Q", struct.pack(">d", value))[0]


def _whole(scale, bits):
    """k when the double of these bits is whole at the chunk's scale (an
    integer of at most 2^53 giving the same bits: k, k * 1e-9, k / 1e9 or
    k / 100), else None."""
    v = _double(bits)
    if v != v:
        return None
    v = v if scale == 0 else v * 100 if scale == 3 else v * 1e9
    if not (-WHOLE_MAX <= v <= WHOLE_MAX):
        return None
    k = int(v)  # llround: half away from zero
    if abs(v - k) >= 0.5:
        k += 1 if v > 0 else -1
    back = _scaled(scale, k)
    return k if _bits(back) == bits else None


def _scaled(scale, k):
    return (float(k), k * 1e-9, k / 1e9, k / 100)[scale]


_POW10 = [float("1e%d" % p) for p in range(10)]
_POW10_NEG = [float("1e-%d" % p) for p in range(10)]


def _scaled3(sc, k):
    """format 3: k * 10^-p (sc even) or k / 10^p (sc odd), p = sc // 2"""
    p = sc // 2
    return float(k) / _POW10[p] if sc & 1 else float(k) * _POW10_NEG[p]


def _whole3(sc, bits):
    v = _double(bits)
    if v != v:
        return None
    v = v * _POW10[sc // 2]
    if not (-WHOLE_MAX <= v <= WHOLE_MAX):
        return None
    k = int(v)  # llround: half away from zero
    if abs(v - k) >= 0.5:
        k += 1 if v > 0 else -1
    return k if _bits(_scaled3(sc, k)) == bits else None


def _grid_next(g, step, r_far, t_last, t, r):
    """format 3: the grid (point, step, last far offset) after time t"""
    if -4 <= r <= 3:
        return (t if r < 0 else g + step), step, 0
    if abs(r) >= 64 or abs(r) >= abs(step) // 8:
        d = t - t_last
        if d >= 100:
            d = d // 10 * 10 + (10 if d % 10 >= 5 else 0)
        step = d
    elif r == r_far:
        step += r
    return t, step, r


def _predict(last, last2):
    import math

    a, b = _double(last), _double(last2)
    if not (math.isfinite(a) and math.isfinite(b)):
        return last
    p = a + (a - b)
    return _bits(p) if math.isfinite(p) else last


class _Window:
    def __init__(self):
        self.lead = self.trail = None

    def xor_v2(self, b):
        """put_xor_bits() read back"""
        if not b.get(1):
            if self.lead is None:
                raise ValueError("no XOR window")
            x = b.get(64 - self.lead - self.trail) << self.trail
        else:
            lead = b.get(5)
            sig = b.get(6) + 1
            if lead + sig > 64:
                raise ValueError("bad XOR window")
            self.lead, self.trail = lead, 64 - lead - sig
            x = b.get(sig) << self.trail
        if x == 0:
            raise ValueError("empty XOR")
        return x


def decode(data):
    """[(ts_ms, value, hist_count or None)] of one chunk, format 1, 2 or 3;
    raises ValueError on a damaged one."""
    data = bytes(data)
    if (
        len(data) < 4
        or data[0] not in (1, 2, 3)
        or data[1] > {1: 1, 2: 7, 3: 39}[data[0]]
    ):
        raise ValueError("not a chunk")
    fmt = data[0]
    hist = data[1] & 1 == 1
    scale = data[1] >> 1
    count = data[2] | data[3] << 8
    b = _Bits(data)
    out = []
    t = d = 0
    v = v2 = 0
    lead = trail = None
    win = _Window()
    whole, k, dk = True, 0, 0
    hcount = 0
    slots = [0] * HIST_SLOTS
    nslots = 0
    g = step = r_far = 0
    for i in range(count):
        if i == 0:
            t = _signed(b.get(64), 64)
            g = t
        elif fmt == 3:
            ones = 0
            while ones < 5 and b.get(1):
                ones += 1
            if ones < 2:
                r = ones
            elif ones == 2:
                r = _signed(b.get(3), 3)
            else:
                kk = (12, 20, 64)[ones - 3]
                r = _signed(b.get(kk), kk)
            nt = g + step + r
            if nt <= t:
                raise ValueError("time does not increase")
            g, step, r_far = _grid_next(g, step, r_far, t, nt, r)
            t = nt
        else:
            ones = 0
            while ones < 5 and b.get(1):
                ones += 1
            dod = 0
            if ones:
                kk = ((7, 9, 12, 20, 64) if fmt == 1 else (3, 7, 12, 20, 64))[ones - 1]
                dod = _signed(b.get(kk), kk)
            d += dod
            if d <= 0:
                raise ValueError("time does not increase")
            t += d
        if fmt == 1:
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
        else:
            before = v

            def xor():
                nonlocal v
                if not b.get(1):
                    return
                base = v
                if b.get(1):
                    base = _predict(v, v2)
                    if not b.get(1):
                        v = base
                        return
                v = base ^ win.xor_v2(b)

            rescaled = False
            if fmt == 3 and not whole:
                xor()
                nk = _whole3(scale, v)
            elif fmt == 3:
                ones = 0
                while ones < 6 and b.get(1):
                    ones += 1
                if ones < 6:
                    dod = 0
                    if ones:
                        kk = (7, 13, 24, 32, 57)[ones - 1]
                        dod = _signed(b.get(kk), kk)
                    nk = k + dk + dod
                elif b.get(1):
                    sc = b.get(5)
                    if sc == scale or sc > 19:
                        raise ValueError("bad scale")
                    if sc // 2 == scale // 2:
                        ones = 0
                        while ones < 6 and b.get(1):
                            ones += 1
                        if ones == 6:
                            raise ValueError("escape after a scale")
                        dod = 0
                        if ones:
                            kk = (7, 13, 24, 32, 57)[ones - 1]
                            dod = _signed(b.get(kk), kk)
                        nk = k + dk + dod
                    else:
                        nk = _signed(b.get(55), 55)
                        rescaled = True
                    scale = sc
                else:
                    xor()
                    if _whole3(scale, v) is not None:
                        raise ValueError("a whole value coded as XOR")
                    nk = None
                if nk is not None:
                    if not -WHOLE_MAX <= nk <= WHOLE_MAX:
                        raise ValueError("whole value out of range")
                    v = _bits(_scaled3(scale, nk))
            elif not whole:
                xor()
                nk = _whole(scale, v)
            else:
                ones = 0
                while ones < 5 and b.get(1):
                    ones += 1
                if ones == 5:
                    xor()
                    if _whole(scale, v) is not None:
                        raise ValueError("a whole value coded as XOR")
                    nk = None
                else:
                    dod = 0
                    if ones:
                        kk = (7, 13, 24, 57)[ones - 1]
                        dod = _signed(b.get(kk), kk)
                    nk = k + dk + dod
                    if not -WHOLE_MAX <= nk <= WHOLE_MAX:
                        raise ValueError("whole value out of range")
                    v = _bits(_scaled(scale, nk))
            dk = nk - k if nk is not None and whole and i and not rescaled else 0
            k = nk if nk is not None else 0
            whole = nk is not None
            v2 = before
            if hist:
                grew = 0
                if b.get(1):
                    n = b.get(6) if b.get(1) else nslots
                    if n > HIST_SLOTS:
                        raise ValueError("too many slots")
                    fell = b.get(1)
                    for j in range(n):
                        z = _smallint(b)
                        if fell:
                            z = _unzigzag(z)
                        slots[j] = (slots[j] + z) & (2**64 - 1)
                        grew += z
                    for j in range(n, HIST_SLOTS):
                        grew -= slots[j]
                        slots[j] = 0
                    nslots = n
                hcount = (hcount + grew + _unzigzag(_smallint(b))) & (2**64 - 1)
        out.append((t, _double(v), hcount if hist else None))
    return out


# The encoder below writes chunk format 1 (which the store still reads) in
# chunks of 2 minutes at most, within the store's span of 8.
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
