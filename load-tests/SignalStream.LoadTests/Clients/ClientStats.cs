using SignalStream.LoadTests.Measurement;

namespace SignalStream.LoadTests.Clients;

/// <summary>Counters shared by every client of one run (updated with Interlocked from the receive loops).</summary>
internal sealed class ClientStats
{
    private long _delivered;
    private long _recovered;
    private long _errors;
    private long _serverCloses;
    private long _candles;

    public LatencyHistogram Latency { get; } = new();

    public long Delivered => Interlocked.Read(ref _delivered);

    public long Recovered => Interlocked.Read(ref _recovered);

    public long Errors => Interlocked.Read(ref _errors);

    public long ServerCloses => Interlocked.Read(ref _serverCloses);

    public long Candles => Interlocked.Read(ref _candles);

    /// <summary>The first few error texts, for the report.</summary>
    public List<string> ErrorSamples { get; } = [];

    public void Delivered1() => Interlocked.Increment(ref _delivered);

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
