using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using SignalStream.Contracts;
using SignalStream.Engine.Features;
using SignalStream.Engine.Inference.Onnx;
using SignalStream.Ingest.Simulated;

namespace SignalStream.Benchmarks.Engine;

/// <summary>
/// Issue 18.4's deciding measurement: what one closing burst costs ONNX Runtime for a recurrent LSTM, which steps
/// each stream's carried state by one row, against the windowed LSTM it would replace, which reads the whole window
/// again. One op = the inference of one burst: 2,000 rows (500 symbols x 4 timeframes) in batches of 512 (the
/// engine's largest), one intra-op thread, over native memory bound once (what <c>ModelBatcher</c> does); no
/// features, batcher or pipeline (<see cref="ClosingBurstBenchmark"/> and <see cref="EngineBurstBenchmark"/> have
/// those). The rows are the simulator's, through the engine's features: a windowed model reads each stream's window,
/// a recurrent one its newest row and its state.
/// </summary>
/// <remarks>
/// The recurrent models (models/train/recurrent.py; test fixtures, not bundled) take <c>features</c> [B, 1, F] and
/// <c>state</c> [B, 4H] (two chains per stream) and return <c>probabilities</c> and <c>state_out</c>; the state
/// ping-pongs between two buffers, so a burst writes the state the next one reads and nothing is copied.
/// <c>-step</c> is the graph unrolled for T = 1 into Gemm and element-wise ops; without it, the same weights through
/// ONNX's LSTM operator with a dynamic time axis.
/// </remarks>
[MemoryDiagnoser]
[Config(typeof(FullNames))]
public class RecurrentBurstBenchmark
{
    private const int Symbols = 500;
    private const int MaxBatch = 512;
    private static readonly Timeframe[] s_timeframes = [Timeframe.OneMinute, Timeframe.FiveMinutes, Timeframe.FifteenMinutes, Timeframe.OneHour];

    private OnnxSession _session = null!;
    private readonly List<OnnxBinding[]> _bindings = [];
    private readonly List<IntPtr> _memory = [];
    private unsafe float* _probabilities;
    private int _parity;
    private TimeSpan _cpu;
    private long _bursts;

    /// <summary>Windowed (bundled, models/) and recurrent (test fixtures) LSTMs, in their pairs: lstm-direction
    /// 1.3.0 (16 units x 32 steps) against 1.4.0-r32 (16 units, one step of two chains); lstm-shadow 2.0.1 (32 units x
    /// 48 steps, 16 features) against 2.1.0-r32 (32 units, one step of two chains); the live PatchTST, which stays; and
    /// bench-mlp-row (a fixture: a 16-64-3 MLP over one row), the stand-in for the recurrent LSTMs in EngineBurst.</summary>
    [Params("lstm-direction-1.3.0", "lstm-direction-1.4.0-r32-step", "lstm-direction-1.4.0-r32",
        "lstm-shadow-2.0.1", "lstm-shadow-2.1.0-r32-step", "lstm-shadow-2.1.0-r32", "patchtst-direction-2.0.1", "bench-mlp-row")]
    public string Model { get; set; } = "lstm-direction-1.3.0";

    public static int Streams => Symbols * s_timeframes.Length;

