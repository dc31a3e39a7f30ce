using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using SignalStream.Contracts;
using SignalStream.Ingest.Binance.Internal;
using Xunit.Abstractions;

namespace SignalStream.Ingest.Tests.Binance;

/// <summary>
/// The kline parser against mutated and random input: it always returns a kind (a rejection always names its reason),
/// never throws, and allocates no more for a megabyte of garbage than for a short one.
/// </summary>
public sealed class KlineFrameParserFuzzTests(ITestOutputHelper output)
{
    private static readonly string[] Symbols = ["BTCUSDT", "ETHUSDT", "1000SATSUSDT"];
    private static readonly Timeframe[] Configured = [Timeframe.OneMinute, Timeframe.FiveMinutes, Timeframe.OneMonth];
    private static readonly SymbolTable Table = new(Symbols.SelectMany(s => Configured.Select(tf => new StreamTracker(new StreamKey(s, tf)))));

    // What a rejection costs at most: Utf8JsonReader reports malformed JSON by throwing, and the exception with its
    // message and stack trace is the only allocation the parser makes (up to 16.5 KB seen, as the thread's allocation
    // counter moves in steps of its 8 KB allocation context). It must not depend on the input's size: the megabyte
    // inputs would exceed it many times over if it did.
    private const long AllocationBound = 32 * 1024;

    private readonly ConcurrentDictionary<string, int> _outcomes = new(StringComparer.Ordinal);
    private long _largestAllocation;

