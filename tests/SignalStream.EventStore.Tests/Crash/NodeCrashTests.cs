using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Engine.Events;
using SignalStream.EventStore.File;
using SignalStream.EventStore.Postgres;
using SignalStream.EventStore.Tests.Postgres;
using Xunit.Abstractions;

namespace SignalStream.EventStore.Tests.Crash;

/// <summary>
/// "A seq a client has seen is durable", against real node processes: a client subscribed to a node records every
/// signal it is sent; the node dies by SIGKILL while a group commit is outstanding (PostgreSQL stopped, or the file
/// journal inside a group commit's window); after the restart every signal the client saw is in the store under the same
/// seq and id, and the restarted node never gives one of those seqs to another signal.
/// </summary>
/// <remarks>In the PostgreSQL outage collection: stopping the shared server must not overlap another test's use of it.</remarks>
[Collection(PostgresOutageCollection.Name)]
public sealed class NodeCrashTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task PostgresStoppedThenTheNodeKilledEverySignalAClientSawIsStoredUnderItsSeqAndIdAndNoSeqIsGivenAgain()
    {
        var schema = TestServices.NewSchema();
        string[] storage =
        [
            "--Storage:Provider=postgres",
            "--ConnectionStrings:Postgres=" + TestServices.Postgres,
            "--Storage:Postgres:Schema=" + schema,
            "--Storage:Writer:RetryMaxDelay=00:00:00.500",
        ];
        var postgresStopped = false;
        try
        {
            List<Seen> seen;
            await using (var node = await NodeProcess.StartAsync(storage))
            await using (var client = await SubscribeAsync(node))
            {
                await WaitUntilAsync(() => client.Signals.Count >= 20, node, "20 signals before the outage");

                await PostgresControl.StopImmediateAsync();
                postgresStopped = true;
                var beforeOutage = client.Signals.Count;

                // The engine goes on deciding while the store is down: a few seconds' worth of signals are issued, none committed.
                await Task.Delay(TimeSpan.FromSeconds(3));
                await node.KillAsync();
                seen = [.. client.Signals];
                output.WriteLine($"the client saw {seen.Count} signals, {seen.Count - beforeOutage} of them while PostgreSQL was down; node {node.Pid} killed");
            }

            await PostgresControl.StartAsync();
            postgresStopped = false;
            await using var store = new PostgresEventStore(
                EventStoreDataSource.Create(TestServices.Postgres), new PostgresStoreOptions { Schema = schema }, NullLogger<PostgresEventStore>.Instance, ownsDataSource: true);
            await store.InitializeAsync().AsTask().WaitAsync(Wait);
            await AfterTheRestartAsync(seen, storage, () => Task.FromResult<IEventStore>(store));
        }
        finally
        {
            if (postgresStopped)
            {
                await PostgresControl.StartAsync();
            }

            await TestStorage.DropSchemaAsync(schema);
        }
    }

    [Fact]
    public async Task TheFileJournalsNodeKilledInsideAGroupCommitEverySignalAClientSawIsStoredUnderItsSeqAndIdAndNoSeqIsGivenAgain()
    {
        var folder = TestStorage.NewTempFolder();

        // A group commit that waits up to 1 s for more events: the kill lands inside one (after the signal the client
        // has just received, events are always waiting in the next group at 600× speed).
        string[] storage = ["--Storage:Provider=file", "--Storage:File:Path=" + folder, "--Storage:Writer:MaxDelay=00:00:01"];
        try
        {
            List<Seen> seen;
            await using (var node = await NodeProcess.StartAsync(storage))
            {
                var armed = 0;
                await using var client = await SubscribeAsync(node, onSignal: _ =>
                {
                    // SIGKILL the moment a signal arrives (once): whatever the node had not committed yet is lost with it.
                    if (Interlocked.CompareExchange(ref armed, 2, 1) == 1)
                    {
                        node.Kill();
                    }
                });
                await WaitUntilAsync(() => client.Signals.Count >= 15, node, "15 signals");
                Volatile.Write(ref armed, 1);
                await node.WaitForExitAsync(Wait);
                seen = [.. client.Signals];
                output.WriteLine($"the client saw {seen.Count} signals; node {node.Pid} killed on receipt of the last one ({seen[^1]})");
            }

            await AfterTheRestartAsync(seen, storage, async () =>
            {
                // Read beside the running node: a read-only open takes no lock and sees what was committed.
                var store = FileEventStore.OpenReadOnly(new FileJournalOptions { Path = folder }, TimeProvider.System, NullLogger<FileEventStore>.Instance);
                await store.InitializeAsync();
                return store;
            });
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// Restarts the node on the same store; checks every seen signal is stored under its seq and id; lets the restarted
    /// node issue new signals (a client resuming from what it saw) and checks again: no seen seq went to another signal.
    /// </summary>
    private async Task AfterTheRestartAsync(List<Seen> seen, string[] storage, Func<Task<IEventStore>> openStore)
    {
        Assert.NotEmpty(seen);
        var seenIds = seen.ToDictionary(s => (s.Symbol, s.Seq), s => s.Id);
        await using var node = await NodeProcess.StartAsync(storage);

        var atRestart = await ReadSignalsAsync(openStore);
        AssertStored(seen, atRestart, "after the restart");
        var storedAtRestart = atRestart.Values.Sum(s => s.Count);

        await using var client = await Subscriber.ConnectAsync(node.Address);
        foreach (var symbol in NodeProcess.Symbols)
        {
            await client.SubscribeAsync(symbol, seen.Where(s => s.Symbol == symbol).Select(s => s.Seq).DefaultIfEmpty(0).Max());
        }

        Dictionary<string, Dictionary<long, string>> later = [];
        await WaitUntilAsync(
            async () => (later = await ReadSignalsAsync(openStore)).Values.Sum(s => s.Count) >= storedAtRestart + 15 && client.Signals.Count >= 5,
            node,
            "15 new signals stored by the restarted node and 5 received");
        output.WriteLine($"{storedAtRestart} signals stored at the restart, {later.Values.Sum(s => s.Count)} later; the resumed client got {client.Signals.Count}");

        AssertStored(seen, later, "once the restarted node had issued new signals");

        // A candle decided before the kill (its signal committed, the candle not) is offered again after the restart:
        // stored then, never decided a second time, so no signal id is issued under two seqs.
        foreach (var (symbol, bySeq) in later)
        {
            var twice = bySeq.GroupBy(p => p.Value).Where(g => g.Count() > 1).Select(g => $"{g.Key} as seqs {string.Join(", ", g.Select(p => p.Key))}").ToList();
            Assert.True(twice.Count == 0, $"{symbol}: signals issued twice: {string.Join("; ", twice)}");
        }
        foreach (var s in client.Signals)
        {
            Assert.True(!seenIds.TryGetValue((s.Symbol, s.Seq), out var id) || id == s.Id, $"{s.Symbol} seq {s.Seq} was seen as {id} before the crash and sent as {s.Id} after it");
        }
    }

    private static void AssertStored(List<Seen> seen, Dictionary<string, Dictionary<long, string>> stored, string when)
    {
        var wrong = seen
            .Where(s => !stored.TryGetValue(s.Symbol, out var bySeq) || !bySeq.TryGetValue(s.Seq, out var id) || id != s.Id)
            .Select(s => $"{s.Symbol} seq {s.Seq} ({s.Id}): stored as {(stored.GetValueOrDefault(s.Symbol)?.GetValueOrDefault(s.Seq) ?? "nothing")}")
            .ToList();
        Assert.True(wrong.Count == 0, $"{when}, {wrong.Count} of the {seen.Count} signals the client saw are not stored under their seq and id:\n{string.Join('\n', wrong.Take(10))}");
    }

    /// <summary>Every stored signal, by symbol and seq (stream version), as its id; the version must equal the signal's seq.</summary>
    private static async Task<Dictionary<string, Dictionary<long, string>>> ReadSignalsAsync(Func<Task<IEventStore>> openStore)
    {
        var store = await openStore();
        try
        {
            var result = new Dictionary<string, Dictionary<long, string>>();
            foreach (var symbol in NodeProcess.Symbols)
            {
                var bySeq = result[symbol] = [];
                foreach (var e in await store.ReadStreamAsync(EventStreams.Signals(symbol), 1, 100_000).AsTask().WaitAsync(Wait))
                {
                    Assert.True(EventSerializer.TryDeserialize(e, out var data, out var error), error);
                    var signal = Assert.IsType<SignalIssued>(data).Signal;
                    Assert.Equal(e.Version, signal.Seq);
                    bySeq[signal.Seq] = signal.Id;
                }
            }

            return result;
        }
        finally
        {
            if (store is FileEventStore file)
            {
                await file.DisposeAsync();
            }
        }
    }

    private static async Task<Subscriber> SubscribeAsync(NodeProcess node, Action<Seen>? onSignal = null)
    {
        var client = await Subscriber.ConnectAsync(node.Address, onSignal);
        foreach (var symbol in NodeProcess.Symbols)
        {
            await client.SubscribeAsync(symbol);
        }

        return client;
    }

    private static Task WaitUntilAsync(Func<bool> condition, NodeProcess node, string what) =>
        Poll.UntilAsync(condition, Wait, what, () => "the node's log:\n" + node.Log, TimeSpan.FromMilliseconds(200));

    private static Task WaitUntilAsync(Func<Task<bool>> condition, NodeProcess node, string what) =>
        Poll.UntilAsync(condition, Wait, what, () => "the node's log:\n" + node.Log, TimeSpan.FromMilliseconds(200));

    /// <summary>One signal as a client saw it.</summary>
    internal readonly record struct Seen(string Symbol, long Seq, string Id);

    /// <summary>
    /// A client of the node's hub that records every <c>signal</c> it is sent as (symbol, seq, id), live ones and those a
    /// Subscribe answered with, in arrival order. A live one is recorded on the client's receive loop the moment it is
    /// parsed, so a test can kill the node on receipt of an exact signal.
    /// </summary>
    private sealed class Subscriber : IAsyncDisposable
    {
        private readonly ConcurrentQueue<Seen> _signals = new();
        private readonly Action<Seen>? _onSignal;
        private HubTestClient? _client;

        private Subscriber(Action<Seen>? onSignal) => _onSignal = onSignal;

        public IReadOnlyCollection<Seen> Signals => _signals;

        public static async Task<Subscriber> ConnectAsync(Uri node, Action<Seen>? onSignal = null)
        {
            var subscriber = new Subscriber(onSignal);
            subscriber._client = await HubTestClient.ConnectAsync(node, timeout: TimeSpan.FromSeconds(30), onEvent: (target, argument) =>
            {
                if (target == "signal")
                {
                    subscriber.Record(argument);
                }
            });
            return subscriber;
        }

        /// <summary>Subscribes to a symbol (after <paramref name="afterSeq"/> when set); the reply's signals are recorded too.</summary>
        public async Task SubscribeAsync(string symbol, long? afterSeq = null)
        {
            object request = afterSeq is { } after ? new { symbol, afterSeq = after } : new { symbol };
            var reply = await _client!.InvokeAsync("Subscribe", request);
            foreach (var signal in reply.GetProperty("signals").EnumerateArray())
            {
                Record(signal);
            }
        }

        public ValueTask DisposeAsync() => _client?.DisposeAsync() ?? ValueTask.CompletedTask;

        private void Record(JsonElement signal)
        {
            var seen = new Seen(signal.GetProperty("symbol").GetString()!, signal.GetProperty("seq").GetInt64(), signal.GetProperty("id").GetString()!);
            _signals.Enqueue(seen);
            _onSignal?.Invoke(seen);
        }
    }
}
