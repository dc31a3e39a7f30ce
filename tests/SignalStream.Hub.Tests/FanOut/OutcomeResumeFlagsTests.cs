using System.Text.Json;
using SignalStream.Contracts;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.FanOut;

/// <summary>
/// A resume's answer says apart whether its signals and its outcomes were all recovered (<c>signalsRecovered</c>,
/// <c>outcomesRecovered</c>; <c>recovered</c> is both): a client must retry or report the one that was not, and only it.
/// One node with an in-memory store; the cluster cases are <see cref="ScaleOutScenarios"/>.
/// </summary>
public sealed class OutcomeResumeFlagsTests
{
    private const string Symbol = "BTCUSDT";

    [Fact]
    public async Task OutcomesPastTheResumeLimitAreNotRecoveredWhileEverySignalIs()
    {
        await using var node = await StartWithAsync(signals: 5, outcomes: 5);
        await using var client = await node.ConnectAsync();

        var result = await client.InvokeAsync("Subscribe", new { symbol = Symbol, afterSeq = 3, afterOutcomeSeq = 0 });

        Assert.Equal([4L, 5], result.GetProperty("signals").EnumerateArray().Select(s => s.GetProperty("seq").GetInt64()));
        Assert.True(result.GetProperty("signalsRecovered").GetBoolean(), result.ToString());
        Assert.False(result.GetProperty("outcomesRecovered").GetBoolean(), result.ToString());
        Assert.False(result.GetProperty("recovered").GetBoolean());
        Assert.Equal([3L, 4, 5], OutcomeSeqs(result));
        Assert.Contains("more than the resume limit of 3", result.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignalsPastTheResumeLimitAreNotRecoveredWhileEveryOutcomeIs()
    {
        await using var node = await StartWithAsync(signals: 5, outcomes: 3);
        await using var client = await node.ConnectAsync();

        var result = await client.InvokeAsync("Subscribe", new { symbol = Symbol, afterSeq = 0, afterOutcomeSeq = 1 });

        Assert.False(result.GetProperty("signalsRecovered").GetBoolean(), result.ToString());
        Assert.True(result.GetProperty("outcomesRecovered").GetBoolean(), result.ToString());
        Assert.False(result.GetProperty("recovered").GetBoolean());
        Assert.Equal([2L, 3], OutcomeSeqs(result));
    }

    [Fact]
    public async Task AFullResumeIsRecoveredOnBothCounts()
    {
        await using var node = await StartWithAsync(signals: 3, outcomes: 3);
        await using var client = await node.ConnectAsync();

        var result = await client.InvokeAsync("Subscribe", new { symbol = Symbol, afterSeq = 1, afterOutcomeSeq = 1 });

        Assert.True(result.GetProperty("signalsRecovered").GetBoolean());
        Assert.True(result.GetProperty("outcomesRecovered").GetBoolean());
        Assert.True(result.GetProperty("recovered").GetBoolean());
    }

    [Fact]
    public async Task TheOutcomesAResumeCouldNotReturnArePagedFromTheRestEndpoint()
    {
        // The resume returned the newest 3 of 5 (outcomesRecovered false); the older ones are a REST page away.
        await using var node = await StartWithAsync(signals: 5, outcomes: 5);
        using var http = node.Http();

        Assert.Equal(new long[] { 1, 2 }, await PageAsync("afterOutcomeSeq=0&limit=2"));
        Assert.Equal(new long[] { 3, 4, 5 }, await PageAsync("afterOutcomeSeq=2"));
        Assert.Empty(await PageAsync("afterOutcomeSeq=5"));

        using var bad = await http.GetAsync($"/api/outcomes?symbol={Symbol}&afterOutcomeSeq=-1");
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("afterOutcomeSeq '-1' must be a whole number", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        async Task<long[]> PageAsync(string query)
        {
            using var response = await http.GetAsync($"/api/outcomes?symbol={Symbol}&{query}");
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            using var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return [.. page.RootElement.EnumerateArray().Select(o => o.GetProperty("outcomeSeq").GetInt64())];
        }
    }

    [Fact]
    public async Task TheDotNetClientPagesTheSignalsAndOutcomesAResumeCouldNotReturn()
    {
        await using var node = await StartWithAsync(signals: 5, outcomes: 5);
        using var http = node.Http();
        var api = new SignalStream.Client.SignalStreamApi(http);

        var first = await api.GetOutcomesAsync(Symbol, afterOutcomeSeq: 0, limit: 2);
        var rest = await api.GetOutcomesAsync(Symbol, afterOutcomeSeq: first[^1].OutcomeSeq);
        var signals = await api.GetSignalsAsync(Symbol, afterSeq: 3);

        Assert.Equal([1L, 2, 3, 4, 5], first.Concat(rest).Select(o => o.OutcomeSeq));
        Assert.All(first.Concat(rest), o => Assert.Equal(Symbol, o.Symbol));
        Assert.Equal([4L, 5], signals.Select(s => s.Seq));
        var refused = await Assert.ThrowsAsync<SignalStream.Client.SignalStreamApiException>(() => api.GetOutcomesAsync("NOPEUSDT"));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, refused.Status);
    }

    /// <summary>A node whose resume limit is 3, with signals 1..<paramref name="signals"/> stored and the first
    /// <paramref name="outcomes"/> of them resolved (outcomeSeq 1..).</summary>
    private static async Task<TestNode> StartWithAsync(int signals, int outcomes)
    {
        var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: ["Hub:MaxRecoverySignals=3"]);
        for (var seq = 1; seq <= signals; seq++)
        {
            var signal = TestSignals.Signal(Symbol, seq);
            await node.PublishAsync(signal);
            if (seq <= outcomes)
            {
                await node.PublishOutcomeAsync(TestSignals.Outcome(signal, outcomeSeq: seq));
            }
        }

        return node;
    }

    private static long[] OutcomeSeqs(JsonElement result) =>
        [.. result.GetProperty("outcomes").EnumerateArray().Select(o => o.GetProperty("outcomeSeq").GetInt64())];
}
