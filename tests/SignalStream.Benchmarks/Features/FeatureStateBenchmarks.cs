using BenchmarkDotNet.Attributes;
using SignalStream.Contracts;
using SignalStream.Engine.Features;
using SignalStream.Ingest.Simulated;

namespace SignalStream.Benchmarks.Features;

/// <summary>One stream's work per closed candle: the O(1) indicator update, and copying a model window out.</summary>
[MemoryDiagnoser]
public class FeatureStateBenchmarks
{
    private const int Window = 32;
    private Candle[] _candles = [];
    private StreamFeatureState _state = null!;
    private int[] _allFeatures = [];
    private float[] _window = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _candles = [.. MarketSimulator.GenerateClosed(["BTCUSDT"], [Timeframe.OneMinute], 4096)];
        _state = new StreamFeatureState(64);
        _allFeatures = [.. Enumerable.Range(0, FeatureCatalog.Count)];
        _window = new float[Window * FeatureCatalog.Count];
        for (var i = 0; i < 512; i++)
        {
            Step();
        }
    }

    /// <summary>Update only.</summary>
    [Benchmark]
    public long Update()
    {
        Step();
        return _state.CandlesSeen;
    }

    /// <summary>Update, then copy a 32 x 22 window: the per-stream cost before inference.</summary>
    [Benchmark(Baseline = true)]
    public float UpdateAndCopyWindow()
    {
        Step();
        _state.CopyWindow(_allFeatures, Window, _window);
        return _window[0];
    }

    private void Step()
    {
        _state.Update(in _candles[_next]);
        if (++_next == _candles.Length)
        {
            _next = 0;
        }
    }
}
