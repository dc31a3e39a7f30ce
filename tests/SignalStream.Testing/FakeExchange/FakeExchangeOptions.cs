using SignalStream.Contracts;

namespace SignalStream.Testing.FakeExchange;

/// <summary>How the fake exchange behaves: its market, its clock, its limits and the faults it injects.</summary>
public sealed class FakeExchangeOptions
{
    /// <summary>Upper-case symbols; see <see cref="GenerateSymbols"/> for many.</summary>
    public IReadOnlyList<string> Symbols { get; set; } = ["BTCUSDT", "ETHUSDT"];

    public IReadOnlyList<Timeframe> Timeframes { get; set; } = [Timeframe.OneMinute];

    /// <summary>Seeds the candles and the fault choices.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>Market time at start (Unix ms). Default 2024-01-01 00:00 UTC, a Monday, aligned to every interval.</summary>
    public long StartTime { get; set; } = 1_704_067_200_000;

    /// <summary>Market time per real time in timed mode (60: a 1m candle closes every second); 0 = manual (tests drive it).</summary>
    public double Speed { get; set; }

    /// <summary>In-progress frames per shortest candle in timed mode.</summary>
    public int TicksPerCandle { get; set; } = 3;

    /// <summary>Binance pings every 20 s.</summary>
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Binance disconnects a client that has not answered a ping within a minute.</summary>
    public TimeSpan PongTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Binance disconnects a connection that sends more than 5 messages (ping, pong, JSON) in a second.</summary>
    public int MaxIncomingMessagesPerSecond { get; set; } = 5;

    public int MaxStreamsPerConnection { get; set; } = 1024;

    /// <summary>Per-close and per-candle fault probabilities.</summary>
    public FaultOptions Faults { get; set; } = new();

    /// <summary>Where to listen; port 0 picks a free port.</summary>
    public string Url { get; set; } = "http://127.0.0.1:0";

    /// <summary>Symbols like <c>S0001USDT</c> … for load and scale tests.</summary>
    public static IReadOnlyList<string> GenerateSymbols(int count) =>
        Enumerable.Range(1, count).Select(i => $"S{i:D4}USDT").ToArray();
}

/// <summary>Probabilities of each injected fault (0 = never).</summary>
public sealed class FaultOptions
{
    /// <summary>A closed frame is never sent.</summary>
    public double SkipClose { get; set; }

    /// <summary>A closed frame is sent twice.</summary>
    public double DuplicateClose { get; set; }

    /// <summary>A closed frame is sent after the next candle's first in-progress frame.</summary>
    public double LateClose { get; set; }

    /// <summary>A malformed JSON message is sent before a closed frame.</summary>
    public double MalformedFrame { get; set; }

    /// <summary>Per shortest candle in timed mode: a connection is dropped.</summary>
    public double DropConnection { get; set; }

    /// <summary>Per shortest candle in timed mode: a connection stops receiving data (stall).</summary>
    public double StallConnection { get; set; }

    /// <summary>Per shortest candle in timed mode: a connection gets serverShutdown.</summary>
    public double ServerShutdown { get; set; }

    /// <summary>Per REST request: answered 429 with Retry-After: 1.</summary>
    public double RestRateLimit { get; set; }

    /// <summary>Sets every per-frame fault to <paramref name="probability"/>.</summary>
    public FaultOptions WithFrameFaults(double probability)
    {
        SkipClose = DuplicateClose = LateClose = MalformedFrame = probability;
        return this;
    }
}

/// <summary>A kline frame the fake wrote to a connection (in write order; the oracle for exactly-once tests).</summary>
public readonly record struct KlineWrite(string Stream, long OpenTime, bool IsClosed, int Connection);

/// <summary>A fault the fake injected.</summary>
public sealed record InjectedFault(string Kind, string? Stream, long OpenTime, int Connection);

/// <summary>A JSON control message a client sent.</summary>
public sealed record ControlMessage(int Connection, string Method, IReadOnlyList<string> Params, string? Id);
