using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Engine.Inference.Internal;
using SignalStream.Engine.Inference.Onnx;

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

        for (var i = 0; i < 4; i++)
        {
            var writer = new ArrayRowWriter(Sample(i));
            Assert.True(batcher.TryEnqueue(ref writer, sink, i));
        }

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
        for (var i = 0; i < 3; i++)
        {
            var writer = new ArrayRowWriter(Sample(i));
            Assert.True(batcher.TryEnqueue(ref writer, sink, i));
        }

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
    public async Task FlushRunsAPartialBatchWithoutWaitingForTheQueueDelay()
    {
        var time = new ManualTimeProvider(); // never advanced: only the flush can trigger the run
        var batcher = CreateTinyMean(time, maxBatch: 8, delay: TimeSpan.FromHours(1));
        var sink = new RecordingSink(3);
        for (var i = 0; i < 3; i++)
        {
            var writer = new ArrayRowWriter(Sample(i));
            Assert.True(batcher.TryEnqueue(ref writer, sink, i));
        }

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

        for (var i = 0; i < samples.Length; i++)
        {
            var writer = new ArrayRowWriter(Samples.Flatten(samples[i]));
            while (!batcher.TryEnqueue(ref writer, sink, i))
            {
                await batcher.WaitForSpaceAsync(CancellationToken.None).AsTask().WaitAsync(s_timeout);
            }
        }

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

        for (var i = 0; i < 2; i++)
        {
            var writer = new ArrayRowWriter(Sample(i));
            Assert.True(batcher.TryEnqueue(ref writer, held, i));
        }

        for (var i = 0; i < 2; i++)
        {
            var writer = new ArrayRowWriter(Sample(i));
            Assert.True(batcher.TryEnqueue(ref writer, rest, i));
        }

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
        for (var i = 0; i < 2; i++)
        {
            var writer = new ArrayRowWriter(Sample(i));
            Assert.True(batcher.TryEnqueue(ref writer, sink, i));
        }

        batcher.Stop();

        await sink.Done.WaitAsync(s_timeout);
        await batcher.Completion.WaitAsync(s_timeout);
        Assert.Equal(2, sink.Results.Count);
        var late = new ArrayRowWriter(Sample(3));
        Assert.Throws<ObjectDisposedException>(() => batcher.TryEnqueue(ref late, sink, 3));
    }

    private ModelBatcher CreateTinyMean(TimeProvider time, int maxBatch, TimeSpan delay, int queueCapacity = 64) =>
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
            rows => Interlocked.Add(ref _delivered, rows));

    private static float[] Sample(int seed) => Enumerable.Range(0, 8).Select(i => (float)Math.Sin(seed + i)).ToArray();

    private static async Task StopAsync(ModelBatcher batcher)
    {
        batcher.Stop();
        await batcher.Completion.WaitAsync(s_timeout);
    }
}
