using System.Net;
using System.Text.Json;
using SignalStream.Contracts;

namespace SignalStream.Hub.Tests.Hostile;

/// <summary>
/// A client resuming from positions at and past the edges (issue 14, item 5), on a whole node over the real PostgreSQL
/// event store (a schema per node): REST <c>/api/signals</c> and hub <c>Subscribe</c>. Signals 1..5 of BTCUSDT are
/// stored before each case.
/// </summary>
public sealed class ResumeEdgeTests : IClassFixture<ResumeEdgeTests.StoredSignalsNode>
{
    private const string Symbol = "BTCUSDT";
    private const long Newest = 5;
    private readonly StoredSignalsNode _stored;

    public ResumeEdgeTests(StoredSignalsNode stored) => _stored = stored;

    public static TheoryData<string, long[]> RestPages => new()
    {
        { "afterSeq=9223372036854775807", [] },
        { "afterSeq=9223372036854775806", [] },
        { "afterSeq=6", [] },
        { "afterSeq=1000", [] },
        { "afterSeq=5", [] },
        { "afterSeq=3", [4, 5] },
        { "afterSeq=0", [1, 2, 3, 4, 5] },
        { "afterSeq=0&limit=1000", [1, 2, 3, 4, 5] },
        { "afterSeq=1&limit=2", [2, 3] },
    };