    [GlobalSetup]
    public unsafe void Setup()
    {
        var (path, manifest) = Locate(Model);
        _session = OnnxSession.Create(File.ReadAllBytes(path), new OnnxSessionSettings(1));
        var recurrent = _session.Inputs.Count == 2;
        var window = recurrent ? 1 : (int)_session.Inputs[0].Shape[1];
        var features = (int)_session.Inputs[0].Shape[2];
        var stateWidth = recurrent ? (int)_session.Inputs[1].Shape[1] : 0;

        // Each stream's newest window (or row) of the features the model reads, as the engine computes them.
        using var document = JsonDocument.Parse(File.ReadAllBytes(manifest));
        var indices = document.RootElement.GetProperty("features").EnumerateArray()
            .Select(n => FeatureCatalog.TryGetIndex(n.GetString()!, out var i) ? i : throw new InvalidOperationException(n.GetString()))
            .ToArray();
        var rowLength = window * features;
        var rows = Alloc(Streams * rowLength);
        var symbols = Enumerable.Range(0, Symbols).Select(i => $"S{i:D3}USDT").ToArray();
        var warm = FeatureCatalog.WarmupCandles + 48 + 8;
        var streams = MarketSimulator.GenerateClosed(symbols, s_timeframes, warm).GroupBy(c => c.Stream).ToArray();
        for (var s = 0; s < streams.Length; s++)
        {
            var state = new StreamFeatureState(48);
            foreach (var candle in streams[s])
            {
                state.Update(candle);
            }

            state.CopyWindow(indices, window, new Span<float>(rows + (s * rowLength), rowLength));
        }

        _probabilities = Alloc(Streams * 3);
        var states = recurrent ? new[] { Alloc(Streams * stateWidth), Alloc(Streams * stateWidth) } : [];
        for (var first = 0; first < Streams; first += MaxBatch)
        {
            var count = Math.Min(MaxBatch, Streams - first);
            OnnxTensorMemory Features() => new(_session.Inputs[0].Name, (IntPtr)(rows + (first * rowLength)), [count, window, features]);
            OnnxTensorMemory Probabilities() => new(_session.Outputs[0].Name, (IntPtr)(_probabilities + (first * 3)), [count, 3]);
            if (!recurrent)
            {
                var binding = _session.Bind([Features()], [Probabilities()]);
                _bindings.Add([binding, binding]);
                continue;
            }

            // Two bindings per batch: state A in and B out, then B in and A out.
            OnnxTensorMemory State(int input, int buffer) =>
                new(input == 1 ? _session.Inputs[1].Name : _session.Outputs[1].Name, (IntPtr)(states[buffer] + (first * stateWidth)), [count, stateWidth]);
            _bindings.Add([
                _session.Bind([Features(), State(1, 0)], [Probabilities(), State(0, 1)]),
                _session.Bind([Features(), State(1, 1)], [Probabilities(), State(0, 0)]),
            ]);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        // CPU a burst is what a shared machine's load changes least (one intra-op thread: the wall time less the waits).
        Console.WriteLine($"// {Model}: CPU {_cpu.TotalMilliseconds / Math.Max(1, _bursts):F3} ms a burst over {_bursts} bursts");
        foreach (var pair in _bindings)
        {
            pair[0].Dispose();
            if (!ReferenceEquals(pair[0], pair[1]))
            {
                pair[1].Dispose();
            }
        }

        _session.Dispose();
        foreach (var memory in _memory)
        {
            unsafe
            {
                NativeMemory.AlignedFree((void*)memory);
            }
        }
    }

    [Benchmark]
    public unsafe float Burst()
    {
        var cpu = Environment.CpuUsage.TotalTime;
        foreach (var pair in _bindings)
        {
            _session.Run(pair[_parity]);
        }

        _cpu += Environment.CpuUsage.TotalTime - cpu;
        _bursts++;
        _parity ^= 1;
        return _probabilities[0];
    }

    /// <summary>The model names in full: the table's default width cuts them to the same prefix.</summary>
    public sealed class FullNames : ManualConfig
    {
        public FullNames() => SummaryStyle = SummaryStyle.Default.WithMaxParameterColumnWidth(40);
    }

    private unsafe float* Alloc(int floats)
    {
        var memory = (float*)NativeMemory.AlignedAlloc((nuint)floats * sizeof(float), 64);
        new Span<float>(memory, floats).Clear();
        _memory.Add((IntPtr)memory);
        return memory;
    }

    /// <summary>The model file and the manifest whose feature list it reads (a recurrent model reads its windowed
    /// counterpart's features).</summary>
    private static (string Model, string Manifest) Locate(string model, [CallerFilePath] string source = "")
    {
        var root = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "../../.."));
        // bench-mlp-row (16 features, one row) stands in for a recurrent model in EngineBurst (BENCHMARKS.md): the shadow's features.
        var name = model.StartsWith("patchtst-direction", StringComparison.Ordinal) ? "patchtst-direction"
            : model.StartsWith("lstm-shadow", StringComparison.Ordinal) || model == "bench-mlp-row" ? "lstm-shadow" : "lstm-direction";
        var manifest = Path.Combine(root, "models", name + ".manifest.json");
        var fixture = Path.Combine(root, "tests/SignalStream.Engine.Tests/Inference/Fixtures", model + ".onnx");
        return (File.Exists(fixture) ? fixture : Path.Combine(root, "models", model + ".onnx"), manifest);
    }
}
