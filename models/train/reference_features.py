#!/usr/bin/python3
"""Independent reference computation of the engine's features (docs/features.md), for the parity test.

It deliberately does NOT mirror the C# implementation: rolling statistics are computed directly over each window
with numpy (two-pass mean / population std), not with running sums, so a drift or off-by-one in the engine's O(1)
updates shows up as a mismatch. Only the recursive indicators (EMAs, Wilder averages) are sequential by nature.

Usage:
  reference_features.py CANDLES.csv > EXPECTED.features     # Binance kline CSV in, feature rows of warm candles out
  reference_features.py --edge-candles OUT.csv              # write the hand-made edge-case candles
"""
import sys

import numpy as np

NAMES = [
    "ret_1", "ret_3", "ret_6", "ret_12", "ret_24",
    "vol_12", "vol_48", "vol_ratio",
    "rsi_14",
    "macd_line", "macd_signal", "macd_hist",
    "bb_position", "bb_width",
    "atr_14",
    "volume_z_48",
    "body", "upper_wick", "lower_wick", "range",
    "taker_buy_ratio",
    "ema_dist_26",
]
WARMUP = 100


def read_binance_csv(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or not line[0].isdigit():
                continue
            p = line.split(",")
            rows.append((int(p[0]), float(p[1]), float(p[2]), float(p[3]), float(p[4]), float(p[5]), float(p[9])))
    a = np.array(rows, dtype=np.float64)
    return a[:, 0].astype(np.int64), a[:, 1], a[:, 2], a[:, 3], a[:, 4], a[:, 5], a[:, 6]


def ema(values, alpha):
    out = np.empty_like(values)
    out[0] = values[0]
    for t in range(1, len(values)):
        out[t] = out[t - 1] + alpha * (values[t] - out[t - 1])
    return out


def wilder_rsi(c):
    n = len(c)
    rsi = np.full(n, 50.0)
    avg_gain = avg_loss = 0.0
    for t in range(1, n):
        change = c[t] - c[t - 1]
        gain, loss = max(change, 0.0), max(-change, 0.0)
        if t <= 14:
            avg_gain += gain / 14
            avg_loss += loss / 14
        else:
            avg_gain = (avg_gain * 13 + gain) / 14
            avg_loss = (avg_loss * 13 + loss) / 14
        if t >= 14:
            if avg_loss == 0:
                rsi[t] = 50.0 if avg_gain == 0 else 100.0
            else:
                rsi[t] = 100 - 100 / (1 + avg_gain / avg_loss)
    return rsi


def wilder_atr(h, l, c):
    n = len(c)
    atr = np.empty(n)
    value = 0.0
    for t in range(n):
        if t == 0:
            tr = h[0] - l[0]
        else:
            tr = max(h[t] - l[t], abs(h[t] - c[t - 1]), abs(l[t] - c[t - 1]))
        seen = t + 1
        value = (value * (seen - 1) + tr) / seen if seen <= 14 else (value * 13 + tr) / 14
        atr[t] = value
    return atr


def features(o, h, l, c, v, tb):
    n = len(c)
    r = np.zeros(n)
    r[1:] = np.log(c[1:] / c[:-1])
    ema12, ema26 = ema(c, 2 / 13), ema(c, 2 / 27)
    macd = ema12 - ema26
    signal = np.zeros(n)
    for t in range(1, n):
        signal[t] = signal[t - 1] + 0.2 * (macd[t] - signal[t - 1])
    rsi = wilder_rsi(c)
    atr = wilder_atr(h, l, c)
    out = []
    for t in range(WARMUP - 1, n):
        row = {}
        for k in (1, 3, 6, 12, 24):
            row[f"ret_{k}"] = np.log(c[t] / c[t - k])
        vol12 = np.sqrt(np.mean(r[t - 11:t + 1] ** 2))
        vol48 = np.sqrt(np.mean(r[t - 47:t + 1] ** 2))
        row["vol_12"], row["vol_48"] = vol12, vol48
        row["vol_ratio"] = vol12 / vol48 - 1 if vol48 > 0 else 0.0
        row["rsi_14"] = (rsi[t] - 50) / 50
        row["macd_line"] = macd[t] / c[t]
        row["macd_signal"] = signal[t] / c[t]
        row["macd_hist"] = (macd[t] - signal[t]) / c[t]
        window = c[t - 19:t + 1]
        mid, sigma = window.mean(), window.std()
        row["bb_position"] = (c[t] - mid) / (2 * sigma) if sigma > 1e-9 * abs(mid) else 0.0
        row["bb_width"] = 4 * sigma / mid
        row["atr_14"] = atr[t] / c[t]
        vw = v[t - 47:t + 1]
        vm, vvar = vw.mean(), vw.var()
        row["volume_z_48"] = (v[t] - vm) / np.sqrt(vvar) if (vvar > 0 and vvar > 1e-12 * vm * vm) else 0.0
        rng = h[t] - l[t]
        if rng > 0:
            row["body"] = (c[t] - o[t]) / rng
            row["upper_wick"] = (h[t] - max(o[t], c[t])) / rng
            row["lower_wick"] = (min(o[t], c[t]) - l[t]) / rng
        else:
            row["body"] = row["upper_wick"] = row["lower_wick"] = 0.0
        row["range"] = np.log(h[t] / l[t])
        row["taker_buy_ratio"] = tb[t] / v[t] - 0.5 if v[t] > 0 else 0.0
        row["ema_dist_26"] = c[t] / ema26[t] - 1
        out.append((t, [float(row[name]) for name in NAMES]))
    return out


def write_edge_candles(path):
    """Flat stretches (zero range, zero change: RSI with no losses, Bollinger sigma 0), zero volume, gaps up/down."""
    t0, step = 1_735_689_600_000, 60_000
    price = 100.0
    lines = []
    for i in range(260):
        phase = (i // 40) % 4
        if phase == 0:      # completely flat, no trades
            o = h = l = c = price
            vol = tb = 0.0
        elif phase == 1:    # steady climb: no losses for RSI
            o, c = price, price + 0.5
            h, l = c + 0.25, o
            vol, tb = 10.0 + (i % 7), 6.0
        elif phase == 2:    # alternating with a constant volume (zero volume variance)
            o = price
            c = price + (1.0 if i % 2 else -1.0)
            h, l = max(o, c) + 0.5, min(o, c) - 0.5
            vol, tb = 5.0, 2.5
        else:               # a crash then recovery
            o = price
            c = price * (0.97 if i % 10 < 5 else 1.02)
            h, l = max(o, c) * 1.001, min(o, c) * 0.999
            vol, tb = 50.0 + i, 10.0
        price = c
        f = lambda x: f"{x:.4f}"
        lines.append(f"{t0 + i * step},{f(o)},{f(h)},{f(l)},{f(c)},{vol:.2f},{t0 + (i + 1) * step - 1},0,0,{tb:.2f},0,0")
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")


def main(argv):
    if len(argv) == 3 and argv[1] == "--edge-candles":
        write_edge_candles(argv[2])
        return 0
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    open_time, o, h, l, c, v, tb = read_binance_csv(argv[1])
    print("open_time," + ",".join(NAMES))
    for t, values in features(o, h, l, c, v, tb):
        print(str(open_time[t]) + "," + ",".join(repr(x) for x in values))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
