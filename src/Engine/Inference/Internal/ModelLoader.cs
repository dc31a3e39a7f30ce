using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SignalStream.Contracts;
using SignalStream.Engine.Features;
using SignalStream.Engine.Inference.Onnx;

namespace SignalStream.Engine.Inference.Internal;

/// <summary>The outcome of loading one manifest: a serving model, or the reason it cannot serve.</summary>
internal readonly record struct ModelLoadResult(LoadedModel? Model, ModelInfo Info);

/// <summary>Reads, validates and opens one model manifest. Every expected failure is a result that names the problem.</summary>
internal sealed class ModelLoader(
    InferenceOptions options,
    TimeProvider time,
    InferenceMetrics metrics,
    ILoggerFactory loggerFactory)
{
    private static readonly string[] s_labels = ["down", "flat", "up"];

    // One for every model this loader opens, across reloads: shadow models' batches wait for the live ones.
    private readonly LiveFirst _liveFirst = new();

    public ModelLoadResult Load(string manifestPath)
    {
        var fallbackName = Path.GetFileName(manifestPath).Replace(".manifest.json", string.Empty, StringComparison.Ordinal);
        ModelManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(File.ReadAllBytes(manifestPath), ManifestJsonContext.Default.ModelManifest);
        }
        catch (JsonException ex)
        {
            return Failed(fallbackName, null, $"the manifest is not valid JSON ({ex.Message})");
        }
        catch (IOException ex)
        {
            return Failed(fallbackName, null, $"the manifest cannot be read ({ex.Message})");
        }

        if (manifest is null)
        {
            return Failed(fallbackName, null, "the manifest is empty (null)");
        }

        var name = string.IsNullOrWhiteSpace(manifest.Name) ? fallbackName : manifest.Name;
        var problems = new List<string>();
        int[] featureIndices = [];
        var timeframes = new List<Timeframe>();
        CheckManifest(manifest, problems, ref featureIndices, timeframes);
        if (problems.Count > 0)
        {
            return Failed(name, manifest, string.Join("; ", problems));
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(manifestPath))!;
        var modelPath = Path.GetFullPath(Path.Combine(folder, manifest.File!));
        if (!File.Exists(modelPath))
        {
            return Failed(name, manifest, $"the model file '{manifest.File}' does not exist (looked for {modelPath})");
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(modelPath);
        }
        catch (IOException ex)
        {
            return Failed(name, manifest, $"the model file '{manifest.File}' cannot be read ({ex.Message})");
        }

        var actualHash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (!string.Equals(actualHash, manifest.Sha256!.Trim(), StringComparison.OrdinalIgnoreCase))
        {
            return Failed(name, manifest, $"sha256 of '{manifest.File}' is {actualHash} but the manifest says {manifest.Sha256}; the file changed or the manifest is stale");
        }

        // Every way out before the batcher owns the session disposes it (the finally).
        OnnxSession? session = null;
        try
        {
            // Opened from the bytes just hashed, so the file cannot change between the check and the load.
            try
            {
                session = OnnxSession.Create(bytes, options.SessionSettings);
            }
            catch (OnnxRuntimeException ex)
            {
                return Failed(name, manifest, $"ONNX Runtime cannot load '{manifest.File}' on the {options.ExecutionProvider} execution provider: {ex.Message}");
            }

            CheckSession(manifest, session, problems);
            if (problems.Count == 0)
            {
                SmokeRun(manifest, session, problems);
            }

            if (problems.Count > 0)
            {
                return Failed(name, manifest, string.Join("; ", problems));
            }

            var info = Info(name, manifest, manifest.Status!, null);
            var model = new LoadedModel(name, manifest.Version!, manifest.Family!, manifest.Status == "shadow", manifest.Weight,
                manifest.Window, featureIndices, timeframes, info);
            try
            {
                model.Batcher = new ModelBatcher(
                    session, name, manifest.Window, featureIndices.Length, options.MaxBatchSize,
                    TimeSpan.FromTicks(options.MaxQueueDelayMicroseconds * TimeSpan.TicksPerMicrosecond), options.QueueCapacity,
                    time, metrics, loggerFactory.CreateLogger<ModelBatcher>(), model.Release, _liveFirst, model.IsShadow,
                    model.IsShadow ? 1 : options.WorkersPerLiveModel);
            }
            catch (OnnxRuntimeException ex)
            {
                return Failed(name, manifest, $"ONNX Runtime cannot bind a batch of {options.MaxBatchSize} rows: {ex.Message}");
            }

            session = null; // the batcher's now
            return new ModelLoadResult(model, info);
        }
        finally
        {
            session?.Dispose();
        }
    }

    private static void CheckManifest(ModelManifest m, List<string> problems, ref int[] featureIndices, List<Timeframe> timeframes)
    {
        Require(m.Version, "version", problems);
        Require(m.File, "file", problems);
        Require(m.Sha256, "sha256", problems);
        if (m.Family is not ("lstm" or "patchtst"))
        {
            problems.Add($"family is '{m.Family}'; use 'lstm' or 'patchtst'");
        }

        if (m.Status is not ("active" or "shadow"))
        {
            problems.Add($"status is '{m.Status}'; use 'active' or 'shadow'");
        }

        if (!double.IsFinite(m.Weight) || m.Weight < 0)
        {
            problems.Add($"weight is {m.Weight}; use a finite number >= 0");
        }

        if (m.Window <= 0)
        {
            problems.Add($"window is {m.Window}; it must be a positive number of candles");
        }

        if (m.Features is not { Count: > 0 })
        {
            problems.Add("features is missing or empty");
        }
        else if (!FeatureCatalog.TryResolve(m.Features, out featureIndices, out var unknown))
        {
            problems.Add($"feature '{unknown}' is not computed by the engine (known features: {string.Join(", ", FeatureCatalog.Names)})");
        }

        if (m.Timeframes is not { Count: > 0 })
        {
            problems.Add("timeframes is missing or empty");
        }
        else
        {
            foreach (var t in m.Timeframes)
            {
                if (Contracts.Timeframes.TryParse(t.AsSpan(), out var tf))
                {
                    timeframes.Add(tf);
                }
                else
                {
                    problems.Add($"timeframe '{t}' is not a Binance interval name ({string.Join(", ", Contracts.Timeframes.Names)})");
                }
            }
        }

        var features = m.Features?.Count ?? 0;
        CheckSpec(m.Input, "input", [-1, m.Window, features], problems);
        CheckSpec(m.Output, "output", [-1, 3], problems);
        if (m.Output is not null && (m.Output.Labels is null || !m.Output.Labels.SequenceEqual(s_labels, StringComparer.Ordinal)))
        {
            problems.Add($"output.labels is [{string.Join(", ", m.Output.Labels ?? [])}]; the engine reads [down, flat, up] in that order");
        }
    }

    private static void CheckSpec(ModelManifest.TensorSpec? spec, string what, long[] expected, List<string> problems)
    {
        if (spec is null)
        {
            problems.Add($"{what} is missing");
            return;
        }

        Require(spec.Name, what + ".name", problems);
        if (spec.Type != "float32")
        {
            problems.Add($"{what}.type is '{spec.Type}'; the engine feeds and reads float32");
        }

        var shape = spec.Shape ?? [];
        if (shape.Count != expected.Length || shape[0] >= 0 || !shape.Skip(1).SequenceEqual(expected.Skip(1)))
        {
            problems.Add($"{what}.shape is [{string.Join(", ", shape)}]; expected [{string.Join(", ", expected)}] (a dynamic batch axis, then " +
                         (what == "input" ? "window and feature count)" : "the three class probabilities)"));
        }
    }

    private static void CheckSession(ModelManifest m, OnnxSession session, List<string> problems)
    {
        CheckTensor(session.Inputs, m.Input!, "input", problems);
        CheckTensor(session.Outputs, m.Output!, "output", problems);
    }

    private static void CheckTensor(IReadOnlyList<OnnxTensorInfo> actual, ModelManifest.TensorSpec declared, string what, List<string> problems)
    {
        if (actual.Count != 1)
        {
            problems.Add($"the ONNX model has {actual.Count} {what}s ({string.Join(", ", actual.Select(a => a.Name))}); the engine needs exactly one");
            return;
        }

        var tensor = actual[0];
        if (tensor.Name != declared.Name)
        {
            problems.Add($"the ONNX model's {what} is named '{tensor.Name}' but the manifest says '{declared.Name}'");
        }

        if (!tensor.IsTensor)
        {
            problems.Add($"the ONNX model's {what} '{tensor.Name}' is a {tensor.ValueType.ToString().Replace("ONNX_TYPE_", string.Empty, StringComparison.Ordinal).ToLowerInvariant()}, not a tensor; the engine needs a float32 tensor");
            return;
        }

        if (tensor.ElementType != TensorElementType.Float)
        {
            problems.Add($"the ONNX model's {what} '{tensor.Name}' is {tensor.ElementType}, the manifest says float32");
        }

        var shape = declared.Shape!;
        var matches = tensor.Shape.Length == shape.Count && tensor.Shape[0] < 0;
        for (var i = 1; matches && i < shape.Count; i++)
        {
            // A dynamic dimension in the model accepts the manifest's concrete value.
            matches = tensor.Shape[i] < 0 || tensor.Shape[i] == shape[i];
        }

        if (!matches)
        {
            problems.Add($"the ONNX model's {what} '{tensor.Name}' has shape {tensor.ShapeText} but the manifest says [{string.Join(", ", shape)}]" +
                         (tensor.Shape.Length > 0 && tensor.Shape[0] >= 0 ? " (its batch axis must be dynamic: export with dynamic_axes)" : string.Empty));
        }
    }

    /// <summary>Runs two zero rows: proves the graph executes at this shape and yields probabilities (not logits).</summary>
    private static void SmokeRun(ModelManifest m, OnnxSession session, List<string> problems)
    {
        float[] output;
        try
        {
            output = session.Run(new float[2 * m.Window * m.Features!.Count], 2, m.Window, m.Features.Count);
        }
        catch (OnnxRuntimeException ex)
        {
            problems.Add($"a test run on zeros failed in ONNX Runtime: {ex.Message}");
            return;
        }

        for (var row = 0; row < 2; row++)
        {
            var sum = output[row * 3] + output[(row * 3) + 1] + output[(row * 3) + 2];
            if (!float.IsFinite(sum) || Math.Abs(sum - 1) > 1e-3)
            {
                problems.Add($"a test run on zeros gave outputs summing to {sum}, not 1: the model must end in a softmax over [down, flat, up]");
                return;
            }
        }
    }

    private static void Require(string? value, string field, List<string> problems)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            problems.Add($"{field} is missing");
        }
    }

    private ModelLoadResult Failed(string name, ModelManifest? m, string error)
    {
        metrics.ModelLoadFailed();
        return new ModelLoadResult(null, Info(name, m, "failed", error));
    }

    private static ModelInfo Info(string name, ModelManifest? m, string status, string? error) => new(
        name,
        m?.Version ?? string.Empty,
        m?.Family ?? string.Empty,
        status,
        m?.Weight ?? 0,
        m?.Window ?? 0,
        m?.Features?.ToArray() ?? [],
        m?.Timeframes?.ToArray() ?? [],
        m?.Sha256 ?? string.Empty,
        m?.Metrics?.HoldoutAccuracy,
        m?.Metrics?.BrierScore,
        error);
}
