using System.Text.Json;
using System.Text.Json.Serialization;

namespace SignalStream.Engine.Inference.Internal;

/// <summary>A model manifest (<c>models/&lt;name&gt;.manifest.json</c>) as written by the training pipeline; see docs/inference.md.</summary>
internal sealed class ModelManifest
{
    public string? Name { get; set; }

    public string? Version { get; set; }

    /// <summary><c>lstm</c> or <c>patchtst</c>.</summary>
    public string? Family { get; set; }

    /// <summary><c>active</c> or <c>shadow</c>.</summary>
    public string? Status { get; set; }

    public double Weight { get; set; } = 1;

    /// <summary>The ONNX file, relative to the manifest's folder.</summary>
    public string? File { get; set; }

    public string? Sha256 { get; set; }

    public TensorSpec? Input { get; set; }

    public TensorSpec? Output { get; set; }

    public List<string>? Features { get; set; }

    public int Window { get; set; }

    public List<string>? Timeframes { get; set; }

    public ManifestMetrics? Metrics { get; set; }

    /// <summary>Present when the model carries its state per stream instead of reading a window (docs/inference.md, "Recurrent models").</summary>
    public RecurrentSpec? Recurrent { get; set; }

    /// <summary>PyTorch parity vectors, relative to the manifest's folder (checked by the tests, not at load).</summary>
    public string? Parity { get; set; }

    internal sealed class TensorSpec
    {
        public string? Name { get; set; }

        public string? Type { get; set; }

        public List<long>? Shape { get; set; }

        public List<string>? Labels { get; set; }
    }

    internal sealed class RecurrentSpec
    {
        /// <summary>Chain length L: a prediction reads the chain anchored at L·(⌊bar/L⌋ − 1).</summary>
        public int Chain { get; set; }

        /// <summary>Floats of state per stream: old h, old c, young h, young c.</summary>
        public int StateWidth { get; set; }

        public string? StateInput { get; set; }

        public string? StateOutput { get; set; }
    }

    internal sealed class ManifestMetrics
    {
        public double? HoldoutAccuracy { get; set; }

        public double? BrierScore { get; set; }
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    PropertyNameCaseInsensitive = true,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    NumberHandling = JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(ModelManifest))]
internal sealed partial class ManifestJsonContext : JsonSerializerContext;
