using SignalStream.Contracts;

namespace SignalStream.Client.Internal;

/// <summary>Pages of a candle stream's stored closed candles, as a <see cref="CandleChannel"/> recovers them.</summary>
internal interface ICandlePages
{
    Task<IReadOnlyList<CandleMessage>> ReadAsync(string symbol, Timeframe timeframe, long afterOpenTime, CancellationToken cancellationToken);
}

/// <summary>
/// <c>/api/candles</c> pages of <see cref="SignalStreamApi.MaxLimit"/>, at most <see cref="MaxInFlight"/> reads at once:
/// after a reconnect every candle stream reads at the same time, and the server's per-client rate limit
/// (<c>Api:RateLimit</c>, a burst of 40) would answer the rest 429.
/// </summary>
internal sealed class CandlePages(SignalStreamApi api) : ICandlePages, IDisposable
{
    public const int MaxInFlight = 4;

    private readonly SemaphoreSlim _inFlight = new(MaxInFlight, MaxInFlight);

    public async Task<IReadOnlyList<CandleMessage>> ReadAsync(string symbol, Timeframe timeframe, long afterOpenTime, CancellationToken cancellationToken)
    {
        await _inFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Open times are Unix ms of real markets: nothing opens at 0, so -1 (before a first bar at 0) asks for the same.
            return await api.GetCandlesAsync(symbol, timeframe.ToName(), Math.Max(afterOpenTime, 0), SignalStreamApi.MaxLimit, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _inFlight.Release();
        }
    }

    public void Dispose() => _inFlight.Dispose();
}