    [Fact]
    public void MutatedFramesAlwaysYieldAKindNeverThrowAndStayWithinTheAllocationBound()
    {
        var mutated =
            from seed in Seeds()
            from count in Gen.Choose(1, 4)
            from edits in Gen.ArrayOf(Mutation(), count)
            select edits.Aggregate(seed, (bytes, edit) => edit(bytes));
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(20_000), Prop.ForAll(mutated.ToArbitrary(), Holds));
        Report("mutated", 20_000);
    }

    [Fact]
    public void RandomStructuresAndBytesAlwaysYieldAKindNeverThrowAndStayWithinTheAllocationBound()
    {
        var tokens = Gen.Elements("{", "}", "[", "]", ",", ":", "\"stream\"", "\"data\"", "\"k\"", "\"e\"", "\"E\"", "\"t\"", "\"T\"",
            "\"kline\"", "\"serverShutdown\"", "\"result\"", "\"id\"", "\"code\"", "\"s\"", "\"BTCUSDT\"", "\"1m\"", "1",
            "-1", "1e400", "99999999999999999999999", "true", "false", "null", "\"x\"", "\"0.1\"", "\"\\u0000\"", "\"\\ud800\"");
        var structured = Gen.ArrayOf(tokens).Select(parts => Encoding.UTF8.GetBytes(string.Concat(parts)));
        var bytes = Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b));
        var deep = Gen.Choose(1, 5000).Select(depth => Encoding.UTF8.GetBytes(new string('[', depth) + new string(']', depth)));
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(10_000), Prop.ForAll(Gen.OneOf(structured, bytes, deep).ToArbitrary(), Holds));
        Report("random", 10_000);
    }

    [Fact]
    public void AMegabyteOfAnyShapeCostsNoMoreThanTheBound()
    {
        var valid = Frame(Sample(), true);
        byte[][] inputs =
        [
            Encoding.UTF8.GetBytes("{\"stream\":\"" + new string('a', 1 << 20) + "\"}"),
            Encoding.UTF8.GetBytes(new string('[', 1 << 20)),
            Encoding.UTF8.GetBytes("{\"stream\":\"btcusdt@kline_1m\",\"data\":{\"e\":\"kline\",\"E\":" + new string('9', 1 << 20) + "}}"),
            Insert(valid, valid.Length - 3, Encoding.UTF8.GetBytes(",\"pad\":[" + string.Join(",", Enumerable.Repeat("1", 200_000)) + "]")),
            Enumerable.Repeat((byte)0xFF, 1 << 20).ToArray(),

            // Utf8JsonReader's own message for a misspelt literal quotes the input up to the next delimiter.
            Encoding.UTF8.GetBytes("{\"result\":n" + new string('[', 1 << 20)),
            Insert(valid, valid.Length - 3, Encoding.UTF8.GetBytes(",\"X\":tru" + new string('e', 1 << 20))),
            Insert(valid, valid.Length - 3, Encoding.UTF8.GetBytes(",nul" + new string('[', 1 << 20))),
            Encoding.UTF8.GetBytes("{\"id\":1}fals" + new string('e', 1 << 20)),
        ];
        foreach (var input in inputs)
        {
            Assert.True(Holds(input));
        }

        Report("megabyte", inputs.Length);
    }

    private bool Holds(byte[] bytes)
    {
        ParsedFrame frame;
        FrameKind kind;
        var before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            kind = KlineFrameParser.Parse(bytes, Table, out frame);
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException($"The parser threw on {bytes.Length} bytes: {Describe(bytes)}", ex);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated > AllocationBound)
        {
            // The first exception of a kind also loads its message resource (once per process): measure again, warm.
            before = GC.GetAllocatedBytesForCurrentThread();
            KlineFrameParser.Parse(bytes, Table, out _);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        InterlockedMax(ref _largestAllocation, allocated);
        _outcomes.AddOrUpdate(kind == FrameKind.Rejected ? frame.Rejection.ToString() : kind.ToString(), 1, (_, n) => n + 1);
        if (allocated > AllocationBound)
        {
            throw new InvalidOperationException($"Parsing {bytes.Length} bytes allocated {allocated} B: {Describe(bytes)}");
        }

        return kind switch
        {
            FrameKind.Rejected => frame.Rejection != FrameRejection.None && frame.Symbol is null,
            FrameKind.Kline => KlineFrameParser.IsConsistent(frame.Candle) && frame.Symbol is not null
                               && frame.Symbol.Symbol == frame.Candle.Symbol && Configured.Contains(frame.Candle.Timeframe)
                               && frame.EventTime >= 0,
            _ => true,
        };
    }

    private void Report(string what, int cases) =>
        output.WriteLine($"{what}: {cases} cases, largest allocation {Interlocked.Read(ref _largestAllocation)} B; outcomes: " +
                         string.Join(", ", _outcomes.OrderByDescending(p => p.Value).Select(p => $"{p.Key} {p.Value}")));

    /// <summary>Valid frames of every configured stream, closed or not, and the other message kinds Binance sends.</summary>
    private static Gen<byte[]> Seeds() =>
        Gen.OneOf(
            from symbol in Gen.Elements(Symbols)
            from timeframe in Gen.Elements(Configured)
            from minute in Gen.Choose(0, 10_000_000)
            from closed in Gen.Elements(true, false)
            select Frame(Sample() with
            {
                Symbol = symbol,
                Timeframe = timeframe,
                OpenTime = timeframe.OpenTimeOf(1_500_000_000_000L + (minute * 60_000L)),
                CloseTime = timeframe.CloseTimeOf(timeframe.OpenTimeOf(1_500_000_000_000L + (minute * 60_000L))),
            }, closed),
            Gen.Elements(
                "{\"stream\":\"!serverShutdown\",\"data\":{\"e\":\"serverShutdown\",\"E\":1770123456789}}"u8.ToArray(),
                "{\"result\":null,\"id\":312}"u8.ToArray(),
                "{\"code\":2,\"msg\":\"Invalid request\",\"id\":5}"u8.ToArray()));

    /// <summary>One edit: byte and bit flips, deletions, truncation, duplication, huge numbers, deep nesting, bad UTF-8.</summary>
    private static Gen<Func<byte[], byte[]>> Mutation() =>
        from kind in Gen.Choose(0, 9)
        from position in Gen.Choose(0, int.MaxValue)
        from value in Gen.Choose(0, 255)
        from length in Gen.Choose(1, 64)
        from size in Gen.Choose(1, 400)
        select (Func<byte[], byte[]>)(bytes =>
        {
            if (bytes.Length == 0)
            {
                return bytes;
            }

            var at = position % bytes.Length;
            switch (kind)
            {
                case 0:
                    var set = (byte[])bytes.Clone();
                    set[at] = (byte)value;
                    return set;
                case 1:
                    var bit = (byte[])bytes.Clone();
                    bit[at] ^= (byte)(1 << (value % 8));
                    return bit;
                case 2:
                    return [.. bytes[..at], .. bytes[Math.Min(bytes.Length, at + length)..]];
                case 3:
                    return bytes[..at];
                case 4:
                    var slice = bytes[at..Math.Min(bytes.Length, at + length * 4)];
                    return Insert(bytes, (position / 7) % bytes.Length, slice);
                case 5:
                    return ReplaceNumber(bytes, at, new string('9', size));
                case 6:
                    return ReplaceNumber(bytes, at, value % 2 == 0 ? "1e" + size : "-" + new string('1', size) + "." + size);
                case 7:
                    return Insert(bytes, at, Encoding.UTF8.GetBytes(new string('[', size) + new string(']', size)));
                case 8:
                    byte[][] bad = [[0xC3, 0x28], [0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF0, 0x9F, 0x98], [0x00]];
                    return Insert(bytes, at, bad[value % bad.Length]);
                default:
                    return [.. bytes, .. bytes]; // a frame twice in one message
            }
        });

    /// <summary>Replaces the digits of the number at or after <paramref name="at"/> (if any) with <paramref name="text"/>.</summary>
    private static byte[] ReplaceNumber(byte[] bytes, int at, string text)
    {
        var start = Array.FindIndex(bytes, at, b => b is >= (byte)'0' and <= (byte)'9');
        if (start < 0)
        {
            return bytes;
        }

        var end = start;
        while (end < bytes.Length && bytes[end] is >= (byte)'0' and <= (byte)'9' or (byte)'.')
        {
            end++;
        }

        return [.. bytes[..start], .. Encoding.UTF8.GetBytes(text), .. bytes[end..]];
    }

    private static byte[] Insert(byte[] bytes, int at, byte[] what) => [.. bytes[..at], .. what, .. bytes[at..]];

    private static string Describe(byte[] bytes) =>
        Convert.ToHexString(bytes.AsSpan(0, Math.Min(bytes.Length, 256)));

    private static void InterlockedMax(ref long target, long value)
    {
        long current;
        while (value > (current = Interlocked.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    private static Candle Sample() => new("BTCUSDT", Timeframe.OneMinute, 1_672_515_780_000, 1_672_515_839_999,
        0.0010m, 0.0025m, 0.0005m, 0.0020m, 1000m, 1.0000m, 100, 500m, 0.500m);

    private static byte[] Frame(in Candle c, bool closed)
    {
        var stream = $"{c.Symbol.ToLowerInvariant()}@kline_{c.Timeframe.ToName()}";
        var json = "{\"stream\":\"" + stream + "\",\"data\":{\"e\":\"kline\",\"E\":" + (c.OpenTime + 1) + ",\"s\":\"" + c.Symbol
                   + "\",\"k\":{\"t\":" + c.OpenTime + ",\"T\":" + c.CloseTime + ",\"s\":\"" + c.Symbol + "\",\"i\":\"" + c.Timeframe.ToName()
                   + "\",\"f\":100,\"L\":200,\"o\":\"" + D(c.Open) + "\",\"c\":\"" + D(c.Close) + "\",\"h\":\"" + D(c.High)
                   + "\",\"l\":\"" + D(c.Low) + "\",\"v\":\"" + D(c.Volume) + "\",\"n\":" + c.TradeCount + ",\"x\":" + (closed ? "true" : "false")
                   + ",\"q\":\"" + D(c.QuoteVolume) + "\",\"V\":\"" + D(c.TakerBuyBaseVolume) + "\",\"Q\":\"" + D(c.TakerBuyQuoteVolume)
                   + "\",\"B\":\"0\"}}}";
        return Encoding.UTF8.GetBytes(json);

        static string D(decimal d) => d.ToString("F8", CultureInfo.InvariantCulture);
    }
}