    [Theory]
    [MemberData(nameof(RestPages))]
    public async Task RestPageAfterAnySeqHoldsExactlyTheStoredSignalsAfterIt(string query, long[] expected)
    {
        using var http = _stored.Node.Http();
        using var response = await http.GetAsync($"/api/signals?symbol={Symbol}&{query}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(expected, Seqs(page.RootElement.EnumerateArray()));
    }

    [Theory]
    [InlineData("afterSeq=-1", "afterSeq")]
    [InlineData("afterSeq=9223372036854775808", "afterSeq")]
    [InlineData("afterSeq=99999999999999999999999", "afterSeq")]
    [InlineData("afterSeq=%2B1", "afterSeq")]
    [InlineData("afterSeq=1e3", "afterSeq")]
    [InlineData("afterSeq=", "afterSeq")]
    [InlineData("afterSeq=1&afterSeq=2", "afterSeq")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=-1", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("limit=2147483648", "limit")]
    [InlineData("limit=99999999999999999999", "limit")]
    public async Task RestRefusesAnOutOfRangeParameterWith400NamingIt(string query, string parameter)
    {
        using var http = _stored.Node.Http();
        using var response = await http.GetAsync($"/api/signals?symbol={Symbol}&{query}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(parameter, problem.RootElement.GetProperty("parameter").GetString());
        Assert.Contains(parameter, problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// Beyond the newest seq nothing can be recovered: the store was reset, or the position is from elsewhere. The
    /// client is told so (recovered false, a reason, latestSeq = the node's newest) and receives the live stream from
    /// the next seq, which it would otherwise never see. (A client only ahead of a lagging node is the other case:
    /// FanOut/ScaleOutTests, ResumeOnTheOtherNodeReturnsExactlyTheMissedSignalsThenLiveOnes.)
    /// </summary>
    [Theory]
    [InlineData(Newest + 1)]
    [InlineData(1000)]
    [InlineData(long.MaxValue)]
    public async Task HubResumeBeyondTheNewestSeqIsNotRecoveredAndStreamsFromTheNewest(long afterSeq)
    {
        // The node waits up to the read timeout for its store to reach afterSeq before it answers: one second here.
        await using var node = await StoredSignalsNode.StartAsync("Hub:History:ReadTimeout=00:00:01");
        await using var client = await node.ConnectAsync();
        var result = await client.InvokeAsync("Subscribe", new { symbol = Symbol, afterSeq });

        Assert.False(result.GetProperty("recovered").GetBoolean());
        Assert.Equal(Newest, result.GetProperty("latestSeq").GetInt64());
        Assert.Equal(0, result.GetProperty("signals").GetArrayLength());
        var reason = result.GetProperty("reason").GetString();
        Assert.Contains($"afterSeq {afterSeq} is beyond the newest {Symbol} signal (seq {Newest})", reason, StringComparison.Ordinal);
        Assert.Contains($"live signals follow from seq {Newest + 1}", reason, StringComparison.Ordinal);

        await node.PublishAsync(TestSignals.Signal(Symbol, Newest + 1));
        await node.PublishAsync(TestSignals.Signal(Symbol, Newest + 2));
        Assert.Equal(new long[] { Newest + 1, Newest + 2 }, Seqs(await client.NextEventsAsync(HubNames.SignalEvent, 2)));
    }

    /// <summary>
    /// At or before the newest seq: exactly the signals after afterSeq, recovered, then live from the next seq with no
    /// duplicate. A ring of one signal makes the node read them from the store (outside the delivery lock).
    /// </summary>
    [Theory]
    [InlineData(Newest, new long[0], "Hub:RecentSignalsPerSymbol=1024")]
    [InlineData(0, new long[] { 1, 2, 3, 4, 5 }, "Hub:RecentSignalsPerSymbol=1024")]
    [InlineData(Newest, new long[0], "Hub:RecentSignalsPerSymbol=1")]
    [InlineData(0, new long[] { 1, 2, 3, 4, 5 }, "Hub:RecentSignalsPerSymbol=1")]
    [InlineData(3, new long[] { 4, 5 }, "Hub:RecentSignalsPerSymbol=1")]
    public async Task HubResumeAtOrBeforeTheNewestSeqReturnsWhatFollowsItThenLiveOnes(long afterSeq, long[] expected, string ring)
    {
        await using var node = await StoredSignalsNode.StartAsync(ring);
        await using var client = await node.ConnectAsync();
        var result = await client.InvokeAsync("Subscribe", new { symbol = Symbol, afterSeq });

        Assert.True(result.GetProperty("recovered").GetBoolean(), result.ToString());
        Assert.Equal(Newest, result.GetProperty("latestSeq").GetInt64());
        Assert.Equal(expected, Seqs(result.GetProperty("signals").EnumerateArray()));

        await node.PublishAsync(TestSignals.Signal(Symbol, Newest + 1));
        Assert.Equal(new long[] { Newest + 1 }, Seqs(await client.NextEventsAsync(HubNames.SignalEvent, 1)));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(long.MinValue)]
    public async Task HubRefusesANegativeAfterSeqNamingIt(long afterSeq)
    {
        await using var client = await _stored.Node.ConnectAsync();
        var error = await Assert.ThrowsAsync<HubErrorException>(() => client.InvokeAsync("Subscribe", new { symbol = Symbol, afterSeq }));
        Assert.Contains($"afterSeq is {afterSeq}; it must be 0 or more", error.Message, StringComparison.Ordinal);
    }

    /// <summary>The hub's page size is Hub:MaxRecoverySignals: past it, the newest that many and where to page the rest.</summary>
    [Fact]
    public async Task HubResumeOfMoreThanTheRecoveryBoundReturnsTheNewestAndWhereToPageTheRest()
    {
        await using var node = await StoredSignalsNode.StartAsync("Hub:MaxRecoverySignals=3", "Hub:RecentSignalsPerSymbol=1");
        await using var client = await node.ConnectAsync();
        var result = await client.InvokeAsync("Subscribe", new { symbol = Symbol, afterSeq = 0 });

        Assert.False(result.GetProperty("recovered").GetBoolean());
        Assert.Equal(new long[] { 3L, 4, 5 }, Seqs(result.GetProperty("signals").EnumerateArray()));
        Assert.Contains($"/api/signals?symbol={Symbol}&afterSeq=0&limit=3", result.GetProperty("reason").GetString(), StringComparison.Ordinal);
        await node.PublishAsync(TestSignals.Signal(Symbol, Newest + 1));
        Assert.Equal(new long[] { Newest + 1 }, Seqs(await client.NextEventsAsync(HubNames.SignalEvent, 1)));
    }

    private static long[] Seqs(IEnumerable<JsonElement> signals) => signals.Select(s => s.GetProperty("seq").GetInt64()).ToArray();

    /// <summary>A node on its own PostgreSQL schema with BTCUSDT 1..5 stored; shared by the REST cases, which only read.</summary>
    public sealed class StoredSignalsNode : IAsyncLifetime
    {
        internal TestNode Node { get; private set; } = null!;

        internal static async Task<TestNode> StartAsync(params string[] settings)
        {
            // The REST cases make many requests from one address: the rate limit is RestRateLimitTests' subject.
            var node = await TestNode.StartAsync(null, settings: [.. TestPostgres.FreshStoreSettings(), "Api:RateLimit:Enabled=false", .. settings]);
            for (var seq = 1; seq <= Newest; seq++)
            {
                await node.PublishAsync(TestSignals.Signal(Symbol, seq));
            }

            await node.WaitUntilStoredAsync(Symbol, Newest);
            return node;
        }

        public async Task InitializeAsync() => Node = await StartAsync();

        public async Task DisposeAsync() => await Node.DisposeAsync();
    }
}
