using Microsoft.Extensions.Logging;
using SignalStream.Contracts;

namespace SignalStream.Client.Internal;

/// <summary>The handlers of one candle stream; drops a candle at or before the last closed one (stale or repeated).</summary>
internal sealed class CandleChannel(string symbol, Timeframe timeframe, ILogger logger)
{
    private readonly Lock _gate = new();
    private readonly List<Action<CandleMessage>> _handlers = [];
    private long _lastClosedOpenTime = long.MinValue;

    public string Symbol { get; } = symbol;

    public Timeframe Timeframe { get; } = timeframe;

    public Action<CandleMessage> Add(Action<CandleMessage> handler)
    {
        lock (_gate)
        {
            _handlers.Add(handler);
        }

        return handler;
    }

    /// <summary>Removes a handler; true when it was the last one.</summary>
    public bool Remove(Action<CandleMessage> handler)
    {
        lock (_gate)
        {
            return _handlers.Remove(handler) && _handlers.Count == 0;
        }
    }

    public void OnCandle(CandleMessage candle)
    {
        lock (_gate)
        {
            if (candle.OpenTime <= _lastClosedOpenTime)
            {
                return;
            }

            if (candle.IsClosed)
            {
                _lastClosedOpenTime = candle.OpenTime;
            }

            foreach (var handler in _handlers)
            {
                try
                {
                    handler(candle);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    SignalStreamClient.Log.HandlerFailed(logger, ex, $"onCandle for {Symbol}@{Timeframe.ToName()}: {ex.Message}");
                }
            }
        }
    }
}
