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
            var recurrence = manifest.Recurrent is { } r ? new Recurrence(r.Chain, r.StateWidth, r.StateInput!, r.StateOutput!) : null;
            var model = new LoadedModel(name, manifest.Version!, manifest.Family!, manifest.Status == "shadow", manifest.Weight,
                manifest.Window, featureIndices, timeframes, info, recurrence);
            try
            {
                model.Batcher = new ModelBatcher(
                    session, name, manifest.Window, featureIndices.Length, options.MaxBatchSize,
                    TimeSpan.FromTicks(options.MaxQueueDelayMicroseconds * TimeSpan.TicksPerMicrosecond), options.QueueCapacity,
                    time, metrics, loggerFactory.CreateLogger<ModelBatcher>(), model.Release, _liveFirst, model.IsShadow,
                    model.IsShadow || recurrence is not null ? 1 : options.WorkersPerLiveModel, recurrence);
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

        if (m.Recurrent is { } recurrent)
        {
            CheckRecurrent(m, recurrent, problems);
        }

        var features = m.Features?.Count ?? 0;
        CheckSpec(m.Input, "input", [-1, m.Window, features], problems);
        CheckSpec(m.Output, "output", [-1, 3], problems);
        if (m.Output is not null && (m.Output.Labels is null || !m.Output.Labels.SequenceEqual(s_labels, StringComparer.Ordinal)))
        {
            problems.Add($"output.labels is [{string.Join(", ", m.Output.Labels ?? [])}]; the engine reads [down, flat, up] in that order");
        }
    }

    // Bounds what one stream keeps for a model: 2L + 1 feature rows and the state.
    private const int MaxChain = 256;
    private const int MaxStateWidth = 4096;

    private static void CheckRecurrent(ModelManifest m, ModelManifest.RecurrentSpec r, List<string> problems)
    {
        if (r.Chain is < 2 or > MaxChain)
        {
            problems.Add($"recurrent.chain is {r.Chain}; use a chain length of 2 to {MaxChain} bars");
        }

        if (r.StateWidth <= 0 || r.StateWidth % 4 != 0 || r.StateWidth > MaxStateWidth)
        {
            problems.Add($"recurrent.stateWidth is {r.StateWidth}; use a positive multiple of 4 up to {MaxStateWidth} (old h, old c, young h, young c)");
        }

        Require(r.StateInput, "recurrent.stateInput", problems);
        Require(r.StateOutput, "recurrent.stateOutput", problems);
        if (m.Window != 1)
        {
            problems.Add($"window is {m.Window}; a recurrent model steps one row at a time, so its window is 1");
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
        var r = m.Recurrent;
        long[] state = [-1, r?.StateWidth ?? 0];
        CheckTensors(session.Inputs, "input", r is null ? [(m.Input!.Name!, m.Input.Shape!)] : [(m.Input!.Name!, m.Input.Shape!), (r.StateInput!, state)], problems);
        CheckTensors(session.Outputs, "output", r is null ? [(m.Output!.Name!, m.Output.Shape!)] : [(m.Output!.Name!, m.Output.Shape!), (r.StateOutput!, state)], problems);
    }

    private static void CheckTensors(IReadOnlyList<OnnxTensorInfo> actual, string what, (string Name, IReadOnlyList<long> Shape)[] declared, List<string> problems)
    {
        if (actual.Count != declared.Length)
        {
            var needs = declared.Length == 1 ? "exactly one" : $"exactly {declared.Length} ({string.Join(", ", declared.Select(d => d.Name))})";
            problems.Add($"the ONNX model has {actual.Count} {what}s ({string.Join(", ", actual.Select(a => a.Name))}); the engine needs {needs}");
            return;
        }

        foreach (var (name, shape) in declared)
        {
            var tensor = actual.FirstOrDefault(a => a.Name == name);
            if (tensor is null)
            {
                problems.Add(declared.Length == 1
                    ? $"the ONNX model's {what} is named '{actual[0].Name}' but the manifest says '{name}'"
                    : $"the ONNX model has no {what} named '{name}' (it has {string.Join(", ", actual.Select(a => a.Name))})");
                continue;
            }

            CheckTensor(tensor, shape, what, problems);
        }
    }

    private static void CheckTensor(OnnxTensorInfo tensor, IReadOnlyList<long> shape, string what, List<string> problems)
    {
        if (!tensor.IsTensor)
        {
            problems.Add($"the ONNX model's {what} '{tensor.Name}' is a {tensor.ValueType.ToString().Replace("ONNX_TYPE_", string.Empty, StringComparison.Ordinal).ToLowerInvariant()}, not a tensor; the engine needs a float32 tensor");
            return;
        }

        if (tensor.ElementType != TensorElementType.Float)
        {
            problems.Add($"the ONNX model's {what} '{tensor.Name}' is {tensor.ElementType}, the manifest says float32");
        }

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

    /// <summary>Runs two zero rows (from a zero state, for a recurrent model): proves the graph executes at this shape and
    /// yields probabilities (not logits), and a finite state.</summary>
    private static void SmokeRun(ModelManifest m, OnnxSession session, List<string> problems)
    {
        float[] output;
        var stateOut = Array.Empty<float>();
        try
        {
            output = m.Recurrent is null
                ? session.Run(new float[2 * m.Window * m.Features!.Count], 2, m.Window, m.Features.Count)
                : RunRecurrentOnZeros(m, session, out stateOut);
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

        if (stateOut.Any(v => !float.IsFinite(v)))
        {
            problems.Add($"a test run on zeros gave a state '{m.Recurrent!.StateOutput}' that is not finite");
        }
    }

    private static float[] RunRecurrentOnZeros(ModelManifest m, OnnxSession session, out float[] stateOut)
    {
        var r = m.Recurrent!;
        var features = m.Features!.Count;
        var output = new float[6];
        stateOut = new float[2 * r.StateWidth];
        session.Run(
            [new OnnxTensorData(m.Input!.Name!, new float[2 * features], [2, 1, features]), new OnnxTensorData(r.StateInput!, new float[2 * r.StateWidth], [2, r.StateWidth])],
            [new OnnxTensorData(m.Output!.Name!, output, [2, 3]), new OnnxTensorData(r.StateOutput!, stateOut, [2, r.StateWidth])]);
        return output;
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
        error,
        m?.Recurrent is { } r ? new ModelRecurrence(r.Chain, r.StateWidth) : null);
}
