namespace SignalStream.Client;

/// <summary>Closed candles missed while reconnecting that the client could not fetch (see <see cref="CandleGapException"/>).</summary>
/// <param name="Symbol">The symbol.</param>
/// <param name="Timeframe">The stream's timeframe (Binance interval name).</param>
/// <param name="AfterOpenTime">The last closed candle's openTime delivered before them (Unix ms).</param>
/// <param name="Reason">The last <c>/api/candles</c> error.</param>
public sealed record CandleGap(string Symbol, string Timeframe, long AfterOpenTime, string Reason);

/// <summary>
/// Closed candles after <see cref="CandleGap.AfterOpenTime"/> closed while the client was away and could not be fetched
/// from <c>/api/candles</c> (after <see cref="SignalStreamClientOptions.RecoveryRetryDelays"/>); the live ones that came
/// meanwhile were delivered, so some before them are missing. Read them with
/// <see cref="SignalStreamApi.GetCandlesAsync"/> after <see cref="CandleGap.AfterOpenTime"/>.
/// </summary>
public sealed class CandleGapException(CandleGap gap)
    : Exception($"{gap.Symbol}@{gap.Timeframe}: closed candles after openTime {gap.AfterOpenTime} were missed while reconnecting and could not be fetched: {gap.Reason}")
{
    /// <summary>The stream, the last closed candle delivered before the missing ones, and why.</summary>
    public CandleGap Gap { get; } = gap;
}
