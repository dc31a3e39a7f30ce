using SignalStream.Contracts;

namespace SignalStream.Engine.Journal.Internal;

internal sealed partial class JournalGroup
{
    public JournalRowState ToState(GroupKey key) => new(
        key.Model,
        key.IsShadow,
        key.Symbol,
        key.Timeframe,
        Open,
        Wins,
        Losses,
        Expired,
        _grossWin,
        _grossLoss,
        _sumR,
        _cumulativeR,
        _peakR,
        _maxDrawdown,
        _brierSum,
        [.. _bucketCount],
        [.. _bucketPredicted],
        [.. _bucketWins],
        [.. _bucketR],
        _equity is null ? null : [.. _equity],
        _equityStride,
        _lastCandleOpenTime);

    public static JournalGroup FromState(JournalRowState state)
    {
        if (state.BucketCount.Count != BucketCount || state.BucketPredicted.Count != BucketCount
            || state.BucketWins.Count != BucketCount || state.BucketR.Count != BucketCount)
        {
            throw new InvalidDataException($"The journal row ({state.Model}, {state.Symbol}, {state.Timeframe}) does not have {BucketCount} calibration buckets.");
        }

        var keepsEquity = state.Symbol == SignalJournal.All && state.Timeframe == SignalJournal.All;
        if (keepsEquity != state.Equity is not null || state.EquityStride < 1 || state.Equity?.Count > EquityPoint.MaxPoints)
        {
            throw new InvalidDataException($"The journal row ({state.Model}, {state.Symbol}, {state.Timeframe}) has an equity curve that does not fit it.");
        }

        var group = new JournalGroup(keepsEquity)
        {
            Open = state.Open,
            Wins = state.Wins,
            Losses = state.Losses,
            Expired = state.Expired,
            _grossWin = state.GrossWin,
            _grossLoss = state.GrossLoss,
            _sumR = state.SumR,
            _cumulativeR = state.CumulativeR,
            _peakR = state.PeakR,
            _maxDrawdown = state.MaxDrawdown,
            _brierSum = state.BrierSum,
            _equityStride = state.EquityStride,
            _lastCandleOpenTime = state.LastCandleOpenTime,
        };
        for (var i = 0; i < BucketCount; i++)
        {
            group._bucketCount[i] = state.BucketCount[i];
            group._bucketPredicted[i] = state.BucketPredicted[i];
            group._bucketWins[i] = state.BucketWins[i];
            group._bucketR[i] = state.BucketR[i];
        }

        group._equity?.AddRange(state.Equity!);
        return group;
    }
}
