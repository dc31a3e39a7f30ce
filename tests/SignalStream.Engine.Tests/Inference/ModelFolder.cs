using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Engine.Features;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Inference.Internal;

namespace SignalStream.Engine.Tests.Inference;

/// <summary>A temporary models folder: fixture ONNX files with manifests written the way the training pipeline writes them.</summary>
internal sealed class ModelFolder : IDisposable
{
    public ModelFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "signalstream-models-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    /// <summary>tiny-mean: window 4, 2 features. tiny-lstm: window 6, 3 features. tiny-mean-5: window 5, 2 features.</summary>
    public static (int Window, int Features) ShapeOf(string fixture) => fixture switch
    {
        "tiny-mean" => (4, 2),
        "tiny-mean-5" => (5, 2),
        "tiny-lstm" => (6, 3),
        "bench-mlp" => (64, 16),
        RecurrentFixture => (1, 22),
        "recurrent-sum" => (1, 2),
        _ => throw new ArgumentOutOfRangeException(nameof(fixture)),
    };

    /// <summary>The recurrent lstm-direction 1.4.0-r32's serving step (models/train/recurrent.py): 22 features, chain 32, 16 units.</summary>
    public const string RecurrentFixture = "lstm-direction-1.4.0-r32-step";

    /// <summary>The same model as one LSTM operator over T rows: what a prediction is defined as, to check the engine against.</summary>
    public const string RecurrentReference = "lstm-direction-1.4.0-r32";

    /// <summary>Adds the recurrent fixture's manifest section (chain 32, state 64): use as <c>Add(..., RecurrentFixture, edit: Recurrent)</c>.</summary>
    public static void Recurrent(JsonObject manifest, string file) =>
        manifest["recurrent"] = new JsonObject { ["chain"] = 32, ["stateWidth"] = 64, ["stateInput"] = "state", ["stateOutput"] = "state_out" };

    /// <summary>Copies <paramref name="fixture"/>.onnx as <paramref name="name"/>-1.0.0.onnx and writes a valid manifest, then lets <paramref name="edit"/> break it.</summary>
    public string Add(string name, string fixture = "tiny-mean", string[]? timeframes = null, string family = "lstm", string version = "1.0.0",
        Action<JsonObject, string>? edit = null, byte[]? modelBytes = null)
    {
        var (window, features) = ShapeOf(fixture);
        var file = $"{name}-{version}.onnx";
        var bytes = modelBytes ?? Fixtures.Bytes(fixture + ".onnx");
        File.WriteAllBytes(System.IO.Path.Combine(Path, file), bytes);
        var manifest = new JsonObject
        {
            ["name"] = name,
            ["version"] = version,
            ["family"] = family,
            ["status"] = "active",
            ["weight"] = 0.6,
            ["file"] = file,
            ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(bytes)),
            ["input"] = new JsonObject { ["name"] = "features", ["type"] = "float32", ["shape"] = new JsonArray(-1, window, features) },
            ["output"] = new JsonObject
            {
                ["name"] = "probabilities", ["type"] = "float32", ["shape"] = new JsonArray(-1, 3),
                ["labels"] = new JsonArray("down", "flat", "up"),
            },
            ["features"] = new JsonArray(FeatureCatalog.Names.Take(features).Select(n => (JsonNode)JsonValue.Create(n)!).ToArray()),
            ["window"] = window,
            ["timeframes"] = new JsonArray((timeframes ?? ["1m", "5m"]).Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
            ["metrics"] = new JsonObject { ["holdoutAccuracy"] = 0.41, ["brierScore"] = 0.62 },
        };
        edit?.Invoke(manifest, System.IO.Path.Combine(Path, file));
        var manifestPath = System.IO.Path.Combine(Path, name + ".manifest.json");
        File.WriteAllText(manifestPath, manifest.ToJsonString());
        return manifestPath;
    }

    public ModelRegistry CreateRegistry(InferenceMetrics metrics, InferenceOptions? options = null, TimeProvider? time = null)
    {
        options ??= new InferenceOptions { MaxBatchSize = 64, MaxQueueDelayMicroseconds = 200, QueueCapacity = 256 };
        options.ModelsPath = Path;
        var clock = time ?? TimeProvider.System;
        var loader = new ModelLoader(options, clock, metrics, NullLoggerFactory.Instance);
        return new ModelRegistry(options, Path, loader, metrics, clock, NullLogger<ModelRegistry>.Instance);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless; the test result does not depend on it.
        }
    }
}
