using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Contracts;
using SignalStream.Engine.Features;
using SignalStream.Engine.Inference.Internal;
using SignalStream.Engine.Inference.Onnx;
using SignalStream.Ingest.Simulated;
using SignalStream.Testing;

namespace SignalStream.Engine.Tests.Inference;

public sealed class ModelBatcherTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(20);
    private readonly TestMeterFactory _meters = new();
    private readonly InferenceMetrics _metrics;
    private int _delivered;

    public ModelBatcherTests() => _metrics = new InferenceMetrics(_meters);

    public void Dispose() => _meters.Dispose();

    [Fact]
    public async Task AFullBatchRunsAtOnceWithoutWaitingForTheQueueDelay()
    {
        var time = new ManualTimeProvider(); // never advanced: only "batch full" can trigger the run
        var batcher = CreateTinyMean(time, maxBatch: 4, delay: TimeSpan.FromHours(1));
        var sink = new RecordingSink(4);

        EnqueueSamples(batcher, sink, 4);

        await sink.Done.WaitAsync(s_timeout);
        Assert.Equal(1, _metrics.Batches);
        Assert.Equal(4, _metrics.BatchedRows);
        await StopAsync(batcher);
    }

    [Fact]
    public async Task APartialBatchRunsOnceItsOldestRequestHasWaitedTheQueueDelay()
    {
        var time = new ManualTimeProvider();
        var batcher = CreateTinyMean(time, maxBatch: 8, delay: TimeSpan.FromMilliseconds(50));
        var sink = new RecordingSink(3);
        EnqueueSamples(batcher, sink, 3);

        time.Advance(TimeSpan.FromMilliseconds(49));
        Assert.False(sink.Done.IsCompleted, "ran before the delay");

        // The worker arms its timer asynchronously after the first request; keep advancing until it has fired.
        while (!sink.Done.IsCompleted)
        {
            time.Advance(TimeSpan.FromMilliseconds(1));
            await Task.WhenAny(sink.Done, Task.Delay(5));
        }

        Assert.Equal(1, _metrics.Batches);
        Assert.Equal(3, _metrics.BatchedRows);
        await StopAsync(batcher);
    }

    [Fact]
    public async Task ARequestQueuedAfterTheDelayRunsThePartialBatchWithoutWaitingForTheWorkersTimer()
    {
        // Timers never fire: the producer's own check, when it queues into a batch whose oldest request has waited the
        // delay, is what must make the batch due (the worker sleeps; it no longer spins on the clock).
        var time = new ManualTimeProvider { FiresTimers = false };
        var batcher = CreateTinyMean(time, maxBatch: 8, delay: TimeSpan.FromMilliseconds(10));
        var sink = new RecordingSink(3);
        EnqueueSamples(batcher, sink, 2);

        // Once the worker has seen the open batch and gone to sleep until its deadline, the clock passes the deadline.
        await WaitUntilAsync(() => time.HasArmedTimer);
        time.Advance(TimeSpan.FromMilliseconds(10));
        var third = new ArrayRowWriter(Sample(2));
        Assert.True(batcher.TryEnqueue(ref third, sink, 2));

        await sink.Done.WaitAsync(s_timeout);
        Assert.Equal(1, _metrics.Batches);
        Assert.Equal(3, _metrics.BatchedRows);
        await StopAsync(batcher);
    }

    [Fact]
    public async Task FlushRunsAPartialBatchWithoutWaitingForTheQueueDelay()
    {
        var time = new ManualTimeProvider(); // never advanced: only the flush can trigger the run
        var batcher = CreateTinyMean(time, maxBatch: 8, delay: TimeSpan.FromHours(1));
        var sink = new RecordingSink(3);
        EnqueueSamples(batcher, sink, 3);

        batcher.Flush();

        await sink.Done.WaitAsync(s_timeout);
        Assert.Equal(1, _metrics.Batches);
        Assert.Equal(3, _metrics.BatchedRows);
        await StopAsync(batcher);
    }

    [Fact]
    public async Task FlushWithNothingQueuedLeavesTheNextBatchToItsDelay()
    {
        var time = new ManualTimeProvider();
        var batcher = CreateTinyMean(time, maxBatch: 8, delay: TimeSpan.FromHours(1));
        batcher.Flush();

        var sink = new RecordingSink(1);
        var writer = new ArrayRowWriter(Sample(0));
        Assert.True(batcher.TryEnqueue(ref writer, sink, 0));

        // The earlier flush must not carry over to a batch opened after it; only Stop (which runs what is queued) ends it.
        await Task.WhenAny(sink.Done, Task.Delay(200));
        Assert.False(sink.Done.IsCompleted, "a flush requested before the batch opened ran it early");
        await StopAsync(batcher);
        Assert.True(sink.Done.IsCompleted);
    }

    [Fact]
    public async Task ResultsMatchRunningEachSampleAloneAndComeBackInQueueOrder()
    {
        var batcher = CreateTinyMean(TimeProvider.System, maxBatch: 5, delay: TimeSpan.FromMilliseconds(1));
        var (inputs, expected) = Fixtures.Parity(Fixtures.PathOf("tiny-mean.parity.json"));
        var samples = Enumerable.Range(0, 23).Select(i => inputs[i % inputs.Length]).ToArray();
        var sink = new RecordingSink(samples.Length);
        await EnqueueAllAsync(batcher, samples, sink);

        await sink.Done.WaitAsync(s_timeout);
        Assert.Equal(Enumerable.Range(0, samples.Length), sink.Results.Select(r => r.Slot));
        var actual = sink.Results.Select(r => new[] { r.Down, r.Flat, r.Up }).ToArray();
        OnnxSessionTests.AssertClose(Enumerable.Range(0, samples.Length).Select(i => expected[i % expected.Length]).ToArray(), actual, 1e-5f);
        Assert.Equal(samples.Length, Volatile.Read(ref _delivered));
        await StopAsync(batcher);
    }

    [Fact]
    public async Task AFullQueueMakesTheProducerWaitAndNothingIsDropped()
    {
        using var gate = new ManualResetEventSlim(false);
        var batcher = CreateTinyMean(new ManualTimeProvider(), maxBatch: 2, delay: TimeSpan.FromHours(1), queueCapacity: 4);
        Assert.Equal(4, batcher.Capacity);
        var held = new RecordingSink(2) { Gate = gate }; // holds the first batch "running"
        var rest = new RecordingSink(4);

        EnqueueSamples(batcher, held, 2);

        EnqueueSamples(batcher, rest, 2);

        var fifth = new ArrayRowWriter(Sample(5));
        Assert.False(batcher.TryEnqueue(ref fifth, rest, 2), "both buffers are taken: the producer must wait");
        var space = batcher.WaitForSpaceAsync(CancellationToken.None).AsTask();
        Assert.False(space.IsCompleted);

        gate.Set();
        await space.WaitAsync(s_timeout);
        Assert.True(batcher.TryEnqueue(ref fifth, rest, 2));
        var sixth = new ArrayRowWriter(Sample(6));
        while (!batcher.TryEnqueue(ref sixth, rest, 3))
        {
            await batcher.WaitForSpaceAsync(CancellationToken.None).AsTask().WaitAsync(s_timeout);
        }

        await held.Done.WaitAsync(s_timeout);
        await rest.Done.WaitAsync(s_timeout);
        Assert.Equal(6, Volatile.Read(ref _delivered));
        await StopAsync(batcher);
    }

    [Fact]
    public async Task StopRunsWhatIsQueuedWithoutWaitingForTheDelay()
    {
        var batcher = CreateTinyMean(new ManualTimeProvider(), maxBatch: 8, delay: TimeSpan.FromHours(1));
        var sink = new RecordingSink(2);
        EnqueueSamples(batcher, sink, 2);

        batcher.Stop();

        await sink.Done.WaitAsync(s_timeout);
        await batcher.Completion.WaitAsync(s_timeout);
        Assert.Equal(2, sink.Results.Count);
        var late = new ArrayRowWriter(Sample(3));
        Assert.Throws<ObjectDisposedException>(() => batcher.TryEnqueue(ref late, sink, 3));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(512)]
    public async Task ASteadyStateBatchAllocatesNothingOnTheWorkerThatRunsIt(int rows)
    {
        // The bundled patchtst-direction model with four batch buffers of `rows` rows, metrics listened to as /metrics does.
        using var listener = ListenTo(_meters);
        var (manifest, bytes) = Bundled("patchtst-direction");
        var (window, features) = (manifest.GetProperty("window").GetInt32(), manifest.GetProperty("features").GetArrayLength());
        var probe = new AllocationProbe(8);
        using var gate = new ManualResetEventSlim(false);
        var sink = new HoldingSink(4 * rows, gate);
        var batcher = new ModelBatcher(OnnxSession.Create(bytes, new OnnxSessionSettings(1)), "patchtst-direction", window, features,
            maxBatchSize: rows, TimeSpan.FromHours(1), queueCapacity: 4 * rows, new ManualTimeProvider(), _metrics, NullLogger.Instance,
            probe.OnBatchDelivered);
        var input = Samples.Flatten(Fixtures.Parity(Path.Combine(Fixtures.RepositoryModels, manifest.GetProperty("parity").GetString()!)).Inputs[0]);

        // Round 1 warms up: the first batch is held while three more fill, so each of the four buffers runs once at this
        // row count and has its binding. Round 2 repeats it; released, the worker runs the queued batches back to back.
        for (var round = 0; round < 2; round++)
        {
            gate.Reset();
            sink.HoldAtSlot = 0;
            for (var i = 0; i < 4 * rows; i++)
            {
                var writer = new ArrayRowWriter(input);
                Assert.True(batcher.TryEnqueue(ref writer, sink, i), "four batches fit in the queue");
            }

            gate.Set();
            await WaitUntilAsync(() => probe.Count == 4 * (round + 1));
        }

        // Between one batch's end and the next's: recycle, dequeue, one ORT run, the metrics and every row's delivery.
        // Round 2's second and third batches are measured (its first was held, its last signals the test).
        probe.AssertNothingAllocatedBy(5, 6);
        Assert.Equal(1f, sink.Sum(4 * rows - 1), 1e-4f);
        await StopAsync(batcher);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    public async Task ASteadyStateRecurrentBatchAllocatesNothingOnTheWorkerThatRunsIt(int rows)
    {
        // The bundled lstm-direction (recurrent), four batches of `rows` streams a round: round 1 rebuilds every
        // stream's chains from its rows, rounds 2 and 3 step them (gather, run, scatter).
        using var listener = ListenTo(_meters);
        var (manifest, bytes) = Bundled("lstm-direction");
        var spec = manifest.GetProperty("recurrent");
        var recurrence = new Recurrence(spec.GetProperty("chain").GetInt32(), spec.GetProperty("stateWidth").GetInt32(),
            spec.GetProperty("stateInput").GetString()!, spec.GetProperty("stateOutput").GetString()!);
        Assert.True(FeatureCatalog.TryResolve(manifest.GetProperty("features").EnumerateArray().Select(f => f.GetString()!).ToArray(), out var indices, out _));
        var streams = 4 * rows;
        var history = FeatureCatalog.WarmupCandles + recurrence.RowsKept;
        var candles = MarketSimulator.GenerateClosed(Enumerable.Range(0, streams).Select(i => $"S{i:D3}USDT").ToArray(), [Timeframe.OneMinute], history + 3)
            .GroupBy(c => c.Stream).Select(g => g.ToArray()).ToArray();
        var features = candles.Select(_ => new StreamFeatureState(recurrence.RowsKept)).ToArray();
        var chains = candles.Select(_ => new StreamChain(recurrence.StateWidth)).ToArray();
        for (var s = 0; s < streams; s++)
        {
            foreach (var candle in candles[s].AsSpan(0, history))
            {
                features[s].Update(candle);
            }
        }

        var probe = new AllocationProbe(12);
        using var gate = new ManualResetEventSlim(false);
        var sink = new HoldingSink(streams, gate);
        var batcher = new ModelBatcher(OnnxSession.Create(bytes, new OnnxSessionSettings(1)), "lstm-direction", 1, indices.Length,
            maxBatchSize: rows, TimeSpan.FromHours(1), queueCapacity: streams, new ManualTimeProvider(), _metrics, NullLogger.Instance,
            probe.OnBatchDelivered, recurrence: recurrence);
        var queued = new long[3];
        for (var round = 0; round < 3; round++)
        {
            gate.Reset();
            sink.HoldAtSlot = 0;
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var s = 0; s < streams; s++)
            {
                features[s].Update(candles[s][history + round]);
                var request = chains[s].Next(features[s], indices, recurrence);
                if (request.Rebuild != (round == 0) || !batcher.TryEnqueue(in request, sink, s))
                {
                    Assert.Fail($"round {round}, stream {s}: rebuild {request.Rebuild}, or the queue was full");
                }
            }

            queued[round] = GC.GetAllocatedBytesForCurrentThread() - before;

            gate.Set();
            await WaitUntilAsync(() => probe.Count == 4 * (round + 1));
        }

        probe.AssertNothingAllocatedBy(9, 10);
        // The reader's side too: features, the plan and the queueing of a step (the second round's wake-ups may still
        // allocate a continuation once: 32 bytes seen).
        Assert.Equal(0, queued[2]);
        Assert.Equal(1f, sink.Sum(streams - 1), 1e-4f);
        await StopAsync(batcher);
    }

    [Fact]
    public async Task AShadowModelsBatchWaitsUntilNoLiveModelsRequestIsQueuedOrRunning()
    {
        var time = new ManualTimeProvider(); // never advanced: full batches only
        var liveFirst = new LiveFirst();
        var live = CreateTinyMean(time, maxBatch: 4, delay: TimeSpan.FromHours(1), liveFirst: liveFirst);
        var shadow = CreateTinyMean(time, maxBatch: 4, delay: TimeSpan.FromHours(1), liveFirst: liveFirst, isShadow: true);
        using var gate = new ManualResetEventSlim(false);
        var liveSink = new HoldingSink(4, gate) { HoldAtSlot = 0 };
        var shadowSink = new RecordingSink(4);

        // The live batch runs and is held in its delivery; the shadow batch is full, and waits.
        EnqueueSamples(live, liveSink, 4);

        EnqueueSamples(shadow, shadowSink, 4);

        await Task.Delay(200);
        Assert.False(shadowSink.Done.IsCompleted, "the shadow batch ran while a live one was running");
        Assert.Equal(4, liveFirst.InFlight);

        gate.Set();
        await shadowSink.Done.WaitAsync(s_timeout);
        Assert.Equal(0, liveFirst.InFlight);
        await StopAsync(live);
        await StopAsync(shadow);
    }

    [Fact]
    public async Task WithTwoWorkersAFullBatchRunsWhileTheOneBeforeItIsStillRunning()
    {
        var time = new ManualTimeProvider(); // never advanced: full batches only
        var batcher = CreateTinyMean(time, maxBatch: 4, delay: TimeSpan.FromHours(1), workers: 2);
        using var gate = new ManualResetEventSlim(false);
        var held = new HoldingSink(4, gate) { HoldAtSlot = 0 };
        var second = new RecordingSink(4);

        EnqueueSamples(batcher, held, 4);

        await WaitUntilAsync(() => held.Entered);
        for (var i = 0; i < 4; i++)
        {
            var writer = new ArrayRowWriter(Sample(i + 4));
            Assert.True(batcher.TryEnqueue(ref writer, second, i));
        }

        // One worker would hold the second batch behind the first until the gate opens (or its wait times out).
        await second.Done.WaitAsync(s_timeout);
        Assert.False(held.Released, "the second batch ran only after the first was let go");
        gate.Set();
        await WaitUntilAsync(() => Volatile.Read(ref _delivered) == 8);
        Assert.Equal(2, _metrics.Batches);
        await StopAsync(batcher);
    }

    [Fact]
    public async Task WithTwoWorkersEveryRequestGetsItsOwnResultAndStopRunsEverythingQueued()
    {
        var batcher = CreateTinyMean(new ManualTimeProvider(), maxBatch: 5, delay: TimeSpan.FromHours(1), workers: 2);
        var (inputs, expected) = Fixtures.Parity(Fixtures.PathOf("tiny-mean.parity.json"));
        var samples = Enumerable.Range(0, 23).Select(i => inputs[i % inputs.Length]).ToArray();
        var sink = new RecordingSink(samples.Length);
        await EnqueueAllAsync(batcher, samples, sink);

        // The last 3 requests are a partial batch that only Stop (the delay is an hour) makes due.
        await StopAsync(batcher);
        await sink.Done.WaitAsync(s_timeout);
        var bySlot = sink.Results.OrderBy(r => r.Slot).ToArray();
        Assert.Equal(Enumerable.Range(0, samples.Length), bySlot.Select(r => r.Slot));
        OnnxSessionTests.AssertClose(Enumerable.Range(0, samples.Length).Select(i => expected[i % expected.Length]).ToArray(),
            bySlot.Select(r => new[] { r.Down, r.Flat, r.Up }).ToArray(), 1e-5f);
        Assert.Equal(samples.Length, Volatile.Read(ref _delivered));
    }

    private ModelBatcher CreateTinyMean(TimeProvider time, int maxBatch, TimeSpan delay, int queueCapacity = 64, LiveFirst? liveFirst = null, bool isShadow = false, int workers = 1) =>
        new(
            OnnxSession.Create(Fixtures.Bytes("tiny-mean.onnx"), new OnnxSessionSettings(1)),
            "tiny-mean",
            window: 4,
            features: 2,
            maxBatch,
            delay,
            queueCapacity,
            time,
            _metrics,
            NullLogger.Instance,
            rows => Interlocked.Add(ref _delivered, rows),
            liveFirst,
            isShadow,
            workers);

    /// <summary>Queues every sample (slot = its index), waiting for space whenever the queue is full.</summary>
    private static async Task EnqueueAllAsync(ModelBatcher batcher, float[][][] samples, RecordingSink sink)
    {
        for (var i = 0; i < samples.Length; i++)
        {
            var writer = new ArrayRowWriter(Samples.Flatten(samples[i]));
            while (!batcher.TryEnqueue(ref writer, sink, i))
            {
                await batcher.WaitForSpaceAsync(CancellationToken.None).AsTask().WaitAsync(s_timeout);
            }
        }
    }

    private static float[] Sample(int seed) => Enumerable.Range(0, 8).Select(i => (float)Math.Sin(seed + i)).ToArray();

    /// <summary>Queues samples 0 … count − 1 to slots 0 … count − 1 of <paramref name="sink"/>; each must be accepted.</summary>
    private static void EnqueueSamples(ModelBatcher batcher, IPredictionSink sink, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var writer = new ArrayRowWriter(Sample(i));
            Assert.True(batcher.TryEnqueue(ref writer, sink, i));
        }
    }

    private static async Task StopAsync(ModelBatcher batcher)
    {
        batcher.Stop();
        await batcher.Completion.WaitAsync(s_timeout);
    }

    private static Task WaitUntilAsync(Func<bool> condition) => Poll.UntilAsync(condition, s_timeout, "the batches", interval: TimeSpan.FromMilliseconds(5));

    /// <summary>Enables every instrument of <paramref name="meters"/> with callbacks that keep nothing.</summary>
    private static MeterListener ListenTo(TestMeterFactory meters)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == meters)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<int>(static (_, _, _, _) => { });
        listener.SetMeasurementEventCallback<long>(static (_, _, _, _) => { });
        listener.SetMeasurementEventCallback<double>(static (_, _, _, _) => { });
        listener.Start();
        return listener;
    }

    /// <summary>A bundled model's manifest and the bytes of its graph.</summary>
    private static (JsonElement Manifest, byte[] Graph) Bundled(string name)
    {
        var manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Fixtures.RepositoryModels, name + ".manifest.json"))).RootElement;
        return (manifest, File.ReadAllBytes(Path.Combine(Fixtures.RepositoryModels, manifest.GetProperty("file").GetString()!)));
    }

    /// <summary>The batcher's after-batch callback: which thread ran each batch and its allocation counter then.</summary>
    private sealed class AllocationProbe(int capacity)
    {
        /// <summary>Batches <paramref name="first"/> to <paramref name="last"/> ran on the thread of the batch before them,
        /// back to back, and allocated nothing from the end of that batch to the end of theirs.</summary>
        public void AssertNothingAllocatedBy(int first, int last)
        {
            for (var i = first; i <= last; i++)
            {
                Assert.True(Threads[i] == Threads[i - 1], "the measured batches ran back to back on one thread");
                Assert.Equal(0, Bytes[i] - Bytes[i - 1]);
            }
        }

        public int[] Threads { get; } = new int[capacity];

        public long[] Bytes { get; } = new long[capacity];

        public int Count => Volatile.Read(ref _count);

        private int _count;

        public void OnBatchDelivered(int rows)
        {
            var i = _count;
            if (i < Threads.Length)
            {
                Threads[i] = Environment.CurrentManagedThreadId;
                Bytes[i] = GC.GetAllocatedBytesForCurrentThread();
            }

            Volatile.Write(ref _count, i + 1);
        }
    }

    /// <summary>Keeps each slot's probabilities in a preallocated array and can hold the worker at one slot.</summary>
    private sealed class HoldingSink(int slots, ManualResetEventSlim gate) : IPredictionSink
    {
        private readonly float[] _probabilities = new float[slots * 3];

        public int HoldAtSlot { get; set; } = -1;

        public float Sum(int slot) => _probabilities[slot * 3] + _probabilities[(slot * 3) + 1] + _probabilities[(slot * 3) + 2];

        /// <summary>Whether the worker has reached the held slot.</summary>
        public bool Entered => Volatile.Read(ref _entered);

        /// <summary>Whether the worker has gone on past the held slot.</summary>
        public bool Released => Volatile.Read(ref _released);

        private bool _entered;
        private bool _released;

        public void OnPrediction(int slot, float down, float flat, float up)
        {
            if (slot == HoldAtSlot)
            {
                Volatile.Write(ref _entered, true);
                gate.Wait(s_timeout);
                Volatile.Write(ref _released, true);
            }

            _probabilities[slot * 3] = down;
            _probabilities[(slot * 3) + 1] = flat;
            _probabilities[(slot * 3) + 2] = up;
        }

        public void OnFailed(int slot) => throw new InvalidOperationException($"slot {slot} failed");
    }
}
