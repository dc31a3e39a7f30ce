using System.Text.Json.Nodes;
using SignalStream.Contracts;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Inference.Internal;

namespace SignalStream.Engine.Tests.Inference;

public sealed class ModelRegistryTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(20);
    private readonly TestMeterFactory _meters = new();
    private readonly InferenceMetrics _metrics;
    private readonly ModelFolder _folder = new();

    public ModelRegistryTests() => _metrics = new InferenceMetrics(_meters);

    public void Dispose()
    {
        _folder.Dispose();
        _meters.Dispose();
    }

    [Fact]
    public async Task ValidModelsLoadAndServeTheTimeframesTheirManifestsName()
    {
        _folder.Add("mean", "tiny-mean", ["1m", "5m"]);
        _folder.Add("lstm", "tiny-lstm", ["5m", "1h"], family: "patchtst");
        await using var registry = _folder.CreateRegistry(_metrics);

        await registry.StartAsync(CancellationToken.None);

        var set = registry.Current;
        Assert.Equal(["lstm", "mean"], set.Models.Select(m => m.Name).Order());
        Assert.Equal(["mean"], set.For(Timeframe.OneMinute).Select(m => m.Name));
        Assert.Equal(["lstm", "mean"], set.For(Timeframe.FiveMinutes).Select(m => m.Name).Order());
        Assert.Empty(set.For(Timeframe.FourHours));
        Assert.Equal(6, set.MaxWindow);
        Assert.All(registry.GetModels(), m => Assert.Equal("active", m.Status));
        Assert.All(registry.GetModels(), m => Assert.Null(m.Recurrence));
        Assert.Equal(2, _metrics.LoadedModels);
    }

    [Fact]
    public async Task ARecurrentModelLoadsWithItsChainAndTheRowsItsStreamsKeep()
    {
        _folder.Add("rec", ModelFolder.RecurrentFixture, edit: ModelFolder.Recurrent);
        await using var registry = _folder.CreateRegistry(_metrics);

        await registry.StartAsync(CancellationToken.None);

        var model = Assert.Single(registry.Current.Models);
        Assert.Equal(new Recurrence(32, 64, "state", "state_out"), model.Recurrence);
        Assert.Equal(1, model.Window);
        Assert.Equal(65, registry.Current.MaxWindow);
        Assert.Equal(new ModelRecurrence(32, 64), Assert.Single(registry.GetModels()).Recurrence);
    }

    public static TheoryData<string, string> BadModels => new()
    {
        { "missing-file", "does not exist" },
        { "wrong-sha256", "sha256" },
        { "wrong-input-shape", "shape [-1, 5, 2] but the manifest says [-1, 4, 2]" },
        { "unknown-feature", "feature 'no_such_feature' is not computed by the engine" },
        { "corrupt-bytes", "ONNX Runtime cannot load" },
        { "wrong-labels", "[down, flat, up]" },
        { "fixed-batch-axis", "input.shape is [1, 4, 2]" },
        { "bad-timeframe", "timeframe '2x'" },
        { "zero-window", "window is 0" },
        { "not-json", "not valid JSON" },
        { "recurrent-zero-chain", "recurrent.chain is 0" },
        { "recurrent-odd-state", "recurrent.stateWidth is 62" },
        { "recurrent-window", "window is 4; a recurrent model steps one row at a time" },
        { "recurrent-state-name", "the ONNX model has no input named 'hidden'" },
        { "recurrent-state-width", "'state' has shape [-1, 64] but the manifest says [-1, 128]" },
        { "recurrent-windowed-graph", "the ONNX model has 1 inputs (features); the engine needs exactly 2 (features, state)" },
        { "windowed-recurrent-graph", "the ONNX model has 2 inputs (features, state); the engine needs exactly one" },
    };

    [Theory]
    [MemberData(nameof(BadModels))]
    public async Task ABadModelIsReportedByNameWithItsProblemWhileTheOtherModelsServe(string badCase, string expectedProblem)
    {
        _folder.Add("good", "tiny-mean");
        AddBadModel(badCase);
        await using var registry = _folder.CreateRegistry(_metrics);

        await registry.StartAsync(CancellationToken.None);

        var failed = Assert.Single(registry.GetModels(), m => m.Status == "failed");
        Assert.Equal(badCase, failed.Name);
        Assert.Contains(expectedProblem, failed.Error, StringComparison.Ordinal);
        var good = Assert.Single(registry.Current.Models);
        Assert.Equal("good", good.Name);

        // And the good one still answers.
        var sink = new RecordingSink(1);
        Assert.True(good.TryAcquire());
        var writer = new ArrayRowWriter([0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f]);
        Assert.True(good.Batcher.TryEnqueue(ref writer, sink, 0));
        await sink.Done.WaitAsync(s_timeout);
        var (_, down, flat, up) = Assert.Single(sink.Results);
        Assert.Equal(1f, down + flat + up, 1e-5f);
    }

    [Fact]
    public async Task AReloadSwapsInTheNewVersionWhileTheOldSessionFinishesItsBatchInFlight()
    {
        var manifest = _folder.Add("model", "tiny-mean", version: "1.0.0");
        await using var registry = _folder.CreateRegistry(_metrics);
        await registry.StartAsync(CancellationToken.None);
        var old = Assert.Single(registry.Current.Models);

        using var gate = new ManualResetEventSlim(false);
        var held = new RecordingSink(1) { Gate = gate };
        Assert.True(old.TryAcquire());
        var writer = new ArrayRowWriter(new float[8]);
        Assert.True(old.Batcher.TryEnqueue(ref writer, held, 0));

        File.Delete(manifest);
        _folder.Add("model", "tiny-mean", version: "2.0.0");
        registry.Reload();

        var current = Assert.Single(registry.Current.Models);
        Assert.Equal("2.0.0", current.Version);
        Assert.False(old.Batcher.Completion.IsCompleted, "the old session stays while its batch is in flight");

        gate.Set();
        await held.Done.WaitAsync(s_timeout);
        await old.Batcher.Completion.WaitAsync(s_timeout);
        Assert.Single(held.Results);
        Assert.False(old.TryAcquire(), "a retired, drained model takes no new requests");
    }

    [Fact]
    public async Task AnUnchangedFolderKeepsTheSameModelInstancesOnRescan()
    {
        _folder.Add("model", "tiny-mean");
        await using var registry = _folder.CreateRegistry(_metrics);
        await registry.StartAsync(CancellationToken.None);
        var before = registry.Current;

        registry.Reload();

        Assert.Same(before, registry.Current);
    }

    [Fact]
    public async Task TheWatcherLoadsAModelCopiedInWhileRunning()
    {
        _folder.Add("first", "tiny-mean");
        var options = new InferenceOptions { MaxBatchSize = 8, QueueCapacity = 64, ReloadDebounceMilliseconds = 50 };
        await using var registry = _folder.CreateRegistry(_metrics, options);
        await registry.StartAsync(CancellationToken.None);
        var swapped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        registry.Swapped += set =>
        {
            if (set.Models.Any(m => m.Name == "second"))
            {
                swapped.TrySetResult();
            }
        };

        _folder.Add("second", "tiny-lstm");

        await swapped.Task.WaitAsync(s_timeout);
        Assert.Equal(["first", "second"], registry.Current.Models.Select(m => m.Name).Order());
    }

    [Fact]
    public async Task StoppingReleasesEverySession()
    {
        _folder.Add("a", "tiny-mean");
        _folder.Add("b", "tiny-lstm");
        var registry = _folder.CreateRegistry(_metrics);
        await registry.StartAsync(CancellationToken.None);
        var models = registry.Current.Models;

        await registry.StopAsync(CancellationToken.None).WaitAsync(s_timeout);

        Assert.All(models, m => Assert.True(m.Batcher.Completion.IsCompleted));
        Assert.Empty(registry.Current.Models);
        await registry.DisposeAsync();
    }

    private void AddRecurrent(string name, Action<JsonObject> edit) =>
        _folder.Add(name, ModelFolder.RecurrentFixture, edit: (m, file) =>
        {
            ModelFolder.Recurrent(m, file);
            edit(m);
        });

    private void AddBadModel(string badCase)
    {
        switch (badCase)
        {
            case "missing-file":
                _folder.Add(badCase, edit: (m, file) => File.Delete(file));
                break;
            case "wrong-sha256":
                _folder.Add(badCase, edit: (m, _) => m["sha256"] = new string('0', 64));
                break;
            case "wrong-input-shape":
                // The file is the window-5 model; the manifest still says window 4.
                _folder.Add(badCase, modelBytes: Fixtures.Bytes("tiny-mean-5.onnx"));
                break;
            case "unknown-feature":
                _folder.Add(badCase, edit: (m, _) => m["features"]!.AsArray()[1] = "no_such_feature");
                break;
            case "corrupt-bytes":
                // Garbage with a matching hash: only ONNX Runtime can tell.
                _folder.Add(badCase, modelBytes: Enumerable.Range(0, 300).Select(i => (byte)(i * 7)).ToArray());
                break;
            case "wrong-labels":
                _folder.Add(badCase, edit: (m, _) => m["output"]!["labels"] = new JsonArray("up", "flat", "down"));
                break;
            case "fixed-batch-axis":
                _folder.Add(badCase, edit: (m, _) => m["input"]!["shape"] = new JsonArray(1, 4, 2));
                break;
            case "bad-timeframe":
                _folder.Add(badCase, timeframes: ["1m", "2x"]);
                break;
            case "zero-window":
                _folder.Add(badCase, edit: (m, _) => m["window"] = 0);
                break;
            case "recurrent-zero-chain":
                AddRecurrent(badCase, m => m["recurrent"]!["chain"] = 0);
                break;
            case "recurrent-odd-state":
                AddRecurrent(badCase, m => m["recurrent"]!["stateWidth"] = 62);
                break;
            case "recurrent-window":
                _folder.Add(badCase, edit: (m, file) => ModelFolder.Recurrent(m, file));
                break;
            case "recurrent-state-name":
                AddRecurrent(badCase, m => m["recurrent"]!["stateInput"] = "hidden");
                break;
            case "recurrent-state-width":
                AddRecurrent(badCase, m => m["recurrent"]!["stateWidth"] = 128);
                break;
            case "recurrent-windowed-graph":
                // A windowed model's graph (one input) declared recurrent, its window made 1 to pass the manifest's checks.
                _folder.Add(badCase, edit: (m, file) =>
                {
                    ModelFolder.Recurrent(m, file);
                    m["window"] = 1;
                    m["input"]!["shape"] = new JsonArray(-1, 1, 2);
                });
                break;
            case "windowed-recurrent-graph":
                _folder.Add(badCase, ModelFolder.RecurrentFixture);
                break;
            case "not-json":
                var path = _folder.Add(badCase);
                File.WriteAllText(path, "{ \"name\": ");
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(badCase));
        }
    }
}
