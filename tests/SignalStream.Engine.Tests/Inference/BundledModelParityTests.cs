using System.Text.Json;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Inference.Internal;
using SignalStream.Engine.Inference.Onnx;
using SignalStream.Testing;

namespace SignalStream.Engine.Tests.Inference;

/// <summary>The models shipped in the repository's models/ folder, through the same registry and bindings as serving.</summary>
public sealed class BundledModelParityTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private readonly TestMeterFactory _meters = new();

    public void Dispose() => _meters.Dispose();

    [Fact]
    public async Task EveryBundledModelLoadsAndMatchesItsPyTorchParityVectorsWithin1e5()
    {
        var folder = Fixtures.RepositoryModels;
        var manifests = Directory.Exists(folder) ? Directory.GetFiles(folder, "*.manifest.json") : [];
        var metrics = new InferenceMetrics(_meters);
        var options = new InferenceOptions { ModelsPath = folder, MaxBatchSize = 64, QueueCapacity = 256 };
        await using var registry = new ModelRegistry(options, folder,
            new ModelLoader(options, TimeProvider.System, metrics, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance),
            metrics, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<ModelRegistry>.Instance);
        await registry.StartAsync(CancellationToken.None);

        Assert.All(registry.GetModels(), m => Assert.True(m.Error is null, $"bundled model {m.Name} failed to load: {m.Error}"));
        Assert.Equal(manifests.Length, registry.Current.Models.Length);
        foreach (var manifestPath in manifests)
        {
            using var manifest = JsonDocument.Parse(File.ReadAllBytes(manifestPath));
            var name = manifest.RootElement.GetProperty("name").GetString();
            Assert.True(manifest.RootElement.TryGetProperty("parity", out var parityFile), $"{name}: the manifest names no parity file");
            var model = Assert.Single(registry.Current.Models, m => m.Name == name);
            if (model.Recurrence is not null)
            {
                // Mid-chain states from PyTorch, stepped row by row as serving steps them (the batcher's chains are
                // RecurrentModelPipelineTests'). The bytes are the ones the registry just checked against the manifest.
                var parity = RecurrentParity.Read(Path.Combine(folder, parityFile.GetString()!));
                using var session = OnnxSession.Create(File.ReadAllBytes(Path.Combine(folder, manifest.RootElement.GetProperty("file").GetString()!)),
                    new OnnxSessionSettings(1));
                var (probabilities, state) = RecurrentGraph.StepRowByRow(session, parity.Inputs, parity.State, parity);
                RecurrentStepTests.AssertClose(parity.Outputs, probabilities, name + " probabilities");
                RecurrentStepTests.AssertClose(parity.StateOut, state, name + " state_out");
                continue;
            }

            var (inputs, expected) = Fixtures.Parity(Path.Combine(folder, parityFile.GetString()!));

            // Through the batcher, as serving does: one batch of every parity sample.
            var sink = new RecordingSink(inputs.Length);
            for (var i = 0; i < inputs.Length; i++)
            {
                Assert.True(model.TryAcquire());
                var writer = new ArrayRowWriter(Samples.Flatten(inputs[i]));
                while (!model.Batcher.TryEnqueue(ref writer, sink, i))
                {
                    await model.Batcher.WaitForSpaceAsync(CancellationToken.None).AsTask().WaitAsync(s_timeout);
                }
            }

            await sink.Done.WaitAsync(s_timeout);
            var actual = sink.Results.OrderBy(r => r.Slot).Select(r => new[] { r.Down, r.Flat, r.Up }).ToArray();
            OnnxSessionTests.AssertClose(expected, actual, 1e-5f);
        }
    }

    [Theory]
    [InlineData("patchtst-direction")]
    public async Task BatchesOfVaryingRowCountsMatchThePyTorchParityVectorsRowByRow(string modelName)
    {
        // The queue delay never passes (the clock is manual): each batch runs when it is full or flushed, so it holds
        // exactly the rows queued for it. The parity samples repeat to fill a batch, each row compared with its own
        // vector. Row counts come back after others, so bindings made for one count are reused after another ran.
        int[] rowCounts = [1, 2, 7, 512, 2, 7, 1, 512];
        var folder = Fixtures.RepositoryModels;
        var metrics = new InferenceMetrics(_meters);
        var options = new InferenceOptions { ModelsPath = folder, MaxBatchSize = 512, QueueCapacity = 1024, MaxQueueDelayMicroseconds = 10_000_000 };
        var time = new ManualTimeProvider();
        await using var registry = new ModelRegistry(options, folder,
            new ModelLoader(options, time, metrics, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance),
            metrics, time, Microsoft.Extensions.Logging.Abstractions.NullLogger<ModelRegistry>.Instance);
        await registry.StartAsync(CancellationToken.None);
        var model = Assert.Single(registry.Current.Models, m => m.Name == modelName);
        var (inputs, expected) = ParityOf(folder, modelName);
        Assert.Equal(model.Window, inputs[0].Length);

        for (var batch = 0; batch < rowCounts.Length; batch++)
        {
            var rows = rowCounts[batch];
            var offset = batch; // a different sample in row 0 each time, so a stale output cannot pass
            var sink = new RecordingSink(rows);
            for (var i = 0; i < rows; i++)
            {
                Assert.True(model.TryAcquire());
                var writer = new ArrayRowWriter(Samples.Flatten(inputs[(i + offset) % inputs.Length]));
                Assert.True(model.Batcher.TryEnqueue(ref writer, sink, i), "the queue holds a full batch");
            }

            model.Batcher.Flush();
            await sink.Done.WaitAsync(s_timeout);

            Assert.True(metrics.Batches == batch + 1, $"batch {batch} of {rows} rows ran as {metrics.Batches - batch} batches");
            Assert.Equal(rowCounts[..(batch + 1)].Sum(), metrics.BatchedRows);
            Assert.Empty(sink.Failed);
            var actual = sink.Results.OrderBy(r => r.Slot).Select(r => new[] { r.Down, r.Flat, r.Up }).ToArray();
            OnnxSessionTests.AssertClose(Enumerable.Range(0, rows).Select(i => expected[(i + offset) % expected.Length]).ToArray(), actual, 1e-5f);
        }
    }

    private static (float[][][] Inputs, float[][] Outputs) ParityOf(string folder, string modelName)
    {
        foreach (var manifestPath in Directory.GetFiles(folder, "*.manifest.json"))
        {
            using var manifest = JsonDocument.Parse(File.ReadAllBytes(manifestPath));
            if (manifest.RootElement.GetProperty("name").GetString() == modelName)
            {
                return Fixtures.Parity(Path.Combine(folder, manifest.RootElement.GetProperty("parity").GetString()!));
            }
        }

        throw new InvalidOperationException($"no manifest in {folder} names model {modelName}");
    }
}
