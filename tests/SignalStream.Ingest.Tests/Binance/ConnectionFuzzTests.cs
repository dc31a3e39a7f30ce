using System.Text;
using SignalStream.Contracts;
using SignalStream.Testing.FakeExchange;
using Xunit.Abstractions;

namespace SignalStream.Ingest.Tests.Binance;

/// <summary>
/// Mutated kline frames (the parser fuzz's edits) and frames of unexpected types, sent by the fake exchange into a
/// real Binance connection between rounds of real candles: the connection rejects or reconnects, its task never ends,
/// and every closed candle still arrives exactly once, in order, with the exchange's values.
/// </summary>
/// <remarks>
/// Each mutated frame (text when it is still UTF-8, binary otherwise, so that it reaches the parser) is followed by the
/// valid frame it was made from, as on a live stream where a corrupt message is
/// one among many: the guarantee tested is that no single corrupt message does harm.
/// </remarks>
public sealed class ConnectionFuzzTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private const int Rounds = 40;
    private const int MessagesPerRound = 25;

    [Fact]
    public async Task MutatedAndUnexpectedFramesNeverEndTheConnectionOrLoseAClosedCandle()
    {
        var symbols = new[] { "BTCUSDT", "ETHUSDT", "BNBUSDT" };
        await using var h = await SourceHarness.StartAsync(new FakeExchangeOptions { Symbols = symbols }, warmup: 1);
        await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == symbols.Length, Timeout, "every stream subscribed");
        var random = new Random(20_261_206);
        var streams = symbols.Select(s => new StreamKey(s, Timeframe.OneMinute)).ToArray();
        for (var round = 0; round < Rounds; round++)
        {
            var open = Timeframe.OneMinute.OpenTimeOf(h.Fake.Now);
            var batch = new List<(byte, byte[])>();
            for (var i = 0; i < MessagesPerRound; i++)
            {
                var symbol = symbols[random.Next(symbols.Length)];
                var valid = h.Fake.KlineFrameBytes(h.Fake.Market.CandleAt(symbol, Timeframe.OneMinute, open), false, h.Fake.Now);
                batch.Add(AsFrame(Mutate(valid, random)));
                batch.Add((FakeBinanceExchange.TextOpcode, valid));
            }

            // Last, so the rest of the batch is read first: most of these make the client's WebSocket close.
            if (random.Next(4) == 0)
            {
                batch.Add(UnexpectedFrame(random));
            }

            await h.Fake.SendRawAsync(batch).WaitAsync(Timeout);

            await h.Fake.TickAsync().WaitAsync(Timeout);
            await h.Fake.AdvanceAsync().WaitAsync(Timeout);

            // The round's close arrives after the whole batch was read (or, when the batch cost the connection, from
            // REST after the reconnect): only then does the next batch go out, so every batch meets a reading client.
            var closes = 2 + round;
            await h.WaitForAsync(x => streams.All(s => x.ClosedOf(s).Count >= closes), Timeout, $"the close of round {round}",
                () => h.Fake.TickAsync());
        }

        foreach (var stream in streams)
        {
            var closed = h.ClosedOf(stream);
            Assert.Equal(1 + Rounds, closed.Count);
            BinanceSourceTests.AssertConsecutiveAndExact(h.Fake, closed);
        }

        Assert.False(h.AnyConnectionEnded);
        Assert.Null(h.RunFailure);
        Assert.Equal(0, h.Reconnects("fault"));
        output.WriteLine($"{Rounds * MessagesPerRound} mutated messages in {Rounds} rounds, each followed by its valid frame; " +
                         $"{h.Fake.ConnectionsAccepted} connections");
        foreach (var line in h.Metrics.Dump().Split("; "))
        {
            output.WriteLine(line);
        }
    }

    /// <summary>
    /// A text frame when the bytes are UTF-8, else a binary one: the client's WebSocket refuses (and closes on) text that
    /// is not UTF-8 before our parser sees it, while binary frames reach the parser whatever they hold.
    /// </summary>
    private static (byte, byte[]) AsFrame(byte[] bytes)
    {
        try
        {
            _ = StrictUtf8.GetCharCount(bytes);
            return (FakeBinanceExchange.TextOpcode, bytes);
        }
        catch (DecoderFallbackException)
        {
            return (FakeBinanceExchange.BinaryOpcode, bytes);
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    private static (byte, byte[]) UnexpectedFrame(Random random) => random.Next(4) switch
    {
        0 => (FakeBinanceExchange.BinaryOpcode, RandomBytes(random)),
        1 => ((byte)(3 + random.Next(5)), RandomBytes(random)), // reserved data opcodes
        2 => (FakeBinanceExchange.PingOpcode, new byte[126 + random.Next(200)]), // control frame too long
        _ => (FakeBinanceExchange.TextOpcode, [0x7B, 0xFF, 0x7D]), // text that is not UTF-8
    };

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, 100)];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>One to four of the parser fuzz's edits.</summary>
    private static byte[] Mutate(byte[] bytes, Random random)
    {
        for (var n = random.Next(1, 5); n > 0 && bytes.Length > 0; n--)
        {
            var at = random.Next(bytes.Length);
            bytes = random.Next(10) switch
            {
                0 => Set(bytes, at, (byte)random.Next(256)),
                1 => Set(bytes, at, (byte)(bytes[at] ^ (1 << random.Next(8)))),
                2 => [.. bytes[..at], .. bytes[Math.Min(bytes.Length, at + random.Next(1, 64))..]],
                3 => bytes[..at],
                4 => [.. bytes[..at], .. bytes[at..Math.Min(bytes.Length, at + random.Next(1, 256))], .. bytes[at..]],
                5 => ReplaceDigits(bytes, at, new string('9', random.Next(1, 400))),
                6 => ReplaceDigits(bytes, at, "1e" + random.Next(1, 400)),
                7 => [.. bytes[..at], .. Encoding.UTF8.GetBytes(new string('[', 40) + new string(']', 40)), .. bytes[at..]],
                8 => [.. bytes[..at], 0xC3, 0x28, .. bytes[at..]],
                _ => [.. bytes, .. bytes],
            };
        }

        return bytes;

        static byte[] Set(byte[] b, int i, byte v)
        {
            var copy = (byte[])b.Clone();
            copy[i] = v;
            return copy;
        }
    }

    private static byte[] ReplaceDigits(byte[] bytes, int at, string text)
    {
        var start = Array.FindIndex(bytes, at, b => b is >= (byte)'0' and <= (byte)'9');
        if (start < 0)
        {
            return bytes;
        }

        var end = start;
        while (end < bytes.Length && bytes[end] is >= (byte)'0' and <= (byte)'9')
        {
            end++;
        }

        return [.. bytes[..start], .. Encoding.UTF8.GetBytes(text), .. bytes[end..]];
    }
}
