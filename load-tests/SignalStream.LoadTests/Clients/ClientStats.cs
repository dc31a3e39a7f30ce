using SignalStream.LoadTests.Measurement;

namespace SignalStream.LoadTests.Clients;

/// <summary>What a run's clients measure: which signal stamp latency starts from, and whether to keep each signal's
/// arrival (closing bell).</summary>
internal sealed class ClientMeasurement
{
    /// <summary>Latency from the signal's <c>exchangeTime</c> (the harness stamps it when it publishes).</summary>
    public static readonly ClientMeasurement FromExchangeTime = new("exchangeTime", keepSignalArrivals: false);

    public ClientMeasurement(string originProperty, bool keepSignalArrivals)
    {
        OriginName = originProperty;
        OriginProperty = System.Text.Encoding.UTF8.GetBytes($"\"{originProperty}\":");
        OriginUtf8 = System.Text.Encoding.UTF8.GetBytes(originProperty);
        KeepSignalArrivals = keepSignalArrivals;
    }

    /// <summary>The signal property (Unix ms) latency is measured from: <c>exchangeTime</c> when the harness publishes;
    /// <c>receivedAt</c> (the engine node's receipt of the candle) when a real engine decides the signals.</summary>
    public string OriginName { get; }

    /// <summary><c>"name":</c> as UTF-8.</summary>
    public byte[] OriginProperty { get; }

    /// <summary>The name alone as UTF-8 (a MessagePack map key).</summary>
    public byte[] OriginUtf8 { get; }

    public bool KeepSignalArrivals { get; }
}

/// <summary>Counters shared by every client of one run (updated with Interlocked from the receive loops).</summary>
internal sealed class ClientStats
{
    private long _delivered;
    private long _recovered;
    private long _errors;
    private long _serverCloses;
    private long _candles;

    public LatencyHistogram Latency { get; } = new();

    /// <summary>Deliveries later than 50 ms (the capacity sweep's default bound) by 100 ms of arrival.</summary>
    public LateDeliveries Late { get; } = new(50);

    public long Delivered => Interlocked.Read(ref _delivered);

    public long Recovered => Interlocked.Read(ref _recovered);

    public long Errors => Interlocked.Read(ref _errors);

    public long ServerCloses => Interlocked.Read(ref _serverCloses);

    public long Candles => Interlocked.Read(ref _candles);

    /// <summary>The first few error texts, for the report.</summary>
    public List<string> ErrorSamples { get; } = [];

    public void DeliveredN(int count) => Interlocked.Add(ref _delivered, count);

    public void RecoveredN(int count) => Interlocked.Add(ref _recovered, count);

    public void Candle1() => Interlocked.Increment(ref _candles);

    public void ServerClosed() => Interlocked.Increment(ref _serverCloses);

    public void Error(string what)
    {
        Interlocked.Increment(ref _errors);
        lock (ErrorSamples)
        {
            if (ErrorSamples.Count < 10)
            {
                ErrorSamples.Add(what);
            }
        }
    }
}
