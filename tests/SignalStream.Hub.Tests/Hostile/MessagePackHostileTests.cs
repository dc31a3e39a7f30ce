using System.Buffers;
using MessagePack;
using Microsoft.Extensions.Options;
using SignalStream.Contracts;
using SignalStream.Hub.Hubs;

namespace SignalStream.Hub.Tests.Hostile;

/// <summary>
/// What a hostile client can do with the MessagePack protocol that it cannot with JSON (length prefixes, binary
/// headers that claim more than they carry, codes that do not exist), and the bounds that hold for JSON holding for
/// MessagePack too: bounded error replies, a bad message closing only its own connection with a reason, the node
/// serving everyone else throughout.
/// </summary>
public sealed class MessagePackHostileTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AHugeMethodNameGetsABoundedErrorAndTheConnectionGoesOn()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory());
        using var client = await RawHubSocket.ConnectAsync(node.BaseAddress, protocol: "messagepack");

        await client.InvokeMessagePackAsync("1", new string('M', 30_000));
        var error = (await client.ReadCompletionAsync("1", Wait)).GetProperty("error").GetString()!;

        Assert.Contains("does not exist", error, StringComparison.Ordinal);
        Assert.Contains(new string('M', 64) + "…", error, StringComparison.Ordinal);
        Assert.True(error.Length < 300, $"an error of {error.Length} characters quotes the name whole");
        await AssertAnswersAsync(client, "2");
    }

    [Fact]
    public async Task AMalformedRecordClosesOnlyItsConnectionWithAClearErrorAndTheOthersKeepReceiving()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory());
        using var healthy = await RawHubSocket.ConnectAsync(node.BaseAddress, protocol: "messagepack");
        await healthy.InvokeMessagePackAsync("1", "Subscribe", new { symbol = "BTCUSDT" });
        await healthy.ReadCompletionAsync("1", Wait);
        using var bad = await RawHubSocket.ConnectAsync(node.BaseAddress, protocol: "messagepack");
        await node.WaitForConnectionsAsync(2);

        await bad.SendMessagePackAsync([0xc1, 0xc1, 0xc1]); // 0xc1 is the one code MessagePack never uses
        await bad.ReadUntilClosedAsync(Wait);

        Assert.True(bad.ServerClosed);
        Assert.NotNull(bad.CloseError);
        Assert.Contains("Connection closed with an error", bad.CloseError, StringComparison.Ordinal);
        Assert.Contains("193", bad.CloseError, StringComparison.Ordinal); // names the code it could not read
        await node.WaitForConnectionsAsync(1);
        await node.PublishAsync(TestSignals.Signal("BTCUSDT", 1));
        var signal = healthy.AsJson((await healthy.ReadRecordAsync(Wait))!);
        Assert.Equal(1, signal.GetProperty("arguments")[0].GetProperty("seq").GetInt64());
    }

    [Fact]
    public async Task AnArrayHeaderClaimingBillionsOfItemsIsRefusedAsABindingErrorAndTheConnectionGoesOn()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory());
        using var client = await RawHubSocket.ConnectAsync(node.BaseAddress, protocol: "messagepack");

        // Subscribe({symbol: "BTCUSDT", timeframes: <array32 of 2^31 - 1 items>}) in a 60-byte message.
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(6);
        writer.Write(1);
        writer.WriteMapHeader(0);
        writer.Write("1");
        writer.Write("Subscribe");
        writer.WriteArrayHeader(1);
        writer.WriteMapHeader(2);
        writer.Write("symbol");
        writer.Write("BTCUSDT");
        writer.Write("timeframes");
        writer.WriteRaw([0xdd, 0x7f, 0xff, 0xff, 0xff]);
        writer.Flush();
        await client.SendMessagePackAsync(buffer.WrittenSpan);

        var error = (await client.ReadCompletionAsync("1", Wait)).GetProperty("error").GetString()!;
        Assert.Contains("Subscribe", error, StringComparison.Ordinal);
        await AssertAnswersAsync(client, "2");
        Assert.Single(node.Registry().Open);
    }

    [Fact]
    public async Task ARecordOfAnUnknownTypeIsSkippedAndTheMessagesBehindItAreAnswered()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory());
        using var client = await RawHubSocket.ConnectAsync(node.BaseAddress, protocol: "messagepack");

        await client.SendMessagePackAsync([0x92, 99, 0xa1, (byte)'x']); // [99, "x"]

        await AssertAnswersAsync(client, "probe");
    }

    [Fact]
    public async Task ALengthPrefixPastTheMessageBoundClosesTheConnectionSayingSo()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory());
        using var client = await RawHubSocket.ConnectAsync(node.BaseAddress, protocol: "messagepack");

        // A prefix announcing 1 MB, then more than Hub:MaxMessageBytes (32 KB) of it.
        await client.SendFrameAsync(0x2, fin: true, [0x80, 0x80, 0x40, .. new byte[40 * 1024]]);
        await client.ReadUntilClosedAsync(Wait);

        Assert.NotNull(client.CloseError);
        Assert.Contains("maximum message size of 32768B was exceeded", client.CloseError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnInvocationIdPastItsBoundClosesTheConnectionNamingTheBound()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory());
        using var client = await RawHubSocket.ConnectAsync(node.BaseAddress, protocol: "messagepack");

        await client.InvokeMessagePackAsync(new string('1', 100), "Subscribe", new { symbol = "BTCUSDT" });
        await client.ReadUntilClosedAsync(Wait);

        Assert.NotNull(client.CloseError);
        Assert.Contains("invocationId is 100 characters long; at most 64", client.CloseError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ANodeServingJsonOnlyRefusesAMessagePackHandshakeNamingTheProtocol()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: ["Hub:Protocols=json"]);

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => RawHubSocket.ConnectAsync(node.BaseAddress, protocol: "messagepack"));

        Assert.Contains("messagepack", refused.Message, StringComparison.Ordinal);
        using var json = await RawHubSocket.ConnectAsync(node.BaseAddress);
        await json.InvokeAsync("1", "Subscribe", new { symbol = "BTCUSDT" });
        Assert.Equal("BTCUSDT", (await json.ReadCompletionAsync("1", Wait)).GetProperty("result").GetProperty("symbol").GetString());
    }

    [Theory]
    [InlineData("xml")]
    [InlineData("json,msgpack")]
    [InlineData(",")]
    public async Task AHubProtocolsSettingNamingNoKnownProtocolStopsTheNodeNamingTheSetting(string protocols)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            TestNode.StartAsync(new InMemorySignalHistory(), settings: [$"Hub:Protocols={protocols}"]));

        Assert.Contains("Hub:Protocols", error.Message, StringComparison.Ordinal);
        Assert.Contains("json, messagepack", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HubProtocolsIsReadCaseInsensitivelyAndEachProtocolOnce()
    {
        Assert.Empty(new SignalHubOptions { Protocols = " JSON , messagepack,json " }.Validate());
        Assert.Equal(2, new SignalHubOptions { Protocols = " JSON , messagepack,json " }.EnabledProtocols.Count);
    }

    /// <summary>The connection is in good order: a Subscribe is answered with its result.</summary>
    private static async Task AssertAnswersAsync(RawHubSocket client, string invocationId)
    {
        await client.InvokeMessagePackAsync(invocationId, "Subscribe", new { symbol = "BTCUSDT" });
        var completion = await client.ReadCompletionAsync(invocationId, Wait);
        Assert.Equal("BTCUSDT", completion.GetProperty("result").GetProperty("symbol").GetString());
    }
}
