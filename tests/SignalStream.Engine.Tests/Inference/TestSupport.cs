using System.Runtime.CompilerServices;
using System.Text.Json;
using SignalStream.Engine.Inference.Internal;

namespace SignalStream.Engine.Tests.Inference;

/// <summary>Where the committed test models live (next to this source file; see Fixtures/make_fixtures.py).</summary>
internal static class Fixtures
{
    public static string Folder { get; } = Path.Combine(ThisDirectory(), "Fixtures");

    public static string PathOf(string file) => Path.Combine(Folder, file);

    public static byte[] Bytes(string file) => File.ReadAllBytes(PathOf(file));

    /// <summary>The repository's models/ folder (bundled models), found by walking up from this file.</summary>
    public static string RepositoryModels
    {
        get
        {
            var dir = new DirectoryInfo(ThisDirectory());
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SignalStream.sln")))
            {
                dir = dir.Parent;
            }

            return Path.Combine(dir?.FullName ?? ".", "models");
        }
    }

    /// <summary>Reads a parity file: <c>{ "inputs": [[[...]]], "outputs": [[down, flat, up], ...] }</c>.</summary>
    public static (float[][][] Inputs, float[][] Outputs) Parity(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var inputs = doc.RootElement.GetProperty("inputs").EnumerateArray()
            .Select(sample => sample.EnumerateArray().Select(row => row.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray())
            .ToArray();
        var outputs = doc.RootElement.GetProperty("outputs").EnumerateArray()
            .Select(row => row.EnumerateArray().Select(v => v.GetSingle()).ToArray())
            .ToArray();
        return (inputs, outputs);
    }

    private static string ThisDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}

/// <summary>Collects predictions per slot; completes when the expected number arrived.</summary>
internal sealed class RecordingSink(int expected) : IPredictionSink
{
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _lock = new();
    private int _count;

    public List<(int Slot, float Down, float Flat, float Up)> Results { get; } = [];

    public List<int> Failed { get; } = [];

    /// <summary>Blocks the delivering worker until set (to hold a batch "running").</summary>
    public ManualResetEventSlim? Gate { get; init; }

    public Task Done => _done.Task;

    public void OnPrediction(int slot, float down, float flat, float up)
    {
        Gate?.Wait(TimeSpan.FromSeconds(30));
        lock (_lock)
        {
            Results.Add((slot, down, flat, up));
            Complete();
        }
    }

    public void OnFailed(int slot)
    {
        lock (_lock)
        {
            Failed.Add(slot);
            Complete();
        }
    }

    private void Complete()
    {
        if (++_count == expected)
        {
            _done.TrySetResult();
        }
    }
}

/// <summary>Writes a fixed sample into the batch row.</summary>
internal readonly struct ArrayRowWriter(float[] values) : IBatchRowWriter
{
    public void Write(Span<float> row) => values.CopyTo(row);
}

internal static class Samples
{
    public static float[] Flatten(float[][] sample) => sample.SelectMany(r => r).ToArray();
}

/// <summary>A meter factory for tests (each test gets its own meters).</summary>
internal sealed class TestMeterFactory : System.Diagnostics.Metrics.IMeterFactory
{
    private readonly List<System.Diagnostics.Metrics.Meter> _meters = [];

    public System.Diagnostics.Metrics.Meter Create(System.Diagnostics.Metrics.MeterOptions options)
    {
        var meter = new System.Diagnostics.Metrics.Meter(options.Name, options.Version, options.Tags, scope: this);
        _meters.Add(meter);
        return meter;
    }

    public void Dispose()
    {
        foreach (var meter in _meters)
        {
            meter.Dispose();
        }
    }
}
